package portal_test

import (
	"html"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/gateway/tlstest"
)

// TestConsoleDomains walks the custom domains pages as a provider: add with
// errors shown in the form (the key never echoed), list with expiry,
// replace the certificate, delete after confirmation.
func TestConsoleDomains(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ca := tlstest.NewCA(t)
		e.signUp("Paula", "paula@example.com", "acme")
		b := e.browser()
		b.submit("/login", "/login", map[string]string{"email": "paula@example.com", "password": "correct horse battery"})
		list := b.get("/orgs/acme/domains")
		if list.Status != 200 || !strings.Contains(list.Body, "No custom domains yet") || !strings.Contains(list.Body, `for="domain-hostname"`) ||
			!strings.Contains(list.Body, `for="domain-private-key"`) || !strings.Contains(list.Body, "gw.portico.test") {
			t.Fatalf("empty list: %d", list.Status)
		}
		csrf := csrfOf(t, list.Body)
		pair := ca.Leaf(t, time.Time{}, time.Time{}, "api.acme.test")
		other := ca.Leaf(t, time.Time{}, time.Time{}, "api.acme.test")

		// A mismatched key re-renders the form with the error; the typed
		// key is not echoed back.
		p := b.post("/orgs/acme/domains", csrf, map[string]string{"hostname": "api.acme.test", "certificate": string(pair.ChainPEM), "private_key": string(other.KeyPEM)})
		if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, "does not match the certificate") || !strings.Contains(p.Body, `aria-invalid="true"`) {
			t.Fatalf("mismatch: %d", p.Status)
		}
		if strings.Contains(p.Body, strings.Split(string(other.KeyPEM), "\n")[1]) {
			t.Fatal("the private key was echoed into the page")
		}
		// Without the CSRF token the form is refused.
		if p := b.post("/orgs/acme/domains", "", map[string]string{"hostname": "api.acme.test"}); p.Status != http.StatusForbidden {
			t.Fatalf("no CSRF: %d", p.Status)
		}
		p = b.post("/orgs/acme/domains", csrf, map[string]string{"hostname": "api.acme.test", "certificate": string(pair.ChainPEM), "private_key": string(pair.KeyPEM)})
		if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/orgs/acme/domains/") {
			t.Fatalf("add: %d %s", p.Status, p.Location)
		}
		detailURL := p.Location
		d := b.get(detailURL)
		if d.Status != 200 || !strings.Contains(d.Body, "api.acme.test added") || !strings.Contains(d.Body, "Portico Test CA") || !strings.Contains(d.Body, "Replace certificate") {
			t.Fatalf("detail: %d", d.Status)
		}
		list = b.get("/orgs/acme/domains")
		if !strings.Contains(list.Body, "api.acme.test") || !strings.Contains(list.Body, pair.Leaf.NotAfter.UTC().Format("2006-01-02")) || !strings.Contains(list.Body, "Valid") {
			t.Fatal("list lacks the domain and its expiry")
		}

		// Replace.
		renewed := ca.Leaf(t, time.Time{}, time.Time{}, "api.acme.test")
		p = b.post(detailURL+"/certificate", csrf, map[string]string{"certificate": "garbage", "private_key": string(renewed.KeyPEM)})
		if p.Status != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(p.Body), "PEM form") {
			t.Fatalf("bad replace: %d", p.Status)
		}
		p = b.post(detailURL+"/certificate", csrf, map[string]string{"certificate": string(renewed.ChainPEM), "private_key": string(renewed.KeyPEM)})
		if p.Status != http.StatusSeeOther {
			t.Fatalf("replace: %d", p.Status)
		}
		if d := b.get(detailURL); !strings.Contains(d.Body, "replaced") {
			t.Fatal("no confirmation of the replacement")
		}

		// Delete after confirmation.
		conf := b.get(detailURL + "/delete")
		if conf.Status != 200 || !strings.Contains(conf.Body, "This cannot be undone") {
			t.Fatalf("confirm: %d", conf.Status)
		}
		p = b.post(detailURL+"/delete", csrf, nil)
		if p.Status != http.StatusSeeOther || p.Location != "/orgs/acme/domains" {
			t.Fatalf("delete: %d %s", p.Status, p.Location)
		}
		if d := b.get(detailURL); d.Status != http.StatusNotFound {
			t.Fatalf("deleted domain page: %d", d.Status)
		}
	})
}
