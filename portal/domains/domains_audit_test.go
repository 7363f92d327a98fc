package domains_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/portal/domains"
	"github.com/portico-dev/portico/tenants"
	"github.com/portico-dev/portico/tenants/keyring"
)

// TestPlatformHostsReserved: the platform's own host names (the console's,
// the gateway's), given as ReservedHosts in whatever form the operator
// configured them, cannot be added by an organisation — whatever their
// case or trailing dot — even with a certificate that covers them: a
// custom domain would take over the gateway's routing of that host and
// the certificate its TLS listener serves for it.
func TestPlatformHostsReserved(t *testing.T) {
	db := testdb.Open(t, migrations.SQLite)
	f := newFixture(t, db)
	key := make([]byte, 32)
	rand.Read(key)
	kr, _ := keyring.New(key)
	svc := domains.NewService(db.DB, domains.Options{Keyring: kr, GatewayDomain: "gw.portico.test",
		ReservedHosts: []string{"https://Console.Portico.Test:8443/", "api.portico.test.", "edge.portico.test:443"}, Roots: f.ca.Pool()})
	ctx := context.Background()
	for _, h := range []string{"console.portico.test", "API.portico.test", "api.portico.test.", "edge.portico.test"} {
		in := f.input(t, h, strings.ToLower(strings.TrimSuffix(h, ".")))
		_, err := svc.Add(ctx, f.org.ID, f.actor, in)
		wantCode(t, err, tenants.EInvalid)
		if msg := tenants.ErrorFields(err)["hostname"]; !strings.Contains(msg, "belongs to the platform") {
			t.Fatalf("%s: hostname error %q", h, msg)
		}
	}
	// A host name beside them is a provider's to add.
	if _, err := svc.Add(ctx, f.org.ID, f.actor, f.input(t, "www.portico.test")); err != nil {
		t.Fatal(err)
	}
}

// TestDomainOfAnotherTenant: a host name one organisation added cannot be
// added, replaced, read or deleted by another, and the refusal does not
// say who holds it; no answer carries the private key.
func TestDomainOfAnotherTenant(t *testing.T) {
	db := testdb.Open(t, migrations.SQLite)
	f := newFixture(t, db)
	ctx := context.Background()
	in := f.input(t, "api.example.com")
	dom, err := f.svc.Add(ctx, f.org.ID, f.actor, in)
	if err != nil {
		t.Fatal(err)
	}
	other := tenants.Actor{UserID: "someone-else", Email: "q@example.com"}
	for _, h := range []string{"api.example.com", "API.Example.COM", "api.example.com."} {
		hijack := f.input(t, strings.ToLower(strings.TrimSuffix(h, ".")))
		hijack.Hostname = h
		_, err := f.svc.Add(ctx, f.other.ID, other, hijack)
		wantCode(t, err, tenants.EConflict)
		if strings.Contains(tenants.ErrorMessage(err), "acme") || strings.Contains(tenants.ErrorMessage(err), f.org.ID) {
			t.Fatalf("the conflict names the holder: %v", err)
		}
	}
	_, err = f.svc.ReplaceCertificate(ctx, f.other.ID, dom.ID, other, f.input(t, "api.example.com"))
	wantCode(t, err, tenants.ENotFound)
	_, err = f.svc.Get(ctx, f.other.ID, dom.ID)
	wantCode(t, err, tenants.ENotFound)
	wantCode(t, f.svc.Delete(ctx, f.other.ID, dom.ID, other), tenants.ENotFound)

	got, err := f.svc.Get(ctx, f.org.ID, dom.ID)
	if err != nil || got.Certificate.Fingerprint != dom.Certificate.Fingerprint {
		t.Fatalf("the holder's domain changed: %v", err)
	}
	keyLine := strings.Split(in.PrivateKeyPEM, "\n")[1]
	live, err := f.svc.Live(ctx)
	if err != nil || len(live) != 1 {
		t.Fatalf("live: %d %v", len(live), err)
	}
	js, _ := json.Marshal(got)
	for _, out := range []string{string(js), fmt.Sprintf("%v %+v %#v", got, got, got), fmt.Sprintf("%v %+v %#v", live[0], live[0], live[0]), in.String(), fmt.Sprintf("%#v", in)} {
		if strings.Contains(out, keyLine[:20]) || strings.Contains(out, "PRIVATE KEY") {
			t.Fatalf("output carries the private key: %.200s", out)
		}
	}
}
