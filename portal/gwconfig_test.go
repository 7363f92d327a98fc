package portal_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/portico-dev/portico/portal/gwconfig"
)

// TestGatewayConfigFromDatabase compiles the gateway's configuration from
// what the provider published and the partner subscribed: the route, the
// partner's key with its secret and the subscription's limits are there.
func TestGatewayConfigFromDatabase(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		provideWeather(t, e)
		part, _ := e.signUp("Pat", "pat@example.com", "partner")
		app := e.call("POST", "/api/v1/orgs/partner/apps", part, map[string]any{"name": "Widget"}).json(t)["id"].(string)
		r := e.call("POST", "/api/v1/orgs/partner/apps/"+app+"/keys", part, nil)
		expectStatus(t, r, http.StatusCreated)
		ak, sk := r.json(t)["access_key"].(string), r.json(t)["secret_key"].(string)
		expectStatus(t, e.call("POST", "/api/v1/orgs/partner/subscriptions", part, map[string]any{"app": app, "api": "acme/weather", "version": "v1", "plan": "free"}), http.StatusCreated)

		cfg, snap, err := gwconfig.Build(context.Background(), gwconfig.Sources{Catalog: e.cat, Plans: e.plans, Tenants: e.svc}, 7)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Version != 7 || len(cfg.APIs) != 1 || len(cfg.APIs[0].BackendKeys) != 1 || len(cfg.APIs[0].BackendKeys[0].Secret) == 0 {
			t.Fatalf("config APIs = %+v", cfg.APIs)
		}
		m, err := snap.Router().Lookup("", "/acme/weather/v1/forecast", "GET", "production")
		if err != nil || m.API.APISlug != "weather" {
			t.Fatalf("route: %v %+v", err, m)
		}
		k, ok := snap.Key(ak)
		if !ok || string(k.Secret) != sk || k.AppID != app {
			t.Fatalf("key = %v", k)
		}
		sub, ok := snap.Subscription(app, m.API.APIID)
		if !ok || sub.Status != "active" || !sub.Grants("v1") || !sub.Limits.HardLimit || sub.Limits.IncludedCalls != 1000 {
			t.Fatalf("subscription = %+v", sub)
		}
		if _, err := snap.Router().Lookup("", "/acme/weather/v9/forecast", "GET", "production"); err == nil {
			t.Fatal("unknown version routed")
		}
	})
}
