package portal_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestAPIPlansAndMarket: a provider prices a published API and it shows up
// in the public market with its plans; plan changes never touch what
// existing subscribers signed up for.
func TestAPIPlansAndMarket(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		tok, _ := e.signUp("Paula", "paula@example.com", "acme")
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis", tok, map[string]any{
			"slug": "weather", "name": "Weather", "summary": "Forecasts", "category": "weather", "tags": []string{"forecast"}, "visibility": "public",
		}), http.StatusCreated)
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/versions", tok, map[string]any{
			"version": "v1", "mock": true, "operations": []any{map[string]any{"method": "GET", "path": "/forecast", "summary": "Forecast"}},
		}), http.StatusCreated)

		// Not in the market before it is live in production.
		r := e.call("GET", "/api/v1/market/apis?q=weather", "", nil)
		expectStatus(t, r, http.StatusOK)
		if n := len(r.json(t)["items"].([]any)); n != 0 {
			t.Fatalf("draft API listed: %s", r.Body)
		}
		expectStatus(t, e.call("GET", "/api/v1/market/apis/acme/weather", "", nil), http.StatusNotFound)

		// Plans: validation, create, publish, immutability.
		r = e.call("POST", "/api/v1/orgs/acme/apis/weather/plans", tok, map[string]any{
			"slug": "free", "name": "Free", "price_cents": -1, "currency": "usd", "versions": []string{"v9"},
		})
		expectStatus(t, r, http.StatusUnprocessableEntity)
		for _, f := range []string{"price_cents", "versions"} {
			if !strings.Contains(string(r.Body), `"field":"`+f+`"`) {
				t.Errorf("plan problem lacks %s: %s", f, r.Body)
			}
		}
		free := map[string]any{"slug": "free", "name": "Free", "price_cents": 0, "currency": "usd", "included_calls": 1000,
			"rate_limit": map[string]any{"requests_per_second": 5, "burst": 10}, "quota": map[string]any{"day": 1000},
			"approval": "auto", "versions": []string{"v1"}}
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/plans", tok, free), http.StatusCreated)
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/plans", tok, free), http.StatusConflict)
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/nope/plans", tok, free), http.StatusNotFound)
		r = e.call("POST", "/api/v1/orgs/acme/apis/weather/plans/free/publish", tok, nil)
		expectStatus(t, r, http.StatusOK)
		rev1 := r.json(t)["id"].(string)
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/plans/free/publish", tok, nil), http.StatusConflict)
		r = e.call("PATCH", "/api/v1/orgs/acme/apis/weather/plans/free", tok, map[string]any{"included_calls": 2000})
		expectStatus(t, r, http.StatusOK)
		if p := r.json(t); p["revision"] != float64(2) || p["state"] != "draft" {
			t.Fatalf("changing a published plan should make revision 2 as a draft: %s", r.Body)
		}
		r = e.call("GET", "/api/v1/orgs/acme/apis/weather/plans/free/revisions", tok, nil)
		expectStatus(t, r, http.StatusOK)
		items := r.json(t)["items"].([]any)
		if len(items) != 2 || items[1].(map[string]any)["id"] != rev1 || items[1].(map[string]any)["included_calls"] != float64(1000) {
			t.Fatalf("revision 1 changed: %s", r.Body)
		}

		// Publish the API: now it is in the market with the published plan.
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/versions/v1/deployments", tok, map[string]any{"environment": "production"}), http.StatusCreated)
		r = e.call("GET", "/api/v1/market/apis?q=FORE", "", nil)
		expectStatus(t, r, http.StatusOK)
		items = r.json(t)["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["org"].(map[string]any)["slug"] != "acme" {
			t.Fatalf("market search: %s", r.Body)
		}
		r = e.call("GET", "/api/v1/market/apis/acme/weather", "", nil)
		expectStatus(t, r, http.StatusOK)
		d := r.json(t)
		plans := d["plans"].([]any)
		if len(plans) != 1 || plans[0].(map[string]any)["included_calls"] != float64(1000) {
			t.Fatalf("market plans (draft revision 2 must not show): %v", plans)
		}
		if ops := d["versions"].([]any)[0].(map[string]any)["operations"].([]any); len(ops) != 1 {
			t.Fatalf("market operations: %v", ops)
		}
		r = e.call("GET", "/api/v1/market/categories", "", nil)
		expectStatus(t, r, http.StatusOK)
		if !strings.Contains(string(r.Body), `"name":"weather","count":1`) {
			t.Fatalf("categories: %s", r.Body)
		}
		expectStatus(t, e.call("GET", "/api/v1/market/apis?sort=cheapest", "", nil), http.StatusUnprocessableEntity)

		// A developer (not billing) cannot price plans.
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/invitations", tok, map[string]any{"email": "dev@example.com", "role": "developer"}), http.StatusCreated)
		dt, _ := e.signUp("Dev", "dev@example.com", "devs")
		expectStatus(t, e.call("POST", "/api/v1/invitations/accept", dt, map[string]any{"token": e.emailLink("dev@example.com", "/invitations/")}), http.StatusCreated)
		expectStatus(t, e.call("GET", "/api/v1/orgs/acme/apis/weather/plans", dt, nil), http.StatusOK)
		expectStatus(t, e.call("PATCH", "/api/v1/orgs/acme/apis/weather/plans/free", dt, map[string]any{"price_cents": 1}), http.StatusForbidden)
	})
}
