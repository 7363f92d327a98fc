package portal_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/gateway/tlstest"
)

// TestTenantIsolation walks every organisation-scoped route of the API and
// the console as a member of another organisation, with the victim's slug
// and ids, and expects 404 everywhere — and, as a control, that the same
// routes do not answer 404 for the victim's own members.
func TestTenantIsolation(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		victim, _ := e.signUp("Victor", "victor@example.com", "victim")
		attacker, _ := e.signUp("Mallory", "mallory@example.com", "attacker")
		victimUser := e.call("GET", "/api/v1/me", victim, nil).json(t)["user"].(map[string]any)["id"].(string)
		inv := e.call("POST", "/api/v1/orgs/victim/invitations", victim, map[string]any{"email": "new@example.com", "role": "viewer"}).json(t)["id"].(string)
		victimToken := e.call("GET", "/api/v1/tokens", victim, nil).json(t)["items"].([]any)[0].(map[string]any)["id"].(string)

		expectStatus(t, e.call("POST", "/api/v1/orgs/victim/apis", victim, map[string]any{"slug": "pets", "name": "Pets", "visibility": "public"}), http.StatusCreated)
		r := e.call("POST", "/api/v1/orgs/victim/apis/pets/versions", victim, map[string]any{
			"version": "v1", "mock": true, "openapi": map[string]any{"openapi": "3.0.3", "info": map[string]any{"title": "Pets", "version": "1"},
				"paths": map[string]any{"/pets/{id}": map[string]any{"get": map[string]any{"operationId": "getPet",
					"parameters": []any{map[string]any{"name": "id", "in": "path", "required": true, "schema": map[string]any{"type": "string"}}},
					"responses":  map[string]any{"200": map[string]any{"description": "ok"}}}}}},
		})
		expectStatus(t, r, http.StatusCreated)
		backendKey := r.json(t)["backend_key"].(map[string]any)["key_id"].(string)
		expectStatus(t, e.call("POST", "/api/v1/orgs/victim/apis/pets/versions/v1/deployments", victim, map[string]any{"environment": "production"}), http.StatusCreated)
		expectStatus(t, e.call("POST", "/api/v1/orgs/victim/apis/pets/plans", victim, map[string]any{
			"slug": "free", "name": "Free", "currency": "usd", "included_calls": 100, "versions": []string{"v1"}}), http.StatusCreated)

		r = e.call("POST", "/api/v1/orgs/victim/apps", victim, map[string]any{"name": "Victim app"})
		expectStatus(t, r, http.StatusCreated)
		victimApp := r.json(t)["id"].(string)
		expectStatus(t, e.call("POST", "/api/v1/orgs/victim/apps/"+victimApp+"/keys", victim, nil), http.StatusCreated)
		r = e.call("POST", "/api/v1/orgs/victim/apps/"+victimApp+"/codes", victim, nil)
		expectStatus(t, r, http.StatusCreated)
		victimCode := r.json(t)["id"].(string)

		expectStatus(t, e.call("POST", "/api/v1/orgs/victim/apis/pets/plans/free/publish", victim, nil), http.StatusOK)
		r = e.call("POST", "/api/v1/orgs/victim/subscriptions", victim, map[string]any{"app": victimApp, "api": "victim/pets", "version": "v1", "plan": "free"})
		expectStatus(t, r, http.StatusCreated)
		victimSub := r.json(t)["id"].(string)
		ca := tlstest.NewCA(t)
		victimPair := ca.Leaf(t, time.Time{}, time.Time{}, "api.victim.test")
		r = e.call("POST", "/api/v1/orgs/victim/domains", victim, domainBody("api.victim.test", victimPair))
		expectStatus(t, r, http.StatusCreated)
		victimDomain := r.json(t)["id"].(string)
		attackerPair := ca.Leaf(t, time.Time{}, time.Time{}, "api.attacker.test")

		fill := func(path, org string) string {
			if strings.Contains(path, "/subscriptions/:id") || strings.Contains(path, "/subscribers/:id") {
				path = strings.Replace(path, ":id", victimSub, 1)
			}
			if strings.Contains(path, "/domains/:id") {
				path = strings.Replace(path, ":id", victimDomain, 1)
			}
			r := strings.NewReplacer(":org", org, ":user", victimUser, ":id", inv, ":api", "pets", ":version", "v1",
				":operation", "getPet", ":env", "production", ":key", backendKey, ":plan", "free", ":rev", "1", ":app", victimApp, ":code", victimCode)
			return r.Replace(path)
		}
		// A valid body for each route, so only the tenant check can refuse.
		bodyFor := func(method, path string) any {
			switch {
			case strings.HasSuffix(path, "/domains"):
				return domainBody("api.attacker.test", attackerPair)
			case strings.Contains(path, "/domains/"):
				return domainBody("", victimPair)
			case method == "PATCH" && strings.HasSuffix(path, ":user"):
				return map[string]any{"role": "viewer"}
			case method == "PATCH" && strings.HasSuffix(path, ":version"):
				return map[string]any{"mock": true}
			case method == "PATCH" && strings.HasSuffix(path, ":operation"):
				return map[string]any{"billable": false}
			case strings.HasSuffix(path, "/deployments"):
				return map[string]any{"environment": "production"}
			case strings.HasSuffix(path, "/rollback"):
				return map[string]any{"revision": 1}
			case strings.HasSuffix(path, "/deprecate"):
				return map[string]any{"sunset_at": "2099-01-01"}
			case strings.HasSuffix(path, "/versions"):
				return map[string]any{"version": "v2", "mock": true}
			case strings.HasSuffix(path, "/offline") || strings.HasSuffix(path, "/backend-keys"):
				return nil
			case strings.HasSuffix(path, "/plans"):
				return map[string]any{"slug": "evil", "name": "Evil", "currency": "usd", "included_calls": 1, "versions": []string{"v1"}}
			case strings.HasSuffix(path, "/publish") || strings.HasSuffix(path, "/close"):
				return nil
			case strings.HasSuffix(path, "/subscriptions"):
				return map[string]any{"app": victimApp, "api": "victim/pets", "version": "v1", "plan": "free"}
			case strings.HasSuffix(path, "/reject") || strings.HasSuffix(path, "/suspend") || strings.HasSuffix(path, "/terminate"):
				return map[string]any{"reason": "evil"}
			case method == "PATCH" && strings.Contains(path, "/subscriptions/"):
				return map[string]any{"plan": "free"}
			case strings.HasSuffix(path, "/approve") || strings.HasSuffix(path, "/resume"):
				return nil
			case strings.HasSuffix(path, "/apps"):
				return map[string]any{"name": "Evil app"}
			case strings.HasSuffix(path, "/keys") || strings.HasSuffix(path, "/codes"):
				return nil
			case strings.HasSuffix(path, "/apis"):
				return map[string]any{"slug": "evil", "name": "Evil"}
			case method == "PATCH":
				return map[string]any{"name": "pwned"}
			case method == "POST":
				return map[string]any{"email": "evil@example.com", "role": "admin"}
			}
			return nil
		}
		attackerWeb := e.browser()
		attackerWeb.submit("/login", "/login", map[string]string{"email": "mallory@example.com", "password": "correct horse battery"})
		csrf := csrfOf(t, attackerWeb.get("/orgs/attacker").Body)
		victimWeb := e.browser()
		victimWeb.submit("/login", "/login", map[string]string{"email": "victor@example.com", "password": "correct horse battery"})

		walked := 0
		for _, rt := range e.portal.Routes {
			if !strings.Contains(rt.Path, ":org") || strings.HasPrefix(rt.Path, "/api/v1/market/") || strings.HasPrefix(rt.Path, "/o/") || strings.HasPrefix(rt.Path, "/market/") {
				continue // the market and provider pages are public by design
			}
			walked++
			t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
				if strings.HasPrefix(rt.Path, "/api/") {
					r := e.call(rt.Method, fill(rt.Path, "victim"), attacker, bodyFor(rt.Method, rt.Path))
					if r.Status != http.StatusNotFound {
						t.Fatalf("attacker got %d, want 404: %s", r.Status, r.Body)
					}
					if rt.Method == "GET" {
						if r := e.call("GET", fill(rt.Path, "victim"), victim, nil); r.Status == http.StatusNotFound {
							t.Fatalf("control: victim's own request answered 404")
						}
					}
					// Own organisation, victim's ids.
					if strings.Contains(rt.Path, ":user") || strings.Contains(rt.Path, ":id") {
						if r := e.call(rt.Method, fill(rt.Path, "attacker"), attacker, bodyFor(rt.Method, rt.Path)); r.Status != http.StatusNotFound {
							t.Fatalf("attacker's org with victim's ids got %d, want 404: %s", r.Status, r.Body)
						}
					}
					return
				}
				var p page
				if rt.Method == "GET" {
					p = attackerWeb.get(fill(rt.Path, "victim"))
				} else {
					p = attackerWeb.post(fill(rt.Path, "victim"), csrf, map[string]string{"name": "pwned", "role": "owner", "email": "evil@example.com"})
				}
				if p.Status != http.StatusNotFound {
					t.Fatalf("attacker got %d, want 404 (location %q)", p.Status, p.Location)
				}
				if rt.Method == "GET" {
					if p := victimWeb.get(fill(rt.Path, "victim")); p.Status != http.StatusOK {
						t.Fatalf("control: victim got %d", p.Status)
					}
				}
				if strings.Contains(rt.Path, ":user") || strings.Contains(rt.Path, ":id") {
					p = attackerWeb.post(fill(rt.Path, "attacker"), csrf, map[string]string{"role": "viewer"})
					if p.Status != http.StatusNotFound {
						t.Fatalf("attacker's org with victim's ids got %d, want 404", p.Status)
					}
				}
			})
		}
		if walked < 15 {
			t.Fatalf("walked only %d organisation routes", walked)
		}
		// User-scoped ids: another user's token.
		if r := e.call("DELETE", "/api/v1/tokens/"+victimToken, attacker, nil); r.Status != http.StatusNotFound {
			t.Fatalf("revoking another user's token: %d", r.Status)
		}
		if p := attackerWeb.post("/account/tokens/"+victimToken+"/revoke", csrf, nil); p.Status != http.StatusNotFound {
			t.Fatalf("revoking another user's token in the console: %d", p.Status)
		}
		// Nothing changed for the victim.
		r = e.call("GET", "/api/v1/orgs/victim/members", victim, nil)
		if n := len(r.json(t)["items"].([]any)); n != 1 {
			t.Fatalf("victim org has %d members", n)
		}
		if e.call("GET", "/api/v1/orgs/victim", victim, nil).json(t)["name"] != "victim Ltd" {
			t.Fatal("victim org renamed")
		}
		if v := e.call("GET", "/api/v1/orgs/victim/apis/pets/versions/v1", victim, nil).json(t); v["state"] != "published" || v["mock"] != true {
			t.Fatalf("victim version changed: %v", v)
		}
		if e.call("GET", "/api/v1/me", victim, nil).Status != http.StatusOK {
			t.Fatal("victim token revoked")
		}
	})
}
