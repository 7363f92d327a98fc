package portal_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/portal/gwconfig"
)

// corsKiosk is a provider's API with two versions calling one upstream:
// v1 lists origins (the settings given), v2 none; both take app codes. A
// partner subscribes an app to both and gets an app code. It returns a
// gateway serving the deployed configuration and the code.
func corsKiosk(t *testing.T, e *env, v1Settings map[string]any) (gw *httptest.Server, prov, code string, upstreamCalls *atomic.Int64) {
	t.Helper()
	calls := new(atomic.Int64)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"dish":"soup"}`))
	}))
	t.Cleanup(upstream.Close)
	prov, _ = e.signUp("Paula", "paula@example.com", "acme")
	expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis", prov, map[string]any{"slug": "kiosk", "name": "Kiosk", "visibility": "public"}), http.StatusCreated)
	for _, v := range []struct {
		name     string
		settings map[string]any
	}{{"v1", v1Settings}, {"v2", map[string]any{"allow_app_code": true}}} {
		r := e.call("POST", "/api/v1/orgs/acme/apis/kiosk/versions", prov, map[string]any{
			"version": v.name, "upstream": map[string]any{"targets": []any{map[string]any{"url": upstream.URL}}},
			"settings":   v.settings,
			"operations": []any{map[string]any{"method": "GET", "path": "/menu"}, map[string]any{"method": "POST", "path": "/menu"}},
		})
		expectStatus(t, r, http.StatusCreated)
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/kiosk/versions/"+v.name+"/deployments", prov, map[string]any{"environment": "production"}), http.StatusCreated)
	}
	expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/kiosk/plans", prov, map[string]any{"slug": "free", "name": "Free", "currency": "usd", "included_calls": 1000, "versions": []string{"v1", "v2"}}), http.StatusCreated)
	expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/kiosk/plans/free/publish", prov, nil), http.StatusOK)
	part, _ := e.signUp("Pat", "pat@example.com", "partner")
	app := e.call("POST", "/api/v1/orgs/partner/apps", part, map[string]any{"name": "Web shop"}).json(t)["id"].(string)
	for _, v := range []string{"v1", "v2"} {
		r := e.call("POST", "/api/v1/orgs/partner/subscriptions", part, map[string]any{"app": app, "api": "acme/kiosk", "version": v, "plan": "free"})
		if r.Status != http.StatusCreated && r.Status != http.StatusConflict && r.Status != http.StatusOK {
			t.Fatalf("subscribe to %s: %d %s", v, r.Status, r.Body)
		}
	}
	r := e.call("POST", "/api/v1/orgs/partner/apps/"+app+"/codes", part, map[string]any{"name": "browser"})
	expectStatus(t, r, http.StatusCreated)
	code = r.json(t)["code"].(string)

	store := gateway.NewStore(nil)
	rl := gwconfig.NewReloader(store, nil)
	rl.Sources = gwconfig.Sources{Catalog: e.cat, Plans: e.plans, Tenants: e.svc}
	if err := rl.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	h, err := gateway.NewHandler(store, gateway.Options{Region: "local", AllowPrivateUpstreams: true})
	if err != nil {
		t.Fatal(err)
	}
	gw = httptest.NewServer(h)
	t.Cleanup(gw.Close)
	return gw, prov, code, calls
}

// TestCORSEndToEnd: a provider lists browser origins through the
// management API; they come back normalised, the deployment's changes name
// them, the gateway configuration carries them, and the gateway answers a
// preflight from a listed origin itself and marks the call's answer.
func TestCORSEndToEnd(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		gw, prov, code, calls := corsKiosk(t, e, map[string]any{"allow_app_code": true,
			"cors_origins": []string{"HTTPS://Shop.Example.com:443", "http://localhost:3000"}, "cors_max_age": 120})
		r := e.call("GET", "/api/v1/orgs/acme/apis/kiosk/versions/v1", prov, nil)
		expectStatus(t, r, http.StatusOK)
		s := r.json(t)["settings"].(map[string]any)
		if fmt.Sprint(s["cors_origins"]) != "[https://shop.example.com http://localhost:3000]" || s["cors_max_age"] != float64(120) {
			t.Fatalf("settings = %v", s)
		}
		r = e.call("PATCH", "/api/v1/orgs/acme/apis/kiosk/versions/v1", prov, map[string]any{
			"settings": map[string]any{"allow_app_code": true, "cors_origins": []string{"https://shop.example.com/"}}})
		expectStatus(t, r, http.StatusUnprocessableEntity)
		if !strings.Contains(string(r.Body), `"field":"settings.cors_origins"`) {
			t.Fatalf("bad origin: %s", r.Body)
		}
		r = e.call("PATCH", "/api/v1/orgs/acme/apis/kiosk/versions/v1", prov, map[string]any{
			"settings": map[string]any{"allow_app_code": true, "cors_origins": []string{"https://shop.example.com"}}})
		expectStatus(t, r, http.StatusOK)
		r = e.call("POST", "/api/v1/orgs/acme/apis/kiosk/versions/v1/deployments", prov, map[string]any{"environment": "production"})
		expectStatus(t, r, http.StatusCreated)
		if !strings.Contains(string(r.Body), "CORS origins: [https://shop.example.com http://localhost:3000] → [https://shop.example.com]") ||
			!strings.Contains(string(r.Body), "CORS max age: 120 → 600 s") {
			t.Fatalf("revision changes: %s", r.Body)
		}
		cfg, _, err := gwconfig.Build(context.Background(), gwconfig.Sources{Catalog: e.cat, Plans: e.plans, Tenants: e.svc}, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range cfg.APIs {
			want := "[]"
			if a.Version == "v1" {
				want = "[https://shop.example.com]"
			}
			if got := fmt.Sprint(a.Settings.CORSOrigins); got != want || (a.Version == "v1" && a.Settings.CORSMaxAge != 600) {
				t.Fatalf("%s: gateway settings %+v", a.Version, a.Settings)
			}
		}

		// The gateway started before the last deployment still serves
		// both origins.
		req, _ := http.NewRequest("OPTIONS", gw.URL+"/acme/kiosk/v1/menu", nil)
		req.Header.Set("Origin", "http://localhost:3000")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "x-portico-app-code, content-type")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" ||
			res.Header.Get("Access-Control-Allow-Methods") != "GET, HEAD, POST" || res.Header.Get("Access-Control-Max-Age") != "120" ||
			res.Header.Get("Access-Control-Allow-Headers") != "x-portico-app-code, content-type" || calls.Load() != 0 {
			t.Fatalf("preflight: %d %v, upstream called %d times", res.StatusCode, res.Header, calls.Load())
		}
		req, _ = http.NewRequest("GET", gw.URL+"/acme/kiosk/v1/menu", nil)
		req.Header.Set("Origin", "http://localhost:3000")
		req.Header.Set(gateway.AppCodeHeader, code)
		res, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" || calls.Load() != 1 {
			t.Fatalf("call: %d %v", res.StatusCode, res.Header)
		}
	})
}

// TestBrowserCORS: a web page on one origin calls the gateway, another
// origin, with fetch() and an app code. The version that lists the page's
// origin answers and the page reads the JSON (and, on a bad code, the
// problem and its status); the version that does not is blocked by the
// browser itself.
func TestBrowserCORS(t *testing.T) {
	db := testdb.Open(t, migrations.SQLite)
	e := newEnv(t, db)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html><head><title>Web shop</title></head><body><h1>Web shop</h1>
<script>
function call(url, code) {
  return fetch(url, {headers: {"X-Portico-App-Code": code}}).then(function (r) {
    return r.json().then(function (j) {
      return JSON.stringify({status: r.status, body: j, request_id: r.headers.get("X-Portico-Request-Id") || ""});
    });
  }).catch(function (err) { return "blocked: " + err; });
}
</script></body></html>`)
	}))
	defer page.Close()
	gw, _, code, calls := corsKiosk(t, e, map[string]any{"allow_app_code": true, "cors_origins": []string{page.URL}})
	if !strings.HasPrefix(gw.URL, "http://127.0.0.1:") || gw.URL == page.URL {
		t.Fatalf("page %s and gateway %s must be different origins", page.URL, gw.URL)
	}

	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(page.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`h1`))); err != nil {
		t.Fatal(err)
	}
	fetch := func(version, code string) string {
		t.Helper()
		js := fmt.Sprintf(`call(%q, %q)`, gw.URL+"/acme/kiosk/"+version+"/menu", code)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	if got := fetch("v1", code); !strings.Contains(got, `"status":200`) || !strings.Contains(got, `"body":{"dish":"soup"}`) ||
		strings.Contains(got, `"request_id":""`) {
		t.Fatalf("allowed origin: %s", got)
	}
	// The gateway's own refusal is readable too: the app can say why.
	if got := fetch("v1", "pac_wrong"); !strings.Contains(got, `"status":401`) || !strings.Contains(got, "/invalid-app-code") {
		t.Fatalf("allowed origin, bad code: %s", got)
	}
	before := calls.Load()
	if got := fetch("v2", code); !strings.HasPrefix(got, "blocked: TypeError") {
		t.Fatalf("version without the origin: %s", got)
	}
	if calls.Load() != before {
		t.Fatalf("the blocked call reached the upstream")
	}
}
