package portal_test

import (
	"net/http"
	"strings"
	"testing"
)

// provideWeather sets up a provider "acme" with a public, published API
// "weather" v1 and plans free (auto), gold (manual approval) and pro (paid).
func provideWeather(t *testing.T, e *env) string {
	t.Helper()
	tok, _ := e.signUp("Paula", "paula@example.com", "acme")
	expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis", tok, map[string]any{"slug": "weather", "name": "Weather", "visibility": "public"}), http.StatusCreated)
	expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/versions", tok, map[string]any{
		"version": "v1", "mock": true, "operations": []any{map[string]any{"method": "GET", "path": "/forecast"}},
	}), http.StatusCreated)
	expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/versions/v1/deployments", tok, map[string]any{"environment": "production"}), http.StatusCreated)
	for _, p := range []map[string]any{
		{"slug": "free", "name": "Free", "currency": "usd", "included_calls": 1000, "versions": []string{"v1"}},
		{"slug": "gold", "name": "Gold", "currency": "usd", "included_calls": 5000, "versions": []string{"v1"}, "approval": "manual"},
		{"slug": "pro", "name": "Pro", "price_cents": 4900, "currency": "usd", "included_calls": 100000, "versions": []string{"v1"}},
	} {
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/plans", tok, p), http.StatusCreated)
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/plans/"+p["slug"].(string)+"/publish", tok, nil), http.StatusOK)
	}
	return tok
}

func TestAPISubscriptions(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		prov := provideWeather(t, e)
		part, _ := e.signUp("Pat", "pat@example.com", "partner")
		app := e.call("POST", "/api/v1/orgs/partner/apps", part, map[string]any{"name": "Widget"}).json(t)["id"].(string)

		// Bad input.
		expectStatus(t, e.call("POST", "/api/v1/orgs/partner/subscriptions", part, map[string]any{"app": app, "api": "weather", "version": "v1", "plan": "free"}), http.StatusUnprocessableEntity)
		expectStatus(t, e.call("POST", "/api/v1/orgs/partner/subscriptions", part, map[string]any{"app": app, "api": "acme/nope", "version": "v1", "plan": "free"}), http.StatusNotFound)
		expectStatus(t, e.call("POST", "/api/v1/orgs/partner/subscriptions", part, map[string]any{"app": "nope", "api": "acme/weather", "version": "v1", "plan": "free"}), http.StatusNotFound)

		// Free, auto-approved: active at once.
		r := e.call("POST", "/api/v1/orgs/partner/subscriptions", part, map[string]any{"app": app, "api": "acme/weather", "version": "v1", "plan": "free"})
		expectStatus(t, r, http.StatusCreated)
		sub := r.json(t)
		if sub["status"] != "active" {
			t.Fatalf("free subscription = %s", r.Body)
		}
		id := sub["id"].(string)
		r = e.call("POST", "/api/v1/orgs/partner/subscriptions", part, map[string]any{"app": app, "api": "acme/weather", "version": "v1", "plan": "gold"})
		expectStatus(t, r, http.StatusConflict)
		if !strings.Contains(string(r.Body), id) {
			t.Fatalf("conflict does not name the existing subscription: %s", r.Body)
		}

		// Paid upgrade from free is refused until checkout exists.
		expectStatus(t, e.call("PATCH", "/api/v1/orgs/partner/subscriptions/"+id, part, map[string]any{"plan": "pro"}), http.StatusConflict)
		// Cancel a free plan: immediate.
		r = e.call("DELETE", "/api/v1/orgs/partner/subscriptions/"+id, part, nil)
		expectStatus(t, r, http.StatusOK)
		if r.json(t)["status"] != "cancelled" {
			t.Fatalf("cancel = %s", r.Body)
		}

		// Manual approval: pending, in the provider's queue, approve once.
		r = e.call("POST", "/api/v1/orgs/partner/subscriptions", part, map[string]any{"app": app, "api": "acme/weather", "version": "v1", "plan": "gold", "message": "We are a school"})
		expectStatus(t, r, http.StatusCreated)
		gold := r.json(t)
		if gold["status"] != "pending_approval" {
			t.Fatalf("gold = %s", r.Body)
		}
		gid := gold["id"].(string)
		r = e.call("GET", "/api/v1/orgs/acme/approvals", prov, nil)
		expectStatus(t, r, http.StatusOK)
		if !strings.Contains(string(r.Body), "We are a school") || strings.Contains(string(r.Body), "secret") {
			t.Fatalf("queue = %s", r.Body)
		}
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/subscriptions/"+gid+"/reject", prov, map[string]any{}), http.StatusUnprocessableEntity)
		r = e.call("POST", "/api/v1/orgs/acme/apis/weather/subscriptions/"+gid+"/approve", prov, nil)
		expectStatus(t, r, http.StatusOK)
		if r.json(t)["status"] != "active" {
			t.Fatalf("approve = %s", r.Body)
		}
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/subscriptions/"+gid+"/approve", prov, nil), http.StatusConflict)
		// The partner is emailed about the decision.
		var n int64
		e.db.Table("outbox_emails").Where("to_addr = ? AND subject LIKE ?", "pat@example.com", "%pprov%").Count(&n)
		if n == 0 {
			t.Error("partner not emailed about the approval")
		}

		// Suspend and resume, with history.
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/subscriptions/"+gid+"/suspend", prov, map[string]any{"reason": "abuse report"}), http.StatusOK)
		r = e.call("GET", "/api/v1/orgs/partner/subscriptions/"+gid, part, nil)
		if r.json(t)["status"] != "suspended" || r.json(t)["reason"] != "abuse report" {
			t.Fatalf("partner view = %s", r.Body)
		}
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/subscriptions/"+gid+"/resume", prov, nil), http.StatusOK)
		r = e.call("GET", "/api/v1/orgs/partner/subscriptions/"+gid+"/history", part, nil)
		expectStatus(t, r, http.StatusOK)
		if n := len(r.json(t)["items"].([]any)); n < 4 {
			t.Fatalf("history has %d events: %s", n, r.Body)
		}
		// Subscribers list for the provider; 404 for the partner's view of it.
		r = e.call("GET", "/api/v1/orgs/acme/apis/weather/subscriptions?status=active", prov, nil)
		expectStatus(t, r, http.StatusOK)
		if !strings.Contains(string(r.Body), "Widget") {
			t.Fatalf("subscribers = %s", r.Body)
		}
		expectStatus(t, e.call("GET", "/api/v1/orgs/acme/apis/weather/subscriptions", part, nil), http.StatusNotFound)

		// Deprecated versions refuse new subscriptions; offline ends them.
		app2 := e.call("POST", "/api/v1/orgs/partner/apps", part, map[string]any{"name": "Second"}).json(t)["id"].(string)
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/versions/v1/deprecate", prov, map[string]any{"sunset_at": "2099-01-01"}), http.StatusOK)
		expectStatus(t, e.call("POST", "/api/v1/orgs/partner/subscriptions", part, map[string]any{"app": app2, "api": "acme/weather", "version": "v1", "plan": "free"}), http.StatusConflict)
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/versions/v1/offline", prov, nil), http.StatusOK)
		r = e.call("GET", "/api/v1/orgs/partner/subscriptions/"+gid, part, nil)
		if r.json(t)["status"] != "ended" {
			t.Fatalf("subscription after offline = %s", r.Body)
		}
	})
}

// TestPlanRevisionKeepsSubscriberTerms: republishing a plan with new terms
// leaves existing subscribers on the revision they signed up for, while new
// subscribers get the new one.
func TestPlanRevisionKeepsSubscriberTerms(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		prov := provideWeather(t, e)
		part, _ := e.signUp("Pat", "pat@example.com", "partner")
		app1 := e.call("POST", "/api/v1/orgs/partner/apps", part, map[string]any{"name": "One"}).json(t)["id"].(string)
		app2 := e.call("POST", "/api/v1/orgs/partner/apps", part, map[string]any{"name": "Two"}).json(t)["id"].(string)
		r := e.call("POST", "/api/v1/orgs/partner/subscriptions", part, map[string]any{"app": app1, "api": "acme/weather", "version": "v1", "plan": "free"})
		expectStatus(t, r, http.StatusCreated)
		old := r.json(t)
		expectStatus(t, e.call("PATCH", "/api/v1/orgs/acme/apis/weather/plans/free", prov, map[string]any{"included_calls": 500}), http.StatusOK)
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/plans/free/publish", prov, nil), http.StatusOK)

		r = e.call("GET", "/api/v1/orgs/partner/subscriptions/"+old["id"].(string), part, nil)
		expectStatus(t, r, http.StatusOK)
		cur := r.json(t)
		if cur["plan_id"] != old["plan_id"] || cur["plan"].(map[string]any)["included_calls"] != float64(1000) {
			t.Fatalf("existing subscriber's terms changed: %s", r.Body)
		}
		r = e.call("POST", "/api/v1/orgs/partner/subscriptions", part, map[string]any{"app": app2, "api": "acme/weather", "version": "v1", "plan": "free"})
		expectStatus(t, r, http.StatusCreated)
		if p := r.json(t)["plan"].(map[string]any); p["revision"] != float64(2) || p["included_calls"] != float64(500) {
			t.Fatalf("new subscriber not on revision 2: %v", p)
		}
	})
}
