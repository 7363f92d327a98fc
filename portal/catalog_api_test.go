package portal_test

import (
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestAPICatalogJourney is the provider's way from an OpenAPI file to a
// published version, through the management API, and back by rollback.
func TestAPICatalogJourney(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		tok, _ := e.signUp("Paula", "paula@example.com", "acme")
		spec, err := os.ReadFile("catalog/testdata/petstore-3.0.yaml")
		if err != nil {
			t.Fatal(err)
		}
		r := e.call("POST", "/api/v1/orgs/acme/apis", tok, map[string]any{
			"slug": "pets", "name": "Pet Store", "summary": "Pets as a service", "description": "# Pets\nAll the pets.",
			"category": "animals", "tags": []string{"pets", "demo"}, "visibility": "public",
		})
		expectStatus(t, r, http.StatusCreated)
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis", tok, map[string]any{"slug": "pets", "name": "Again"}), http.StatusConflict)
		r = e.call("POST", "/api/v1/orgs/acme/apis", tok, map[string]any{"slug": "x", "name": "", "visibility": "secret"})
		expectStatus(t, r, http.StatusUnprocessableEntity)

		// Invalid OpenAPI → 422 listing each problem with its pointer and line.
		r = e.call("POST", "/api/v1/orgs/acme/apis/pets/versions", tok, map[string]any{
			"version": "v1", "openapi": "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get: {}\n  /b:\n    post: {}\n", "mock": true,
		})
		expectStatus(t, r, http.StatusUnprocessableEntity)
		body := string(r.Body)
		for _, want := range []string{`"field":"openapi#/paths/~1a/get"`, `"field":"openapi#/paths/~1b/post"`, "line 7"} {
			if !strings.Contains(body, want) {
				t.Errorf("problem lacks %s: %s", want, body)
			}
		}

		// The spec as a YAML string, with an upstream.
		r = e.call("POST", "/api/v1/orgs/acme/apis/pets/versions", tok, map[string]any{
			"version": "v1", "openapi": string(spec),
			"upstream": map[string]any{"targets": []any{map[string]any{"url": "http://127.0.0.1:9/pets", "weight": 1}}, "timeout_ms": 5000},
		})
		expectStatus(t, r, http.StatusCreated)
		v := r.json(t)
		if v["state"] != "draft" || v["backend_key"].(map[string]any)["secret"] == "" {
			t.Fatalf("version = %s", r.Body)
		}
		// Unknown version / API → 404.
		expectStatus(t, e.call("GET", "/api/v1/orgs/acme/apis/pets/versions/v9", tok, nil), http.StatusNotFound)
		expectStatus(t, e.call("GET", "/api/v1/orgs/acme/apis/nope/versions", tok, nil), http.StatusNotFound)
		// Backend key secrets are never listed.
		r = e.call("GET", "/api/v1/orgs/acme/apis/pets/versions/v1/backend-keys", tok, nil)
		expectStatus(t, r, http.StatusOK)
		if strings.Contains(string(r.Body), "secret") {
			t.Fatalf("backend key list has secrets: %s", r.Body)
		}

		// Illegal transition names the allowed ones.
		r = e.call("POST", "/api/v1/orgs/acme/apis/pets/versions/v1/deprecate", tok, map[string]any{"sunset_at": "2099-01-01"})
		expectStatus(t, r, http.StatusConflict)
		if !strings.Contains(string(r.Body), "can become published") {
			t.Fatalf("conflict does not name allowed transitions: %s", r.Body)
		}

		// Publish to production: revision 1.
		r = e.call("POST", "/api/v1/orgs/acme/apis/pets/versions/v1/deployments", tok, map[string]any{"environment": "production"})
		expectStatus(t, r, http.StatusCreated)
		if d := r.json(t); d["environment"] != "production" || d["revision"] != float64(1) || d["created_at"] == nil {
			t.Fatalf("deployment = %s", r.Body)
		}
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/pets/versions/v1/deployments", tok, map[string]any{"environment": "staging"}), http.StatusUnprocessableEntity)

		// Edit the draft: nothing live changes until deployed again.
		r = e.call("PATCH", "/api/v1/orgs/acme/apis/pets/versions/v1", tok, map[string]any{"mock": true})
		expectStatus(t, r, http.StatusOK)
		live := r.json(t)["environments"].(map[string]any)["production"].(map[string]any)
		if live["revision"] != float64(1) {
			t.Fatalf("live revision changed by a draft edit: %v", live)
		}
		if p := toStrings(live["pending_changes"]); len(p) != 1 || p[0] != "backend: upstream → mock" {
			t.Fatalf("pending changes = %v", p)
		}
		r = e.call("PATCH", "/api/v1/orgs/acme/apis/pets/versions/v1/operations/listPets", tok, map[string]any{"timeout_ms": 1200, "billable": false})
		expectStatus(t, r, http.StatusOK)
		r = e.call("POST", "/api/v1/orgs/acme/apis/pets/versions/v1/deployments", tok, map[string]any{"environment": "production", "note": "mock it"})
		expectStatus(t, r, http.StatusCreated)
		changes := strings.Join(toStrings(r.json(t)["changes"]), "\n")
		if !strings.Contains(changes, "backend: upstream → mock") || !strings.Contains(changes, "GET /pets: timeout default → 1200 ms, billable true → false") {
			t.Fatalf("changes = %s", changes)
		}

		// Roll back to revision 1 and see it in the history.
		r = e.call("POST", "/api/v1/orgs/acme/apis/pets/versions/v1/environments/production/rollback", tok, map[string]any{"revision": 1})
		expectStatus(t, r, http.StatusCreated)
		if d := r.json(t); d["revision"] != float64(3) || d["rolled_back_to"] != float64(1) {
			t.Fatalf("rollback = %s", r.Body)
		}
		r = e.call("GET", "/api/v1/orgs/acme/apis/pets/versions/v1/deployments?environment=production", tok, nil)
		expectStatus(t, r, http.StatusOK)
		items := r.json(t)["items"].([]any)
		if len(items) != 3 || items[0].(map[string]any)["live"] != true {
			t.Fatalf("history = %s", r.Body)
		}
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/pets/versions/v1/environments/production/rollback", tok, map[string]any{"revision": 9}), http.StatusNotFound)

		// Deprecate, then offline; offline is final.
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/pets/versions/v1/deprecate", tok, map[string]any{"sunset_at": "2001-01-01"}), http.StatusUnprocessableEntity)
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/pets/versions/v1/deprecate", tok, map[string]any{"sunset_at": "2099-01-01"}), http.StatusOK)
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/pets/versions/v1/offline", tok, nil), http.StatusOK)
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/pets/versions/v1/offline", tok, nil), http.StatusConflict)

		// The spec is downloadable.
		r = e.call("GET", "/api/v1/orgs/acme/apis/pets/versions/v1/openapi", tok, nil)
		expectStatus(t, r, http.StatusOK)
		if r.json(t)["openapi"] != "3.0.3" {
			t.Fatal("spec download broken")
		}

		// A viewer reads but cannot change.
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/invitations", tok, map[string]any{"email": "vic@example.com", "role": "viewer"}), http.StatusCreated)
		vt, _ := e.signUp("Vic", "vic@example.com", "vics")
		expectStatus(t, e.call("POST", "/api/v1/invitations/accept", vt, map[string]any{"token": e.emailLink("vic@example.com", "/invitations/")}), http.StatusCreated)
		expectStatus(t, e.call("GET", "/api/v1/orgs/acme/apis/pets", vt, nil), http.StatusOK)
		expectStatus(t, e.call("PATCH", "/api/v1/orgs/acme/apis/pets", vt, map[string]any{"name": "Mine"}), http.StatusForbidden)
	})
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
