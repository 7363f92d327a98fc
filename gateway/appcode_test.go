package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testAppCode   = "pac_kioskkioskkioskkioskkioskkioskkioskkiosk0"
	testAppPrefix = "pac_kioskkio"
)

func appCodeHash(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

// recordingMeter keeps every usage event.
type recordingMeter struct {
	mu     sync.Mutex
	events []UsageEvent
}

func (m *recordingMeter) Record(e UsageEvent) {
	m.mu.Lock()
	m.events = append(m.events, e)
	m.mu.Unlock()
}

// appCodeConfig is demoConfig plus a forwarded version "kiosk" that allows
// app codes, app1's subscription to it, and app1's code.
func appCodeConfig(upstream string, now time.Time) *Config {
	cfg := demoConfig(Limits{DayQuota: 2}, SubActive, now)
	v := cfg.APIs[0]
	v.APIID, v.APISlug, v.VersionID, v.Mock = "a2", "kiosk", "v2id", false
	v.Settings.AllowAppCode = true
	v.Operations = append([]Operation{{ID: "post", Method: "POST", Path: "/things/{id}", Billable: true}}, v.Operations...)
	v.Upstream = Upstream{Targets: []Target{{URL: upstream, Weight: 1}}}
	v.BackendKeys = []BackendKey{{ID: "bk1", Secret: []byte("backend-secret-backend-secret-32")}}
	cfg.APIs = append(cfg.APIs, v)
	sub := cfg.Subscriptions[0]
	sub.ID, sub.APIID = "s2", "a2"
	cfg.Subscriptions = append(cfg.Subscriptions, sub)
	cfg.AppCodes = map[string]AppCode{appCodeHash(testAppCode): {Prefix: testAppPrefix, AppID: "app1", OrgID: "p1"}}
	return cfg
}

func TestGatewayAppCode(t *testing.T) {
	now := time.Now()
	var got http.Header
	var gotBody string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		b := make([]byte, 64)
		n, _ := r.Body.Read(b)
		gotBody = string(b[:n])
		w.Write([]byte("hello"))
	}))
	defer up.Close()
	snap, err := Compile(appCodeConfig(up.URL, now))
	if err != nil {
		t.Fatal(err)
	}
	store := NewStore(snap)
	meter := &recordingMeter{}
	h, err := NewHandler(store, Options{Region: "local", Meter: meter, AllowPrivateUpstreams: true,
		Protection: &Protection{BanAfter: 3, BanWindow: time.Hour, BanFor: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	srv := serveGateway(t, h)
	defer srv.Close()
	call := func(t *testing.T, method, path, code string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader("ping"))
		if code != "" {
			req.Header.Set(AppCodeHeader, code)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m)
		typ, _ := m["type"].(string)
		return res.StatusCode, typ
	}

	t.Run("allowed", func(t *testing.T) {
		st, typ := call(t, "POST", "/acme/kiosk/v1/things/7", testAppCode)
		if st != 200 {
			t.Fatalf("call with the code: %d %s", st, typ)
		}
		if got.Get(AppCodeHeader) != "" || got.Get("X-Portico-App") != "app1" || got.Get("X-Portico-Consumer") != "p1" ||
			!strings.HasPrefix(got.Get("X-Portico-Signature"), "keyId=bk1, v1=") || gotBody != "ping" {
			t.Fatalf("upstream saw %v body %q", got, gotBody)
		}
		meter.mu.Lock()
		defer meter.mu.Unlock()
		if len(meter.events) != 1 || meter.events[0].AccessKey != testAppPrefix || meter.events[0].AppID != "app1" || meter.events[0].SubscriptionID != "s2" {
			t.Fatalf("usage events: %+v", meter.events)
		}
	})
	t.Run("limits apply", func(t *testing.T) {
		// The plan's day quota is 2: the call above and this one.
		if st, typ := call(t, "GET", "/acme/kiosk/v1/things/7", testAppCode); st != 200 {
			t.Fatalf("second call: %d %s", st, typ)
		}
		if st, typ := call(t, "GET", "/acme/kiosk/v1/things/7", testAppCode); st != 429 || !strings.HasSuffix(typ, "/quota-exceeded") {
			t.Fatalf("third call: %d %s", st, typ)
		}
		// The admitted calls' events carry the subscription's meter slot
		// in the snapshot that served them.
		sub, _ := snap.Subscription("app1", "a2")
		meter.mu.Lock()
		defer meter.mu.Unlock()
		if len(meter.events) != 2 || sub.meterSlot() == nil || meter.events[0].Slot != sub.meterSlot() || meter.events[1].Slot != sub.meterSlot() {
			t.Fatalf("usage events' slots: %+v, want %p", meter.events, sub.meterSlot())
		}
	})
	t.Run("not allowed", func(t *testing.T) {
		for _, code := range []string{testAppCode, "pac_whatever"} {
			if st, typ := call(t, "GET", "/acme/echo/v1/things/1", code); st != 401 || !strings.HasSuffix(typ, "/app-code-not-allowed") {
				t.Fatalf("code on a version without app codes: %d %s", st, typ)
			}
		}
	})
	t.Run("unknown", func(t *testing.T) {
		if st, typ := call(t, "GET", "/acme/kiosk/v1/things/7", "pac_nosuchcode"); st != 401 || !strings.HasSuffix(typ, "/invalid-app-code") {
			t.Fatalf("unknown code: %d %s", st, typ)
		}
	})
	t.Run("revoked", func(t *testing.T) {
		cfg := appCodeConfig(up.URL, now)
		cfg.Version = 2
		cfg.AppCodes = nil
		snap, err := Compile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		store.Swap(snap)
		if st, typ := call(t, "GET", "/acme/kiosk/v1/ping", testAppCode); st != 401 || !strings.HasSuffix(typ, "/invalid-app-code") {
			t.Fatalf("revoked code: %d %s", st, typ)
		}
	})
	t.Run("failures ban the address", func(t *testing.T) {
		// Two failures above; the third bans.
		call(t, "GET", "/acme/kiosk/v1/ping", "pac_guess")
		if st, typ := call(t, "GET", "/acme/kiosk/v1/ping", testAppCode); st != 403 || !strings.HasSuffix(typ, "/ip-banned") {
			t.Fatalf("after three bad codes: %d %s", st, typ)
		}
	})
}

// A code is limited to its app's environment and needs a subscription like
// a key does.
func TestGatewayAppCodeStageAndSubscription(t *testing.T) {
	now := time.Now()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	cfg := appCodeConfig(up.URL, now)
	cfg.AppCodes[appCodeHash("pac_testapp")] = AppCode{Prefix: "pac_testapp", AppID: "app1", OrgID: "p1", Stage: StageTest}
	cfg.AppCodes[appCodeHash("pac_nosubs")] = AppCode{Prefix: "pac_nosubs", AppID: "app2", OrgID: "p1"}
	srv := newTestGateway(t, cfg, now)
	for code, want := range map[string]string{"pac_testapp": "wrong-stage", "pac_nosubs": "no-subscription"} {
		req, _ := http.NewRequest("GET", srv.URL+"/acme/kiosk/v1/ping", nil)
		req.Header.Set(AppCodeHeader, code)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m)
		res.Body.Close()
		if res.StatusCode != 403 || !strings.HasSuffix(m["type"].(string), "/"+want) {
			t.Fatalf("%s: %d %v", code, res.StatusCode, m)
		}
	}
}

func TestCompileAppCodes(t *testing.T) {
	now := time.Now()
	for name, tc := range map[string]struct {
		hash string
		code AppCode
		want string
	}{
		"not a hash":    {"abc", AppCode{Prefix: "pac_x", AppID: "app1"}, "not listed under a hex SHA-256"},
		"no app":        {appCodeHash("x"), AppCode{Prefix: "pac_x"}, "no app id"},
		"no prefix":     {appCodeHash("x"), AppCode{AppID: "app1"}, "no prefix"},
		"unknown stage": {appCodeHash("x"), AppCode{Prefix: "pac_x", AppID: "app1", Stage: "staging"}, "unknown stage"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := demoConfig(Limits{}, SubActive, now)
			cfg.AppCodes = map[string]AppCode{tc.hash: tc.code}
			_, err := Compile(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
