package gateway

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// recordingUpstream is a backend that records the escaped path of every
// call it gets.
type recordingUpstream struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

func newRecordingUpstream(t *testing.T) *recordingUpstream {
	t.Helper()
	u := &recordingUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.paths = append(u.paths, r.URL.EscapedPath())
		u.mu.Unlock()
		w.Write([]byte("ok"))
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *recordingUpstream) take() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	p := u.paths
	u.paths = nil
	return p
}

// publicGateway serves one public version, acme/open/v1, forwarding its
// operations to up under the base path /base.
func publicGateway(t *testing.T, up *recordingUpstream, operations ...string) *httptest.Server {
	t.Helper()
	v := version("acme", "open", "v1", StageProduction, ops(operations...))
	v.Settings.Public = true
	v.Upstream = Upstream{Targets: []Target{{URL: up.URL + "/base", Weight: 1}}}
	v.BackendKeys = []BackendKey{{ID: "bk1", Secret: []byte("backend-secret-backend-secret-32")}}
	snap := mustCompile(t, &Config{Version: 1, APIs: []APIVersion{v}})
	h, err := NewHandler(NewStore(snap), Options{Region: "local", AllowPrivateUpstreams: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := serveGateway(t, h)
	t.Cleanup(srv.Close)
	return srv
}

func getStatus(t *testing.T, rawURL string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestEncodedSlashCannotShiftTheForwardedPath: an encoded slash in the
// organisation, API or version segment used to be decoded before routing,
// so /acme%2Fopen/v1/public/internal was routed as
// /acme/open/v1/public/internal to GET /public/{id} while the forwarder,
// counting the escaped path's slashes, sent the backend /base/internal:
// a path no operation declares. An encoded slash now stays inside its
// segment, as it does for the backend.
func TestEncodedSlashCannotShiftTheForwardedPath(t *testing.T) {
	up := newRecordingUpstream(t)
	srv := publicGateway(t, up, "GET /public/{id}", "GET /files/{key}", "GET /files/{a}/{b}")
	for _, p := range []string{"/acme%2Fopen/v1/public/internal", "/acme/open%2Fv1/public/internal", "/acme%2fopen%2fv1/public/x/internal"} {
		if st := getStatus(t, srv.URL+p); st != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", p, st)
		}
		if got := up.take(); len(got) > 0 {
			t.Errorf("%s: the backend got %v", p, got)
		}
	}
	// In the operation's part, it is one segment for the router as for the
	// backend: /files/{key}, not /files/{a}/{b}.
	if st := getStatus(t, srv.URL+"/acme/open/v1/files/a%2Fb"); st != http.StatusOK {
		t.Fatalf("files/a%%2Fb: status %d", st)
	}
	if got := up.take(); len(got) != 1 || got[0] != "/base/files/a%2Fb" {
		t.Fatalf("the backend got %v", got)
	}
	r := mustCompile(t, &Config{Version: 1, APIs: []APIVersion{version("acme", "open", "v1", StageProduction,
		ops("GET /public/{id}", "GET /files/{key}", "GET /files/{a}/{b}", "GET /all/*"))}}).Router()
	for _, tc := range []struct{ target, op, params, path string }{
		{"/acme/open/v1/files/a%2Fb", "/files/{key}", "key=a/b", "/files/a/b"},
		{"/acme/open/v1/files/a/b", "/files/{a}/{b}", "a=a,b=b", "/files/a/b"},
		{"/acme/open/v1/files/%7Ex%2F%2F", "/files/{key}", "key=~x//", "/files/~x//"},
		{"/%61cme/open/v1/files/x", "/files/{key}", "key=x", "/files/x"},
		{"/acme/open/v1/all/a%2Fb/c", "/all/*", "*=a/b/c", "/all/a/b/c"},
	} {
		req := httptest.NewRequest(http.MethodGet, "http://gw.example"+tc.target, nil)
		m, err := r.LookupRequest(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.target, err)
		}
		var ps []string
		for i := 0; i < m.Params.Len(); i++ {
			ps = append(ps, m.Params.At(i).Name+"="+m.Params.At(i).Value)
		}
		if m.Operation.Path != tc.op || strings.Join(ps, ",") != tc.params || m.Path != tc.path {
			t.Errorf("%s: matched %s %v path %q, want %s %s %q", tc.target, m.Operation.Path, ps, m.Path, tc.op, tc.params, tc.path)
		}
	}
}

// TestDotSegmentsRefused: a "." or ".." segment, literal or encoded,
// means another path to a backend that resolves it: /files/../../admin
// matched GET /files/* and reached the backend as
// /base/files/../../admin, which resolves to /admin, outside both the
// operation and the target's base path. No such path is routed (404
// no-route).
func TestDotSegmentsRefused(t *testing.T) {
	up := newRecordingUpstream(t)
	srv := publicGateway(t, up, "GET /files/*", "GET /{a}/{b}")
	for _, p := range []string{"/acme/open/v1/files/../../admin", "/acme/open/v1/files/%2e%2e/%2E%2E/admin", "/acme/open/v1/files/./x",
		"/acme/open/v1/files/..", "/acme/open/v1/files/a%2F..%2F..%2Fadmin", "/acme/open/v1/%2e/x",
		// Dot segments to some backends: with path parameters (Tomcat,
		// Jetty), backslashes (IIS), or encoded twice (a backend that
		// decodes again).
		"/acme/open/v1/files/..;/..;/admin", "/acme/open/v1/files/.;x=1/y", "/acme/open/v1/files/..%3Bjsessionid=1/admin",
		"/acme/open/v1/files/a%5C..%5C..%5Cadmin", "/acme/open/v1/files/..%5Cadmin",
		"/acme/open/v1/files/%252e%252e/admin", "/acme/open/v1/files/a%252F..%252Fadmin", "/acme/open/v1/files/%255c"} {
		if st := getStatus(t, srv.URL+p); st != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", p, st)
		}
		if got := up.take(); len(got) > 0 {
			t.Errorf("%s: the backend got %v", p, got)
		}
	}
	// Dots that are not a whole segment, path parameters on other
	// segments, and escapes of other characters are ordinary text.
	for _, p := range []string{"/acme/open/v1/files/.well-known/x", "/acme/open/v1/files/...", "/acme/open/v1/files/a..b",
		"/acme/open/v1/files/cars;color=red", "/acme/open/v1/files/..x;y", "/acme/open/v1/files/report.v1.pdf",
		"/acme/open/v1/files/100%25", "/acme/open/v1/files/%2541", "/acme/open/v1/files/a%5Cb"} {
		if st := getStatus(t, srv.URL+p); st != http.StatusOK {
			t.Errorf("%s: status %d, want 200", p, st)
		}
		up.take()
	}
	r := mustCompile(t, testConfig()).Router()
	for _, p := range []string{"/acme/pets/v1/pets/..", "/acme/pets/v1/./pets", "/acme/pets/../pets/v1/pets", "/./acme/pets/v1/pets", "/acme/pets/v1/files/a/../../../../globex/weather/v2/forecast"} {
		_, err := r.Lookup("", p, "GET", "")
		var re *RouteError
		if !errors.As(err, &re) || re.Status != http.StatusNotFound || re.Code != CodeNoRoute || !strings.Contains(re.Detail, "segment are not routed") {
			t.Errorf("%s: %v, want 404 %s for the dot segment", p, err, CodeNoRoute)
		}
	}
	for _, tc := range []struct{ ops, want string }{
		{"GET /a/../b", "segment 2 is \"..\""},
		{"GET /./b", "segment 1 is \".\""},
		{"GET /a/..;x/b", "segment 2 is \"..;x\""},
	} {
		if err := CheckOperations(ops(tc.ops)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.ops, err, tc.want)
		}
	}
	cfg := testConfig()
	cfg.APIs[0].Version = ".."
	if _, err := Compile(cfg); err == nil || !strings.Contains(err.Error(), "must be non-empty path segments") {
		t.Errorf("version \"..\": %v", err)
	}
}

// TestCustomDomainCannotShadowPlatformHosts: a custom domain that is the
// gateway domain or {org}.{domain} (the control plane refuses them, but
// one added before the gateway domain was set or changed stays in the
// configuration) used to win over host-based routing: globex's custom
// domain acme.gw.portico.test took acme's host name, and one on the bare
// domain took every path-routed call there.
func TestCustomDomainCannotShadowPlatformHosts(t *testing.T) {
	cfg := testConfig()
	cfg.CustomDomains["acme.gw.portico.test"] = "globex"
	cfg.CustomDomains["GW.portico.test."] = "globex"
	// What globex would serve at those names if its custom domains won.
	cfg.APIs = append(cfg.APIs, version("globex", "pets", "v1", StageProduction, ops("GET /pets")),
		version("globex", "acme", "pets", StageProduction, ops("GET /v1/pets")))
	r := mustCompile(t, cfg).Router()
	for _, tc := range []struct{ host, path string }{
		{"acme.gw.portico.test", "/pets/v1/pets"},
		{"ACME.gw.portico.test.:443", "/pets/v1/pets"},
		{"gw.portico.test", "/acme/pets/v1/pets"},
		{"gw.portico.test.:8443", "/acme/pets/v1/pets"},
	} {
		m, err := r.Lookup(tc.host, tc.path, "GET", "")
		if err != nil || m.API.OrgSlug != "acme" {
			t.Errorf("%s%s: %v, reached %s", tc.host, tc.path, err, orgOf(m))
		}
	}
	// globex's own custom domain still routes to globex only.
	if m, err := r.Lookup("api.globex.example", "/weather/v2/forecast", "GET", ""); err != nil || m.API.OrgSlug != "globex" {
		t.Fatalf("custom domain: %v %s", err, orgOf(m))
	}
}

func orgOf(m Match) string {
	if m.API == nil {
		return "nothing"
	}
	return m.API.OrgSlug + "/" + m.API.APISlug + "/" + m.API.Version
}

// TestHostForms pins what was checked and found right: every spelling of
// a host that names an organisation routes to that organisation only, an
// absolute-form target's host is the one that counts (RFC 9112 §3.2.2, as
// net/http sets Request.Host), and a host-routed request cannot name
// another organisation in its path.
func TestHostForms(t *testing.T) {
	r := mustCompile(t, testConfig()).Router()
	for _, tc := range []struct {
		host, path string
		org        string // "" for a miss
	}{
		{"api.globex.example", "/weather/v2/forecast", "globex"},
		{"API.GLOBEX.EXAMPLE.:8443", "/weather/v2/forecast", "globex"},
		{"api.globex.example", "/acme/pets/v1/pets", ""},
		{"api.globex.example", "/globex/weather/v2/forecast", ""},
		{"acme.gw.portico.test", "/globex/weather/v2/forecast", ""},
		{"globex.gw.portico.test", "/pets/v1/pets", ""},
		{"acme.gw.portico.test.", "/pets/v1/pets", "acme"},
		// Two labels under the domain name no organisation, and do not
		// fall back to path-based routing.
		{"x.acme.gw.portico.test", "/acme/pets/v1/pets", ""},
		{"x.acme.gw.portico.test", "/pets/v1/pets", ""},
		{"X.ACME.GW.portico.test.:8000", "/acme/pets/v1/pets", ""},
		{"gw.portico.test", "/acme/pets/v1/pets", "acme"},
		{"xgw.portico.test", "/acme/pets/v1/pets", "acme"},
		{"[::1]", "/acme/pets/v1/pets", "acme"},
		{"[fe80::1%25eth0]:80", "/acme/pets/v1/pets", "acme"},
		{"ACME.gw.portico.test", "/pets/v1/pets", "acme"},
		{"", "/ACME/pets/v1/pets", ""}, // slugs are lower case; the path is not folded
	} {
		m, err := r.Lookup(tc.host, tc.path, "GET", "")
		switch {
		case tc.org == "" && err == nil:
			t.Errorf("%s %s: reached %s/%s", tc.host, tc.path, m.API.OrgSlug, m.API.APISlug)
		case tc.org != "" && (err != nil || m.API.OrgSlug != tc.org):
			t.Errorf("%s %s: %v %s, want %s", tc.host, tc.path, err, orgOf(m), tc.org)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "http://globex.gw.portico.test/weather/v2/forecast", nil)
	req.Header.Set("Host", "acme.gw.portico.test")
	if m, err := r.LookupRequest(req); err != nil || m.API.OrgSlug != "globex" {
		t.Fatalf("absolute form: %v %s", err, orgOf(m))
	}
}

// TestVersionLifecycleRoutes pins the stage and lifecycle answers.
func TestVersionLifecycleRoutes(t *testing.T) {
	cfg := testConfig()
	dep := version("acme", "old", "v1", StageProduction, ops("GET /x"))
	dep.State = StateDeprecated
	cfg.APIs = append(cfg.APIs, dep)
	r := mustCompile(t, cfg).Router()
	for _, tc := range []struct {
		path, method, stage string
		status              int
		code, allow         string
	}{
		{"/acme/pets/v0/anything", "DELETE", "", 410, CodeGone, ""},
		{"/acme/pets/v0", "GET", "", 410, CodeGone, ""},
		{"/acme/pets/v0/x", "GET", "test", 404, CodeNoRoute, ""}, // offline in production only; not in test
		{"/acme/pets/v1/pets", "GET", "TEST", 0, "", ""},
		{"/acme/pets/v1/pets", "GET", "prod", 400, CodeInvalidStage, ""},
		{"/acme/pets/v1/pets", "GET", " test", 400, CodeInvalidStage, ""},
		{"/acme/old/v1/x", "GET", "", 0, "", ""},
		{"/acme/old/v1/x", "OPTIONS", "", 405, CodeMethodNotAllowed, "GET, HEAD"},
		{"/acme/pets/v1/pets", "get", "", 405, CodeMethodNotAllowed, "GET, HEAD, POST"},
	} {
		m, err := r.Lookup("", tc.path, tc.method, tc.stage)
		if tc.status == 0 {
			if err != nil {
				t.Errorf("%s %s (%s): %v", tc.method, tc.path, tc.stage, err)
			}
			continue
		}
		var re *RouteError
		if !errors.As(err, &re) || re.Status != tc.status || re.Code != tc.code || re.Allow != tc.allow {
			t.Errorf("%s %s (%s): %v %+v, want %d %s %q", tc.method, tc.path, tc.stage, err, m.Operation, tc.status, tc.code, tc.allow)
		}
	}
}

// TestLookupRequestAllocs: the request path costs nothing more than
// Lookup for a path without escapes.
func TestLookupRequestAllocs(t *testing.T) {
	r := mustCompile(t, testConfig()).Router()
	req := httptest.NewRequest(http.MethodGet, "http://acme.gw.portico.test/pets/v1/pets/7/toys/ball", nil)
	req.Method = http.MethodPut
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := r.LookupRequest(req); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("LookupRequest allocates %v times", allocs)
	}
}

// FuzzRouteRequest: whatever the request target, a match stays in the
// organisation the host or the path's first segment names, its path has
// no dot segment, and the forwarder's cut (the decoded path less
// Match.Path has as many slashes as the escaped path's prefix) is where
// the router cut.
func FuzzRouteRequest(f *testing.F) {
	for _, s := range []struct{ host, target string }{
		{"", "/acme/pets/v1/pets/1"},
		{"", "/acme%2Fpets/v1/pets"},
		{"", "/acme/pets/v1/files/a%2F..%2Fb"},
		{"acme.gw.portico.test", "/pets/v1/files/%2e%2e/x"},
		{"api.globex.example", "/weather/v2/forecast/a%2Fb"},
		{"", "/initech/catchall/v1/%252e%252e/x"},
		{"", "/initech/catchall/v1/..;/x"},
		{"", "/initech/catchall/v1/a%5C..%5Cx"},
	} {
		f.Add(s.host, s.target)
	}
	r := mustCompile(f, testConfig()).Router()
	f.Fuzz(func(t *testing.T, host, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil || u.Host != "" || u.Path == "" {
			return
		}
		req := &http.Request{Method: http.MethodGet, URL: u, Host: host, Header: http.Header{}}
		m, err := r.LookupRequest(req)
		if err != nil {
			return
		}
		if hasDotSegment(u.Path) {
			t.Fatalf("%q: matched a path with a dot segment", target)
		}
		if org, ok, _ := r.hostOrg(host); ok {
			if m.API.OrgSlug != org {
				t.Fatalf("host %q names %s, reached %s", host, org, m.API.OrgSlug)
			}
		} else {
			seg, _, _ := strings.Cut(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
			if first, err := url.PathUnescape(seg); err != nil || first != m.API.OrgSlug {
				t.Fatalf("%q names %q, reached %s", target, seg, m.API.OrgSlug)
			}
		}
		if m.Path != "/" {
			if !strings.HasSuffix(u.Path, m.Path) {
				t.Fatalf("%q: Match.Path %q is not a suffix of %q", target, m.Path, u.Path)
			}
			// As the forwarder: the escaped path after as many slashes as
			// the decoded prefix has must decode to Match.Path.
			n := strings.Count(u.Path[:len(u.Path)-len(m.Path)], "/")
			esc, i := u.EscapedPath(), 0
			for seen := 0; i < len(esc); i++ {
				if esc[i] == '/' {
					if seen == n {
						break
					}
					seen++
				}
			}
			if rel, err := url.PathUnescape(esc[i:]); err != nil || rel != m.Path {
				t.Fatalf("%q: the forwarder would send %q for Match.Path %q", target, esc[i:], m.Path)
			}
		}
	})
}
