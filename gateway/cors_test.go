package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-dev/portico/gateway/origin"
	"github.com/portico-dev/portico/gateway/sigv4"
)

const appOrigin = "https://app.example.com"

// corsGateway serves demoConfig's API (mock) and a forwarded copy of it,
// "fwd", whose upstream sends CORS headers of its own and counts its calls,
// both allowing origins; and "plain", a forwarded version without CORS.
func corsGateway(t *testing.T, origins []string, limits Limits) (srv *httptest.Server, upstreamCalls *atomic.Int64, meter *countingMeter) {
	t.Helper()
	now := time.Now()
	upstreamCalls = new(atomic.Int64)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamCalls.Add(1)
		w.Header().Set("Access-Control-Allow-Origin", "https://evil.example")
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"from":"upstream"}`))
	}))
	t.Cleanup(up.Close)
	cfg := demoConfig(limits, SubActive, now)
	cfg.APIs[0].Settings.CORSOrigins, cfg.APIs[0].Settings.CORSMaxAge = origins, 300
	fwd := cfg.APIs[0]
	fwd.APIID, fwd.APISlug, fwd.VersionID, fwd.Mock = "a1", "fwd", "v2id", false
	fwd.Version = "v2"
	fwd.Operations = []Operation{{ID: "get", Method: "GET", Path: "/things/{id}", Billable: true},
		{ID: "put", Method: "PUT", Path: "/things/{id}", Billable: true}}
	fwd.Upstream = Upstream{Targets: []Target{{URL: up.URL, Weight: 1}}}
	fwd.BackendKeys = []BackendKey{{ID: "bk1", Secret: []byte("backend-secret-backend-secret-32")}}
	plain := fwd
	plain.APISlug, plain.VersionID, plain.Settings = "plain", "v3id", Settings{}
	cfg.APIs = append(cfg.APIs, fwd, plain)
	cfg.Subscriptions[0].Versions = []string{"v1", "v2"}
	snap, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	meter = new(countingMeter)
	h, err := NewHandler(NewStore(snap), Options{Region: "local", Meter: meter, AllowPrivateUpstreams: true})
	if err != nil {
		t.Fatal(err)
	}
	srv = serveGateway(t, h)
	t.Cleanup(srv.Close)
	return srv, upstreamCalls, meter
}

func preflight(t *testing.T, url, origin, method, headers string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodOptions, url, nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	if headers != "" {
		req.Header.Set("Access-Control-Request-Headers", headers)
	}
	res, _ := sendAndRead(t, req)
	return res
}

// sendAndRead sends req and returns the answer with its body read.
func sendAndRead(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

func corsHeaders(h http.Header) []string {
	var out []string
	for k := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			out = append(out, k)
		}
	}
	return out
}

// A preflight from an allowed origin is answered by the gateway: 204 with
// the CORS headers, without authentication, the backend or metering.
func TestCORSPreflight(t *testing.T) {
	srv, calls, meter := corsGateway(t, []string{"http://localhost:3000", appOrigin}, Limits{})
	res := preflight(t, srv.URL+"/acme/fwd/v2/things/1", appOrigin, "PUT", "authorization, x-amz-date,Content-Type")
	want := map[string]string{
		"Access-Control-Allow-Origin":  appOrigin,
		"Vary":                         "Origin",
		"Access-Control-Allow-Methods": "GET, HEAD, PUT",
		"Access-Control-Allow-Headers": "authorization, x-amz-date,Content-Type",
		"Access-Control-Max-Age":       "300",
	}
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("preflight: %d %v", res.StatusCode, res.Header)
	}
	for k, v := range want {
		if got := res.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if res.Header.Get("Access-Control-Allow-Credentials") != "" || res.Header.Get(RequestIDHeader) == "" {
		t.Errorf("headers: %v", res.Header)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("preflight reached the upstream %d times", n)
	}
	if n := meter.n.Load(); n != 0 {
		t.Errorf("preflight metered %d times", n)
	}

	// No Access-Control-Request-Headers, or one that is not a token list:
	// the fixed list of what Portico clients send.
	for _, asked := range []string{"", "x-ok, bad header"} {
		res = preflight(t, srv.URL+"/acme/echo/v1/ping", "http://localhost:3000", "GET", asked)
		if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" ||
			res.Header.Get("Access-Control-Allow-Headers") != corsAllowHeaders || res.Header.Get("Access-Control-Allow-Methods") != "GET, HEAD" {
			t.Errorf("preflight asking %q: %d %v", asked, res.StatusCode, res.Header)
		}
		for _, h := range []string{"Authorization", "X-Amz-Content-Sha256", "X-Amz-Security-Token", "X-Portico-Nonce", "X-Portico-App-Code", "X-Portico-Stage"} {
			if !strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), h) {
				t.Errorf("the fixed list lacks %s", h)
			}
		}
	}
}

// A preflight from an origin the version does not list, or to a version
// without CORS, gets no CORS headers.
func TestCORSPreflightRefused(t *testing.T) {
	srv, calls, meter := corsGateway(t, []string{appOrigin}, Limits{})
	for name, c := range map[string]struct {
		url, origin string
		status      int
	}{
		"other origin":         {"/acme/fwd/v2/things/1", "https://evil.example", 403},
		"origin with a path":   {"/acme/fwd/v2/things/1", appOrigin + "/", 403},
		"other scheme":         {"/acme/fwd/v2/things/1", "http://app.example.com", 403},
		"version without CORS": {"/acme/plain/v2/things/1", appOrigin, 405}, // as any OPTIONS call: no operation takes OPTIONS
	} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodOptions, srv.URL+c.url, nil)
			req.Header.Set("Origin", c.origin)
			req.Header.Set("Access-Control-Request-Method", "GET")
			res, body := sendAndRead(t, req)
			if got := corsHeaders(res.Header); len(got) != 0 || res.StatusCode == 204 || res.StatusCode < 400 {
				t.Fatalf("%d with %v: %s", res.StatusCode, got, body)
			}
			if c.status == 403 && !strings.Contains(string(body), "/"+TypeCORSOriginNotAllowed) {
				t.Fatalf("body %s", body)
			}
		})
	}
	if calls.Load() != 0 || meter.n.Load() != 0 {
		t.Fatalf("upstream %d, metered %d", calls.Load(), meter.n.Load())
	}
}

// Answers to an allowed origin carry the CORS headers whatever their
// status, and replace the backend's; requests without Origin get none
// but Vary: Origin.
func TestCORSActualRequests(t *testing.T) {
	srv, _, _ := corsGateway(t, []string{appOrigin}, Limits{RequestsPerSecond: 1, Burst: 3})
	call := func(path, origin string, sign bool) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if sign {
			if err := (&sigv4.Signer{Region: "local"}).Sign(req, "PKTESTTESTTESTTEST01", "secretsecretsecretsecretsecretsecret1234", "", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		res, _ := sendAndRead(t, req)
		return res
	}
	allowed := func(res *http.Response) bool {
		return res.Header.Get("Access-Control-Allow-Origin") == appOrigin && res.Header.Get("Vary") == "Origin" &&
			res.Header.Get("Access-Control-Expose-Headers") == "RateLimit, RateLimit-Policy, Retry-After, X-Portico-Request-Id, Deprecation, Sunset" &&
			len(res.Header.Values("Access-Control-Allow-Origin")) == 1 && res.Header.Get("Access-Control-Allow-Credentials") == ""
	}
	if res := call("/acme/fwd/v2/things/1", appOrigin, true); res.StatusCode != 200 || !allowed(res) {
		t.Fatalf("200 from the upstream: %d %v", res.StatusCode, res.Header)
	}
	// No Origin: no CORS headers, and none of the backend's, but Vary:
	// Origin all the same, for shared caches.
	if res := call("/acme/fwd/v2/things/1", "", true); res.StatusCode != 200 || len(corsHeaders(res.Header)) != 0 || res.Header.Get("Vary") != "Origin" {
		t.Fatalf("no Origin: %d %v", res.StatusCode, res.Header)
	}
	// A version without CORS settings passes the backend's through, as
	// before.
	if res := call("/acme/plain/v2/things/1", appOrigin, true); res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "https://evil.example" {
		t.Fatalf("version without CORS: %d %v", res.StatusCode, res.Header)
	}
	if res := call("/acme/fwd/v2/things/1", appOrigin, true); res.StatusCode != 429 || !allowed(res) || res.Header.Get("Retry-After") == "" {
		t.Fatalf("429: %d %v", res.StatusCode, res.Header)
	}
	if res := call("/acme/echo/v1/things/1", appOrigin, false); res.StatusCode != 401 || !allowed(res) {
		t.Fatalf("401: %d %v", res.StatusCode, res.Header)
	}
	if res := call("/acme/echo/v1/nothing", appOrigin, false); res.StatusCode != 404 || !allowed(res) {
		t.Fatalf("404: %d %v", res.StatusCode, res.Header)
	}
	if res := call("/acme/echo/v1/things/1", "", false); res.StatusCode != 401 || len(corsHeaders(res.Header)) != 0 || res.Header.Get("Vary") != "Origin" {
		t.Fatalf("401 without Origin: %d %v", res.StatusCode, res.Header)
	}
	if res := call("/acme/fwd/v2/things/1", "https://evil.example", false); res.StatusCode != 401 || len(corsHeaders(res.Header)) != 0 || res.Header.Get("Vary") != "Origin" {
		t.Fatalf("other origin: %d %v", res.StatusCode, res.Header)
	}
}

// "*" allows any page, and answers with "*" rather than the origin.
func TestCORSAnyOrigin(t *testing.T) {
	srv, _, _ := corsGateway(t, []string{"*"}, Limits{})
	res := preflight(t, srv.URL+"/acme/echo/v1/things/1", "https://anyone.example:8443", "GET", "")
	if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "*" || res.Header.Get("Vary") != "" {
		t.Fatalf("preflight: %d %v", res.StatusCode, res.Header)
	}
	res, _ = signedGetWithOrigin(t, srv.URL+"/acme/echo/v1/things/1", "null")
	if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("call: %d %v", res.StatusCode, res.Header)
	}
}

func signedGetWithOrigin(t *testing.T, url, origin string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Origin", origin)
	if err := (&sigv4.Signer{Region: "local"}).Sign(req, "PKTESTTESTTESTTEST01", "secretsecretsecretsecretsecretsecret1234", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	return sendAndRead(t, req)
}

// Compile refuses CORS settings the catalog would not have saved.
func TestCompileCORS(t *testing.T) {
	for name, s := range map[string]Settings{
		"not normal":    {CORSOrigins: []string{"https://App.example.com"}},
		"star and more": {CORSOrigins: []string{"*", appOrigin}},
		"path":          {CORSOrigins: []string{appOrigin + "/x"}},
		"max age":       {CORSOrigins: []string{appOrigin}, CORSMaxAge: origin.MaxAge + 1},
		"too many":      {CORSOrigins: strings.Split(strings.Repeat(appOrigin+",", origin.MaxOrigins+1), ",")[:origin.MaxOrigins+1]},
	} {
		cfg := demoConfig(Limits{}, SubActive, time.Now())
		cfg.APIs[0].Settings = s
		if _, err := Compile(cfg); err == nil || !strings.Contains(err.Error(), "cors") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// CORS costs nothing to requests without an Origin: a call to a version
// with CORS settings allocates as much as one to a version without.
func TestCORSNoOriginAllocatesNothingMore(t *testing.T) {
	cfg := demoConfig(Limits{}, SubActive, time.Now())
	cfg.APIs[0].Settings.Public = true
	with := cfg.APIs[0]
	with.APISlug, with.VersionID = "cors", "v2id"
	with.Settings.CORSOrigins, with.Settings.CORSMaxAge = []string{appOrigin}, 600
	cfg.APIs = append(cfg.APIs, with)
	snap, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(NewStore(snap), Options{Region: "local", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	allocs := func(path string) float64 {
		req := httptest.NewRequest("GET", path, nil)
		return testing.AllocsPerRun(200, func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				t.Fatalf("%s: %d", path, w.Code)
			}
		})
	}
	plain, cors := allocs("/acme/echo/v1/things/1"), allocs("/acme/cors/v1/things/1")
	if cors != plain {
		t.Fatalf("no Origin: %v allocations with CORS settings, %v without", cors, plain)
	}
}

// FuzzCompileNormalOrigin: what origin.Normalize writes, Compile takes.
func FuzzCompileNormalOrigin(f *testing.F) {
	for _, s := range []string{"*", "https://App.example.com:443", "http://[::1]:80", "HTTP://1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := origin.Normalize(s)
		if !ok {
			return
		}
		if _, err := compileCORS(&Settings{CORSOrigins: []string{n}}); err != nil {
			t.Fatalf("%q → %q: %v", s, n, err)
		}
	})
}
