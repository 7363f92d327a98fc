package httpx

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portico-dev/portico/tenants"
)

// bufferLogger returns a logger writing JSON lines into a buffer.
func bufferLogger(t *testing.T) (*slog.Logger, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	return slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

// logLines decodes the JSON log lines in buf.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// withID returns r carrying request id id, as WithRequestID would set it.
func withID(r *http.Request, id string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
}

func decodeProblem(t *testing.T, rec *httptest.ResponseRecorder) Problem {
	t.Helper()
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("body %q is not a problem: %v", rec.Body.String(), err)
	}
	return p
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{name: "invalid", err: tenants.Errorf(tenants.EInvalid, "x"), want: http.StatusUnprocessableEntity},
		{name: "malformed", err: tenants.Errorf(tenants.EMalformed, "x"), want: http.StatusBadRequest},
		{name: "not_found", err: tenants.Errorf(tenants.ENotFound, "x"), want: http.StatusNotFound},
		{name: "conflict", err: tenants.Errorf(tenants.EConflict, "x"), want: http.StatusConflict},
		{name: "unauthorized", err: tenants.Errorf(tenants.EUnauthorized, "x"), want: http.StatusUnauthorized},
		{name: "forbidden", err: tenants.Errorf(tenants.EForbidden, "x"), want: http.StatusForbidden},
		{name: "rate_limited", err: tenants.Errorf(tenants.ERateLimited, "x"), want: http.StatusTooManyRequests},
		{name: "too_large", err: tenants.Errorf(tenants.ETooLarge, "x"), want: http.StatusRequestEntityTooLarge},
		{name: "internal", err: tenants.Errorf(tenants.EInternal, "x"), want: http.StatusInternalServerError},
		{name: "field error", err: tenants.FieldError("name", "required"), want: http.StatusUnprocessableEntity},
		{name: "wrapped not_found", err: fmt.Errorf("load org: %w", tenants.Errorf(tenants.ENotFound, "x")), want: http.StatusNotFound},
		{name: "rate limit error", err: RateLimitError{Err: tenants.Errorf(tenants.ERateLimited, "x"), RetryAfter: 3}, want: http.StatusTooManyRequests},
		{name: "plain error", err: errors.New("disk on fire"), want: http.StatusInternalServerError},
		{name: "unknown code", err: tenants.Errorf("teapot", "x"), want: http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Status(tt.err); got != tt.want {
				t.Fatalf("Status = %d, want %d", got, tt.want)
			}
		})
	}

	t.Run("every code in the table", func(t *testing.T) {
		codes := []string{tenants.EInvalid, tenants.EMalformed, tenants.ENotFound, tenants.EConflict, tenants.EUnauthorized,
			tenants.EForbidden, tenants.ERateLimited, tenants.ETooLarge, tenants.EInternal}
		if len(statusOf) != len(codes) {
			t.Fatalf("statusOf has %d entries, the test knows %d codes: update the test", len(statusOf), len(codes))
		}
		for _, c := range codes {
			if _, ok := statusOf[c]; !ok {
				t.Errorf("code %q has no status", c)
			}
		}
	})
}

func TestProblemFor(t *testing.T) {
	const secret = "pq: password authentication failed for user \"portico\" (10.0.0.5)"
	tests := []struct {
		name       string
		err        error
		wantType   string
		wantStatus int
		wantDetail string
		wantFields []FieldProblem
	}{
		{
			name: "not found", err: tenants.Errorf(tenants.ENotFound, "No such organisation."),
			wantType: ProblemTypeBase + "not-found", wantStatus: 404, wantDetail: "No such organisation.",
		},
		{
			name: "rate limited", err: RateLimitError{Err: tenants.Errorf(tenants.ERateLimited, "Slow down."), RetryAfter: 5},
			wantType: ProblemTypeBase + "rate-limited", wantStatus: 429, wantDetail: "Slow down.",
		},
		{
			name: "too large", err: tenants.Errorf(tenants.ETooLarge, "Too big."),
			wantType: ProblemTypeBase + "too-large", wantStatus: 413, wantDetail: "Too big.",
		},
		{
			name: "validation with fields sorted",
			err: tenants.Validation{
				"slug": "Use lower-case letters.", "name": "Name is required.", "email": "Not an email.", "a_first": "x",
			}.Err(),
			wantType: ProblemTypeBase + "invalid", wantStatus: 422, wantDetail: "Please correct the highlighted fields.",
			wantFields: []FieldProblem{
				{Field: "a_first", Message: "x"}, {Field: "email", Message: "Not an email."},
				{Field: "name", Message: "Name is required."}, {Field: "slug", Message: "Use lower-case letters."},
			},
		},
		{
			name: "wrapped conflict keeps its field", err: fmt.Errorf("create org: %w", tenants.ConflictError("slug", "Taken.")),
			wantType: ProblemTypeBase + "conflict", wantStatus: 409, wantDetail: "Taken.",
			wantFields: []FieldProblem{{Field: "slug", Message: "Taken."}},
		},
		{
			name: "plain internal error", err: errors.New(secret),
			wantType: ProblemTypeBase + "internal", wantStatus: 500, wantDetail: "Internal error",
		},
		{
			name: "wrapped internal error", err: fmt.Errorf("list members: %w", errors.New(secret)),
			wantType: ProblemTypeBase + "internal", wantStatus: 500, wantDetail: "Internal error",
		},
		{
			name: "tenants error with internal code", err: &tenants.Error{Code: tenants.EInternal, Message: secret, Fields: map[string]string{"dsn": secret}},
			wantType: ProblemTypeBase + "internal", wantStatus: 500, wantDetail: "Internal error",
		},
		{
			name: "tenants error with unknown code", err: &tenants.Error{Code: "db_down", Message: secret},
			wantType: ProblemTypeBase + "internal", wantStatus: 500, wantDetail: "Internal error",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := withID(httptest.NewRequest(http.MethodPost, "/api/v1/orgs?token=abc", nil), "req-42")
			p := ProblemFor(r, tt.err)
			if p.Type != tt.wantType {
				t.Errorf("Type = %q, want %q", p.Type, tt.wantType)
			}
			if p.Status != tt.wantStatus {
				t.Errorf("Status = %d, want %d", p.Status, tt.wantStatus)
			}
			if p.Title != http.StatusText(tt.wantStatus) {
				t.Errorf("Title = %q, want %q", p.Title, http.StatusText(tt.wantStatus))
			}
			if p.Detail != tt.wantDetail {
				t.Errorf("Detail = %q, want %q", p.Detail, tt.wantDetail)
			}
			if p.RequestID != "req-42" {
				t.Errorf("RequestID = %q, want req-42", p.RequestID)
			}
			if p.Instance != "/api/v1/orgs" {
				t.Errorf("Instance = %q, want the path without query", p.Instance)
			}
			if fmt.Sprint(p.Errors) != fmt.Sprint(tt.wantFields) {
				t.Errorf("Errors = %v, want %v", p.Errors, tt.wantFields)
			}
			b, _ := json.Marshal(p)
			if strings.Contains(string(b), "password authentication") {
				t.Errorf("problem %s leaks the internal cause", b)
			}
		})
	}

	t.Run("json shape", func(t *testing.T) {
		r := withID(httptest.NewRequest(http.MethodGet, "/api/v1/me", nil), "rid")
		b, err := json.Marshal(ProblemFor(r, tenants.FieldError("name", "Required.")))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.Unmarshal(b, &m)
		for _, k := range []string{"type", "title", "status", "detail", "instance", "request_id", "errors"} {
			if _, ok := m[k]; !ok {
				t.Errorf("problem JSON %s lacks %q", b, k)
			}
		}
	})
	t.Run("no request id omitted", func(t *testing.T) {
		b, _ := json.Marshal(ProblemFor(httptest.NewRequest(http.MethodGet, "/x", nil), tenants.Errorf(tenants.ENotFound, "x")))
		if strings.Contains(string(b), "request_id") || strings.Contains(string(b), `"errors"`) {
			t.Errorf("problem %s carries empty request_id or errors", b)
		}
	})
	t.Run("nil request", func(t *testing.T) {
		p := ProblemFor(nil, tenants.Errorf(tenants.ENotFound, "gone"))
		if p.Status != 404 || p.Instance != "" || p.RequestID != "" {
			t.Errorf("ProblemFor(nil) = %+v", p)
		}
	})
}

func TestWriteProblem(t *testing.T) {
	tests := []struct {
		name           string
		err            error
		wantStatus     int
		wantAuth       bool
		wantRetryAfter string
		wantLogged     bool
	}{
		{name: "unauthorized", err: tenants.Errorf(tenants.EUnauthorized, "Log in."), wantStatus: 401, wantAuth: true},
		{name: "wrapped unauthorized", err: fmt.Errorf("auth: %w", tenants.Errorf(tenants.EUnauthorized, "Log in.")), wantStatus: 401, wantAuth: true},
		{name: "forbidden", err: tenants.Errorf(tenants.EForbidden, "No."), wantStatus: 403},
		{name: "rate limit error", err: RateLimitError{Err: tenants.Errorf(tenants.ERateLimited, "Wait."), RetryAfter: 30}, wantStatus: 429, wantRetryAfter: "30"},
		{name: "rate limit error, long wait", err: RateLimitError{Err: tenants.Errorf(tenants.ERateLimited, "Wait."), RetryAfter: 3600}, wantStatus: 429, wantRetryAfter: "3600"},
		{name: "rate limit error, zero wait rounds up", err: RateLimitError{Err: tenants.Errorf(tenants.ERateLimited, "Wait."), RetryAfter: 0}, wantStatus: 429, wantRetryAfter: "1"},
		{name: "wrapped rate limit error", err: fmt.Errorf("login: %w", RateLimitError{Err: tenants.Errorf(tenants.ERateLimited, "Wait."), RetryAfter: 7}), wantStatus: 429, wantRetryAfter: "7"},
		{name: "bare rate_limited code has no retry hint", err: tenants.Errorf(tenants.ERateLimited, "Wait."), wantStatus: 429},
		{name: "internal", err: errors.New("db exploded"), wantStatus: 500, wantLogged: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, buf := bufferLogger(t)
			rec := httptest.NewRecorder()
			r := withID(httptest.NewRequest(http.MethodGet, "/api/v1/orgs", nil), "rid-9")
			WriteProblem(rec, r, log, tt.err)

			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			if got := rec.Header().Get("WWW-Authenticate"); (got != "") != tt.wantAuth {
				t.Errorf("WWW-Authenticate = %q, want present=%v", got, tt.wantAuth)
			} else if tt.wantAuth && !strings.HasPrefix(got, "Bearer ") {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", got)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.wantRetryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.wantRetryAfter)
			}
			p := decodeProblem(t, rec)
			if p.Status != tt.wantStatus || p.RequestID != "rid-9" {
				t.Errorf("problem = %+v", p)
			}
			logged := buf.String()
			if tt.wantLogged {
				if !strings.Contains(logged, "db exploded") || !strings.Contains(logged, "rid-9") {
					t.Errorf("internal error not logged with cause and request id: %s", logged)
				}
				if strings.Contains(rec.Body.String(), "db exploded") {
					t.Errorf("response %s leaks the internal cause", rec.Body)
				}
			} else if logged != "" {
				t.Errorf("client error was logged: %s", logged)
			}
		})
	}
}

func TestWithRequestID(t *testing.T) {
	tests := []struct {
		name     string
		incoming string
		keep     bool
	}{
		{name: "none", incoming: "", keep: false},
		{name: "uuid", incoming: "0190f5a4-7b3c-7d1e-9f00-123456789abc", keep: true},
		{name: "allowed punctuation", incoming: "edge_1.trace-A", keep: true},
		{name: "64 chars", incoming: strings.Repeat("a", 64), keep: true},
		{name: "65 chars", incoming: strings.Repeat("a", 65), keep: false},
		{name: "very long", incoming: strings.Repeat("x", 10000), keep: false},
		{name: "space", incoming: "abc def", keep: false},
		{name: "slash", incoming: "abc/def", keep: false},
		{name: "html", incoming: "<script>alert(1)</script>", keep: false},
		{name: "quote", incoming: `abc"def`, keep: false},
		{name: "non-ascii", incoming: "abcé", keep: false},
		{name: "log injection", incoming: "abc\tlevel=ERROR", keep: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen string
			h := WithRequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = RequestID(r.Context())
			}))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.incoming != "" {
				r.Header.Set(RequestIDHeader, tt.incoming)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)

			echoed := rec.Header().Get(RequestIDHeader)
			if echoed != seen {
				t.Errorf("response header %q differs from the id in context %q", echoed, seen)
			}
			if tt.keep {
				if seen != tt.incoming {
					t.Errorf("id = %q, want the incoming %q kept", seen, tt.incoming)
				}
				return
			}
			if seen == tt.incoming {
				t.Fatalf("insane incoming id %q was kept", tt.incoming)
			}
			if len(seen) != 32 || strings.Trim(seen, "0123456789abcdef") != "" {
				t.Errorf("generated id %q is not 32 hex characters", seen)
			}
		})
	}

	t.Run("generated ids differ", func(t *testing.T) {
		if a, b := NewRequestID(), NewRequestID(); a == b {
			t.Fatalf("two generated ids are both %q", a)
		}
	})
	t.Run("no id outside a request", func(t *testing.T) {
		if id := RequestID(context.Background()); id != "" {
			t.Fatalf("RequestID(background) = %q", id)
		}
		if id := RequestID(nil); id != "" { // RequestID is nil-safe by design
			t.Fatalf("RequestID(nil) = %q", id)
		}
	})
}

func TestSecurityHeaders(t *testing.T) {
	tests := []struct {
		name     string
		hsts     bool
		tls      bool
		wantHSTS bool
	}{
		{name: "plain http", hsts: false, tls: false, wantHSTS: false},
		{name: "hsts asked", hsts: true, tls: false, wantHSTS: true},
		{name: "over tls", hsts: false, tls: true, wantHSTS: true},
		{name: "both", hsts: true, tls: true, wantHSTS: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			h := SecurityHeaders(tt.hsts)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				called = true
				w.WriteHeader(http.StatusNoContent)
			}))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if !called || rec.Code != http.StatusNoContent {
				t.Fatalf("next handler not run (called %v, status %d)", called, rec.Code)
			}
			hdr := rec.Header()
			csp := hdr.Get("Content-Security-Policy")
			for _, directive := range []string{"default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'",
				"img-src 'self' data: https:;"} { // providers' logos on their own https hosts
				if !strings.Contains(csp, directive) {
					t.Errorf("CSP %q lacks %q", csp, directive)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("CSP %q allows unsafe sources", csp)
			}
			want := map[string]string{
				"X-Frame-Options":        "DENY",
				"X-Content-Type-Options": "nosniff",
				"Referrer-Policy":        "same-origin",
			}
			for k, v := range want {
				if got := hdr.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			hsts := hdr.Get("Strict-Transport-Security")
			if (hsts != "") != tt.wantHSTS {
				t.Errorf("Strict-Transport-Security = %q, want present=%v", hsts, tt.wantHSTS)
			}
			if tt.wantHSTS && !strings.Contains(hsts, "max-age=") {
				t.Errorf("Strict-Transport-Security = %q lacks max-age", hsts)
			}
		})
	}
}

func TestLimitBody(t *testing.T) {
	const max = 16
	type outcome struct {
		called  bool
		body    []byte
		readErr error
	}
	tests := []struct {
		name          string
		path          string
		accept        string
		body          string
		declared      int64 // Content-Length to declare; -1 = unknown (chunked)
		wantStatus    int
		wantProblem   bool
		wantCalled    bool
		wantMaxBytes  bool
		wantBodyBytes string
	}{
		{name: "declared oversize on the api", path: "/api/v1/orgs", body: strings.Repeat("x", 17), declared: 17, wantStatus: 413, wantProblem: true},
		{name: "declared oversize, json client", path: "/login", accept: "application/json", body: strings.Repeat("x", 100), declared: 100, wantStatus: 413, wantProblem: true},
		{name: "declared oversize, browser", path: "/login", accept: "text/html,application/xhtml+xml", body: strings.Repeat("x", 100), declared: 100, wantStatus: 413},
		{name: "declared oversize, browser on the api", path: "/api/v1/orgs", accept: "text/html", body: strings.Repeat("x", 100), declared: 100, wantStatus: 413, wantProblem: true},
		{name: "exactly the cap", path: "/api/v1/orgs", body: strings.Repeat("x", max), declared: max, wantStatus: 200, wantCalled: true, wantBodyBytes: strings.Repeat("x", max)},
		{name: "small", path: "/api/v1/orgs", body: `{"a":1}`, declared: 7, wantStatus: 200, wantCalled: true, wantBodyBytes: `{"a":1}`},
		{name: "undeclared oversize fails on read", path: "/api/v1/orgs", body: strings.Repeat("x", 100), declared: -1, wantStatus: 200, wantCalled: true, wantMaxBytes: true},
		{name: "understated length fails on read", path: "/api/v1/orgs", body: strings.Repeat("x", 100), declared: 10, wantStatus: 200, wantCalled: true, wantMaxBytes: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got outcome
			h := LimitBody(max)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got.called = true
				got.body, got.readErr = io.ReadAll(r.Body)
			}))
			r := httptest.NewRequest(http.MethodPost, tt.path, strings.NewReader(tt.body))
			r.ContentLength = tt.declared
			if tt.accept != "" {
				r.Header.Set("Accept", tt.accept)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)

			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if got.called != tt.wantCalled {
				t.Fatalf("handler called = %v, want %v", got.called, tt.wantCalled)
			}
			if tt.wantStatus == 413 {
				isProblem := strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json")
				if isProblem != tt.wantProblem {
					t.Errorf("Content-Type = %q, want problem=%v", rec.Header().Get("Content-Type"), tt.wantProblem)
				}
				if isProblem {
					if p := decodeProblem(t, rec); p.Status != 413 || p.Type != ProblemTypeBase+"too-large" {
						t.Errorf("problem = %+v", p)
					}
				}
			}
			if !got.called {
				return
			}
			if tt.wantMaxBytes {
				var mbe *http.MaxBytesError
				if !errors.As(got.readErr, &mbe) {
					t.Fatalf("read error = %v, want *http.MaxBytesError", got.readErr)
				}
				if mbe.Limit != max {
					t.Errorf("MaxBytesError.Limit = %d, want %d", mbe.Limit, max)
				}
				if len(got.body) > max {
					t.Errorf("handler read %d bytes past a %d-byte cap", len(got.body), max)
				}
				return
			}
			if got.readErr != nil || string(got.body) != tt.wantBodyBytes {
				t.Errorf("read %q, %v; want %q", got.body, got.readErr, tt.wantBodyBytes)
			}
		})
	}
}

func TestAccessLog(t *testing.T) {
	const secretQuery = "token=pat_supersecret"

	t.Run("logs one line without the query string", func(t *testing.T) {
		log, buf := bufferLogger(t)
		h := WithRequestID(AccessLog(log)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, "hello")
		})))
		r := httptest.NewRequest(http.MethodPost, "/api/v1/orgs?"+secretQuery, nil)
		r.Header.Set(RequestIDHeader, "rid-access")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)

		if strings.Contains(buf.String(), "supersecret") {
			t.Fatalf("log leaks the query string: %s", buf)
		}
		lines := logLines(t, buf)
		if len(lines) != 1 {
			t.Fatalf("%d log lines, want 1: %s", len(lines), buf)
		}
		l := lines[0]
		want := map[string]any{"msg": "http", "method": "POST", "path": "/api/v1/orgs", "status": float64(201), "bytes": float64(5), "request_id": "rid-access"}
		for k, v := range want {
			if l[k] != v {
				t.Errorf("log %s = %v, want %v", k, l[k], v)
			}
		}
		if _, ok := l["duration"]; !ok {
			t.Error("log lacks duration")
		}
	})

	t.Run("implicit 200", func(t *testing.T) {
		log, buf := bufferLogger(t)
		h := AccessLog(log)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
		if l := logLines(t, buf); len(l) != 1 || l[0]["status"] != float64(200) {
			t.Fatalf("log = %v, want status 200", l)
		}
	})

	t.Run("panic becomes a 500 problem", func(t *testing.T) {
		log, buf := bufferLogger(t)
		h := WithRequestID(AccessLog(log)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			panic("nil map write in handler: secret-panic-detail")
		})))
		r := httptest.NewRequest(http.MethodGet, "/api/v1/me?"+secretQuery, nil)
		r.Header.Set(RequestIDHeader, "rid-panic")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)

		if rec.Code != http.StatusInternalServerError {
			t.Fatalf("status = %d, want 500", rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Errorf("Content-Type = %q, want problem+json", ct)
		}
		p := decodeProblem(t, rec)
		if p.Detail != "Internal error" || p.RequestID != "rid-panic" || p.Status != 500 {
			t.Errorf("problem = %+v", p)
		}
		if strings.Contains(rec.Body.String(), "secret-panic-detail") {
			t.Errorf("response leaks the panic value: %s", rec.Body)
		}
		if strings.Contains(buf.String(), "supersecret") {
			t.Errorf("log leaks the query string: %s", buf)
		}
		var sawPanic, sawAccess bool
		for _, l := range logLines(t, buf) {
			switch l["msg"] {
			case "panic":
				sawPanic = true
				if l["request_id"] != "rid-panic" || !strings.Contains(fmt.Sprint(l["panic"]), "secret-panic-detail") || l["stack"] == "" {
					t.Errorf("panic log = %v", l)
				}
			case "http":
				sawAccess = true
				if l["status"] != float64(500) || l["path"] != "/api/v1/me" {
					t.Errorf("access log = %v", l)
				}
			}
		}
		if !sawPanic || !sawAccess {
			t.Errorf("want a panic line and an access line, got %s", buf)
		}
	})

	t.Run("panic after the header keeps the status", func(t *testing.T) {
		log, buf := bufferLogger(t)
		h := AccessLog(log)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			panic("late")
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
		if rec.Code != http.StatusAccepted {
			t.Errorf("status = %d, want the 202 already sent", rec.Code)
		}
		if rec.Body.Len() != 0 {
			t.Errorf("a problem was appended to a started response: %q", rec.Body)
		}
		var access map[string]any
		for _, l := range logLines(t, buf) {
			if l["msg"] == "http" {
				access = l
			}
		}
		if access == nil || access["status"] != float64(202) {
			t.Errorf("access log = %v, want status 202", access)
		}
	})

	t.Run("ErrAbortHandler propagates", func(t *testing.T) {
		log, _ := bufferLogger(t)
		h := AccessLog(log)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			panic(http.ErrAbortHandler)
		}))
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Fatalf("recovered %v, want http.ErrAbortHandler re-panicked", v)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	})

	t.Run("response controller reaches the writer", func(t *testing.T) {
		log, _ := bufferLogger(t)
		var flushErr error
		h := AccessLog(log)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			flushErr = http.NewResponseController(w).Flush()
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if flushErr != nil || !rec.Flushed {
			t.Fatalf("Flush through AccessLog: err %v, flushed %v", flushErr, rec.Flushed)
		}
	})
}
