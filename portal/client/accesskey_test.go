package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-dev/portico/gateway/sigv4"
)

// Credentials in Portico's format: PU + 18 characters, a 40-character secret.
const (
	testAK     = "PUTESTTESTTESTTEST01"
	testSecret = "s3cr3tS3CR3Ts3cr3tS3CR3Ts3cr3tS3CR3T/+ab"
	testRegion = "eu-test-1"
)

type keyStore map[string]string

func (k keyStore) Lookup(_ context.Context, ak string) (sigv4.Credential, bool) {
	sk, ok := k[ak]
	return sigv4.Credential{AccessKey: ak, Secret: []byte(sk), Active: true}, ok
}

// signedRequest is what the verifying server saw of one accepted request.
type signedRequest struct {
	Method, Path, RawPath, Query, Body string
	SignedHeaders, ContentSHA256       string
}

// verifyingServer is a fake Portico that checks every request's SigV4
// signature with gateway/sigv4's Verifier, as the real server does, before
// handing it to h. Rejections are answered as problem+json with the
// verifier's diagnostic members.
type verifyingServer struct {
	*httptest.Server
	mu       sync.Mutex
	accepted []signedRequest
}

var signedHeadersRE = regexp.MustCompile(`SignedHeaders=([^,]*)`)

func newVerifyingServer(t *testing.T, h http.HandlerFunc) *verifyingServer {
	t.Helper()
	v, err := sigv4.New(sigv4.Config{Region: testRegion, Keys: keyStore{testAK: testSecret}, Nonces: sigv4.NewMemoryNonces(100)})
	if err != nil {
		t.Fatal(err)
	}
	s := &verifyingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := v.Verify(r.Context(), r, "", sigv4.VerifyOptions{DisallowUnsignedPayload: true})
		var body []byte
		if err == nil {
			// The verifier checks the body against the signed digest as it
			// is read to the end.
			body, err = io.ReadAll(r.Body)
		}
		var perr *sigv4.Error
		if errors.As(err, &perr) {
			p := map[string]any{"type": perr.ProblemType(), "title": perr.Title, "status": perr.Status, "detail": perr.Detail}
			for k, v := range perr.Extensions() {
				p[k] = v
			}
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(perr.Status)
			json.NewEncoder(w).Encode(p)
			return
		}
		if err != nil {
			t.Errorf("verify: %v", err)
			w.WriteHeader(500)
			return
		}
		m := signedHeadersRE.FindStringSubmatch(r.Header.Get("Authorization"))
		s.mu.Lock()
		s.accepted = append(s.accepted, signedRequest{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.RawQuery,
			Body: string(body), SignedHeaders: m[1], ContentSHA256: r.Header.Get("X-Amz-Content-Sha256")})
		s.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *verifyingServer) last(t *testing.T) signedRequest {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.accepted) == 0 {
		t.Fatal("the server accepted no request")
	}
	return s.accepted[len(s.accepted)-1]
}

func (s *verifyingServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.accepted)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// cannedAnswers answers the routes of apps, keys and subscriptions with
// plausible objects.
func cannedAnswers(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	sub := map[string]any{"id": "sub_1", "status": "active", "app_id": "app_1", "api_id": "api_1", "version": "v1", "plan_id": "pl_2",
		"next_plan_id": nil, "period_start": "2026-03-01T00:00:00Z", "period_end": "2026-04-01T00:00:00Z", "cancel_at_period_end": false,
		"created_at": "2026-03-01T00:00:00Z", "api_slug": "weather", "provider_org_slug": "acme", "partner_org_slug": "beta",
		"plan": map[string]any{"id": "pl_2", "slug": "pro", "revision": 2, "quota": map[string]any{}}, "next_plan": nil}
	switch {
	case r.Method == "DELETE" && !strings.Contains(p, "/subscriptions/"):
		w.WriteHeader(204)
	case r.Method == "POST" && strings.HasSuffix(p, "/keys"):
		writeJSON(w, 201, map[string]any{"access_key": "PKAB2CD3EF4GH5IJ6KL7", "name": "ci", "status": "active", "expires_at": nil,
			"last_used_at": nil, "created_at": "2026-03-14T15:09:26Z", "revoked_at": nil, "secret_key": strings.Repeat("s", 40)})
	case strings.HasSuffix(p, "/keys"):
		writeJSON(w, 200, map[string]any{"items": []any{map[string]any{"access_key": "PKAB2CD3EF4GH5IJ6KL7", "status": "revoked",
			"revoked_at": "2026-03-14T15:09:26Z"}}, "next_cursor": nil})
	case strings.HasSuffix(p, "/history"):
		writeJSON(w, 200, map[string]any{"items": []any{
			map[string]any{"id": "ev1", "kind": "created", "from_status": "", "to_status": "pending_approval", "by": "partner", "actor_email": "bo@beta.example"},
			map[string]any{"id": "ev2", "kind": "approved", "from_status": "pending_approval", "to_status": "active", "by": "provider", "note": "welcome"},
		}, "next_cursor": nil})
	case strings.Contains(p, "/apps"):
		app := map[string]any{"id": "app_1", "name": "Widget", "description": "", "environment": "test", "owner_id": nil}
		if r.Method == "GET" && strings.HasSuffix(p, "/apps") {
			writeJSON(w, 200, map[string]any{"items": []any{app}, "next_cursor": "c2"})
			return
		}
		writeJSON(w, 200, app)
	case strings.HasSuffix(p, "/subscriptions") && r.Method == "GET" || strings.HasSuffix(p, "/approvals"):
		writeJSON(w, 200, map[string]any{"items": []any{sub}, "next_cursor": nil})
	case r.Method == "POST" && strings.HasSuffix(p, "/subscriptions"):
		sub["status"] = "pending_approval"
		writeJSON(w, 201, sub)
	default:
		writeJSON(w, 200, sub)
	}
}

func TestAccessKeySignsEveryRoute(t *testing.T) {
	srv := newVerifyingServer(t, cannedAnswers)
	c := New(srv.URL, WithAccessKey(testAK, testSecret, testRegion))
	ctx := context.Background()
	exp := time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		call       func() error
		wantMethod string
		wantPath   string
		wantQuery  string
		wantBody   string
	}{
		{"list apps", func() error {
			p, err := c.ListApps(ctx, "beta", ListOptions{Limit: 5})
			if err == nil && (len(p.Items) != 1 || p.Items[0].Environment != EnvTest || p.NextCursor != "c2") {
				t.Errorf("page = %+v", p)
			}
			return err
		}, "GET", "/api/v1/orgs/beta/apps", "limit=5", ""},
		{"create app", func() error {
			_, err := c.CreateApp(ctx, "beta", AppRequest{Name: "Widget", Environment: EnvTest})
			return err
		}, "POST", "/api/v1/orgs/beta/apps", "", `{"name":"Widget","environment":"test"}`},
		{"get app", func() error { _, err := c.GetApp(ctx, "beta", "app_1"); return err },
			"GET", "/api/v1/orgs/beta/apps/app_1", "", ""},
		{"update app sends only what changes", func() error {
			_, err := c.UpdateApp(ctx, "beta", "app_1", AppPatch{Description: Ptr("")})
			return err
		}, "PATCH", "/api/v1/orgs/beta/apps/app_1", "", `{"description":""}`},
		{"delete app", func() error { return c.DeleteApp(ctx, "beta", "app_1") },
			"DELETE", "/api/v1/orgs/beta/apps/app_1", "", ""},
		{"list app keys", func() error {
			ks, err := c.ListAppKeys(ctx, "beta", "app_1")
			if err == nil && (len(ks) != 1 || ks[0].Status != KeyRevoked || ks[0].RevokedAt == nil) {
				t.Errorf("keys = %+v", ks)
			}
			return err
		}, "GET", "/api/v1/orgs/beta/apps/app_1/keys", "", ""},
		{"create app key returns the secret", func() error {
			k, err := c.CreateAppKey(ctx, "beta", "app_1", KeyRequest{Name: "ci", ExpiresAt: &exp})
			if err == nil && (k.AccessKey != "PKAB2CD3EF4GH5IJ6KL7" || len(k.SecretKey) != 40 || k.Status != KeyActive) {
				t.Errorf("key = %+v", k)
			}
			return err
		}, "POST", "/api/v1/orgs/beta/apps/app_1/keys", "", `{"name":"ci","expires_at":"2027-06-30T00:00:00Z"}`},
		{"revoke app key", func() error { return c.RevokeAppKey(ctx, "beta", "app_1", "PKAB2CD3EF4GH5IJ6KL7") },
			"DELETE", "/api/v1/orgs/beta/apps/app_1/keys/PKAB2CD3EF4GH5IJ6KL7", "", ""},
		{"list user keys", func() error { _, err := c.ListUserKeys(ctx); return err },
			"GET", "/api/v1/keys", "", ""},
		{"create user key with defaults", func() error { _, err := c.CreateUserKey(ctx, KeyRequest{}); return err },
			"POST", "/api/v1/keys", "", `{}`},
		{"revoke user key", func() error { return c.RevokeUserKey(ctx, "PUAB2CD3EF4GH5IJ6KL7") },
			"DELETE", "/api/v1/keys/PUAB2CD3EF4GH5IJ6KL7", "", ""},
		{"list subscriptions with filters", func() error {
			p, err := c.ListSubscriptions(ctx, "beta", SubscriptionQuery{App: "app_1", Status: SubActive, ListOptions: ListOptions{Cursor: "x y"}})
			if err == nil && (len(p.Items) != 1 || p.Items[0].Plan.Slug != "pro" || p.Items[0].NextPlan != nil) {
				t.Errorf("page = %+v", p)
			}
			return err
		}, "GET", "/api/v1/orgs/beta/subscriptions", "app=app_1&cursor=x+y&status=active", ""},
		{"subscribe", func() error {
			s, err := c.Subscribe(ctx, "beta", SubscribeRequest{App: "app_1", API: "acme/weather", Version: "v1", Plan: "pro", Message: "hello"})
			if err == nil && s.Status != SubPendingApproval {
				t.Errorf("status = %q", s.Status)
			}
			return err
		}, "POST", "/api/v1/orgs/beta/subscriptions", "", `{"app":"app_1","api":"acme/weather","version":"v1","plan":"pro","message":"hello"}`},
		{"get subscription", func() error { _, err := c.GetSubscription(ctx, "beta", "sub_1"); return err },
			"GET", "/api/v1/orgs/beta/subscriptions/sub_1", "", ""},
		{"history", func() error {
			evs, err := c.SubscriptionHistory(ctx, "beta", "sub_1")
			if err == nil && (len(evs) != 2 || evs[1].Kind != "approved" || evs[1].FromStatus != SubPendingApproval || evs[1].Note != "welcome") {
				t.Errorf("events = %+v", evs)
			}
			return err
		}, "GET", "/api/v1/orgs/beta/subscriptions/sub_1/history", "", ""},
		{"change plan", func() error { _, err := c.ChangeSubscriptionPlan(ctx, "beta", "sub_1", "basic"); return err },
			"PATCH", "/api/v1/orgs/beta/subscriptions/sub_1", "", `{"plan":"basic"}`},
		{"cancel", func() error { _, err := c.CancelSubscription(ctx, "beta", "sub_1"); return err },
			"DELETE", "/api/v1/orgs/beta/subscriptions/sub_1", "", ""},
		{"approvals", func() error { _, err := c.ListApprovals(ctx, "acme", ListOptions{}); return err },
			"GET", "/api/v1/orgs/acme/approvals", "", ""},
		{"list subscribers with filters", func() error {
			_, err := c.ListSubscribers(ctx, "acme", "weather", SubscriberQuery{Status: SubSuspended, Plan: "pro", Q: "beta co"})
			return err
		}, "GET", "/api/v1/orgs/acme/apis/weather/subscriptions", "plan=pro&q=beta+co&status=suspended", ""},
		{"get subscriber", func() error { _, err := c.GetSubscriber(ctx, "acme", "weather", "sub_1"); return err },
			"GET", "/api/v1/orgs/acme/apis/weather/subscriptions/sub_1", "", ""},
		{"approve", func() error { _, err := c.ApproveSubscriber(ctx, "acme", "weather", "sub_1"); return err },
			"POST", "/api/v1/orgs/acme/apis/weather/subscriptions/sub_1/approve", "", ""},
		{"reject", func() error { _, err := c.RejectSubscriber(ctx, "acme", "weather", "sub_1", "Not a fit"); return err },
			"POST", "/api/v1/orgs/acme/apis/weather/subscriptions/sub_1/reject", "", `{"reason":"Not a fit"}`},
		{"suspend", func() error { _, err := c.SuspendSubscriber(ctx, "acme", "weather", "sub_1", "Abuse"); return err },
			"POST", "/api/v1/orgs/acme/apis/weather/subscriptions/sub_1/suspend", "", `{"reason":"Abuse"}`},
		{"resume", func() error { _, err := c.ResumeSubscriber(ctx, "acme", "weather", "sub_1"); return err },
			"POST", "/api/v1/orgs/acme/apis/weather/subscriptions/sub_1/resume", "", ""},
		{"terminate", func() error {
			_, err := c.TerminateSubscriber(ctx, "acme", "weather", "sub_1", "Contract ended")
			return err
		},
			"POST", "/api/v1/orgs/acme/apis/weather/subscriptions/sub_1/terminate", "", `{"reason":"Contract ended"}`},
		{"market search: a query with spaces and reserved characters", func() error {
			_, err := c.SearchMarket(ctx, MarketQuery{Q: "pet store & co/ü~*", Sort: "newest"})
			return err
		}, "GET", "/api/v1/market/apis", "q=pet+store+%26+co%2F%C3%BC~%2A&sort=newest", ""},
		{"odd characters inside a path segment", func() error { _, err := c.GetApp(ctx, "beta", "a b/c?d%e"); return err },
			"GET", "/api/v1/orgs/beta/apps/a%20b%2Fc%3Fd%25e", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err != nil {
				t.Fatalf("the server refused the signature or the call: %v", err)
			}
			r := srv.last(t)
			p := r.Path
			if strings.Contains(tt.wantPath, "%") {
				p = r.RawPath
			}
			if r.Method != tt.wantMethod || p != tt.wantPath || r.Query != tt.wantQuery || r.Body != tt.wantBody {
				t.Errorf("got %s %s ?%s %s\nwant %s %s ?%s %s", r.Method, p, r.Query, r.Body, tt.wantMethod, tt.wantPath, tt.wantQuery, tt.wantBody)
			}
			wantSigned := "host;x-amz-content-sha256;x-amz-date"
			if tt.wantBody != "" {
				wantSigned = "content-type;" + wantSigned
			}
			if r.SignedHeaders != wantSigned {
				t.Errorf("SignedHeaders = %s, want %s", r.SignedHeaders, wantSigned)
			}
			if r.ContentSHA256 != sha256Hex(tt.wantBody) {
				t.Errorf("X-Amz-Content-Sha256 = %s, want the SHA-256 of %q", r.ContentSHA256, tt.wantBody)
			}
		})
	}
}

func TestAccessKeyAuthorizationHeader(t *testing.T) {
	var got http.Header
	srv := newVerifyingServer(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		writeJSON(w, 200, map[string]any{"user": map[string]any{"email": "ada@example.com"}})
	})
	before := time.Now().UTC()
	if _, err := New(srv.URL, WithAccessKey(testAK, testSecret, testRegion)).Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	date, err := time.Parse("20060102T150405Z", got.Get("X-Amz-Date"))
	if err != nil || date.Before(before.Truncate(time.Second)) || date.After(time.Now().Add(time.Second)) {
		t.Errorf("X-Amz-Date = %q (%v), want now in UTC", got.Get("X-Amz-Date"), err)
	}
	want := "AWS4-HMAC-SHA256 Credential=" + testAK + "/" + date.Format("20060102") + "/" + testRegion +
		"/apigw/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="
	if a := got.Get("Authorization"); !strings.HasPrefix(a, want) || len(a) != len(want)+64 {
		t.Errorf("Authorization = %q\nwant %q + 64 hex digits", a, want)
	}
	if strings.Contains(got.Get("Authorization"), testSecret) {
		t.Error("the secret key was sent")
	}
}

func TestAccessKeyRejections(t *testing.T) {
	srv := newVerifyingServer(t, cannedAnswers)
	ctx := context.Background()

	t.Run("wrong secret", func(t *testing.T) {
		_, err := New(srv.URL, WithAccessKey(testAK, strings.Repeat("x", 40), testRegion)).GetApp(ctx, "beta", "app_1")
		e := AsError(err)
		if e == nil || e.StatusCode != 403 || e.Code() != CodeSignatureMismatch {
			t.Fatalf("err = %v, want a 403 signature-mismatch", err)
		}
		if !strings.HasPrefix(e.CanonicalRequest, "GET\n/api/v1/orgs/beta/apps/app_1\n") || !strings.HasPrefix(e.StringToSign, "AWS4-HMAC-SHA256\n") {
			t.Errorf("diagnostics: canonical request %q, string to sign %q", e.CanonicalRequest, e.StringToSign)
		}
		if strings.Contains(e.Error(), "\n") {
			t.Errorf("Error() spans lines: %q", e.Error())
		}
	})
	t.Run("wrong region names the expected scope", func(t *testing.T) {
		_, err := New(srv.URL, WithAccessKey(testAK, testSecret, "")).Me(ctx)
		e := AsError(err)
		if e == nil || e.Code() != CodeInvalidScope || !strings.HasSuffix(e.ExpectedScope, "/"+testRegion+"/apigw/aws4_request") {
			t.Fatalf("err = %v (%+v), want invalid-scope naming %s", err, e, testRegion)
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		_, err := New(srv.URL, WithAccessKey("PUNOPENOPENOPENOPE00", testSecret, testRegion)).Me(ctx)
		if e := AsError(err); e == nil || e.Code() != CodeInvalidAccessKey {
			t.Fatalf("err = %v, want invalid-access-key", err)
		}
	})
	t.Run("a body changed after signing is refused", func(t *testing.T) {
		tamper := func(next http.RoundTripper) http.RoundTripper {
			return rtFunc(func(r *http.Request) (*http.Response, error) {
				r = r.Clone(r.Context())
				b := []byte(`{"name":"Evil","environment":"test"}`)
				r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
				return next.RoundTrip(r)
			})
		}
		// The first wrapper given is nearest the network: it sees the
		// request after the signer.
		c := New(srv.URL, WithRoundTripper(tamper), WithAccessKey(testAK, testSecret, testRegion))
		n := srv.count()
		_, err := c.CreateApp(ctx, "beta", AppRequest{Name: "Widget", Environment: EnvTest})
		if e := AsError(err); e == nil || e.Code() != CodeSignatureMismatch {
			t.Fatalf("err = %v, want signature-mismatch", err)
		}
		if srv.count() != n {
			t.Error("the server accepted the tampered request")
		}
	})
	t.Run("a query changed after signing is refused", func(t *testing.T) {
		tamper := func(next http.RoundTripper) http.RoundTripper {
			return rtFunc(func(r *http.Request) (*http.Response, error) {
				r = r.Clone(r.Context())
				r.URL.RawQuery = "status=terminated"
				return next.RoundTrip(r)
			})
		}
		c := New(srv.URL, WithRoundTripper(tamper), WithAccessKey(testAK, testSecret, testRegion))
		_, err := c.ListSubscriptions(ctx, "beta", SubscriptionQuery{Status: SubActive})
		if e := AsError(err); e == nil || e.Code() != CodeSignatureMismatch {
			t.Fatalf("err = %v, want signature-mismatch", err)
		}
	})
	t.Run("an empty secret fails before sending", func(t *testing.T) {
		n := srv.count()
		_, err := New(srv.URL, WithAccessKey(testAK, "", testRegion)).Me(ctx)
		if err == nil || !strings.Contains(err.Error(), "sign request") || AsError(err) != nil {
			t.Fatalf("err = %v, want a local signing error", err)
		}
		if srv.count() != n {
			t.Error("an unsigned request reached the server")
		}
	})
}

func TestAccessKeyLeavesOtherAuthorizationAlone(t *testing.T) {
	srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 201, map[string]any{"token": "pat_new", "id": "t1"})
	})
	c := New(srv.URL, WithAccessKey(testAK, testSecret, testRegion))
	if _, err := c.CreateToken(context.Background(), "ada@example.com", "pw", CreateTokenRequest{}); err != nil {
		t.Fatal(err)
	}
	if a := rec.last(t).Auth; !strings.HasPrefix(a, "Basic ") {
		t.Errorf("Authorization = %q, want the Basic credentials CreateToken sets", a)
	}

	// The option given last wins.
	if _, err := New(srv.URL, WithAccessKey(testAK, testSecret, testRegion), WithToken("pat_x")).Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a := rec.last(t).Auth; a != "Bearer pat_x" {
		t.Errorf("Authorization = %q, want the token given last", a)
	}
	if _, err := New(srv.URL, WithToken("pat_x"), WithAccessKey(testAK, testSecret, testRegion)).Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a := rec.last(t).Auth; !strings.HasPrefix(a, "AWS4-HMAC-SHA256 ") {
		t.Errorf("Authorization = %q, want the signature given last", a)
	}
}

// A body that cannot be re-read (no GetBody) is buffered, signed and still
// sent whole; the caller's request is not changed.
func TestAccessKeyTransportBuffersOneShotBodies(t *testing.T) {
	srv := newVerifyingServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	rt := WithAccessKey(testAK, testSecret, testRegion)
	c := &Client{}
	rt(c)
	tr := c.wrappers[0](http.DefaultTransport)

	body := `{"name":"streamed"}`
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/keys", io.NopCloser(strings.NewReader(body)))
	req.GetBody = nil
	req.ContentLength = -1 // unknown: sent chunked
	req.Header.Set("Content-Type", "application/json")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("status %d: the server refused the signature", resp.StatusCode)
	}
	if got := srv.last(t); got.Body != body || got.SignedHeaders != "content-type;host;x-amz-content-sha256;x-amz-date" {
		t.Errorf("server saw body %q signed %s", got.Body, got.SignedHeaders)
	}
	if req.Header.Get("Authorization") != "" || req.Header.Get("X-Amz-Date") != "" {
		t.Error("RoundTrip changed the caller's request")
	}
}
