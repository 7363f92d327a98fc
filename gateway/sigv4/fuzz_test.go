package sigv4

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

var knownTypes = map[string]bool{
	TypeMissingSignature: true, TypeMalformedAuthorization: true, TypeInvalidAccessKey: true,
	TypeInvalidScope: true, TypeRequestExpired: true, TypeSignatureMismatch: true,
	TypeReplayedNonce: true, TypeNonceRequired: true, TypeNonceCapacity: true,
}

// FuzzParseAuthorization feeds arbitrary Authorization headers, X-Amz-Date
// values, request targets and nonces to Verify: it must never panic, and
// every rejection must be an *Error of a known type with status 400, 401,
// 403 or 429 that does not leak the secret.
func FuzzParseAuthorization(f *testing.F) {
	valid := signedServerRequest(f, "GET", base+"/f?a=1", "", Signer{})
	pre, _ := (&Signer{}).Presign(mustRequest("GET", base+"/p?x=1"), testAK, testSecret, "", testTime, time.Minute)
	preURL, _ := url.Parse(pre)
	f.Add(valid.Header.Get("Authorization"), valid.Header.Get("X-Amz-Date"), valid.RequestURI, "")
	f.Add("", "", preURL.RequestURI(), "")
	f.Add("", "20260314T150926Z", "/p?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=PK%2F&X-Amz-Expires=99999999999", "")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00", "x", "/", "n")
	f.Add("AWS4-HMAC-SHA256 ,,,", "20260314T150926Z", "//..//%zz?&&=&%", "")
	f.Add("AWS4-HMAC-SHA256 Credential="+testAK+"/20260314/local/apigw/aws4_request, SignedHeaders=host;x-amz-date;x-portico-nonce, Signature="+strings.Repeat("0", 64),
		"20260314T150926Z", "/f", "nonce")
	f.Add("Bearer x", "", "http://h/abs?x", "")
	f.Add("aws4-hmac-sha256 Credential=", "99999999T999999Z", "*", "\x00")
	v := newTestVerifier(f)
	f.Fuzz(func(t *testing.T, authz, amzDate, target, nonce string) {
		r := &http.Request{Method: "GET", RequestURI: target, URL: &url.URL{Path: "/"}, Host: "127.0.0.1:8000", Header: http.Header{}, Body: http.NoBody}
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		if amzDate != "" {
			r.Header.Set("X-Amz-Date", amzDate)
		}
		if nonce != "" {
			r.Header.Set(NonceHeader, nonce)
		}
		_, err := v.Verify(context.Background(), r, "", VerifyOptions{})
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("non-problem error %T: %v", err, err)
		}
		if (e.Status != 400 && e.Status != 401 && e.Status != 403 && e.Status != 429) || !knownTypes[e.Type] || e.Title == "" || e.Detail == "" {
			t.Fatalf("bad problem: %+v", e)
		}
		if strings.Contains(e.Error()+e.CanonicalRequest+e.StringToSign, testSecret) {
			t.Fatalf("secret leaked: %+v", e)
		}
	})
}

func mustRequest(method, u string) *http.Request {
	r, err := http.NewRequest(method, u, nil)
	if err != nil {
		panic(err)
	}
	return r
}

func isCanonicalByte(c byte, extra string) bool {
	return unreserved[c] || strings.IndexByte(extra, c) >= 0
}

// checkEncoded verifies that s holds only unreserved bytes, bytes of extra,
// and %XX escapes with upper-case hex.
func checkEncoded(t *testing.T, s, extra string) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) || !strings.ContainsRune(upperHex, rune(s[i+1])) || !strings.ContainsRune(upperHex, rune(s[i+2])) {
				t.Fatalf("bad escape at %d in %q", i, s)
			}
			i += 2
			continue
		}
		if !isCanonicalByte(c, extra) {
			t.Fatalf("byte %q unencoded in %q", c, s)
		}
	}
}

func FuzzCanonicalPath(f *testing.F) {
	for _, s := range []string{"/", "", "//", "/./", "/a/../..", "/a/b/../c/./d//", "/ሴ", "/a b/%20/%zz/%", "..", "/..a/a../...", "*", "/%2e%2E/x", "/a/b", "/a/b/", "/a-b_c.d~e/f", "/a/.", "/a/..", "/./a", "/a//"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		out := string(appendCanonicalPath(nil, p))
		if again := string(appendCanonicalPath([]byte("prefix"), p)); again != "prefix"+out {
			t.Fatalf("not deterministic / depends on dst: %q vs %q", out, again)
		}
		if out == "" || out[0] != '/' {
			t.Fatalf("canonical path %q does not start with /", out)
		}
		checkEncoded(t, out, "/")
		if isCanonicalPath(p) && out != p {
			t.Fatalf("isCanonicalPath(%q) but its canonical path is %q", p, out)
		}
		if out != "/" && strings.Contains(out, "//") {
			t.Fatalf("duplicate slash in %q", out)
		}
		for _, seg := range strings.Split(out, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("dot segment left in %q", out)
			}
		}
		n := normalizePath(p)
		if normalizePath(n) != n {
			t.Fatalf("normalizePath not idempotent: %q → %q → %q", p, n, normalizePath(n))
		}
		if string(appendCanonicalPath(nil, n)) != out {
			t.Fatalf("canonical(normalize(p)) %q != canonical(p) %q", appendCanonicalPath(nil, n), out)
		}
		// The canonical path is the normalised path with each segment encoded once.
		segs := strings.Split(n, "/")
		for i, s := range segs {
			segs[i] = string(appendEncoded(nil, s))
		}
		if strings.Join(segs, "/") != out {
			t.Fatalf("canonical %q != encoded normalised %q", out, strings.Join(segs, "/"))
		}
	})
}

func FuzzCanonicalQuery(f *testing.F) {
	for _, s := range []string{"", "a=1", "b=2&a=1", "a&b=&=c", "s=a+b&p=%2B", "k=a-b&k=a%2Fb", "x=%zz&%", "ሴ=bar", "a=1&&b=2;c=3", "X-Amz-Signature=abc&z=1", "X%2DAmz-Signature=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		sc := &scratch{}
		out := string(appendCanonicalQuery(nil, q, false, sc))
		if again := string(appendCanonicalQuery(nil, q, false, &scratch{})); again != out {
			t.Fatalf("not deterministic: %q vs %q", out, again)
		}
		if twice := string(appendCanonicalQuery(nil, out, false, sc)); twice != out {
			t.Fatalf("not idempotent: %q → %q → %q", q, out, twice)
		}
		checkEncoded(t, out, "=&")
		var pairs [][2]string
		if out != "" {
			for _, p := range strings.Split(out, "&") {
				k, v, ok := strings.Cut(p, "=")
				if !ok {
					t.Fatalf("pair %q without = in %q", p, out)
				}
				pairs = append(pairs, [2]string{k, v})
			}
		}
		if !slices.IsSortedFunc(pairs, func(a, b [2]string) int {
			if c := strings.Compare(a[0], b[0]); c != 0 {
				return c
			}
			return strings.Compare(a[1], b[1])
		}) {
			t.Fatalf("pairs not sorted: %q", out)
		}
		// Differential check against net/url where it parses the query.
		if vals, err := url.ParseQuery(q); err == nil && !strings.Contains(q, ";") {
			var ref []string
			for k, vs := range vals {
				for _, v := range vs {
					ref = append(ref, string(appendEncoded(nil, k))+"="+string(appendEncoded(nil, v)))
				}
			}
			slices.SortFunc(ref, func(a, b string) int {
				ak, av, _ := strings.Cut(a, "=")
				bk, bv, _ := strings.Cut(b, "=")
				if c := strings.Compare(ak, bk); c != 0 {
					return c
				}
				return strings.Compare(av, bv)
			})
			if strings.Join(ref, "&") != out {
				t.Fatalf("canonical %q, net/url-based %q", out, strings.Join(ref, "&"))
			}
		}
		// The presigned form drops X-Amz-Signature and nothing else.
		pre := appendCanonicalQuery(nil, q, true, sc)
		if bytes.Contains(append([]byte("&"), pre...), []byte("&X-Amz-Signature=")) {
			t.Fatalf("presigned canonical query keeps X-Amz-Signature: %q", pre)
		}
		if !strings.Contains(q, "Signature") && string(pre) != out {
			t.Fatalf("presigned form %q differs from %q without a signature parameter", pre, out)
		}
	})
}
