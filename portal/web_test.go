package portal_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestConsoleJourney(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		b := e.browser()

		// Landing and sign-up form.
		p := b.get("/")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, `href="/signup"`) {
			t.Fatalf("landing: %d", p.Status)
		}
		for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"} {
			if p.Header.Get(h) == "" {
				t.Errorf("page lacks %s", h)
			}
		}

		// Invalid sign-up re-renders with messages and keeps the input.
		p = b.submit("/signup", "/signup", map[string]string{"name": "Ada", "email": "ada@example", "password": "short", "org_name": "Acme", "org_slug": "acme"})
		if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "Use at least 10 characters") || !strings.Contains(p.Body, `value="Acme"`) {
			t.Fatalf("invalid sign-up: %d\n%.3000s", p.Status, p.Body)
		}
		// Without the CSRF token the post is refused.
		p = b.post("/signup", "", map[string]string{"name": "Ada", "email": "ada@example.com", "password": "correct horse battery", "org_name": "Acme", "org_slug": "acme"})
		if p.Status != http.StatusForbidden {
			t.Fatalf("sign-up without CSRF: %d", p.Status)
		}
		p = b.submit("/signup", "/signup", map[string]string{"name": "Ada", "email": "ada@example.com", "password": "correct horse battery", "org_name": "Acme", "org_slug": "acme"})
		if p.Status != http.StatusSeeOther || p.Location != "/orgs/acme" {
			t.Fatalf("sign-up: %d %q\n%.2000s", p.Status, p.Location, p.Body)
		}
		var session *http.Cookie
		for _, c := range p.Header.Values("Set-Cookie") {
			if strings.HasPrefix(c, "portico_session=") {
				if !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Lax") {
					t.Fatalf("session cookie lacks flags: %s", c)
				}
				session = &http.Cookie{Name: "portico_session", Value: strings.SplitN(strings.TrimPrefix(c, "portico_session="), ";", 2)[0]}
			}
		}
		if session == nil {
			t.Fatal("no session cookie")
		}
		p = b.get("/orgs/acme")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "Welcome to Portico") {
			t.Fatalf("dashboard: %d\n%.2000s", p.Status, p.Body)
		}

		// Duplicate sign-up from another browser: a form error, not a 500.
		b2 := e.browser()
		p = b2.submit("/signup", "/signup", map[string]string{"name": "Eve", "email": "ADA@example.com", "password": "correct horse battery", "org_name": "Acme", "org_slug": "acme"})
		if p.Status != http.StatusConflict || !strings.Contains(p.Body, "already exists") {
			t.Fatalf("duplicate sign-up: %d\n%.2000s", p.Status, p.Body)
		}

		// Email verification from the outbox link.
		tok := e.emailLink("ada@example.com", "/verify-email?token=")
		if p = b.get("/verify-email?token=" + tok); p.Status != http.StatusOK {
			t.Fatalf("verify: %d", p.Status)
		}
		if p = b.get("/verify-email?token=" + tok); p.Status != http.StatusBadRequest {
			t.Fatalf("verify twice: %d", p.Status)
		}

		// Log out: the old cookie no longer works even if replayed.
		csrf := csrfOf(t, b.get("/orgs/acme").Body)
		p = b.post("/logout", csrf, nil)
		if p.Status != http.StatusSeeOther || p.Location != "/login" {
			t.Fatalf("logout: %d %q", p.Status, p.Location)
		}
		replay := e.browser()
		u, _ := http.NewRequest("GET", e.srv.URL+"/orgs/acme", nil)
		u.AddCookie(session)
		if p = replay.do(u); p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/login") {
			t.Fatalf("replayed session after logout: %d %q", p.Status, p.Location)
		}
		// A forged cookie also goes to log-in.
		u, _ = http.NewRequest("GET", e.srv.URL+"/account", nil)
		u.AddCookie(&http.Cookie{Name: "portico_session", Value: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.forged"})
		if p = replay.do(u); p.Status != http.StatusSeeOther || p.Location != "/login?next=%2Faccount" {
			t.Fatalf("forged cookie: %d %q", p.Status, p.Location)
		}

		// Log in: wrong password gets a generic message; right one goes to next.
		p = b.submit("/login?next=/account", "/login", map[string]string{"email": "ada@example.com", "password": "nope nope nope"})
		if p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "The email or password is not correct.") {
			t.Fatalf("wrong password: %d", p.Status)
		}
		p = b.submit("/login", "/login", map[string]string{"email": "ada@example.com", "password": "correct horse battery", "next": "//evil.example/"})
		if p.Status != http.StatusSeeOther || p.Location != "/orgs/acme" {
			t.Fatalf("login with hostile next: %d %q", p.Status, p.Location)
		}

		// Invite a member; they accept after signing up from the link.
		p = b.submit("/orgs/acme/members", "/orgs/acme/invitations", map[string]string{"email": "bob@example.com", "role": "developer"})
		if p.Status != http.StatusSeeOther {
			t.Fatalf("invite: %d\n%.2000s", p.Status, p.Body)
		}
		p = b.get("/orgs/acme/members")
		if !strings.Contains(p.Body, "bob@example.com") || !strings.Contains(p.Body, "Invitation sent to bob@example.com") {
			t.Fatalf("members page lacks the invitation:\n%.3000s", p.Body)
		}
		p = b.submit("/orgs/acme/members", "/orgs/acme/invitations", map[string]string{"email": "not an email", "role": "developer"})
		if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "valid email") {
			t.Fatalf("bad invite: %d", p.Status)
		}
		inv := e.emailLink("bob@example.com", "/invitations/")
		bob := e.browser()
		if p = bob.get("/invitations/" + inv); p.Status != http.StatusOK || !strings.Contains(p.Body, "acme Ltd") && !strings.Contains(p.Body, "Acme") {
			t.Fatalf("invitation page: %d", p.Status)
		}
		p = bob.submit("/signup?invitation="+inv, "/signup", map[string]string{"name": "Bob", "email": "bob@example.com", "password": "bobs long password", "invitation": inv})
		if p.Status != http.StatusSeeOther || p.Location != "/orgs/acme" {
			t.Fatalf("invited sign-up: %d %q\n%.2000s", p.Status, p.Location, p.Body)
		}
		p = b.get("/orgs/acme/members")
		if !strings.Contains(p.Body, "Bob") {
			t.Fatal("Bob is not listed as a member")
		}

		// Bob (developer) cannot read the audit log; Ada can.
		if p = bob.get("/orgs/acme/audit"); p.Status != http.StatusForbidden {
			t.Fatalf("developer reading audit: %d", p.Status)
		}
		p = b.get("/orgs/acme/audit")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "invitation.accept") {
			t.Fatalf("audit page: %d", p.Status)
		}

		// Personal access token: shown once, works on the API, revocable.
		p = b.submit("/account/tokens", "/account/tokens", map[string]string{"name": "laptop", "expires_in_days": "30"})
		if p.Status != http.StatusCreated {
			t.Fatalf("create token: %d", p.Status)
		}
		pat := regexpFind(p.Body, `pat_[A-Za-z0-9_-]{40,}`)
		if pat == "" {
			t.Fatal("token value not shown")
		}
		if r := e.call("GET", "/api/v1/me", pat, nil); r.Status != http.StatusOK {
			t.Fatalf("token from the console does not work: %d", r.Status)
		}
		if p = b.get("/account/tokens"); strings.Contains(p.Body, pat) {
			t.Fatal("token value shown again")
		}

		// Password change ends other sessions but keeps this one.
		p = b.submit("/account", "/account/password", map[string]string{"current_password": "correct horse battery", "new_password": "an even better passphrase", "new_password_confirm": "an even better passphrase"})
		if p.Status != http.StatusSeeOther {
			t.Fatalf("password change: %d\n%.2000s", p.Status, p.Body)
		}
		if p = b.get("/account"); p.Status != http.StatusOK {
			t.Fatalf("session after password change: %d", p.Status)
		}

		// Unknown page → friendly 404.
		if p = b.get("/no/such/page"); p.Status != http.StatusNotFound || !strings.Contains(p.Body, "Page not found") {
			t.Fatalf("404 page: %d", p.Status)
		}
	})
}

func TestPasswordResetInConsole(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.signUp("Ada", "ada@example.com", "acme")
		b := e.browser()
		p := b.submit("/forgot-password", "/forgot-password", map[string]string{"email": "ada@example.com"})
		if p.Status != http.StatusOK {
			t.Fatalf("forgot: %d", p.Status)
		}
		sentKnown := p.Body
		p = b.submit("/forgot-password", "/forgot-password", map[string]string{"email": "nobody@example.com"})
		same := func(s, email string) string { return strings.ReplaceAll(stripCSRF(s), email, "EMAIL") }
		if p.Status != http.StatusOK || same(p.Body, "nobody@example.com") != same(sentKnown, "ada@example.com") {
			t.Fatal("forgot-password answers differ for known and unknown emails")
		}
		tok := e.emailLink("ada@example.com", "/reset-password?token=")
		p = b.submit("/reset-password?token="+tok, "/reset-password", map[string]string{"token": tok, "password": "new password 123", "password_confirm": "different 123"})
		if p.Status != http.StatusUnprocessableEntity {
			t.Fatalf("mismatched reset: %d", p.Status)
		}
		p = b.submit("/reset-password?token="+tok, "/reset-password", map[string]string{"token": tok, "password": "new password 123", "password_confirm": "new password 123"})
		if p.Status != http.StatusSeeOther {
			t.Fatalf("reset: %d\n%.2000s", p.Status, p.Body)
		}
		if p = b.get("/reset-password?token=" + tok); !strings.Contains(p.Body, "invalid or has expired") {
			t.Fatal("used reset link still offers the form")
		}
		if _, err := e.svc.Authenticate(t.Context(), "ada@example.com", "new password 123"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestOperatorOutbox(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.signUp("Ada", "ada@example.com", "acme")
		b := e.browser()
		if p := b.get("/operator/outbox"); p.Status != http.StatusSeeOther {
			t.Fatalf("outbox without operator login: %d", p.Status)
		}
		p := b.submit("/operator/login", "/operator/login", map[string]string{"token": "wrong"})
		if p.Status != http.StatusUnauthorized {
			t.Fatalf("wrong operator token: %d", p.Status)
		}
		p = b.submit("/operator/login", "/operator/login", map[string]string{"token": operatorToken})
		if p.Status != http.StatusSeeOther {
			t.Fatalf("operator login: %d", p.Status)
		}
		p = b.get("/operator/outbox")
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "Confirm your email address") || !strings.Contains(p.Body, "/verify-email?token=") {
			t.Fatalf("outbox: %d\n%.2000s", p.Status, p.Body)
		}
	})
}

func TestLoginThrottle(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.signUp("Ada", "ada@example.com", "acme")
		b := e.browser()
		csrf := csrfOf(t, b.get("/login").Body)
		throttled := false
		for i := 0; i < 15; i++ {
			p := b.post("/login", csrf, map[string]string{"email": "ada@example.com", "password": "wrong password"})
			if p.Status == http.StatusTooManyRequests {
				throttled = true
				break
			}
		}
		if !throttled {
			t.Fatal("15 wrong passwords in a row were never throttled")
		}
		// The throttle also holds for the right password until it lifts.
		p := b.post("/login", csrf, map[string]string{"email": "ada@example.com", "password": "correct horse battery"})
		if p.Status != http.StatusTooManyRequests {
			t.Fatalf("right password while throttled: %d", p.Status)
		}
	})
}

func regexpFind(s, pattern string) string {
	return regexpMust(pattern).FindString(s)
}

func stripCSRF(s string) string {
	return csrfField.ReplaceAllString(s, "")
}
