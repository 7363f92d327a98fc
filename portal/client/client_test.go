package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a fake Portico server: it records each request and answers
// with the handler the test gives.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	Method, Path, RawPath, Query, Auth, ContentType, Body string
}

func (r *recorder) last(t *testing.T) recorded {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		t.Fatal("the server got no request")
	}
	return r.reqs[len(r.reqs)-1]
}

func newServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, recorded{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.RawQuery,
			Auth: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type"), Body: string(b)})
		rec.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, rec
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func TestAuthHeader(t *testing.T) {
	srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/me":
			writeJSON(w, 200, map[string]any{"user": map[string]any{"id": "u1", "email": "ada@example.com"}, "memberships": []any{}})
		case "/api/v1/tokens":
			writeJSON(w, 201, map[string]any{"token": "pat_new", "id": "t1", "name": "ci", "expires_at": nil})
		default:
			w.WriteHeader(404)
		}
	})
	ctx := context.Background()

	t.Run("bearer token", func(t *testing.T) {
		c := New(srv.URL, WithToken("pat_abc"))
		me, err := c.Me(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := rec.last(t).Auth; got != "Bearer pat_abc" {
			t.Errorf("Authorization = %q, want Bearer pat_abc", got)
		}
		if me.User.Email != "ada@example.com" {
			t.Errorf("email = %q", me.User.Email)
		}
	})
	t.Run("no token sends no header", func(t *testing.T) {
		if _, err := New(srv.URL).Me(ctx); err != nil {
			t.Fatal(err)
		}
		if got := rec.last(t).Auth; got != "" {
			t.Errorf("Authorization = %q, want none", got)
		}
	})
	t.Run("create token uses basic auth, not the bearer token", func(t *testing.T) {
		c := New(srv.URL, WithToken("pat_abc"))
		tok, err := c.CreateToken(ctx, "ada@example.com", "correct horse", CreateTokenRequest{Name: "ci", ExpiresInDays: Ptr(30)})
		if err != nil {
			t.Fatal(err)
		}
		r := rec.last(t)
		req, _ := http.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", r.Auth)
		u, p, ok := req.BasicAuth()
		if !ok || u != "ada@example.com" || p != "correct horse" {
			t.Errorf("Authorization = %q, want Basic for ada@example.com", r.Auth)
		}
		if r.Body != `{"name":"ci","expires_in_days":30}` {
			t.Errorf("body = %s", r.Body)
		}
		if r.ContentType != "application/json" {
			t.Errorf("Content-Type = %q", r.ContentType)
		}
		if tok.Token != "pat_new" {
			t.Errorf("token = %q", tok.Token)
		}
	})
	t.Run("round-tripper hook sees the signed request and the caller's client is not changed", func(t *testing.T) {
		hc := &http.Client{Timeout: 5 * time.Second}
		var seen []string
		sign := func(next http.RoundTripper) http.RoundTripper {
			return rtFunc(func(r *http.Request) (*http.Response, error) {
				body := ""
				if r.GetBody != nil {
					rc, _ := r.GetBody()
					b, _ := io.ReadAll(rc)
					body = string(b)
				}
				seen = append(seen, r.Method+" "+r.URL.Path+" "+body)
				r = r.Clone(r.Context())
				r.Header.Set("Authorization", "PORTICO-HMAC-SHA256 Credential=AK/…")
				return next.RoundTrip(r)
			})
		}
		c := New(srv.URL, WithHTTPClient(hc), WithRoundTripper(sign))
		if _, err := c.CreateOrg(ctx, CreateOrgRequest{Name: "Acme", Slug: "acme"}); err == nil {
			t.Fatal("want the fake server's 404")
		}
		if hc.Transport != nil {
			t.Error("WithRoundTripper changed the caller's http.Client")
		}
		if len(seen) != 1 || seen[0] != `POST /api/v1/orgs {"name":"Acme","slug":"acme"}` {
			t.Errorf("hook saw %q", seen)
		}
		if got := rec.last(t).Auth; !strings.HasPrefix(got, "PORTICO-HMAC-SHA256 ") {
			t.Errorf("Authorization = %q, want the signer's", got)
		}
	})
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestErrorDecoding(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		wantStatus int
		wantCode   string
		wantDetail string
		wantFields []FieldError
		wantRetry  time.Duration
		wantText   []string
	}{
		{
			name:   "problem with field errors",
			status: 422,
			header: map[string]string{"Content-Type": "application/problem+json; charset=utf-8"},
			body: `{"type":"https://portico.dev/problems/invalid","title":"Unprocessable Entity","status":422,
				"detail":"The plan is not valid.","instance":"/api/v1/orgs/acme/apis/pets/plans","request_id":"r1",
				"errors":[{"field":"currency","message":"Enter a three-letter ISO 4217 currency code, like usd."},{"field":"name","message":"Enter a plan name."}]}`,
			wantStatus: 422, wantCode: CodeInvalid, wantDetail: "The plan is not valid.",
			wantFields: []FieldError{{"currency", "Enter a three-letter ISO 4217 currency code, like usd."}, {"name", "Enter a plan name."}},
			wantText:   []string{"422", "The plan is not valid.", "currency: Enter a three-letter", "name: Enter a plan name."},
		},
		{
			name:       "not found",
			status:     404,
			header:     map[string]string{"Content-Type": "application/problem+json"},
			body:       `{"type":"https://portico.dev/problems/not-found","title":"Not Found","status":404,"detail":"No such API."}`,
			wantStatus: 404, wantCode: CodeNotFound, wantDetail: "No such API.",
			wantText: []string{"404 Not Found: No such API."},
		},
		{
			name:       "rate limited with Retry-After",
			status:     429,
			header:     map[string]string{"Content-Type": "application/problem+json", "Retry-After": "7"},
			body:       `{"type":"https://portico.dev/problems/rate-limited","title":"Too Many Requests","status":429,"detail":"Too many attempts; try again in 7 seconds."}`,
			wantStatus: 429, wantCode: CodeRateLimited, wantDetail: "Too many attempts; try again in 7 seconds.", wantRetry: 7 * time.Second,
		},
		{
			name:       "plain text from a proxy",
			status:     502,
			header:     map[string]string{"Content-Type": "text/plain"},
			body:       "upstream connect error",
			wantStatus: 502, wantDetail: "upstream connect error",
			wantText: []string{"502 Bad Gateway: upstream connect error"},
		},
		{
			name:       "html error page",
			status:     503,
			header:     map[string]string{"Content-Type": "text/html"},
			body:       "<html>down</html>",
			wantStatus: 503, wantDetail: "GET /api/v1/orgs/acme/apis/pets answered 503 Service Unavailable",
		},
		{
			name:       "internal error keeps the request id",
			status:     500,
			header:     map[string]string{"Content-Type": "application/problem+json"},
			body:       `{"type":"https://portico.dev/problems/internal","title":"Internal Server Error","status":500,"detail":"Internal error","request_id":"req-9"}`,
			wantStatus: 500, wantCode: CodeInternal, wantDetail: "Internal error",
			wantText: []string{"request req-9"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			_, err := New(srv.URL).GetAPI(context.Background(), "acme", "pets")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if e.StatusCode != tt.wantStatus || e.Code() != tt.wantCode || e.Detail != tt.wantDetail || e.RetryAfter != tt.wantRetry {
				t.Errorf("got status %d code %q detail %q retry %v", e.StatusCode, e.Code(), e.Detail, e.RetryAfter)
			}
			if len(tt.wantFields) > 0 && !equalFields(e.Fields, tt.wantFields) {
				t.Errorf("fields = %v, want %v", e.Fields, tt.wantFields)
			}
			for _, s := range tt.wantText {
				if !strings.Contains(e.Error(), s) {
					t.Errorf("Error() = %q, want it to contain %q", e.Error(), s)
				}
			}
			if strings.Contains(e.Error(), "\n") {
				t.Errorf("Error() spans lines: %q", e.Error())
			}
			if got := IsNotFound(err); got != (tt.wantStatus == 404) {
				t.Errorf("IsNotFound = %v", got)
			}
		})
	}
}

func equalFields(a, b []FieldError) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPagination(t *testing.T) {
	// Three pages of APIs a..g, two per page, by cursor.
	names := []string{"a", "b", "c", "d", "e", "f", "g"}
	srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		start := 0
		if c := r.URL.Query().Get("cursor"); c != "" {
			for i, n := range names {
				if n == c {
					start = i + 1
				}
			}
		}
		limit := 3
		if r.URL.Query().Get("limit") == "2" {
			limit = 2
		}
		end := min(start+limit, len(names))
		items := []map[string]any{}
		for _, n := range names[start:end] {
			items = append(items, map[string]any{"slug": n, "tags": []string{}})
		}
		var next any
		if end < len(names) {
			next = names[end-1]
		}
		writeJSON(w, 200, map[string]any{"items": items, "next_cursor": next})
	})
	c := New(srv.URL, WithToken("pat_x"))
	ctx := context.Background()

	p, err := c.ListAPIs(ctx, "acme", ListOptions{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 2 || p.NextCursor != "b" {
		t.Fatalf("first page = %+v", p)
	}
	if q := rec.last(t).Query; q != "limit=2" {
		t.Errorf("query = %q, want limit=2", q)
	}

	list := func(ctx context.Context, o ListOptions) (*Page[API], error) {
		o.Limit = 2
		return c.ListAPIs(ctx, "acme", o)
	}
	all, err := Collect(ctx, list)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range all {
		got = append(got, a.Slug)
	}
	if strings.Join(got, "") != "abcdefg" {
		t.Errorf("Collect = %v, want a..g", got)
	}
	if q := rec.last(t).Query; q != "cursor=f&limit=2" {
		t.Errorf("last query = %q, want cursor=f&limit=2", q)
	}

	// Stopping early fetches no more pages.
	before := len(rec.reqs)
	for a, err := range All(ctx, list) {
		if err != nil {
			t.Fatal(err)
		}
		if a.Slug == "a" {
			break
		}
	}
	if n := len(rec.reqs) - before; n != 1 {
		t.Errorf("breaking after the first item fetched %d pages, want 1", n)
	}
}

func TestPageJSON(t *testing.T) {
	b, _ := json.Marshal(Page[Token]{})
	if string(b) != `{"items":[],"next_cursor":null}` {
		t.Errorf("last page = %s", b)
	}
	b, _ = json.Marshal(Page[Token]{Items: []Token{{ID: "t"}}, NextCursor: "c2"})
	var back Page[Token]
	if err := json.Unmarshal(b, &back); err != nil || back.NextCursor != "c2" || back.Items[0].ID != "t" {
		t.Errorf("round trip of %s = %+v, %v", b, back, err)
	}
}

func TestPaginationStopsOnRepeatedCursor(t *testing.T) {
	calls := 0
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		calls++
		writeJSON(w, 200, map[string]any{"items": []map[string]any{{"id": "t"}}, "next_cursor": "same"})
	})
	c := New(srv.URL)
	toks, err := Collect(context.Background(), func(ctx context.Context, o ListOptions) (*Page[Token], error) { return c.ListTokens(ctx, o) })
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 || len(toks) != 2 {
		t.Errorf("calls = %d, items = %d; want 2 and 2", calls, len(toks))
	}
}

func TestPaginationError(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("cursor") == "" {
			writeJSON(w, 200, map[string]any{"items": []map[string]any{{"id": "1"}}, "next_cursor": "x"})
			return
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(422)
		io.WriteString(w, `{"type":"https://portico.dev/problems/invalid","title":"Unprocessable Entity","status":422,"detail":"Bad cursor."}`)
	})
	c := New(srv.URL)
	got, err := Collect(context.Background(), func(ctx context.Context, o ListOptions) (*Page[Member], error) { return c.ListMembers(ctx, "acme", o) })
	if e := AsError(err); e == nil || e.Detail != "Bad cursor." {
		t.Fatalf("err = %v", err)
	}
	if len(got) != 1 {
		t.Errorf("kept %d items before the error, want 1", len(got))
	}
}

func TestUnpaginatedListsFollowCursor(t *testing.T) {
	srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("cursor") == "" {
			writeJSON(w, 200, map[string]any{"items": []map[string]any{{"version": "v1"}}, "next_cursor": "v1"})
			return
		}
		writeJSON(w, 200, map[string]any{"items": []map[string]any{{"version": "v2"}}, "next_cursor": nil})
	})
	vs, err := New(srv.URL).ListVersions(context.Background(), "acme", "pets")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[1].Version != "v2" {
		t.Errorf("versions = %+v", vs)
	}
}

func TestRoutesAndBodies(t *testing.T) {
	srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "DELETE":
			w.WriteHeader(204)
		case strings.HasSuffix(r.URL.Path, "/openapi") || strings.HasSuffix(r.URL.Path, "/categories"):
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"openapi":"3.0.3"}`)
		case strings.HasSuffix(r.URL.Path, "/deployments") && r.Method == "POST":
			writeJSON(w, 201, map[string]any{"environment": "test", "revision": 3})
		default:
			writeJSON(w, 200, map[string]any{})
		}
	})
	c := New(srv.URL+"/", WithToken("t"))
	ctx := context.Background()
	tests := []struct {
		name       string
		call       func() error
		wantMethod string
		wantPath   string
		wantQuery  string
		wantBody   string
	}{
		{"plan patch sends only set fields, null for a hard limit",
			func() error {
				_, err := c.UpdatePlan(ctx, "acme", "pets", "pro", PlanPatch{PriceCents: Ptr[int64](1900), OverageCentsPer1000: Null[int64](),
					Quota: &QuotaPatch{Day: Some[int64](500)}})
				return err
			},
			"PATCH", "/api/v1/orgs/acme/apis/pets/plans/pro", "", `{"price_cents":1900,"overage_cents_per_1000":null,"quota":{"day":500}}`},
		{"plan publish", func() error { _, err := c.PublishPlan(ctx, "acme", "pets", "pro"); return err },
			"POST", "/api/v1/orgs/acme/apis/pets/plans/pro/publish", "", ""},
		{"plan revisions", func() error { _, err := c.ListPlanRevisions(ctx, "acme", "pets", "pro"); return err },
			"GET", "/api/v1/orgs/acme/apis/pets/plans/pro/revisions", "", ""},
		{"deploy", func() error {
			d, err := c.Deploy(ctx, "acme", "pets", "v1", DeployRequest{Environment: EnvTest})
			if err == nil && d.Revision != 3 {
				t.Errorf("revision = %d", d.Revision)
			}
			return err
		}, "POST", "/api/v1/orgs/acme/apis/pets/versions/v1/deployments", "", `{"environment":"test"}`},
		{"rollback", func() error { _, err := c.Rollback(ctx, "acme", "pets", "v1", "production", 2); return err },
			"POST", "/api/v1/orgs/acme/apis/pets/versions/v1/environments/production/rollback", "", `{"revision":2}`},
		{"deployments of one environment", func() error { _, err := c.ListDeployments(ctx, "acme", "pets", "v1", "test"); return err },
			"GET", "/api/v1/orgs/acme/apis/pets/versions/v1/deployments", "environment=test", ""},
		{"version update with the document as text", func() error {
			_, err := c.UpdateVersion(ctx, "acme", "pets", "v1", VersionRequest{OpenAPI: "openapi: 3.0.3\n", Mock: Ptr(true)})
			return err
		}, "PATCH", "/api/v1/orgs/acme/apis/pets/versions/v1", "", `{"openapi":"openapi: 3.0.3\n","mock":true}`},
		{"version openapi", func() error {
			doc, err := c.VersionOpenAPI(ctx, "acme", "pets", "v1")
			if err == nil && string(doc) != `{"openapi":"3.0.3"}` {
				t.Errorf("doc = %s", doc)
			}
			return err
		}, "GET", "/api/v1/orgs/acme/apis/pets/versions/v1/openapi", "", ""},
		{"operation override reset", func() error {
			_, err := c.UpdateOperation(ctx, "acme", "pets", "v1", "listPets", OperationPatch{TimeoutMS: Null[int]()})
			return err
		}, "PATCH", "/api/v1/orgs/acme/apis/pets/versions/v1/operations/listPets", "", `{"timeout_ms":null}`},
		{"retire backend key", func() error { return c.RetireBackendKey(ctx, "acme", "pets", "v1", "bk_1") },
			"DELETE", "/api/v1/orgs/acme/apis/pets/versions/v1/backend-keys/bk_1", "", ""},
		{"market search", func() error {
			_, err := c.SearchMarket(ctx, MarketQuery{Q: "pet store", Org: "acme", Sort: "newest", ListOptions: ListOptions{Limit: 5}})
			return err
		}, "GET", "/api/v1/market/apis", "limit=5&org=acme&q=pet+store&sort=newest", ""},
		{"market categories", func() error { _, err := c.MarketCategories(ctx); return err },
			"GET", "/api/v1/market/categories", "", ""},
		{"market openapi", func() error { _, err := c.MarketOpenAPI(ctx, "acme", "pets", "v1"); return err },
			"GET", "/api/v1/market/apis/acme/pets/versions/v1/openapi", "", ""},
		{"org branding", func() error { _, err := c.UpdateOrg(ctx, "acme", OrgPatch{BrandColor: Ptr("#3355ff")}); return err },
			"PATCH", "/api/v1/orgs/acme", "", `{"brand_color":"#3355ff"}`},
		{"market detail", func() error { _, err := c.MarketAPI(ctx, "acme", "pets"); return err },
			"GET", "/api/v1/market/apis/acme/pets", "", ""},
		{"odd characters stay inside their segment", func() error { _, err := c.GetAPI(ctx, "acme", "a/b?c"); return err },
			"GET", "/api/v1/orgs/acme/apis/a%2Fb%3Fc", "", ""},
		{"member role", func() error { _, err := c.SetMemberRole(ctx, "acme", "u1", RoleAdmin); return err },
			"PATCH", "/api/v1/orgs/acme/members/u1", "", `{"role":"admin"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err != nil {
				t.Fatal(err)
			}
			r := rec.last(t)
			p := r.Path
			if strings.Contains(tt.wantPath, "%") {
				p = r.RawPath
			}
			if r.Method != tt.wantMethod || p != tt.wantPath || r.Query != tt.wantQuery || r.Body != tt.wantBody {
				t.Errorf("got %s %s ?%s %s\nwant %s %s ?%s %s", r.Method, p, r.Query, r.Body, tt.wantMethod, tt.wantPath, tt.wantQuery, tt.wantBody)
			}
		})
	}
}

func TestBadBaseURL(t *testing.T) {
	_, err := New("localhost:8080").Me(context.Background())
	if err == nil || !strings.Contains(err.Error(), "http://") {
		t.Errorf("err = %v, want a hint to use http://", err)
	}
}

func TestVersionEnvironmentsAndPending(t *testing.T) {
	var v Version
	body := `{"version":"v1","state":"published","upstream":null,"mock":true,"environments":{
		"test":{"environment":"test","revision":4,"pending_changes":[]},
		"production":{"environment":"production","revision":2,"pending_changes":["upstream timeout: 30000 → 5000 ms","+ GET /pets/{id}"]}}}`
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	if !v.Environments[EnvTest].UpToDate() {
		t.Error("test should be up to date")
	}
	if v.Environments[EnvProduction].UpToDate() {
		t.Error("production has pending changes")
	}
	var none *Deployment
	if none.UpToDate() {
		t.Error("an environment without a deployment is not up to date")
	}

	var missing Version
	if err := json.Unmarshal([]byte(`{"version":"v2","environments":{"test":null,"production":null}}`), &missing); err != nil {
		t.Fatal(err)
	}
	if d, ok := missing.Environments[EnvTest]; !ok || d != nil {
		t.Errorf("test = %v, %v; want a nil entry", d, ok)
	}
}

func TestMarketVersionShapes(t *testing.T) {
	var d MarketAPIDetail
	body := `{"org":{"slug":"acme","name":"Acme"},"slug":"pets","versions":["v1",{"version":"v2","state":"published","operations":[{"operation_id":"listPets","method":"GET","path":"/pets"}]}],
		"plans":[{"slug":"free","state":"published","overage_cents_per_1000":null,"quota":{"day":1000,"month":null}}]}`
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Versions) != 2 || d.Versions[0].Version != "v1" || d.Versions[1].Operations[0].Path != "/pets" {
		t.Errorf("versions = %+v", d.Versions)
	}
	if p := d.Plans[0]; p.Quota.Day == nil || *p.Quota.Day != 1000 || p.Quota.Month != nil || p.OverageCentsPer1000 != nil {
		t.Errorf("plan = %+v", p)
	}
}

func TestNullableRoundTrip(t *testing.T) {
	var p PlanPatch
	if err := json.Unmarshal([]byte(`{"rate_limit":null,"overage_cents_per_1000":25}`), &p); err != nil {
		t.Fatal(err)
	}
	if !p.RateLimit.Set || p.RateLimit.Value != nil {
		t.Errorf("rate_limit = %+v, want set to null", p.RateLimit)
	}
	if !p.OverageCentsPer1000.Set || *p.OverageCentsPer1000.Value != 25 {
		t.Errorf("overage = %+v", p.OverageCentsPer1000)
	}
	b, _ := json.Marshal(PlanPatch{})
	if string(b) != "{}" {
		t.Errorf("empty patch = %s, want {}", b)
	}
}
