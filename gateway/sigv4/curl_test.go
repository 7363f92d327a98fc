package sigv4

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// curlVersion is a curl release as far as --aws-sigv4 is concerned.
type curlVersion struct{ major, minor int }

func (v curlVersion) atLeast(major, minor int) bool {
	return v.major > major || v.major == major && v.minor >= minor
}

func (v curlVersion) String() string { return strconv.Itoa(v.major) + "." + strconv.Itoa(v.minor) }

var (
	curl788 = curlVersion{7, 88} // Debian 12
	curl85  = curlVersion{8, 5}  // Ubuntu 24.04
	curl814 = curlVersion{8, 14}
)

// curlCanonicalQuery mimics curl's canon_query (8.3 and later): the raw
// name=value pairs sorted as bytes, then each byte encoded unless it is
// alphanumeric, one of -._~=, or a valid %XX escape (upper-cased); a pair
// without '=' gets one.
func curlCanonicalQuery(q string) string {
	if q == "" {
		return ""
	}
	pairs := strings.Split(q, "&")
	sort.Strings(pairs)
	var b []byte
	for i, p := range pairs {
		if p == "" {
			continue
		}
		eq := false
		for j := 0; j < len(p); j++ {
			c := p[j]
			switch {
			case unreserved[c]:
				b = append(b, c)
			case c == '=':
				b = append(b, c)
				eq = true
			case c == '%' && j+2 < len(p) && isHex(p[j+1]) && isHex(p[j+2]):
				b = append(b, '%', upper(p[j+1]), upper(p[j+2]))
				j += 2
			default:
				b = append(b, '%', upperHex[c>>4], upperHex[c&15])
			}
		}
		if !eq {
			b = append(b, '=')
		}
		if i < len(pairs)-1 {
			b = append(b, '&')
		}
	}
	return string(b)
}

func isHex(c byte) bool { _, ok := unhex(c); return ok }

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 32
	}
	return c
}

// curlCanonicalPath: before 8.14 curl signs the path as sent; from 8.14 it
// encodes the sent path once more for services other than s3.
func curlCanonicalPath(v curlVersion, p string) string {
	if !v.atLeast(8, 14) {
		return p
	}
	var b []byte
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			b = append(b, '/')
		} else {
			b = appendEncodedByte(b, p[i])
		}
	}
	return string(b)
}

// refHMAC is an independent HMAC-SHA256 (crypto/hmac) for the mimics.
func refHMAC(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// curlRequest is one `curl --aws-sigv4 "aws:amz:local:apigw" --user AK:SK`
// invocation: curl signs host, x-amz-date, content-type (with -d) and the
// -H headers, and sends the target exactly as given.
type curlRequest struct {
	method  string
	target  string // as on the request line
	headers [][2]string
	body    string // -d: also sets Content-Type: application/x-www-form-urlencoded
}

// raw signs c as curl version v would at time now and returns the HTTP/1.1
// bytes curl would send, with the request line target replaced by sendTarget
// and the body by sendBody when those are set (tampering in transit).
func (c curlRequest) raw(v curlVersion, now time.Time, sendTarget, sendBody string) string {
	method := c.method
	if method == "" {
		method = "GET"
		if c.body != "" {
			method = "POST"
		}
	}
	const host = "127.0.0.1:8000"
	amzDate := now.UTC().Format(amzDateFormat)
	type hv struct{ name, value string }
	hs := []hv{{"host", host}, {"x-amz-date", amzDate}}
	if c.body != "" {
		hs = append(hs, hv{"content-type", "application/x-www-form-urlencoded"})
	}
	for _, h := range c.headers {
		hs = append(hs, hv{strings.ToLower(h[0]), strings.TrimSpace(h[1])})
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].name < hs[j].name })
	var canonHeaders, signed strings.Builder
	for i, h := range hs {
		canonHeaders.WriteString(h.name + ":" + h.value + "\n")
		if i > 0 {
			signed.WriteByte(';')
		}
		signed.WriteString(h.name)
	}
	path, query := splitTarget(c.target)
	if !v.atLeast(8, 3) {
		// query as sent
	} else {
		query = curlCanonicalQuery(query)
	}
	cr := method + "\n" + curlCanonicalPath(v, path) + "\n" + query + "\n" + canonHeaders.String() + "\n" + signed.String() + "\n" + sha256Hex(c.body)
	scope := amzDate[:8] + "/local/apigw/aws4_request"
	sum := sha256.Sum256([]byte(cr))
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	k := refHMAC(refHMAC(refHMAC(refHMAC([]byte("AWS4"+testSecret), amzDate[:8]), "local"), "apigw"), "aws4_request")
	sig := hex.EncodeToString(refHMAC(k, sts))

	target, body := c.target, c.body
	if sendTarget != "" {
		target = sendTarget
	}
	if sendBody != "" {
		body = sendBody
	}
	var b bytes.Buffer
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n")
	b.WriteString("Authorization: AWS4-HMAC-SHA256 Credential=" + testAK + "/" + scope + ", SignedHeaders=" + signed.String() + ", Signature=" + sig + "\r\n")
	b.WriteString("X-Amz-Date: " + amzDate + "\r\nUser-Agent: curl/" + v.String() + ".0\r\nAccept: */*\r\n")
	for _, h := range c.headers {
		b.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	if body != "" {
		b.WriteString("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

// TestCurlCompatibility reproduces what curl --aws-sigv4 "aws:amz:local:apigw"
// sends in the versions that matter: before 8.3 (raw query), 8.3–8.13
// (canonical query, once-encoded path) and 8.14+ (canonical query,
// double-encoded path).
func TestCurlCompatibility(t *testing.T) {
	v := newTestVerifier(t)
	cases := []struct {
		name       string
		curl       curlVersion
		req        curlRequest
		sendTarget string // tampered request line target
		sendBody   string // tampered body
		wantType   string
	}{
		{name: "plain", curl: curl788, req: curlRequest{target: "/acme/weather/v1/forecast?city=Paris"}},
		{name: "unsorted-query", curl: curl788, req: curlRequest{target: "/f?b=2&a=1&a=0"}},
		{name: "unencoded-query-chars", curl: curl788, req: curlRequest{target: "/f?q=a,b&t=x:y&e=%2f"}},
		{name: "encoded-path-and-query", curl: curl788, req: curlRequest{target: "/acme/caf%C3%A9?q=%2Fx&b=1"}},
		{name: "duplicate-slash", curl: curl788, req: curlRequest{target: "/acme//f?x=1"}},
		{name: "post-form", curl: curl788, req: curlRequest{target: "/acme/orders", body: "a=1&b=2"}},
		{name: "custom-header", curl: curl788, req: curlRequest{target: "/f", headers: [][2]string{{"X-Trace", "abc"}}}},
		{name: "nonce-header", curl: curl788, req: curlRequest{target: "/f?z=1&a=2", headers: [][2]string{{NonceHeader, "curl-nonce-1"}}}},
		{name: "encoded-path", curl: curl85, req: curlRequest{target: "/acme/caf%C3%A9?city=Paris"}},
		{name: "unsorted-query", curl: curl85, req: curlRequest{target: "/f?b=2&a=1"}},
		{name: "post-form", curl: curl85, req: curlRequest{target: "/acme/orders?z=1&a=1", body: "a=1"}},
		// One retry only (signing.md): curl 8.3–8.13 signs the canonical
		// query with the raw path; when both differ from their strict form
		// neither form matches. Known gap, reported in the package docs.
		{name: "encoded-path-and-unsorted-query-known-gap", curl: curl85, req: curlRequest{target: "/acme/caf%C3%A9?b=2&a=1"}, wantType: TypeSignatureMismatch},
		{name: "encoded-path-and-unsorted-query", curl: curl814, req: curlRequest{target: "/acme/caf%C3%A9?b=2&a=1"}},
		{name: "unicode-path", curl: curl814, req: curlRequest{target: "/caf%C3%A9/%E2%9C%93?z=1&a=%20"}},
		{name: "reserved-path", curl: curl814, req: curlRequest{target: "/x/a:b@c/(d)?k"}},

		{name: "tampered-query-value", curl: curl788, req: curlRequest{target: "/f?b=2&a=1"}, sendTarget: "/f?b=3&a=1", wantType: TypeSignatureMismatch},
		{name: "reordered-raw-query", curl: curl788, req: curlRequest{target: "/f?b=2&a=1"}, sendTarget: "/f?a=1&b=2", wantType: TypeSignatureMismatch},
		{name: "tampered-path", curl: curl788, req: curlRequest{target: "/acme/caf%C3%A9"}, sendTarget: "/acme/caf%C3%A8", wantType: TypeSignatureMismatch},
		{name: "tampered-path-encoding", curl: curl788, req: curlRequest{target: "/acme/a%2Fb"}, sendTarget: "/acme/a/b", wantType: TypeSignatureMismatch},
		{name: "tampered-body", curl: curl788, req: curlRequest{target: "/acme/orders", body: "qty=1"}, sendBody: "qty=9", wantType: TypeSignatureMismatch},
		{name: "tampered-query", curl: curl814, req: curlRequest{target: "/acme/caf%C3%A9?b=2"}, sendTarget: "/acme/caf%C3%A9?b=2&admin=1", wantType: TypeSignatureMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.curl.String()+"/"+tc.name, func(t *testing.T) {
			r := serverRequest(t, tc.req.raw(tc.curl, testTime, tc.sendTarget, tc.sendBody))
			_, err := v.Verify(context.Background(), r, "", VerifyOptions{})
			if tc.wantType == "" {
				if err != nil {
					t.Fatalf("Verify: %v\ncanonical request:\n%s", err, problemOf(err).CanonicalRequest)
				}
				return
			}
			wantProblem(t, err, tc.wantType, 403)
		})
	}
}

func problemOf(err error) *Error {
	if e, ok := err.(*Error); ok {
		return e
	}
	return &Error{}
}

// TestRawRetryCannotReplayStrictSignature: a strict canonical path encodes
// the sent path once more, so "/files/a%20b" is signed as "/files/a%2520b".
// Sending that canonical form itself as the path must not pass through the
// raw retry, or any strictly signed request could be redirected to the
// resource whose name is one encoding level deeper.
func TestRawRetryCannotReplayStrictSignature(t *testing.T) {
	v := newTestVerifier(t)
	for _, tc := range []struct{ signed, sent string }{
		{"/files/a%20b", "/files/a%2520b"},
		{"/files/a%2Fb", "/files/a%252Fb"},
		{"/files/100%25", "/files/100%2525"},
	} {
		t.Run(tc.signed, func(t *testing.T) {
			r := signedServerRequest(t, "GET", "http://127.0.0.1:8000"+tc.signed, "", Signer{})
			if _, err := v.Verify(context.Background(), r, "", VerifyOptions{}); err != nil {
				t.Fatalf("original: %v", err)
			}
			r = signedServerRequest(t, "GET", "http://127.0.0.1:8000"+tc.signed, "", Signer{})
			r.RequestURI = tc.sent
			_, err := v.Verify(context.Background(), r, "", VerifyOptions{})
			e := wantProblem(t, err, TypeSignatureMismatch, 403)
			if !strings.Contains(e.CanonicalRequest, "\n"+strings.ReplaceAll(tc.sent, "%", "%25")+"\n") {
				t.Fatalf("canonical request does not show the strict path:\n%s", e.CanonicalRequest)
			}
		})
	}
}
