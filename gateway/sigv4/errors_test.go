package sigv4

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

const base = "http://127.0.0.1:8000"

// withAuthz replaces the Authorization header of a signed request.
func withAuthz(t *testing.T, authz string) *http.Request {
	t.Helper()
	r := signedServerRequest(t, "GET", base+"/f", "", Signer{})
	r.Header.Set("Authorization", authz)
	return r
}

// validAuthz returns the Authorization of a freshly signed GET /f.
func validAuthz(t *testing.T) string {
	return signedServerRequest(t, "GET", base+"/f", "", Signer{}).Header.Get("Authorization")
}

func presigned(t *testing.T, rawURL string, expires time.Duration, at time.Time) *http.Request {
	t.Helper()
	r, _ := http.NewRequest("GET", rawURL, nil)
	u, err := (&Signer{}).Presign(r, testAK, testSecret, "", at, expires)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := http.NewRequest("GET", u, nil)
	return toServer(t, out)
}

func TestRejections(t *testing.T) {
	scope := "20260314/local/apigw/aws4_request"
	sig := strings.Repeat("ab", 32)
	cases := []struct {
		name       string
		req        func(t *testing.T) *http.Request
		opts       VerifyOptions
		cfg        verifierOption
		status     int
		typ        string
		detailHas  string
		checkExtra func(t *testing.T, e *Error)
	}{
		// 1. presence and syntax
		{name: "no-signature", status: 401, typ: TypeMissingSignature, detailHas: "AWS4-HMAC-SHA256",
			req: func(t *testing.T) *http.Request { return serverRequest(t, "GET /f HTTP/1.1\nHost: h\n\n") }},
		{name: "other-scheme", status: 401, typ: TypeMissingSignature, detailHas: `"Bearer"`,
			req: func(t *testing.T) *http.Request { return withAuthz(t, "Bearer abc.def") }},
		{name: "wrong-algorithm", status: 400, typ: TypeMalformedAuthorization, detailHas: "Algorithm",
			req: func(t *testing.T) *http.Request {
				return withAuthz(t, strings.Replace(validAuthz(t), "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512", 1))
			}},
		{name: "duplicate-authorization", status: 400, typ: TypeMalformedAuthorization, detailHas: "more than once",
			req: func(t *testing.T) *http.Request {
				r := signedServerRequest(t, "GET", base+"/f", "", Signer{})
				r.Header.Add("Authorization", r.Header.Get("Authorization"))
				return r
			}},
		{name: "missing-credential", status: 400, typ: TypeMalformedAuthorization, detailHas: "Credential",
			req: func(t *testing.T) *http.Request {
				return withAuthz(t, "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature="+sig)
			}},
		{name: "missing-signed-headers", status: 400, typ: TypeMalformedAuthorization, detailHas: "SignedHeaders",
			req: func(t *testing.T) *http.Request {
				return withAuthz(t, "AWS4-HMAC-SHA256 Credential="+testAK+"/"+scope+", Signature="+sig)
			}},
		{name: "missing-signature-component", status: 400, typ: TypeMalformedAuthorization, detailHas: "Signature",
			req: func(t *testing.T) *http.Request {
				return withAuthz(t, "AWS4-HMAC-SHA256 Credential="+testAK+"/"+scope+", SignedHeaders=host;x-amz-date")
			}},
		{name: "unknown-component", status: 400, typ: TypeMalformedAuthorization, detailHas: "unknown component",
			req: func(t *testing.T) *http.Request { return withAuthz(t, validAuthz(t)+", Extra=1") }},
		{name: "component-not-name-value", status: 400, typ: TypeMalformedAuthorization, detailHas: "Name=Value",
			req: func(t *testing.T) *http.Request { return withAuthz(t, validAuthz(t)+", junk") }},
		{name: "credential-too-few-parts", status: 400, typ: TypeMalformedAuthorization, detailHas: "Credential",
			req: func(t *testing.T) *http.Request {
				return withAuthz(t, "AWS4-HMAC-SHA256 Credential="+testAK+"/20260314/local/apigw, SignedHeaders=host;x-amz-date, Signature="+sig)
			}},
		{name: "signature-not-hex", status: 400, typ: TypeMalformedAuthorization, detailHas: "Signature",
			req: func(t *testing.T) *http.Request {
				return withAuthz(t, "AWS4-HMAC-SHA256 Credential="+testAK+"/"+scope+", SignedHeaders=host;x-amz-date, Signature=xyz")
			}},
		{name: "signed-headers-upper-case", status: 400, typ: TypeMalformedAuthorization, detailHas: "SignedHeaders",
			req: func(t *testing.T) *http.Request {
				return withAuthz(t, "AWS4-HMAC-SHA256 Credential="+testAK+"/"+scope+", SignedHeaders=Host;x-amz-date, Signature="+sig)
			}},
		{name: "signed-headers-duplicate", status: 400, typ: TypeMalformedAuthorization, detailHas: "more than once",
			req: func(t *testing.T) *http.Request {
				return withAuthz(t, "AWS4-HMAC-SHA256 Credential="+testAK+"/"+scope+", SignedHeaders=host;x-amz-date;host, Signature="+sig)
			}},
		{name: "signed-headers-authorization", status: 400, typ: TypeMalformedAuthorization, detailHas: "authorization",
			req: func(t *testing.T) *http.Request {
				return withAuthz(t, "AWS4-HMAC-SHA256 Credential="+testAK+"/"+scope+", SignedHeaders=authorization;host;x-amz-date, Signature="+sig)
			}},
		{name: "x-amz-date-missing", status: 400, typ: TypeMalformedAuthorization, detailHas: "X-Amz-Date",
			req: func(t *testing.T) *http.Request {
				r := signedServerRequest(t, "GET", base+"/f", "", Signer{})
				r.Header.Del("X-Amz-Date")
				return r
			}},
		{name: "x-amz-date-malformed", status: 400, typ: TypeMalformedAuthorization, detailHas: "X-Amz-Date",
			req: func(t *testing.T) *http.Request {
				r := signedServerRequest(t, "GET", base+"/f", "", Signer{})
				r.Header.Set("X-Amz-Date", "2026-03-14T15:09:26Z")
				return r
			}},
		{name: "x-amz-date-impossible-day", status: 400, typ: TypeMalformedAuthorization, detailHas: "X-Amz-Date",
			req: func(t *testing.T) *http.Request {
				r := signedServerRequest(t, "GET", base+"/f", "", Signer{})
				r.Header.Set("X-Amz-Date", "20260231T150926Z")
				return r
			}},
		{name: "header-and-presigned-query", status: 400, typ: TypeMalformedAuthorization, detailHas: "both",
			req: func(t *testing.T) *http.Request {
				r := presigned(t, base+"/f", time.Minute, testTime)
				r.Header.Set("Authorization", validAuthz(t))
				return r
			}},
		{name: "presign-missing-signature", status: 400, typ: TypeMalformedAuthorization, detailHas: "X-Amz-Signature",
			req: func(t *testing.T) *http.Request {
				r := presigned(t, base+"/f", time.Minute, testTime)
				i := strings.Index(r.RequestURI, "&X-Amz-Signature")
				r.RequestURI = r.RequestURI[:i]
				return r
			}},
		{name: "presign-wrong-algorithm", status: 400, typ: TypeMalformedAuthorization, detailHas: "X-Amz-Algorithm",
			req: func(t *testing.T) *http.Request {
				r := presigned(t, base+"/f", time.Minute, testTime)
				r.RequestURI = strings.Replace(r.RequestURI, "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1)
				return r
			}},
		{name: "presign-duplicate-param", status: 400, typ: TypeMalformedAuthorization, detailHas: "X-Amz-Date",
			req: func(t *testing.T) *http.Request {
				r := presigned(t, base+"/f", time.Minute, testTime)
				r.RequestURI += "&X-Amz-Date=20260314T150926Z"
				return r
			}},

		// 2. access key
		{name: "unknown-access-key", status: 403, typ: TypeInvalidAccessKey,
			req: func(t *testing.T) *http.Request {
				return withAuthz(t, strings.Replace(validAuthz(t), testAK, "PKUNKNOWN00000000000", 1))
			}},
		{name: "revoked-access-key", status: 403, typ: TypeInvalidAccessKey,
			req: func(t *testing.T) *http.Request {
				return withAuthz(t, strings.Replace(validAuthz(t), testAK, "PKREVOKED00000000000", 1))
			}},
		{name: "expired-access-key", status: 403, typ: TypeInvalidAccessKey,
			req: func(t *testing.T) *http.Request {
				return withAuthz(t, strings.Replace(validAuthz(t), testAK, "PKEXPIRED00000000000", 1))
			}},

		// 3. scope
		{name: "scope-date-differs", status: 403, typ: TypeInvalidScope, detailHas: scope,
			req: func(t *testing.T) *http.Request {
				return withAuthz(t, strings.Replace(validAuthz(t), "/20260314/", "/20260313/", 1))
			},
			checkExtra: func(t *testing.T, e *Error) {
				if e.ExpectedScope != scope || e.Extensions()["expected_scope"] != scope {
					t.Errorf("ExpectedScope = %q, want %q", e.ExpectedScope, scope)
				}
			}},
		{name: "wrong-region", status: 403, typ: TypeInvalidScope, detailHas: scope,
			req: func(t *testing.T) *http.Request {
				return signedServerRequest(t, "GET", base+"/f", "", Signer{Region: "eu-west-1"})
			}},
		{name: "wrong-service", status: 403, typ: TypeInvalidScope, detailHas: scope,
			req: func(t *testing.T) *http.Request {
				return signedServerRequest(t, "GET", base+"/f", "", Signer{Service: "execute-api"})
			}},
		{name: "wrong-terminator", status: 403, typ: TypeInvalidScope, detailHas: scope,
			req: func(t *testing.T) *http.Request {
				return withAuthz(t, strings.Replace(validAuthz(t), "aws4_request", "aws5_request", 1))
			}},
		{name: "region-configured", status: 403, typ: TypeInvalidScope, detailHas: "20260314/eu-1/apigw/aws4_request",
			cfg: func(c *Config) { c.Region = "eu-1" },
			req: func(t *testing.T) *http.Request { return signedServerRequest(t, "GET", base+"/f", "", Signer{}) }},

		// 4. time
		{name: "request-expired", status: 403, typ: TypeRequestExpired, detailHas: "20260314T150926Z",
			cfg: func(c *Config) { c.Now = func() time.Time { return testTime.Add(time.Hour) } },
			req: func(t *testing.T) *http.Request { return signedServerRequest(t, "GET", base+"/f", "", Signer{}) },
			checkExtra: func(t *testing.T, e *Error) {
				if e.ServerTime != "20260314T160926Z" {
					t.Errorf("ServerTime = %q", e.ServerTime)
				}
			}},

		// 5. signed headers
		{name: "host-not-signed", status: 400, typ: TypeMalformedAuthorization, detailHas: "host",
			req: func(t *testing.T) *http.Request {
				return withAuthz(t, "AWS4-HMAC-SHA256 Credential="+testAK+"/"+scope+", SignedHeaders=x-amz-date, Signature="+sig)
			}},
		{name: "x-amz-date-not-signed", status: 400, typ: TypeMalformedAuthorization, detailHas: "x-amz-date",
			req: func(t *testing.T) *http.Request {
				return withAuthz(t, "AWS4-HMAC-SHA256 Credential="+testAK+"/"+scope+", SignedHeaders=host, Signature="+sig)
			}},
		{name: "signed-header-absent", status: 400, typ: TypeMalformedAuthorization, detailHas: "x-custom",
			req: func(t *testing.T) *http.Request {
				r, _ := http.NewRequest("GET", base+"/f", nil)
				r.Header.Set("X-Custom", "1")
				(&Signer{}).Sign(r, testAK, testSecret, "", testTime)
				r.Header.Del("X-Custom")
				return toServer(t, r)
			}},

		// 6. signature and payload
		{name: "signature-mismatch", status: 403, typ: TypeSignatureMismatch,
			req: func(t *testing.T) *http.Request {
				r, _ := http.NewRequest("GET", base+"/f?x=1", nil)
				(&Signer{}).Sign(r, testAK, "wrong-secret", "", testTime)
				return toServer(t, r)
			},
			checkExtra: func(t *testing.T, e *Error) {
				wantCR := "GET\n/f\nx=1\nhost:127.0.0.1:8000\nx-amz-date:20260314T150926Z\n\nhost;x-amz-date\n" + EmptySHA256
				if e.CanonicalRequest != wantCR {
					t.Errorf("CanonicalRequest =\n%s\nwant\n%s", e.CanonicalRequest, wantCR)
				}
				if ext := e.Extensions(); ext["canonical_request"] != e.CanonicalRequest || ext["string_to_sign"] != e.StringToSign || len(ext) != 2 {
					t.Errorf("Extensions = %v", ext)
				}
				if !strings.HasPrefix(e.StringToSign, "AWS4-HMAC-SHA256\n20260314T150926Z\n"+scope+"\n") || len(e.StringToSign) != len("AWS4-HMAC-SHA256\n20260314T150926Z\n"+scope+"\n")+64 {
					t.Errorf("StringToSign = %q", e.StringToSign)
				}
			}},
		{name: "content-sha256-invalid", status: 400, typ: TypeMalformedAuthorization, detailHas: "X-Amz-Content-Sha256",
			req: func(t *testing.T) *http.Request {
				r, _ := http.NewRequest("PUT", base+"/f", strings.NewReader("x"))
				r.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
				(&Signer{}).Sign(r, testAK, testSecret, "", testTime)
				return toServer(t, r)
			}},
		{name: "content-sha256-signed-without-values", status: 400, typ: TypeMalformedAuthorization, detailHas: "X-Amz-Content-Sha256: must appear exactly once",
			req: func(t *testing.T) *http.Request {
				r, _ := http.NewRequest("GET", base+"/f", nil)
				r.Header[headerContentSHA256] = nil // present as a key, as an in-process caller may leave it
				(&Signer{}).Sign(r, testAK, testSecret, "", testTime)
				return r
			}},
		{name: "unsigned-payload-disallowed", status: 400, typ: TypeMalformedAuthorization, detailHas: "UNSIGNED-PAYLOAD",
			opts: VerifyOptions{DisallowUnsignedPayload: true},
			req: func(t *testing.T) *http.Request {
				r, _ := http.NewRequest("PUT", base+"/f", strings.NewReader("x"))
				r.Header.Set("X-Amz-Content-Sha256", UnsignedPayload)
				(&Signer{}).Sign(r, testAK, testSecret, UnsignedPayload, testTime)
				return toServer(t, r)
			}},
		{name: "body-too-large", status: 413, typ: TypeBodyTooLarge,
			cfg: func(c *Config) { c.MaxBodyBytes = 4 },
			req: func(t *testing.T) *http.Request { return signedServerRequest(t, "POST", base+"/f", "12345", Signer{}) }},

		// 7. nonce
		{name: "nonce-not-signed", status: 400, typ: TypeMalformedAuthorization, detailHas: "x-portico-nonce",
			req: func(t *testing.T) *http.Request {
				r := signedServerRequest(t, "GET", base+"/f", "", Signer{})
				r.Header.Set(NonceHeader, "n1")
				return r
			}},
		{name: "nonce-not-signed-non-canonical-key", status: 400, typ: TypeMalformedAuthorization, detailHas: "x-portico-nonce",
			req: func(t *testing.T) *http.Request {
				r := signedServerRequest(t, "GET", base+"/f", "", Signer{})
				r.Header["x-portico-nonce"] = []string{"n1"} // set by hand in-process, not canonicalised
				return r
			}},
		{name: "nonce-not-signed-canonical-headers", status: 400, typ: TypeMalformedAuthorization, detailHas: "x-portico-nonce",
			opts: VerifyOptions{CanonicalHeaders: true}, // as the gateway verifies what its server parsed
			req: func(t *testing.T) *http.Request {
				r := signedServerRequest(t, "GET", base+"/f", "", Signer{})
				r.Header.Set(NonceHeader, "n1")
				return r
			}},
		{name: "nonce-required-canonical-headers-hand-keyed", status: 403, typ: TypeNonceRequired,
			opts: VerifyOptions{CanonicalHeaders: true, RequireNonce: true},
			req: func(t *testing.T) *http.Request {
				r := signedServerRequest(t, "GET", base+"/f", "", Signer{})
				r.Header["x-portico-nonce"] = []string{"n1"} // not where a caller that promised canonical keys looks
				return r
			}},
		{name: "nonce-signed-twice", status: 400, typ: TypeMalformedAuthorization, detailHas: "exactly once",
			req: func(t *testing.T) *http.Request {
				r, _ := http.NewRequest("GET", base+"/f", nil)
				r.Header.Add(NonceHeader, "n1")
				r.Header.Add(NonceHeader, "n2")
				(&Signer{}).Sign(r, testAK, testSecret, "", testTime)
				return toServer(t, r)
			}},
		{name: "nonce-signed-without-values", status: 400, typ: TypeMalformedAuthorization, detailHas: "X-Portico-Nonce: must appear exactly once",
			req: func(t *testing.T) *http.Request {
				r, _ := http.NewRequest("GET", base+"/f", nil)
				r.Header[NonceHeader] = nil // present as a key, as an in-process caller may leave it
				(&Signer{}).Sign(r, testAK, testSecret, "", testTime)
				return r
			}},
		{name: "nonce-invalid", status: 400, typ: TypeMalformedAuthorization, detailHas: "X-Portico-Nonce",
			req: func(t *testing.T) *http.Request {
				r, _ := http.NewRequest("GET", base+"/f", nil)
				r.Header.Set(NonceHeader, "two words")
				(&Signer{}).Sign(r, testAK, testSecret, "", testTime)
				return toServer(t, r)
			}},
		{name: "nonce-required-by-route", status: 403, typ: TypeNonceRequired, opts: VerifyOptions{RequireNonce: true},
			req: func(t *testing.T) *http.Request { return signedServerRequest(t, "GET", base+"/f", "", Signer{}) }},
		{name: "nonce-required-by-config", status: 403, typ: TypeNonceRequired, cfg: func(c *Config) { c.RequireNonce = true },
			req: func(t *testing.T) *http.Request { return signedServerRequest(t, "GET", base+"/f", "", Signer{}) }},

		// order: the earlier step wins
		{name: "order-unknown-key-before-scope", status: 403, typ: TypeInvalidAccessKey,
			req: func(t *testing.T) *http.Request {
				return withAuthz(t, "AWS4-HMAC-SHA256 Credential=PKNOPE/19990101/mars/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature="+sig)
			}},
		{name: "order-scope-before-time", status: 403, typ: TypeInvalidScope,
			cfg: func(c *Config) { c.Now = func() time.Time { return testTime.Add(time.Hour) } },
			req: func(t *testing.T) *http.Request {
				return signedServerRequest(t, "GET", base+"/f", "", Signer{Region: "eu-west-1"})
			}},
		{name: "order-time-before-headers", status: 403, typ: TypeRequestExpired,
			cfg: func(c *Config) { c.Now = func() time.Time { return testTime.Add(time.Hour) } },
			req: func(t *testing.T) *http.Request {
				return withAuthz(t, "AWS4-HMAC-SHA256 Credential="+testAK+"/"+scope+", SignedHeaders=host, Signature="+sig)
			}},
		{name: "order-headers-before-signature", status: 400, typ: TypeMalformedAuthorization,
			req: func(t *testing.T) *http.Request {
				return withAuthz(t, "AWS4-HMAC-SHA256 Credential="+testAK+"/"+scope+", SignedHeaders=host, Signature="+sig)
			}},
		{name: "order-absent-header-before-content-sha256", status: 400, typ: TypeMalformedAuthorization, detailHas: "x-custom",
			req: func(t *testing.T) *http.Request {
				r, _ := http.NewRequest("PUT", base+"/f", strings.NewReader("x"))
				r.Header.Set("X-Custom", "1")
				r.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
				(&Signer{}).Sign(r, testAK, testSecret, "", testTime)
				r.Header.Del("X-Custom")
				return toServer(t, r)
			}},
		{name: "order-absent-header-before-body-too-large", status: 400, typ: TypeMalformedAuthorization, detailHas: "x-custom",
			cfg: func(c *Config) { c.MaxBodyBytes = 4 },
			req: func(t *testing.T) *http.Request {
				r, _ := http.NewRequest("POST", base+"/f", strings.NewReader("12345"))
				r.Header.Set("X-Custom", "1")
				(&Signer{}).Sign(r, testAK, testSecret, "", testTime)
				r.Header.Del("X-Custom")
				return toServer(t, r)
			}},
		{name: "order-signature-before-nonce", status: 403, typ: TypeSignatureMismatch, opts: VerifyOptions{RequireNonce: true},
			req: func(t *testing.T) *http.Request {
				return withAuthz(t, "AWS4-HMAC-SHA256 Credential="+testAK+"/"+scope+", SignedHeaders=host;x-amz-date, Signature="+sig)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var opts []verifierOption
			if tc.cfg != nil {
				opts = append(opts, tc.cfg)
			}
			v := newTestVerifier(t, opts...)
			_, err := v.Verify(context.Background(), tc.req(t), "", tc.opts)
			e := wantProblem(t, err, tc.typ, tc.status)
			if !strings.Contains(e.Detail, tc.detailHas) {
				t.Errorf("detail %q does not mention %q", e.Detail, tc.detailHas)
			}
			if e.ProblemType() != "https://portico.dev/problems/"+tc.typ {
				t.Errorf("ProblemType = %q", e.ProblemType())
			}
			if tc.checkExtra != nil {
				tc.checkExtra(t, e)
			}
			assertNoSecret(t, e)
		})
	}
}

// assertNoSecret checks that no field of the error, nor its JSON, holds the
// secret key or anything derived from it.
func assertNoSecret(t *testing.T, e *Error) {
	t.Helper()
	js, _ := json.Marshal(e)
	sk := newSigningKey("", []byte(testSecret), "20260314", "local", "apigw")
	derived := hex.EncodeToString(deriveSigningKey([]byte(testSecret), "20260314", "local", "apigw"))
	for _, s := range []string{e.Error(), string(js)} {
		for _, secret := range []string{testSecret, "AWS4" + testSecret, derived, hex.EncodeToString(sk.inner[4:12]), hex.EncodeToString(sk.outer[4:12])} {
			if strings.Contains(s, secret) {
				t.Fatalf("error exposes secret material %q: %s", secret, s)
			}
		}
	}
}

func TestValidRequestReturnsCredential(t *testing.T) {
	v := newTestVerifier(t)
	cred, err := v.Verify(context.Background(), signedServerRequest(t, "GET", base+"/f", "", Signer{}), "", VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cred.AccessKey != testAK || cred.Owner != "app-1" {
		t.Fatalf("credential = %+v", cred)
	}
}

func TestSignedBodyDigest(t *testing.T) {
	signedPut := func(t *testing.T, body string) *http.Request {
		r, _ := http.NewRequest("PUT", base+"/f", strings.NewReader(body))
		(&Signer{SignContentSHA256: true}).Sign(r, testAK, testSecret, "", testTime)
		return toServer(t, r)
	}
	t.Run("caller-hash-matches", func(t *testing.T) {
		_, err := newTestVerifier(t).Verify(context.Background(), signedPut(t, "abc"), sha256Hex("abc"), VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("caller-hash-differs", func(t *testing.T) {
		_, err := newTestVerifier(t).Verify(context.Background(), signedPut(t, "abc"), sha256Hex("abd"), VerifyOptions{})
		wantProblem(t, err, TypeSignatureMismatch, 403)
	})
	t.Run("streamed-body-differs", func(t *testing.T) {
		r := signedPut(t, "abc")
		r.Body = struct {
			*strings.Reader
			closer
		}{strings.NewReader("abd"), closer{}}
		if _, err := newTestVerifier(t).Verify(context.Background(), r, "", VerifyOptions{}); err != nil {
			t.Fatalf("Verify must not read the body: %v", err)
		}
		b := make([]byte, 10)
		n, err := readAll(r.Body, b)
		if string(b[:n]) != "abd" {
			t.Fatalf("body = %q", b[:n])
		}
		wantProblem(t, err, TypeSignatureMismatch, 403)
	})
	t.Run("empty-body-but-digest-of-content", func(t *testing.T) {
		r := signedPut(t, "abc")
		r.Body, r.ContentLength = http.NoBody, 0
		_, err := newTestVerifier(t).Verify(context.Background(), r, "", VerifyOptions{})
		wantProblem(t, err, TypeSignatureMismatch, 403)
	})
	t.Run("unsigned-payload-allowed", func(t *testing.T) {
		r, _ := http.NewRequest("PUT", base+"/f", strings.NewReader("anything"))
		r.Header.Set("X-Amz-Content-Sha256", UnsignedPayload)
		(&Signer{}).Sign(r, testAK, testSecret, UnsignedPayload, testTime)
		sr := toServer(t, r)
		sr.Body = struct {
			*strings.Reader
			closer
		}{strings.NewReader("something else"), closer{}}
		if _, err := newTestVerifier(t).Verify(context.Background(), sr, "", VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
	})
}

type closer struct{}

func (closer) Close() error { return nil }

// readAll reads into b until an error and returns it (io.EOF for a clean end).
func readAll(r interface{ Read([]byte) (int, error) }, b []byte) (int, error) {
	n := 0
	for {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
}

func TestNewValidatesConfig(t *testing.T) {
	keys, nonces := testKeyStore(), NewMemoryNonces(10)
	cases := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Keys: keys, Nonces: nonces}, true},
		{"no-keys", Config{Nonces: nonces}, false},
		{"no-nonces", Config{Keys: keys}, false},
		{"region-with-slash", Config{Region: "a/b", Keys: keys, Nonces: nonces}, false},
		{"negative-skew", Config{MaxSkew: -time.Minute, Keys: keys, Nonces: nonces}, false},
		{"presign-over-7-days", Config{MaxPresignExpiry: MaxPresignExpiry + time.Second, Keys: keys, Nonces: nonces}, false},
		{"presign-1h", Config{MaxPresignExpiry: time.Hour, Keys: keys, Nonces: nonces}, true},
		{"negative-body", Config{MaxBodyBytes: -1, Keys: keys, Nonces: nonces}, false},
		{"negative-cache", Config{KeyCacheSize: -1, Keys: keys, Nonces: nonces}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := New(tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("New: %v, want ok=%v", err, tc.ok)
			}
			if tc.name == "defaults" && (v.Region() != "local" || v.maxSkew != 15*time.Minute || v.maxPresign != 604800*time.Second || v.service != "apigw") {
				t.Fatalf("defaults not applied: %+v", v)
			}
		})
	}
}
