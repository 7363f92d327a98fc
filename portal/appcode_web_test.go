package portal_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var appCodeValueRE = regexp.MustCompile(`id="new-app-code-value">(pac_[A-Za-z0-9_-]{43})</code>`)

// TestConsoleAppCodes: a developer creates an app code on the app page; the
// code shows once, the list shows only its prefix, a third active code is
// refused, revoking asks for confirmation and is final, and viewers see the
// codes without the means to change them.
func TestConsoleAppCodes(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		partTok, _ := e.signUp("Pat", "pat@example.com", "partner")
		app := e.call("POST", "/api/v1/orgs/partner/apps", partTok, map[string]any{"name": "Till"}).json(t)["id"].(string)
		pat := loggedIn(t, e, "pat@example.com")
		appPage := "/orgs/partner/apps/" + app
		page := pat.get(appPage)
		wantPage(t, "app page", page, http.StatusOK, "App codes are weaker than signatures", "No app codes", `action="`+appPage+`/codes"`)
		csrf := csrfOf(t, page.Body)

		p := pat.post(appPage+"/codes", csrf, map[string]string{"name": "kiosk"})
		wantPage(t, "new code", p, http.StatusCreated, "The app code will not be shown again.", "X-Portico-App-Code: ")
		m := appCodeValueRE.FindStringSubmatch(p.Body)
		if m == nil {
			t.Fatalf("no code on the page:\n%s", p.Body)
		}
		code := m[1]
		page = pat.get(appPage)
		wantPage(t, "after creating", page, http.StatusOK, "<code>"+code[:12]+"…</code>", "kiosk")
		wantNot(t, "after creating", page, code)

		wantPage(t, "long name", pat.post(appPage+"/codes", csrf, map[string]string{"name": strings.Repeat("x", 300)}), http.StatusUnprocessableEntity, `id="app-code-name-error"`)
		wantPage(t, "second code", pat.post(appPage+"/codes", csrf, map[string]string{"name": ""}), http.StatusCreated, "This app has two active app codes")
		wantPage(t, "third code", pat.post(appPage+"/codes", csrf, map[string]string{"name": "third"}), http.StatusConflict, "at most two active app codes")

		codes := e.call("GET", "/api/v1/orgs/partner/apps/"+app+"/codes", partTok, nil).json(t)["items"].([]any)
		id := codes[1].(map[string]any)["id"].(string) // the first one, "kiosk"
		if !strings.Contains(page.Body, `data-confirm="Revoke the app code `+code[:12]) {
			t.Fatal("revoking does not ask for confirmation")
		}
		wantRedirect(t, "revoke", pat.post(appPage+"/codes/"+id+"/revoke", csrf, nil), appPage+"#app-codes")
		wantPage(t, "after revoking", pat.get(appPage), http.StatusOK, "App code revoked", `<span class="badge badge-danger">Revoked</span>`)
		if s := e.call("GET", "/api/v1/orgs/partner/apps/"+app+"/codes", partTok, nil).json(t)["items"].([]any)[1].(map[string]any)["status"]; s != "revoked" {
			t.Fatalf("status after revoking = %v", s)
		}
		wantPage(t, "unknown code", pat.post(appPage+"/codes/nope/revoke", csrf, nil), http.StatusNotFound)

		v := joinOrg(t, e, partTok, "partner", "Val", "viewer@example.com", "own-viewer", "viewer")
		p = v.get(appPage)
		wantPage(t, "viewer", p, http.StatusOK, code[:12])
		wantNot(t, "viewer", p, "/codes\"", "/revoke")
		vc := csrfOf(t, p.Body)
		for _, action := range []string{appPage + "/codes", appPage + "/codes/" + codes[0].(map[string]any)["id"].(string) + "/revoke"} {
			wantPage(t, "viewer POST "+action, v.post(action, vc, map[string]string{"name": "x"}), http.StatusForbidden)
		}
	})
}
