package portal_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestAPIAccountsContract(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		// Sign-up returns user, organisation and a working token.
		r := e.call("POST", "/api/v1/signup", "", map[string]any{
			"name": "Ada", "email": "Ada@Example.com", "password": "correct horse battery",
			"organization": map[string]any{"name": "Acme", "slug": "acme"},
		})
		expectStatus(t, r, http.StatusCreated)
		m := r.json(t)
		tok := m["token"].(string)
		org := m["organization"].(map[string]any)
		if org["slug"] != "acme" || org["name"] != "Acme" || org["id"] == "" {
			t.Fatalf("organization = %v", org)
		}
		if m["user"].(map[string]any)["email"] != "ada@example.com" {
			t.Fatalf("user = %v", m["user"])
		}

		cases := []struct {
			name    string
			body    any
			status  int
			problem string
			field   string
		}{
			{"duplicate email", map[string]any{"name": "B", "email": "ADA@example.com", "password": "0123456789", "organization": map[string]any{"name": "B", "slug": "bco"}}, 409, "conflict", "email"},
			{"duplicate slug", map[string]any{"name": "B", "email": "b@example.com", "password": "0123456789", "organization": map[string]any{"name": "B", "slug": "acme"}}, 409, "conflict", "organization.slug"},
			{"invalid fields", map[string]any{"name": "", "email": "nope", "password": "x", "organization": map[string]any{"name": "B", "slug": "B!"}}, 422, "invalid", "password"},
			{"malformed JSON", `{"name": "B",`, 400, "malformed", ""},
			{"wrong type names the field", `{"name": 42}`, 400, "malformed", "name"},
			{"unknown field named", `{"nmae": "B"}`, 400, "malformed", "nmae"},
			{"not an object", `[1,2]`, 400, "malformed", ""},
			{"empty body", ``, 400, "malformed", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := e.call("POST", "/api/v1/signup", "", tc.body)
				expectStatus(t, r, tc.status)
				if got := problemType(t, r); got != tc.problem {
					t.Fatalf("problem type %q, want %q", got, tc.problem)
				}
				if tc.field != "" && !strings.Contains(string(r.Body), `"field":"`+tc.field+`"`) {
					t.Fatalf("problem does not name field %q: %s", tc.field, r.Body)
				}
				if strings.Contains(string(r.Body), "0123456789") {
					t.Fatal("problem echoes the password")
				}
			})
		}

		// Oversized body → 413.
		big := `{"name":"` + strings.Repeat("x", 600<<10) + `"}`
		r = e.call("POST", "/api/v1/signup", "", big)
		expectStatus(t, r, http.StatusRequestEntityTooLarge)

		// Password → token with HTTP Basic.
		basic := func(u, p string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth(u, p) } }
		r = e.call("POST", "/api/v1/tokens", "", nil, basic("ada@example.com", "correct horse battery"))
		expectStatus(t, r, http.StatusCreated)
		tok2 := r.json(t)["token"].(string)
		r = e.call("POST", "/api/v1/tokens", "", nil, basic("ada@example.com", "wrong password!"))
		expectStatus(t, r, http.StatusUnauthorized)
		wrong := r.json(t)["detail"]
		r = e.call("POST", "/api/v1/tokens", "", nil, basic("nobody@example.com", "wrong password!"))
		expectStatus(t, r, http.StatusUnauthorized)
		if r.json(t)["detail"] != wrong {
			t.Fatal("unknown email and wrong password answer differently")
		}
		r = e.call("POST", "/api/v1/tokens", "", map[string]any{"name": "ci", "expires_in_days": 7}, basic("ada@example.com", "correct horse battery"))
		expectStatus(t, r, http.StatusCreated)
		if r.json(t)["expires_at"] == nil {
			t.Fatal("expiry not set")
		}

		// /me and the organisation.
		r = e.call("GET", "/api/v1/me", tok2, nil)
		expectStatus(t, r, http.StatusOK)
		ms := r.json(t)["memberships"].([]any)
		if len(ms) != 1 || ms[0].(map[string]any)["role"] != "owner" {
			t.Fatalf("memberships = %v", ms)
		}
		expectStatus(t, e.call("GET", "/api/v1/orgs/acme", tok, nil), http.StatusOK)
		expectStatus(t, e.call("GET", "/api/v1/orgs/ACME", tok, nil), http.StatusOK)
		expectStatus(t, e.call("GET", "/api/v1/orgs/nope", tok, nil), http.StatusNotFound)

		// Authentication failures.
		for name, h := range map[string]string{"none": "", "garbage": "Bearer nope", "scheme": "Token " + tok} {
			t.Run("auth "+name, func(t *testing.T) {
				r := e.call("GET", "/api/v1/me", "", nil, func(r *http.Request) {
					if h != "" {
						r.Header.Set("Authorization", h)
					}
				})
				expectStatus(t, r, http.StatusUnauthorized)
				if problemType(t, r) != "unauthorized" {
					t.Fatal("wrong problem type")
				}
			})
		}

		// Tokens list never shows values; revoke works at once.
		r = e.call("GET", "/api/v1/tokens", tok, nil)
		expectStatus(t, r, http.StatusOK)
		if strings.Contains(string(r.Body), tok) || strings.Contains(string(r.Body), tok2) {
			t.Fatal("token list contains a token value")
		}
		items := r.json(t)["items"].([]any)
		if len(items) != 3 {
			t.Fatalf("%d tokens, want 3", len(items))
		}
		id2 := items[1].(map[string]any)["id"].(string)
		expectStatus(t, e.call("DELETE", "/api/v1/tokens/"+id2, tok, nil), http.StatusNoContent)
		expectStatus(t, e.call("GET", "/api/v1/me", tok2, nil), http.StatusUnauthorized)

		// Unknown API route → problem.
		r = e.call("GET", "/api/v1/nothing-here", tok, nil)
		expectStatus(t, r, http.StatusNotFound)
		problemType(t, r)

		// OpenAPI document.
		r = e.call("GET", "/api/v1/openapi.json", "", nil)
		expectStatus(t, r, http.StatusOK)
		if r.json(t)["openapi"] != "3.0.3" {
			t.Fatal("not an OpenAPI document")
		}
	})
}

func TestAPIMembersAndInvitations(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		owner, _ := e.signUp("Olivia", "olivia@example.com", "acme")
		other, _ := e.signUp("Oscar", "oscar@example.com", "globex")

		// Invite through both documented routes.
		r := e.call("POST", "/api/v1/orgs/acme/invitations", owner, map[string]any{"email": "oscar@example.com", "role": "admin"})
		expectStatus(t, r, http.StatusCreated)
		if r.json(t)["status"] != "pending" {
			t.Fatalf("invitation = %s", r.Body)
		}
		if strings.Contains(string(r.Body), "token") {
			t.Fatal("invitation response leaks the token")
		}
		r = e.call("POST", "/api/v1/orgs/acme/members", owner, map[string]any{"email": "dev@example.com", "role": "developer"})
		expectStatus(t, r, http.StatusCreated)
		r = e.call("POST", "/api/v1/orgs/acme/invitations", owner, map[string]any{"email": "x@example.com", "role": "emperor"})
		expectStatus(t, r, http.StatusUnprocessableEntity)

		// Oscar accepts with the emailed token.
		tok := e.emailLink("oscar@example.com", "/invitations/")
		r = e.call("POST", "/api/v1/invitations/accept", other, map[string]any{"token": tok})
		expectStatus(t, r, http.StatusCreated)
		if r.json(t)["role"] != "admin" {
			t.Fatalf("accept = %s", r.Body)
		}
		expectStatus(t, e.call("POST", "/api/v1/invitations/accept", other, map[string]any{"token": tok}), http.StatusConflict)

		// Members, paginated.
		r = e.call("GET", "/api/v1/orgs/acme/members?limit=1", owner, nil)
		expectStatus(t, r, http.StatusOK)
		m := r.json(t)
		if len(m["items"].([]any)) != 1 || m["next_cursor"] == nil {
			t.Fatalf("page 1 = %s", r.Body)
		}
		r = e.call("GET", "/api/v1/orgs/acme/members?limit=1&cursor="+m["next_cursor"].(string), owner, nil)
		expectStatus(t, r, http.StatusOK)
		m2 := r.json(t)
		if len(m2["items"].([]any)) != 1 || m2["next_cursor"] != nil {
			t.Fatalf("page 2 = %s", r.Body)
		}
		oscarID := m2["items"].([]any)[0].(map[string]any)["user"].(map[string]any)["id"].(string)
		expectStatus(t, e.call("GET", "/api/v1/orgs/acme/members?limit=0", owner, nil), http.StatusUnprocessableEntity)
		expectStatus(t, e.call("GET", "/api/v1/orgs/acme/members?cursor=!!", owner, nil), http.StatusUnprocessableEntity)

		// Roles.
		r = e.call("PATCH", "/api/v1/orgs/acme/members/"+oscarID, owner, map[string]any{"role": "viewer"})
		expectStatus(t, r, http.StatusOK)
		if r.json(t)["role"] != "viewer" {
			t.Fatal("role not changed")
		}
		ownerID := e.call("GET", "/api/v1/me", owner, nil).json(t)["user"].(map[string]any)["id"].(string)
		r = e.call("PATCH", "/api/v1/orgs/acme/members/"+ownerID, owner, map[string]any{"role": "admin"})
		expectStatus(t, r, http.StatusConflict) // last owner
		expectStatus(t, e.call("DELETE", "/api/v1/orgs/acme/members/"+ownerID, owner, nil), http.StatusConflict)
		expectStatus(t, e.call("PATCH", "/api/v1/orgs/acme/members/"+ownerID, other, map[string]any{"role": "viewer"}), http.StatusForbidden)
		expectStatus(t, e.call("GET", "/api/v1/orgs/acme/audit", other, nil), http.StatusForbidden)

		// Audit log records the changes.
		r = e.call("GET", "/api/v1/orgs/acme/audit", owner, nil)
		expectStatus(t, r, http.StatusOK)
		for _, action := range []string{"member.role_change", "invitation.accept", "invitation.create", "organization.create"} {
			if !strings.Contains(string(r.Body), `"action":"`+action+`"`) {
				t.Errorf("audit log lacks %s: %s", action, r.Body)
			}
		}

		// Invitations list and revoke.
		r = e.call("GET", "/api/v1/orgs/acme/invitations", owner, nil)
		expectStatus(t, r, http.StatusOK)
		var pendingID string
		for _, it := range r.json(t)["items"].([]any) {
			if it.(map[string]any)["status"] == "pending" {
				pendingID = it.(map[string]any)["id"].(string)
			}
		}
		expectStatus(t, e.call("DELETE", "/api/v1/orgs/acme/invitations/"+pendingID, owner, nil), http.StatusNoContent)
		expectStatus(t, e.call("DELETE", "/api/v1/orgs/acme/invitations/"+pendingID, owner, nil), http.StatusConflict)

		// Organisations: create, rename, list.
		r = e.call("POST", "/api/v1/orgs", owner, map[string]any{"name": "Acme Labs", "slug": "acme-labs"})
		expectStatus(t, r, http.StatusCreated)
		expectStatus(t, e.call("POST", "/api/v1/orgs", owner, map[string]any{"name": "Dup", "slug": "acme-labs"}), http.StatusConflict)
		expectStatus(t, e.call("PATCH", "/api/v1/orgs/acme-labs", owner, map[string]any{"name": "Acme Research"}), http.StatusOK)
		r = e.call("GET", "/api/v1/orgs", owner, nil)
		expectStatus(t, r, http.StatusOK)
		if n := len(r.json(t)["items"].([]any)); n != 2 {
			t.Fatalf("%d organisations, want 2", n)
		}

		// Leaving.
		expectStatus(t, e.call("DELETE", "/api/v1/orgs/acme/members/"+oscarID, other, nil), http.StatusNoContent)
		expectStatus(t, e.call("GET", "/api/v1/orgs/acme", other, nil), http.StatusNotFound)
	})
}

func TestHealthAndHeaders(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		for _, p := range []string{"/healthz", "/readyz"} {
			r := e.call("GET", p, "", nil)
			expectStatus(t, r, http.StatusOK)
		}
		r := e.call("GET", "/api/v1/me", "", nil)
		for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy", "X-Request-Id"} {
			if r.Header.Get(h) == "" {
				t.Errorf("API response lacks %s", h)
			}
		}
		if r.json(t)["request_id"] != r.Header.Get("X-Request-Id") {
			t.Error("problem request_id differs from the header")
		}
	})
}
