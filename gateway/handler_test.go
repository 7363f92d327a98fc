package gateway

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/portico-dev/portico/gateway/sigv4"
)

// demoConfig is one mock API with a billable and a free operation, one key
// and one subscription with the given limits and status.
func demoConfig(limits Limits, status SubscriptionStatus, now time.Time) *Config {
	return &Config{
		Version: 1,
		APIs: []APIVersion{{
			OrgID: "o1", OrgSlug: "acme", APIID: "a1", APISlug: "echo", APIName: "Echo", VersionID: "v1id", Version: "v1",
			Stage: StageProduction, State: StatePublished, Mock: true,
			Operations: []Operation{
				{ID: "get", Method: "GET", Path: "/things/{id}", Billable: true, Mock: &MockResponse{Status: 200, ContentType: "application/json", Body: []byte(`{"ok":true}`)}},
				{ID: "ping", Method: "GET", Path: "/ping", Billable: false},
			},
		}},
		Keys: map[string]Key{"PKTESTTESTTESTTEST01": {AccessKey: "PKTESTTESTTESTTEST01", Secret: []byte("secretsecretsecretsecretsecretsecret1234"), AppID: "app1", OrgID: "p1"}},
		Subscriptions: []Subscription{{ID: "s1", AppID: "app1", OrgID: "p1", ProviderOrgID: "o1", APIID: "a1", PlanID: "plan1",
			Status: status, Versions: []string{"v1"}, Limits: limits, PeriodStart: now.Add(-24 * time.Hour), PeriodEnd: now.Add(29 * 24 * time.Hour)}},
	}
}

func newTestGateway(t *testing.T, cfg *Config, now time.Time) *httptest.Server {
	t.Helper()
	snap, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(NewStore(snap), Options{Region: "local", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := serveGateway(t, h)
	t.Cleanup(srv.Close)
	return srv
}

func signedGet(t *testing.T, url string, now time.Time) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if err := (&sigv4.Signer{Region: "local"}).Sign(req, "PKTESTTESTTESTTEST01", "secretsecretsecretsecretsecretsecret1234", "", now); err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	json.NewDecoder(res.Body).Decode(&m)
	return res, m
}

// With a frozen clock the burst is admitted exactly and the next call is
// refused with the rate-limit headers and Retry-After.
func TestGatewayRateLimitBurst(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	srv := newTestGateway(t, demoConfig(Limits{RequestsPerSecond: 5, Burst: 10}, SubActive, now), now)
	for i := 0; i < 10; i++ {
		res, m := signedGet(t, srv.URL+"/acme/echo/v1/things/1", now)
		if res.StatusCode != 200 || m["ok"] != true {
			t.Fatalf("call %d: %d %v", i+1, res.StatusCode, m)
		}
		if !strings.Contains(res.Header.Get("RateLimit-Policy"), `"burst";q=10;w=1`) || res.Header.Get("RateLimit") == "" {
			t.Fatalf("call %d lacks RateLimit headers: %v", i+1, res.Header)
		}
	}
	res, m := signedGet(t, srv.URL+"/acme/echo/v1/things/1", now)
	if res.StatusCode != 429 || !strings.HasSuffix(m["type"].(string), "/rate-limited") || res.Header.Get("Retry-After") == "" {
		t.Fatalf("11th call: %d %v %v", res.StatusCode, m, res.Header)
	}
}

// A day quota admits exactly its size; non-billable operations pass without
// spending it.
func TestGatewayDayQuota(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	srv := newTestGateway(t, demoConfig(Limits{DayQuota: 3}, SubActive, now), now)
	for i := 0; i < 3; i++ {
		if res, _ := signedGet(t, srv.URL+"/acme/echo/v1/things/1", now); res.StatusCode != 200 {
			t.Fatalf("call %d: %d", i+1, res.StatusCode)
		}
	}
	if res, _ := signedGet(t, srv.URL+"/acme/echo/v1/ping", now); res.StatusCode != 200 {
		t.Fatalf("non-billable call after the quota: %d", res.StatusCode)
	}
	res, m := signedGet(t, srv.URL+"/acme/echo/v1/things/1", now)
	if res.StatusCode != 429 || !strings.HasSuffix(m["type"].(string), "/quota-exceeded") {
		t.Fatalf("4th billable call: %d %v", res.StatusCode, m)
	}
	if ra := res.Header.Get("Retry-After"); ra != "43200" {
		t.Fatalf("Retry-After = %q, want the seconds to UTC midnight", ra)
	}
}

func TestGatewaySubscriptionStates(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for status, want := range map[SubscriptionStatus]string{SubPendingApproval: "subscription-pending", SubPendingPayment: "subscription-pending", SubSuspended: "subscription-suspended"} {
		t.Run(string(status), func(t *testing.T) {
			srv := newTestGateway(t, demoConfig(Limits{}, status, now), now)
			res, m := signedGet(t, srv.URL+"/acme/echo/v1/things/1", now)
			if res.StatusCode != 403 || !strings.HasSuffix(m["type"].(string), "/"+want) {
				t.Fatalf("%d %v", res.StatusCode, m)
			}
		})
	}
}

// TestGatewayMetrics: answered and refused calls show up in the Prometheus
// series with their provider, API, status and rejection reason.
func TestGatewayMetrics(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	snap, err := Compile(demoConfig(Limits{DayQuota: 1}, SubActive, now))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	h, err := NewHandler(NewStore(snap), Options{Region: "local", Now: func() time.Time { return now }, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	srv := serveGateway(t, h)
	defer srv.Close()
	signedGet(t, srv.URL+"/acme/echo/v1/things/1", now) // 200
	signedGet(t, srv.URL+"/acme/echo/v1/things/1", now) // 429 quota
	http.Get(srv.URL + "/acme/echo/v1/things/1")        // 401 unsigned
	http.Get(srv.URL + "/nobody/here/v1/x")             // 404
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := rec.Body.String()
	for _, want := range []string{
		`portico_gateway_requests_total{api="echo",provider="acme",status="200"} 1`,
		`portico_gateway_requests_total{api="echo",provider="acme",status="429"} 1`,
		`portico_gateway_requests_total{api="-",provider="-",status="404"} 1`,
		`portico_gateway_rejections_total{reason="quota-exceeded"} 1`,
		`portico_gateway_rejections_total{reason="missing-signature"} 1`,
		`portico_gateway_rejections_total{reason="no-route"} 1`,
		`portico_gateway_config_version 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s\n%s", want, out)
		}
	}
}

// TestGatewayIPProtection: a client IP is rate limited before
// authentication, and banned after repeated authentication failures.
func TestGatewayIPProtection(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	snap, err := Compile(demoConfig(Limits{}, SubActive, now))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("rate", func(t *testing.T) {
		h, _ := NewHandler(NewStore(snap), Options{Region: "local", Now: func() time.Time { return now },
			Protection: &Protection{RequestsPerSecond: 1, Burst: 3}})
		srv := serveGateway(t, h)
		defer srv.Close()
		for i := 0; i < 3; i++ {
			if res, _ := signedGet(t, srv.URL+"/acme/echo/v1/things/1", now); res.StatusCode != 200 {
				t.Fatalf("call %d: %d", i+1, res.StatusCode)
			}
		}
		res, m := signedGet(t, srv.URL+"/acme/echo/v1/things/1", now)
		if res.StatusCode != 429 || !strings.HasSuffix(m["type"].(string), "/ip-rate-limited") {
			t.Fatalf("4th call: %d %v", res.StatusCode, m)
		}
	})
	t.Run("ban", func(t *testing.T) {
		h, _ := NewHandler(NewStore(snap), Options{Region: "local", Now: func() time.Time { return now },
			Protection: &Protection{BanAfter: 3, BanWindow: time.Minute, BanFor: time.Minute}})
		srv := serveGateway(t, h)
		defer srv.Close()
		for i := 0; i < 3; i++ {
			req, _ := http.NewRequest("GET", srv.URL+"/acme/echo/v1/things/1", nil)
			(&sigv4.Signer{Region: "local"}).Sign(req, "PKTESTTESTTESTTEST01", strings.Repeat("w", 40), "", now)
			res, _ := http.DefaultClient.Do(req)
			res.Body.Close()
			if res.StatusCode != 403 {
				t.Fatalf("bad signature %d: %d", i+1, res.StatusCode)
			}
		}
		res, m := signedGet(t, srv.URL+"/acme/echo/v1/things/1", now)
		if res.StatusCode != 403 || !strings.HasSuffix(m["type"].(string), "/ip-banned") || res.Header.Get("Retry-After") == "" {
			t.Fatalf("after 3 failures even a good call is banned: %d %v", res.StatusCode, m)
		}
	})
}

// TestGatewayAccessLog: one JSON line per request with who was called and
// the outcome, and never the credentials or the query string.
func TestGatewayAccessLog(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	snap, _ := Compile(demoConfig(Limits{}, SubActive, now))
	var buf strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return buf.Write(p) }), nil))
	h, _ := NewHandler(NewStore(snap), Options{Region: "local", Now: func() time.Time { return now }, Logger: log})
	srv := serveGateway(t, h)
	defer srv.Close()
	signedGet(t, srv.URL+"/acme/echo/v1/things/1?secret=shh", now)
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &line); err != nil {
		t.Fatalf("not one JSON line: %v\n%s", err, out)
	}
	if line["provider"] != "acme" || line["api"] != "echo" || line["status"] != float64(200) || line["request_id"] == "" {
		t.Fatalf("access log = %v", line)
	}
	if strings.Contains(out, "shh") || strings.Contains(out, "AWS4-HMAC") || strings.Contains(out, "secretsecret") {
		t.Fatalf("access log leaks: %s", out)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestGatewayOAuth2ClientCredentials: an app exchanges its AK/SK for a JWT
// (EdDSA, kid) verifiable with the published JWKS, and calls with it; a
// wrong secret gets invalid_client and a forged token is refused.
func TestGatewayOAuth2ClientCredentials(t *testing.T) {
	now := time.Now()
	snap, _ := Compile(demoConfig(Limits{}, SubActive, now))
	h, err := NewHandler(NewStore(snap), Options{Region: "local"})
	if err != nil {
		t.Fatal(err)
	}
	srv := serveGateway(t, h)
	defer srv.Close()
	token := func(sk string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest("POST", srv.URL+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("PKTESTTESTTESTTEST01", sk)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m)
		return res, m
	}
	if res, m := token("wrong"); res.StatusCode != 401 || m["error"] != "invalid_client" {
		t.Fatalf("wrong secret: %d %v", res.StatusCode, m)
	}
	res, m := token("secretsecretsecretsecretsecretsecret1234")
	if res.StatusCode != 200 || m["token_type"] != "Bearer" || m["access_token"] == nil {
		t.Fatalf("token: %d %v", res.StatusCode, m)
	}
	tok := m["access_token"].(string)
	jres, err := http.Get(srv.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var jwks struct{ Keys []map[string]string }
	json.NewDecoder(jres.Body).Decode(&jwks)
	jres.Body.Close()
	if len(jwks.Keys) != 1 || jwks.Keys[0]["kty"] != "OKP" || jwks.Keys[0]["kid"] == "" {
		t.Fatalf("jwks = %+v", jwks)
	}
	call := func(bearer string) int {
		req, _ := http.NewRequest("GET", srv.URL+"/acme/echo/v1/things/1", nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if st := call(tok); st != 200 {
		t.Fatalf("call with the token: %d", st)
	}
	if st := call(tok[:len(tok)-4] + "AAAA"); st != 401 {
		t.Fatalf("forged token: %d", st)
	}
}

// A public version answers unsigned calls, forwards them signed without a
// consumer and meters nothing; its neighbour still demands a signature.
func TestGatewayPublicVersion(t *testing.T) {
	now := time.Now()
	var got http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.Write([]byte("hello"))
	}))
	defer up.Close()
	cfg := demoConfig(Limits{}, SubActive, now)
	pub := cfg.APIs[0]
	pub.APIID, pub.APISlug, pub.VersionID, pub.Mock = "a2", "open", "v2id", false
	pub.Settings.Public = true
	pub.Upstream = Upstream{Targets: []Target{{URL: up.URL, Weight: 1}}}
	pub.BackendKeys = []BackendKey{{ID: "bk1", Secret: []byte("backend-secret-backend-secret-32")}}
	cfg.APIs = append(cfg.APIs, pub)
	snap, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var meter countingMeter
	h, err := NewHandler(NewStore(snap), Options{Region: "local", Meter: &meter, AllowPrivateUpstreams: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := serveGateway(t, h)
	defer srv.Close()
	res, err := http.Get(srv.URL + "/acme/open/v1/things/7")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(got.Get("X-Portico-Signature"), "keyId=bk1, v1=") || got.Get("X-Portico-App") != "" {
		t.Fatalf("public call: %d, upstream saw %v", res.StatusCode, got)
	}
	if n := meter.n.Load(); n != 0 {
		t.Fatalf("public call metered %d times", n)
	}
	res, err = http.Get(srv.URL + "/acme/echo/v1/things/7")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized && res.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned call to a private version: %d", res.StatusCode)
	}
}

type countingMeter struct{ n atomic.Int64 }

func (m *countingMeter) Record(UsageEvent) { m.n.Add(1) }

// Global and per-version IP lists refuse before authentication; a bad CIDR
// is a compile error naming the version.
func TestGatewayIPLists(t *testing.T) {
	now := time.Now()
	cfg := demoConfig(Limits{}, SubActive, now)
	cfg.APIs[0].Settings.IPAllow = []string{"203.0.113.0/24"}
	snap, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	global, err := ParseIPList(nil, []string{"198.51.100.66"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(NewStore(snap), Options{Region: "local", Protection: &Protection{IPs: global}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ip     string
		status int
		detail string
	}{
		{"198.51.100.66", 403, "this gateway"},
		{"192.0.2.10", 403, "acme/echo"},
		{"203.0.113.10", 200, ""},
	} {
		req := httptest.NewRequest("GET", "http://gw/acme/echo/v1/things/1", nil)
		(&sigv4.Signer{Region: "local"}).Sign(req, "PKTESTTESTTESTTEST01", "secretsecretsecretsecretsecretsecret1234", "", now)
		req.RemoteAddr = c.ip + ":4000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.status || c.status == 403 && (!strings.Contains(rec.Body.String(), "ip-denied") || !strings.Contains(rec.Body.String(), c.detail)) {
			t.Errorf("%s: %d %s", c.ip, rec.Code, rec.Body)
		}
	}
	cfg = demoConfig(Limits{}, SubActive, now)
	cfg.APIs[0].Settings.IPDeny = []string{"not-an-ip"}
	if _, err := Compile(cfg); err == nil || !strings.Contains(err.Error(), "acme/echo/v1") || !strings.Contains(err.Error(), "not-an-ip") {
		t.Fatalf("compile with a bad deny entry: %v", err)
	}
}

// An app with several live subscriptions to one API calls on the active
// one, whatever their order; without one the first says why it cannot.
func TestSnapshotPrefersTheActiveSubscription(t *testing.T) {
	now := time.Now()
	cfg := demoConfig(Limits{}, SubPendingApproval, now)
	second := cfg.Subscriptions[0]
	second.ID, second.Status = "s2", SubActive
	third := second
	third.ID, third.Status = "s3", SubSuspended
	cfg.Subscriptions = append(cfg.Subscriptions, second, third)
	snap, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sub, ok := snap.Subscription("app1", "a1"); !ok || sub.ID != "s2" {
		t.Fatalf("got %+v, want the active s2", sub)
	}
	cfg = demoConfig(Limits{}, SubPendingApproval, now)
	snap, _ = Compile(cfg)
	if sub, ok := snap.Subscription("app1", "a1"); !ok || sub.ID != "s1" {
		t.Fatalf("got %+v, want the pending s1", sub)
	}
	if _, ok := snap.Subscription("app1", "nope"); ok {
		t.Fatal("a subscription to an API the app never subscribed to")
	}
}

// field looks names up as they are written: they must be canonical.
func TestHeaderNamesCanonical(t *testing.T) {
	for _, name := range []string{AppCodeHeader, StageHeader, RequestIDHeader, "Authorization"} {
		if c := textproto.CanonicalMIMEHeaderKey(name); c != name {
			t.Errorf("%q is not canonical (%q)", name, c)
		}
	}
	if got := field(http.Header{"X-A": {"1", "2"}}, "X-A"); got != "1" {
		t.Errorf("field = %q", got)
	}
}
