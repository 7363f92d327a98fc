package sigv4

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsv4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// verifyServer answers 200 with the owner of the verified credential and the
// body it read, or the *Error as JSON with its status. The body is read in
// full after Verify, as a proxy would stream it.
func verifyServer(t *testing.T, v *Verifier, opts VerifyOptions) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred, err := v.Verify(r.Context(), r, "", opts)
		var body []byte
		if err == nil {
			body, err = io.ReadAll(r.Body)
		}
		var perr *Error
		switch {
		case errors.As(err, &perr):
			w.WriteHeader(perr.Status)
			json.NewEncoder(w).Encode(perr)
		case err != nil:
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, err.Error())
		default:
			io.WriteString(w, cred.Owner.(string)+":"+string(body))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// outcome is what verifyServer answered.
type outcome struct {
	status int
	typ    string
	body   string
	err    *Error
}

func do(t *testing.T, c *http.Client, r *http.Request) outcome {
	t.Helper()
	resp, err := c.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	o := outcome{status: resp.StatusCode, body: string(b)}
	if resp.StatusCode != 200 {
		var e Error
		if json.Unmarshal(b, &e) == nil {
			o.typ, o.err = e.Type, &e
		}
	}
	return o
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

var awsCreds = aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSecret}

type awsCase struct {
	name     string
	method   string
	path     string // decoded path (net/url encodes it)
	rawPath  string // optional explicit encoding of path
	rawQuery string
	headers  [][2]string
	body     string
	// contentSHA sets X-Amz-Content-Sha256 before signing (so it is signed).
	contentSHA bool
	// tamper changes the request after signing.
	tamper func(r *http.Request)
	// wantType is the expected problem type, "" for success.
	wantType string
	// normalizes: the path has dot segments or duplicate slashes, which
	// aws-sdk-go-v2 signs unnormalised and Signer normalised.
	normalizes bool
}

func (c awsCase) request(t *testing.T, base string) *http.Request {
	t.Helper()
	u, _ := url.Parse(base)
	u.Path, u.RawPath, u.RawQuery = c.path, c.rawPath, c.rawQuery
	method := c.method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	r, err := http.NewRequest(method, u.String(), body)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range c.headers {
		r.Header.Add(h[0], h[1])
	}
	if c.contentSHA {
		r.Header.Set("X-Amz-Content-Sha256", sha256Hex(c.body))
	}
	return r
}

func awsCases() []awsCase {
	return []awsCase{
		{name: "get-query", path: "/acme/weather/v1/forecast", rawQuery: "city=Paris"},
		{name: "get-no-query", path: "/acme/weather/v1/forecast"},
		{name: "query-repeated-keys-unsorted", path: "/q", rawQuery: "b=2&a=3&a=1&a=2"},
		{name: "query-keys-without-values", path: "/q", rawQuery: "flag&x=1&empty="},
		{name: "query-reserved-characters", path: "/q", rawQuery: "q=a%2Fb%3Fc%26d%3De&p=%2Fx%2Fy&e=%21%27%28%29%2A"},
		{name: "query-space-as-%20", path: "/q", rawQuery: "s=hello%20world"},
		{name: "query-plus-is-space", path: "/q", rawQuery: "s=hello+world&plus=%2B"},
		{name: "query-unicode-encoded", path: "/q", rawQuery: "city=Z%C3%BCrich&%E2%9C%93=yes"},
		{name: "query-sort-after-encoding", path: "/q", rawQuery: "k=a-b&k=a%2Fb&k=a_b"},
		{name: "path-unicode", path: "/acme/café/ሴ"},
		{name: "path-space", path: "/docs/a b/"},
		{name: "path-reserved-characters", path: "/x/(paren)/!*'/colon:at@/semi;eq=,$&+"},
		{name: "path-encoded-slash", path: "/files/a/b", rawPath: "/files/a%2Fb"},
		{name: "path-percent-literal", path: "/files/100%"},
		{name: "path-dot-segments", path: "/a/./b/../c", normalizes: true},
		{name: "path-duplicate-slashes", path: "//acme//weather/", normalizes: true},
		// aws-sdk-go-v2 signs dot segments unnormalised and double-encoded;
		// neither the strict (normalised) nor the raw (once-encoded) form
		// matches that, so this combination is refused — as AWS services do.
		// Portico's Signer normalises and is accepted (TestSignerRoundTrip).
		{name: "path-dot-segments-and-encoding-refused", path: "/a/../caf é", normalizes: true, wantType: TypeSignatureMismatch},
		{name: "post-json", method: "POST", path: "/acme/orders", body: `{"item":"tea","qty":2}`,
			headers: [][2]string{{"Content-Type", "application/json"}}},
		{name: "post-x-amz-content-sha256", method: "POST", path: "/acme/orders", body: `{"item":"tea"}`, contentSHA: true,
			headers: [][2]string{{"Content-Type", "application/json"}}},
		{name: "put-empty-body", method: "PUT", path: "/acme/orders/1"},
		{name: "delete-with-query", method: "DELETE", path: "/acme/orders/1", rawQuery: "force=true"},
		{name: "repeated-headers", path: "/h", headers: [][2]string{{"X-Multi", "a"}, {"X-Multi", "b"}, {"X-Multi", "c"}}},
		{name: "header-extra-spaces", path: "/h", headers: [][2]string{{"X-Spaces", "  a    b   c  "}, {"X-Tab", "x\t y"}}},
		{name: "nonce-signed", path: "/n", headers: [][2]string{{NonceHeader, "n-0001"}}},
		{name: "tampered-query", path: "/q", rawQuery: "amount=10", wantType: TypeSignatureMismatch,
			tamper: func(r *http.Request) { r.URL.RawQuery = "amount=1000" }},
		{name: "tampered-path", path: "/acme/orders/1", wantType: TypeSignatureMismatch,
			tamper: func(r *http.Request) { r.URL.Path = "/acme/orders/2" }},
		{name: "tampered-signed-header", path: "/h", headers: [][2]string{{"X-Role", "reader"}}, wantType: TypeSignatureMismatch,
			tamper: func(r *http.Request) { r.Header.Set("X-Role", "admin") }},
		{name: "tampered-body", method: "POST", path: "/acme/orders", body: `{"qty":1}`, wantType: TypeSignatureMismatch,
			tamper: func(r *http.Request) { setBody(r, `{"qty":9}`) }},
		{name: "tampered-body-x-amz-content-sha256", method: "POST", path: "/acme/orders", body: `{"qty":1}`, contentSHA: true,
			wantType: TypeSignatureMismatch, tamper: func(r *http.Request) { setBody(r, `{"qty":9}`) }},
	}
}

func setBody(r *http.Request, s string) {
	r.Body = io.NopCloser(strings.NewReader(s))
	r.ContentLength = int64(len(s))
	r.GetBody = nil
}

// TestConformanceAWSSDK signs requests with aws-sdk-go-v2's standalone
// signer (service apigw, region local) and sends them over HTTP to a server
// that verifies them.
func TestConformanceAWSSDK(t *testing.T) {
	v := newTestVerifier(t)
	srv := verifyServer(t, v, VerifyOptions{})
	signer := awsv4.NewSigner()
	for _, tc := range awsCases() {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.request(t, srv.URL)
			if err := signer.SignHTTP(context.Background(), awsCreds, r, sha256Hex(tc.body), "apigw", "local", testTime); err != nil {
				t.Fatal(err)
			}
			if got := r.Header.Get("X-Amz-Security-Token"); got != "" {
				t.Fatalf("X-Amz-Security-Token = %q, want none (no session token)", got)
			}
			if strings.Contains(r.Header.Get("Authorization"), "x-amz-security-token") {
				t.Fatal("x-amz-security-token signed without a session token")
			}
			if tc.tamper != nil {
				tc.tamper(r)
			}
			o := do(t, srv.Client(), r)
			if tc.wantType == "" {
				if o.status != 200 || o.body != "app-1:"+tc.body {
					t.Fatalf("got %d %s %q, want 200", o.status, o.typ, o.body)
				}
				return
			}
			if o.status != 403 || o.typ != tc.wantType {
				t.Fatalf("got %d %q %q, want 403 %s", o.status, o.typ, o.body, tc.wantType)
			}
		})
	}
}

// TestConformanceAWSSDKPresign verifies URLs presigned by aws-sdk-go-v2.
func TestConformanceAWSSDKPresign(t *testing.T) {
	v := newTestVerifier(t)
	srv := verifyServer(t, v, VerifyOptions{})
	signer := awsv4.NewSigner()
	cases := []struct {
		name     string
		path     string
		query    string
		expires  int
		headers  [][2]string
		send     bool // send the signed headers along
		wantType string
	}{
		{name: "get", path: "/acme/weather/v1/forecast", query: "city=Paris", expires: 300},
		{name: "unicode-and-reserved", path: "/acme/café/a b", query: "q=a%2Fb&s=x%20y&flag", expires: 3600},
		{name: "max-expiry", path: "/f", expires: 604800},
		{name: "signed-header-sent", path: "/f", expires: 60, headers: [][2]string{{"X-Custom", "v"}}, send: true},
		{name: "signed-header-not-sent", path: "/f", expires: 60, headers: [][2]string{{"X-Custom", "v"}}, wantType: TypeMalformedAuthorization},
		{name: "expiry-over-7-days", path: "/f", expires: 604801, wantType: TypeMalformedAuthorization},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, _ := url.Parse(srv.URL)
			u.Path = tc.path
			q := tc.query
			if q != "" {
				q += "&"
			}
			u.RawQuery = q + "X-Amz-Expires=" + strconv.Itoa(tc.expires)
			r, _ := http.NewRequest("GET", u.String(), nil)
			for _, h := range tc.headers {
				r.Header.Add(h[0], h[1])
			}
			signed, hdr, err := signer.PresignHTTP(context.Background(), awsCreds, r, EmptySHA256, "apigw", "local", testTime)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(signed, "X-Amz-Security-Token") {
				t.Fatal("presigned URL carries X-Amz-Security-Token without a session token")
			}
			req, _ := http.NewRequest("GET", signed, nil)
			if tc.send {
				for k, vs := range hdr {
					if k != "Host" {
						req.Header[k] = vs
					}
				}
			}
			o := do(t, srv.Client(), req)
			if tc.wantType == "" {
				if o.status != 200 {
					t.Fatalf("got %d %s %q, want 200 for %s", o.status, o.typ, o.body, signed)
				}
				return
			}
			if o.typ != tc.wantType {
				t.Fatalf("got %d %q %q, want %s", o.status, o.typ, o.body, tc.wantType)
			}
		})
	}
}

// TestSignerMatchesAWSSDK cross-checks Signer against aws-sdk-go-v2: for
// every request both canonicalise alike (all but unnormalised paths), the
// Authorization headers must be byte-identical.
func TestSignerMatchesAWSSDK(t *testing.T) {
	for _, tc := range awsCases() {
		if tc.normalizes || tc.tamper != nil {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			theirs := tc.request(t, "http://127.0.0.1:8000")
			ours := tc.request(t, "http://127.0.0.1:8000")
			if err := awsv4.NewSigner().SignHTTP(context.Background(), awsCreds, theirs, sha256Hex(tc.body), "apigw", "local", testTime); err != nil {
				t.Fatal(err)
			}
			var s Signer
			if err := s.Sign(ours, testAK, testSecret, "", testTime); err != nil {
				t.Fatal(err)
			}
			if a, b := ours.Header.Get("Authorization"), theirs.Header.Get("Authorization"); a != b {
				t.Fatalf("Authorization differs\n ours: %s\naws:  %s", a, b)
			}
		})
	}
	t.Run("presign", func(t *testing.T) {
		r, _ := http.NewRequest("GET", "http://127.0.0.1:8000/acme/caf%C3%A9?b=2&a=1&X-Amz-Expires=900", nil)
		theirs, _, err := awsv4.NewSigner().PresignHTTP(context.Background(), awsCreds, r, EmptySHA256, "apigw", "local", testTime)
		if err != nil {
			t.Fatal(err)
		}
		r2, _ := http.NewRequest("GET", "http://127.0.0.1:8000/acme/caf%C3%A9?b=2&a=1", nil)
		var s Signer
		ours, err := s.Presign(r2, testAK, testSecret, "", testTime, 900*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		sig := func(raw string) string { u, _ := url.Parse(raw); return u.Query().Get("X-Amz-Signature") }
		if sig(ours) == "" || sig(ours) != sig(theirs) {
			t.Fatalf("presigned signatures differ\n ours: %s\naws:  %s", ours, theirs)
		}
	})
}

// TestSignerRoundTrip sends requests signed by Signer, including the shapes
// aws-sdk-go-v2 cannot sign in normalised form, through the verifying server.
func TestSignerRoundTrip(t *testing.T) {
	v := newTestVerifier(t)
	srv := verifyServer(t, v, VerifyOptions{})
	for _, contentSHA := range []bool{false, true} {
		for _, tc := range awsCases() {
			if tc.tamper != nil || tc.name == "nonce-signed" {
				continue
			}
			name := tc.name
			if contentSHA {
				name += "/signed-content-sha256"
			}
			t.Run(name, func(t *testing.T) {
				r := tc.request(t, srv.URL)
				s := Signer{SignContentSHA256: contentSHA}
				if err := s.Sign(r, testAK, testSecret, "", testTime); err != nil {
					t.Fatal(err)
				}
				if o := do(t, srv.Client(), r); o.status != 200 || o.body != "app-1:"+tc.body {
					t.Fatalf("got %d %s %q, want 200", o.status, o.typ, o.body)
				}
			})
		}
	}
	t.Run("presign", func(t *testing.T) {
		r, _ := http.NewRequest("GET", srv.URL+"/a/./b//c%20d?x=1&x=0&y", nil)
		var s Signer
		u, err := s.Presign(r, testAK, testSecret, "", testTime.Add(-time.Hour), 2*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", u, nil)
		if o := do(t, srv.Client(), req); o.status != 200 {
			t.Fatalf("got %d %s %q, want 200", o.status, o.typ, o.body)
		}
	})
}
