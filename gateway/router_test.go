package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func ops(specs ...string) []Operation {
	out := make([]Operation, len(specs))
	for i, s := range specs {
		m, p, _ := strings.Cut(s, " ")
		out[i] = Operation{ID: fmt.Sprintf("op%d", i), Method: m, Path: p, Billable: true}
	}
	return out
}

func version(org, api, ver, stage string, operations []Operation) APIVersion {
	return APIVersion{
		OrgID: "org_" + org, OrgSlug: org, APIID: "api_" + org + "_" + api, APISlug: api, Version: ver,
		VersionID: "ver_" + org + "_" + api + "_" + ver + "_" + stage, Stage: stage, State: StatePublished,
		Upstream:    Upstream{Targets: []Target{{URL: "http://backend.internal:8080", Weight: 1}}},
		Operations:  operations,
		BackendKeys: []BackendKey{{ID: "bk1", Secret: []byte("backend-secret")}},
	}
}

func testConfig() *Config {
	petOps := ops(
		"GET /pets", "POST /pets",
		"GET /pets/mine", "GET /pets/{id}", "DELETE /pets/{id}",
		"PUT /pets/{petId}/toys/{toyId}",
		"GET /files/*",
		"* /any/{x}",
		"GET /",
		"GET /deep/static/end", "GET /deep/{a}/other",
		"GET /wild/x", "POST /wild/*",
	)
	prodTest := version("acme", "pets", "v1", StageTest, ops("GET /pets", "GET /beta"))
	prodTest.State = StateDraft
	offline := version("acme", "pets", "v0", StageProduction, nil)
	offline.State = StateOffline
	return &Config{
		Version: 7, GeneratedAt: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC),
		Domain:        "gw.portico.test",
		CustomDomains: map[string]string{"api.globex.example": "globex"},
		APIs: []APIVersion{
			version("acme", "pets", "v1", StageProduction, petOps),
			prodTest,
			offline,
			version("globex", "weather", "v2", StageProduction, ops("GET /forecast", "GET /forecast/{city}")),
			version("initech", "catchall", "v1", StageProduction, ops("* /*")),
		},
		Keys: map[string]Key{
			"PKAAAAAAAAAAAAAAAAAA": {AccessKey: "PKAAAAAAAAAAAAAAAAAA", Secret: []byte("s"), AppID: "app1", OrgID: "org_p"},
		},
		Subscriptions: []Subscription{
			{ID: "sub1", AppID: "app1", APIID: "api_acme_pets", Status: SubSuspended, Versions: []string{"v1"}},
			{ID: "sub2", AppID: "app1", APIID: "api_acme_pets", Status: SubActive, Versions: []string{"v1"},
				Limits: Limits{RequestsPerSecond: 5, Burst: 10, DayQuota: 1000}},
		},
	}
}

func mustCompile(t testing.TB, cfg *Config) *Snapshot {
	t.Helper()
	s, err := Compile(cfg)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return s
}

func TestLookup(t *testing.T) {
	r := mustCompile(t, testConfig()).Router()
	type want struct {
		opPath string // operation template matched, or ""
		method string // operation method matched
		params string // "name=value,…"
		status int    // for misses
		code   string
		allow  string
		stage  string
	}
	cases := []struct {
		name                     string
		host, path, method, stag string
		want                     want
	}{
		{name: "static", path: "/acme/pets/v1/pets", method: "GET", want: want{opPath: "/pets", method: "GET"}},
		{name: "static beats param", path: "/acme/pets/v1/pets/mine", method: "GET", want: want{opPath: "/pets/mine", method: "GET"}},
		{name: "param", path: "/acme/pets/v1/pets/42", method: "GET", want: want{opPath: "/pets/{id}", method: "GET", params: "id=42"}},
		{name: "static path without the method falls back to param", path: "/acme/pets/v1/pets/mine", method: "DELETE",
			want: want{opPath: "/pets/{id}", method: "DELETE", params: "id=mine"}},
		{name: "two params", path: "/acme/pets/v1/pets/7/toys/ball", method: "PUT",
			want: want{opPath: "/pets/{petId}/toys/{toyId}", method: "PUT", params: "petId=7,toyId=ball"}},
		{name: "backtrack from static to param", path: "/acme/pets/v1/deep/static/other", method: "GET",
			want: want{opPath: "/deep/{a}/other", method: "GET", params: "a=static"}},
		{name: "wildcard rest", path: "/acme/pets/v1/files/a/b/c.txt", method: "GET", want: want{opPath: "/files/*", method: "GET", params: "*=a/b/c.txt"}},
		{name: "wildcard empty rest", path: "/acme/pets/v1/files", method: "GET", want: want{opPath: "/files/*", method: "GET", params: "*="}},
		{name: "wildcard trailing slash", path: "/acme/pets/v1/files/", method: "GET", want: want{opPath: "/files/*", method: "GET", params: "*="}},
		{name: "static beats wildcard", path: "/acme/pets/v1/wild/x", method: "GET", want: want{opPath: "/wild/x", method: "GET"}},
		{name: "wildcard takes other method", path: "/acme/pets/v1/wild/x", method: "POST", want: want{opPath: "/wild/*", method: "POST", params: "*=x"}},
		{name: "any method", path: "/acme/pets/v1/any/1", method: "PATCH", want: want{opPath: "/any/{x}", method: "*", params: "x=1"}},
		{name: "root", path: "/acme/pets/v1", method: "GET", want: want{opPath: "/", method: "GET"}},
		{name: "root slash", path: "/acme/pets/v1/", method: "GET", want: want{opPath: "/", method: "GET"}},
		{name: "HEAD falls back to GET", path: "/acme/pets/v1/pets/1", method: "HEAD", want: want{opPath: "/pets/{id}", method: "GET", params: "id=1"}},
		{name: "param needs a non-empty segment", path: "/acme/pets/v1/pets//toys/x", method: "PUT",
			want: want{status: 404, code: CodeNoOperation}},
		{name: "trailing slash is a different path", path: "/acme/pets/v1/pets/", method: "GET", want: want{status: 404, code: CodeNoOperation}},
		{name: "405 with Allow", path: "/acme/pets/v1/pets", method: "PATCH", want: want{status: 405, code: CodeMethodNotAllowed, allow: "GET, HEAD, POST"}},
		{name: "405 unions matching paths", path: "/acme/pets/v1/pets/mine", method: "POST",
			want: want{status: 405, code: CodeMethodNotAllowed, allow: "DELETE, GET, HEAD"}},
		{name: "no operation", path: "/acme/pets/v1/nothing", method: "GET", want: want{status: 404, code: CodeNoOperation}},
		{name: "no org", path: "/nobody/pets/v1/pets", method: "GET", want: want{status: 404, code: CodeNoRoute}},
		{name: "no api", path: "/acme/cats/v1/pets", method: "GET", want: want{status: 404, code: CodeNoRoute}},
		{name: "no version", path: "/acme/pets/v9/pets", method: "GET", want: want{status: 404, code: CodeNoRoute}},
		{name: "too short", path: "/acme/pets", method: "GET", want: want{status: 404, code: CodeNoRoute}},
		{name: "not a path", path: "*", method: "OPTIONS", want: want{status: 404, code: CodeNoRoute}},
		{name: "offline is gone on any path", path: "/acme/pets/v0/whatever", method: "GET", want: want{status: 410, code: CodeGone}},
		{name: "test stage", path: "/acme/pets/v1/beta", method: "GET", stag: "test", want: want{opPath: "/beta", method: "GET", stage: StageTest}},
		{name: "test stage any case", path: "/acme/pets/v1/beta", method: "GET", stag: "Test", want: want{opPath: "/beta", method: "GET", stage: StageTest}},
		{name: "production lacks test-only op", path: "/acme/pets/v1/beta", method: "GET", want: want{status: 404, code: CodeNoOperation}},
		{name: "explicit production", path: "/acme/pets/v1/pets", method: "GET", stag: "production", want: want{opPath: "/pets", method: "GET"}},
		{name: "not deployed to test", path: "/globex/weather/v2/forecast", method: "GET", stag: "test", want: want{status: 404, code: CodeNoRoute}},
		{name: "unknown stage", path: "/acme/pets/v1/pets", method: "GET", stag: "staging", want: want{status: 400, code: CodeInvalidStage}},
		{name: "subdomain", host: "acme.gw.portico.test", path: "/pets/v1/pets/3", method: "GET",
			want: want{opPath: "/pets/{id}", method: "GET", params: "id=3"}},
		{name: "subdomain with port and case", host: "ACME.gw.portico.test:8443", path: "/pets/v1/pets", method: "GET",
			want: want{opPath: "/pets", method: "GET"}},
		{name: "subdomain of unknown org", host: "nobody.gw.portico.test", path: "/pets/v1/pets", method: "GET",
			want: want{status: 404, code: CodeNoRoute}},
		{name: "apex domain routes by path", host: "gw.portico.test", path: "/acme/pets/v1/pets", method: "GET",
			want: want{opPath: "/pets", method: "GET"}},
		{name: "custom domain", host: "api.globex.example", path: "/weather/v2/forecast/paris", method: "GET",
			want: want{opPath: "/forecast/{city}", method: "GET", params: "city=paris"}},
		{name: "other host routes by path", host: "127.0.0.1:8000", path: "/globex/weather/v2/forecast", method: "GET",
			want: want{opPath: "/forecast", method: "GET"}},
		{name: "IPv6 host routes by path", host: "[::1]:8000", path: "/globex/weather/v2/forecast", method: "GET",
			want: want{opPath: "/forecast", method: "GET"}},
		{name: "catch-all", path: "/initech/catchall/v1/a/b", method: "DELETE", want: want{opPath: "/*", method: "*", params: "*=a/b"}},
		{name: "catch-all root", path: "/initech/catchall/v1", method: "GET", want: want{opPath: "/*", method: "*", params: "*="}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := r.Lookup(tc.host, tc.path, tc.method, tc.stag)
			if tc.want.status != 0 {
				var re *RouteError
				if !errors.As(err, &re) {
					t.Fatalf("want %d %s, got match %+v err %v", tc.want.status, tc.want.code, m.Operation, err)
				}
				if re.Status != tc.want.status || re.Code != tc.want.code || re.Allow != tc.want.allow {
					t.Fatalf("got %d %s Allow %q (%s), want %d %s Allow %q", re.Status, re.Code, re.Allow, re.Detail,
						tc.want.status, tc.want.code, tc.want.allow)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if m.Operation.Path != tc.want.opPath || m.Operation.Method != tc.want.method {
				t.Fatalf("matched %s %s, want %s %s", m.Operation.Method, m.Operation.Path, tc.want.method, tc.want.opPath)
			}
			var ps []string
			for i := 0; i < m.Params.Len(); i++ {
				p := m.Params.At(i)
				ps = append(ps, p.Name+"="+p.Value)
			}
			if got := strings.Join(ps, ","); got != tc.want.params {
				t.Fatalf("params %q, want %q", got, tc.want.params)
			}
			wantStage := tc.want.stage
			if wantStage == "" {
				wantStage = StageProduction
			}
			if m.Stage != wantStage || m.API.Stage != wantStage {
				t.Fatalf("stage %s (api %s), want %s", m.Stage, m.API.Stage, wantStage)
			}
		})
	}
}

func TestParamsGet(t *testing.T) {
	r := mustCompile(t, testConfig()).Router()
	m, err := r.Lookup("", "/acme/pets/v1/pets/7/toys/ball", "PUT", "")
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := m.Params.Get("toyId"); !ok || v != "ball" {
		t.Fatalf("toyId = %q, %t", v, ok)
	}
	if _, ok := m.Params.Get("nope"); ok {
		t.Fatal("unexpected param")
	}
	if m.Path != "/pets/7/toys/ball" {
		t.Fatalf("Path = %q", m.Path)
	}
}

func TestLookupRequest(t *testing.T) {
	r := mustCompile(t, testConfig()).Router()
	req := httptest.NewRequest(http.MethodGet, "http://acme.gw.portico.test/pets/v1/beta", nil)
	req.Header.Set(StageHeader, "test")
	m, err := r.LookupRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	if m.Operation.Path != "/beta" || m.API.State != StateDraft {
		t.Fatalf("got %+v", m.Operation)
	}
}

func TestSnapshotLookups(t *testing.T) {
	s := mustCompile(t, testConfig())
	if s.Version() != 7 || s.Router().Routes() == 0 {
		t.Fatalf("version %d routes %d", s.Version(), s.Router().Routes())
	}
	k, ok := s.Key("PKAAAAAAAAAAAAAAAAAA")
	if !ok || k.AppID != "app1" || !k.Active(time.Now()) {
		t.Fatalf("key %v %t", k, ok)
	}
	if _, ok := s.Key("PKNOPE"); ok {
		t.Fatal("unknown key found")
	}
	sub, ok := s.Subscription("app1", "api_acme_pets")
	if !ok || sub.ID != "sub2" || !sub.Grants("v1") || sub.Grants("v2") {
		t.Fatalf("subscription %+v %t", sub, ok)
	}
	if _, ok := s.Subscription("app1", "api_other"); ok {
		t.Fatal("unexpected subscription")
	}
	if strings.Contains(fmt.Sprintf("%v %#v", k, k), "s\"") {
		t.Fatal("secret printed")
	}
}

func TestStoreSwap(t *testing.T) {
	st := NewStore(nil)
	if st.Load() != nil {
		t.Fatal("empty store returned a snapshot")
	}
	a := mustCompile(t, testConfig())
	cfg := testConfig()
	cfg.Version = 8
	b := mustCompile(t, cfg)
	if old := st.Swap(a); old != nil {
		t.Fatal("first swap returned a snapshot")
	}
	if old := st.Swap(b); old != a {
		t.Fatal("swap did not return the previous snapshot")
	}
	if st.Load().Version() != 8 {
		t.Fatalf("version %d", st.Load().Version())
	}
}

func TestCompileRejects(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"duplicate route", func(c *Config) { c.APIs[0].Operations = ops("GET /pets/{id}", "GET /pets/{name}") },
			"api acme/pets/v1 (production): operation GET /pets/{name}: duplicates operation GET /pets/{id}"},
		{"duplicate any-method route", func(c *Config) { c.APIs[0].Operations = ops("* /x", "* /x") }, "duplicates operation * /x"},
		{"no leading slash", func(c *Config) { c.APIs[0].Operations = ops("GET pets") }, "must start with \"/\""},
		{"empty segment", func(c *Config) { c.APIs[0].Operations = ops("GET /pets//x") }, "empty segment 2"},
		{"trailing slash", func(c *Config) { c.APIs[0].Operations = ops("GET /pets/") }, "empty segment 2"},
		{"wildcard in the middle", func(c *Config) { c.APIs[0].Operations = ops("GET /*/x") }, "only allowed as the last segment"},
		{"partial parameter", func(c *Config) { c.APIs[0].Operations = ops("GET /file.{ext}") }, "a parameter must fill a whole segment"},
		{"empty parameter", func(c *Config) { c.APIs[0].Operations = ops("GET /{}") }, "bad parameter"},
		{"repeated parameter", func(c *Config) { c.APIs[0].Operations = ops("GET /{a}/{a}") }, "parameter {a} appears twice"},
		{"too many parameters", func(c *Config) { c.APIs[0].Operations = ops("GET /{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}") }, "more than 8 parameters"},
		{"lower-case method", func(c *Config) { c.APIs[0].Operations = ops("get /x") }, "upper-case HTTP method"},
		{"duplicate operation id", func(c *Config) {
			c.APIs[0].Operations = ops("GET /a", "GET /b")
			c.APIs[0].Operations[1].ID = "op0"
		}, "operation id \"op0\" used twice"},
		{"deployed twice", func(c *Config) { c.APIs = append(c.APIs, c.APIs[0]) }, "api acme/pets/v1 (production): deployed twice"},
		{"unknown stage", func(c *Config) { c.APIs[0].Stage = "staging" }, "unknown stage \"staging\""},
		{"bad slug", func(c *Config) { c.APIs[0].APISlug = "a/b" }, "must be non-empty path segments"},
		{"unknown state", func(c *Config) { c.APIs[0].State = "retired" }, "unknown state \"retired\""},
		{"no upstream", func(c *Config) { c.APIs[0].Upstream.Targets = nil }, "no upstream targets and not a mock"},
		{"relative target", func(c *Config) { c.APIs[0].Upstream.Targets[0].URL = "backend/x" }, "not an absolute http(s) URL"},
		{"retries", func(c *Config) { c.APIs[0].Upstream.Retries = 9 }, "retries 9 outside 0–5"},
		{"health path without slash", func(c *Config) { c.APIs[0].Upstream.HealthCheckPath = "@other:81/health" }, "health check path \"@other:81/health\" is not a path"},
		{"health path with CRLF", func(c *Config) { c.APIs[0].Upstream.HealthCheckPath = "/h\r\nX: y" }, "is not a path starting with /"},
		{"mock status", func(c *Config) {
			c.APIs[0].Mock = true
			c.APIs[0].Operations[0].Mock = &MockResponse{Status: 42}
		}, "mock status 42"},
		{"backend key without secret", func(c *Config) { c.APIs[0].BackendKeys[0].Secret = nil }, "backend key \"bk1\" needs an id and a secret"},
		{"key under wrong id", func(c *Config) {
			c.Keys["PKBBBBBBBBBBBBBBBBBB"] = Key{AccessKey: "PKCCCCCCCCCCCCCCCCCC", Secret: []byte("x"), AppID: "a"}
		}, "key PKBBBBBBBBBBBBBBBBBB: listed under"},
		{"key without secret", func(c *Config) {
			c.Keys["PKBBBBBBBBBBBBBBBBBB"] = Key{AccessKey: "PKBBBBBBBBBBBBBBBBBB", AppID: "a"}
		}, "key PKBBBBBBBBBBBBBBBBBB: no secret"},
		{"duplicate subscription", func(c *Config) { c.Subscriptions = append(c.Subscriptions, c.Subscriptions[0]) }, "subscription sub1: listed twice"},
		{"subscription status", func(c *Config) { c.Subscriptions[0].Status = "cancelled" }, "unknown status \"cancelled\""},
		{"burst below rate", func(c *Config) { c.Subscriptions[1].Limits.Burst = 2 }, "burst 2 is below the rate 5"},
		{"bad domain", func(c *Config) { c.Domain = "gw.example:8000" }, "domain \"gw.example:8000\" is not a host name"},
		{"bad custom domain org", func(c *Config) { c.CustomDomains["api.x.example"] = "" }, "bad organisation slug"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.mutate(cfg)
			_, err := Compile(cfg)
			if err == nil {
				t.Fatal("Compile accepted the config")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
	if _, err := Compile(nil); err == nil {
		t.Fatal("Compile(nil) succeeded")
	}
}

func TestCompileReportsEveryProblem(t *testing.T) {
	cfg := testConfig()
	cfg.APIs[0].Operations = ops("GET pets", "GET /a//b")
	cfg.Subscriptions[0].Status = "nope"
	_, err := Compile(cfg)
	if err == nil {
		t.Fatal("Compile accepted the config")
	}
	for _, want := range []string{"GET pets", "GET /a//b", "unknown status"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestLookupAllocs pins the no-allocation promise of the hit path.
func TestLookupAllocs(t *testing.T) {
	r := mustCompile(t, testConfig()).Router()
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := r.Lookup("acme.gw.portico.test", "/pets/v1/pets/7/toys/ball", "PUT", ""); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Lookup allocates %v times", allocs)
	}
}

func FuzzRoute(f *testing.F) {
	for _, s := range []struct{ host, path, method, stage string }{
		{"", "/acme/pets/v1/pets/1", "GET", ""},
		{"acme.gw.portico.test", "/pets/v1/files/a/b", "HEAD", "test"},
		{"api.globex.example:1", "/weather/v2/forecast/x", "POST", "x"},
		{"[::1]", "//", "*", "production"},
		{"", "/initech/catchall/v1/", "DELETE", ""},
	} {
		f.Add(s.host, s.path, s.method, s.stage)
	}
	r := mustCompile(f, testConfig()).Router()
	f.Fuzz(func(t *testing.T, host, path, method, stage string) {
		m1, err1 := r.Lookup(host, path, method, stage)
		m2, err2 := r.Lookup(host, path, method, stage)
		if (err1 == nil) != (err2 == nil) || m1 != m2 {
			t.Fatalf("not deterministic: %+v %v / %+v %v", m1, err1, m2, err2)
		}
		if err1 != nil {
			var re *RouteError
			if !errors.As(err1, &re) || re.Status < 400 || err1.Error() != err2.Error() {
				t.Fatalf("bad miss %v / %v", err1, err2)
			}
			if re.Status == http.StatusMethodNotAllowed && re.Allow == "" {
				t.Fatal("405 without Allow")
			}
			return
		}
		if m1.Operation == nil || m1.API == nil {
			t.Fatal("match without operation")
		}
		for i := 0; i < m1.Params.Len(); i++ {
			if p := m1.Params.At(i); p.Name != WildcardParam && (p.Value == "" || strings.Contains(p.Value, "/")) {
				t.Fatalf("parameter %s = %q", p.Name, p.Value)
			}
		}
	})
}

// bigConfig has n routes: n/10 versions of 10 operations each.
func bigConfig(n int) *Config {
	cfg := &Config{Version: 1, Domain: "gw.portico.test"}
	for i := 0; i < n/10; i++ {
		org := fmt.Sprintf("org%d", i%100)
		api := fmt.Sprintf("api%d", i)
		cfg.APIs = append(cfg.APIs, version(org, api, "v1", StageProduction, ops(
			"GET /items", "POST /items", "GET /items/{id}", "PUT /items/{id}", "DELETE /items/{id}",
			"GET /items/{id}/parts/{part}", "GET /search", "GET /files/*", "POST /batch", "GET /health",
		)))
	}
	return cfg
}

func benchLookup(b *testing.B, cfg *Config, host, path string) {
	r := mustCompile(b, cfg).Router()
	if _, err := r.Lookup(host, path, "GET", ""); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r.Lookup(host, path, "GET", "")
	}
}

func BenchmarkLookupTiny(b *testing.B) {
	benchLookup(b, testConfig(), "", "/acme/pets/v1/pets/7")
}

func BenchmarkLookup10000(b *testing.B) {
	cfg := bigConfig(10000)
	b.Run("path", func(b *testing.B) { benchLookup(b, cfg, "", "/org57/api557/v1/items/42/parts/9") })
	b.Run("host", func(b *testing.B) { benchLookup(b, cfg, "org57.gw.portico.test", "/api557/v1/items/42/parts/9") })
}

// TestStoreConcurrentReload runs lookups while snapshots are swapped; run
// with -race it checks that requests and reloads share no unsynchronised
// state.
func TestStoreConcurrentReload(t *testing.T) {
	st := NewStore(mustCompile(t, testConfig()))
	next := make([]*Snapshot, 20)
	for i := range next {
		cfg := testConfig()
		cfg.Version = uint64(100 + i)
		next[i] = mustCompile(t, cfg)
	}
	done := make(chan struct{})
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			for i := 0; i < 500; i++ {
				m, err := st.Load().Router().Lookup("", "/acme/pets/v1/pets/1", "GET", "")
				if err != nil || m.Operation.Path != "/pets/{id}" {
					errs <- fmt.Errorf("lookup %d: %v", i, err)
					return
				}
			}
			errs <- nil
		}()
	}
	go func() {
		for _, s := range next {
			st.Swap(s)
		}
		close(done)
	}()
	for g := 0; g < 4; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	<-done
	if v := st.Load().Version(); v != 119 {
		t.Fatalf("final version %d, want 119", v)
	}
}
