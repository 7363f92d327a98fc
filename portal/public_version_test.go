package portal_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/portal/gwconfig"
)

// TestPublicVersion: a provider makes a version public through the API;
// the setting is normalised (no nonce, no app codes), shows in the next
// revision's changes, reaches the gateway configuration, and the gateway
// then answers calls that carry no credentials at all.
func TestPublicVersion(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		prov := provideWeather(t, e)
		r := e.call("PATCH", "/api/v1/orgs/acme/apis/weather/versions/v1", prov, map[string]any{
			"settings": map[string]any{"public": true, "allow_app_code": true, "require_nonce": true}})
		expectStatus(t, r, http.StatusOK)
		s := r.json(t)["settings"].(map[string]any)
		if s["public"] != true || s["allow_app_code"] != false || s["require_nonce"] != false {
			t.Fatalf("settings = %v", s)
		}
		r = e.call("POST", "/api/v1/orgs/acme/apis/weather/versions/v1/deployments", prov, map[string]any{"environment": "production"})
		expectStatus(t, r, http.StatusCreated)
		if ch := r.Body; !strings.Contains(string(ch), "public (no key needed): false → true") {
			t.Fatalf("revision changes lack the public switch: %s", ch)
		}

		// The market says so instead of asking for a plan.
		m := e.call("GET", "/api/v1/market/apis/acme/weather", "", nil)
		expectStatus(t, m, http.StatusOK)
		if v := m.json(t)["versions"].([]any)[0].(map[string]any); v["public"] != true {
			t.Fatalf("market version = %v", v)
		}
		if p := e.browser().get("/market/acme/weather"); p.Status != http.StatusOK || !strings.Contains(p.Body, "Public — no key needed") {
			t.Fatalf("market page: %d", p.Status)
		}

		cfg, snap, err := gwconfig.Build(context.Background(), gwconfig.Sources{Catalog: e.cat, Plans: e.plans, Tenants: e.svc}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.APIs) != 1 || !cfg.APIs[0].Settings.Public {
			t.Fatalf("gateway settings = %+v", cfg.APIs)
		}
		h, err := gateway.NewHandler(gateway.NewStore(snap), gateway.Options{Region: "local"})
		if err != nil {
			t.Fatal(err)
		}
		gw := httptest.NewServer(h)
		defer gw.Close()
		res, err := http.Get(gw.URL + "/acme/weather/v1/forecast")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("keyless call to a public version: %d", res.StatusCode)
		}
	})
}
