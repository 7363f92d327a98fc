package portal_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestAPIAppsAndKeys(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		tok, _ := e.signUp("Pat", "pat@example.com", "partner")
		r := e.call("POST", "/api/v1/orgs/partner/apps", tok, map[string]any{"name": "Weather widget", "description": "Shows the weather"})
		expectStatus(t, r, http.StatusCreated)
		app := r.json(t)["id"].(string)
		expectStatus(t, e.call("POST", "/api/v1/orgs/partner/apps", tok, map[string]any{"name": "weather WIDGET"}), http.StatusConflict)
		expectStatus(t, e.call("POST", "/api/v1/orgs/partner/apps", tok, map[string]any{"name": ""}), http.StatusUnprocessableEntity)

		// Keys: format, secret only once, two active at most.
		r = e.call("POST", "/api/v1/orgs/partner/apps/"+app+"/keys", tok, map[string]any{"name": "prod"})
		expectStatus(t, r, http.StatusCreated)
		k1 := r.json(t)
		if !regexp.MustCompile(`^PK[A-Z0-9]{18}$`).MatchString(k1["access_key"].(string)) || !regexp.MustCompile(`^[A-Za-z0-9/+]{40}$`).MatchString(k1["secret_key"].(string)) {
			t.Fatalf("key format: %v", k1)
		}
		expectStatus(t, e.call("POST", "/api/v1/orgs/partner/apps/"+app+"/keys", tok, nil), http.StatusCreated)
		r = e.call("POST", "/api/v1/orgs/partner/apps/"+app+"/keys", tok, nil)
		expectStatus(t, r, http.StatusConflict)
		r = e.call("GET", "/api/v1/orgs/partner/apps/"+app+"/keys", tok, nil)
		expectStatus(t, r, http.StatusOK)
		if strings.Contains(string(r.Body), k1["secret_key"].(string)) || strings.Contains(string(r.Body), "secret") {
			t.Fatalf("key list shows secrets: %s", r.Body)
		}
		// Rotation: revoke the old key, issue a new one.
		expectStatus(t, e.call("DELETE", "/api/v1/orgs/partner/apps/"+app+"/keys/"+k1["access_key"].(string), tok, nil), http.StatusNoContent)
		expectStatus(t, e.call("POST", "/api/v1/orgs/partner/apps/"+app+"/keys", tok, nil), http.StatusCreated)
		// The database holds no plain secret.
		var n int64
		e.db.Table("access_keys").Where("secret_sealed LIKE ?", "%"+k1["secret_key"].(string)+"%").Count(&n)
		if n != 0 {
			t.Fatal("secret stored in plain text")
		}

		// Management-API user keys.
		r = e.call("POST", "/api/v1/keys", tok, map[string]any{"name": "laptop"})
		expectStatus(t, r, http.StatusCreated)
		if !strings.HasPrefix(r.json(t)["access_key"].(string), "PU") {
			t.Fatalf("user key = %s", r.Body)
		}
		expectStatus(t, e.call("GET", "/api/v1/keys", tok, nil), http.StatusOK)

		// Deleting an app revokes its keys and hides it.
		expectStatus(t, e.call("DELETE", "/api/v1/orgs/partner/apps/"+app, tok, nil), http.StatusNoContent)
		expectStatus(t, e.call("GET", "/api/v1/orgs/partner/apps/"+app, tok, nil), http.StatusNotFound)
		var active int64
		e.db.Table("access_keys").Where("app_id = ? AND status = 'active'", app).Count(&active)
		if active != 0 {
			t.Fatalf("%d keys still active after app deletion", active)
		}
	})
}
