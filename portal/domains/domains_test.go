package domains_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/gateway/tlstest"
	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/portal/domains"
	"github.com/portico-dev/portico/tenants"
	"github.com/portico-dev/portico/tenants/keyring"
)

type fixture struct {
	svc     *domains.Service
	ten     *tenants.Service
	db      *migrations.DB
	org     tenants.Organization
	other   tenants.Organization
	actor   tenants.Actor
	ca      *tlstest.CA
	changes int
}

func newFixture(t *testing.T, db *migrations.DB) *fixture {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	kr, _ := keyring.New(key)
	f := &fixture{db: db, ca: tlstest.NewCA(t)}
	pp := tenants.FastPasswordParams
	f.ten = tenants.NewService(db.DB, tenants.Options{PasswordParams: &pp})
	ctx := context.Background()
	res, err := f.ten.SignUp(ctx, tenants.SignUpInput{Name: "P", Email: "p@example.com", Password: "0123456789ab", OrgName: "Acme", OrgSlug: "acme"}, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	f.org = res.Org
	f.actor = tenants.Actor{UserID: res.User.ID, Email: res.User.Email, IP: "192.0.2.1"}
	res2, err := f.ten.SignUp(ctx, tenants.SignUpInput{Name: "Q", Email: "q@example.com", Password: "0123456789ab", OrgName: "Other", OrgSlug: "other"}, "192.0.2.2")
	if err != nil {
		t.Fatal(err)
	}
	f.other = res2.Org
	f.svc = domains.NewService(db.DB, domains.Options{Keyring: kr, GatewayDomain: "gw.portico.test", Roots: f.ca.Pool(), OnChange: func(context.Context) { f.changes++ }})
	return f
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := tenants.ErrorCode(err); got != code {
		t.Fatalf("error code %q (%v), want %q", got, err, code)
	}
}

func (f *fixture) input(t *testing.T, host string, hosts ...string) domains.Input {
	t.Helper()
	if len(hosts) == 0 {
		hosts = []string{host}
	}
	p := f.ca.Leaf(t, time.Time{}, time.Time{}, hosts...)
	return domains.Input{Hostname: host, CertificatePEM: string(p.ChainPEM), PrivateKeyPEM: string(p.KeyPEM)}
}

func TestDomainLifecycle(t *testing.T) {
	for _, d := range testdb.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			db := testdb.Open(t, d)
			f := newFixture(t, db)
			ctx := context.Background()
			in := f.input(t, "API.Example.com.", "api.example.com")
			dom, err := f.svc.Add(ctx, f.org.ID, f.actor, in)
			if err != nil {
				t.Fatal(err)
			}
			if dom.Hostname != "api.example.com" || dom.Certificate.DNSNames[0] != "api.example.com" || len(dom.Certificate.Fingerprint) != 64 ||
				!strings.Contains(dom.Certificate.Issuer, "Portico Test CA") || dom.Certificate.NotAfter.Before(time.Now()) {
				t.Fatalf("domain: %+v", dom)
			}
			if f.changes != 1 {
				t.Fatalf("changes %d", f.changes)
			}
			// Key material is stored sealed, never in clear.
			var sealed, chain string
			db.DB.Raw("SELECT key_sealed, cert_chain FROM custom_domains WHERE id = ?", dom.ID).Row().Scan(&sealed, &chain)
			if strings.Contains(sealed, "PRIVATE KEY") || !strings.HasPrefix(sealed, "v1:") || strings.Contains(chain, "PRIVATE") {
				t.Fatalf("stored key not sealed: %q", sealed[:20])
			}
			// Other tenant: same host → conflict without naming the holder;
			// Get/Delete of the id → not found.
			_, err = f.svc.Add(ctx, f.other.ID, f.actor, f.input(t, "api.example.com"))
			wantCode(t, err, tenants.EConflict)
			if strings.Contains(tenants.ErrorMessage(err), "acme") || strings.Contains(tenants.ErrorMessage(err), "Acme") {
				t.Fatalf("conflict reveals the tenant: %v", err)
			}
			_, err = f.svc.Get(ctx, f.other.ID, dom.ID)
			wantCode(t, err, tenants.ENotFound)
			wantCode(t, f.svc.Delete(ctx, f.other.ID, dom.ID, f.actor), tenants.ENotFound)
			_, err = f.svc.ReplaceCertificate(ctx, f.other.ID, dom.ID, f.actor, f.input(t, "api.example.com"))
			wantCode(t, err, tenants.ENotFound)
			_, err = f.svc.Get(ctx, f.org.ID, "not-a-uuid")
			wantCode(t, err, tenants.ENotFound)

			// Replace, then Live serves the new one.
			in2 := f.input(t, "", "api.example.com", "www.example.com")
			dom2, err := f.svc.ReplaceCertificate(ctx, f.org.ID, dom.ID, f.actor, in2)
			if err != nil {
				t.Fatal(err)
			}
			if dom2.Certificate.Fingerprint == dom.Certificate.Fingerprint || dom2.Hostname != "api.example.com" {
				t.Fatalf("replace: %+v", dom2)
			}
			live, err := f.svc.Live(ctx)
			if err != nil || len(live) != 1 {
				t.Fatalf("live: %v %v", live, err)
			}
			if live[0].OrgSlug != "acme" || string(live[0].KeyPEM) == "" || !strings.Contains(string(live[0].ChainPEM), "CERTIFICATE") {
				t.Fatalf("live: %+v", live[0].Hostname)
			}
			if s := fmt.Sprintf("%v %+v %#v", live[0], live[0], live[0]); strings.Contains(s, "PRIVATE") {
				t.Fatalf("material prints its key: %s", s)
			}
			// Pagination by host name.
			for _, h := range []string{"a.example.com", "b.example.com", "c.example.com"} {
				if _, err := f.svc.Add(ctx, f.org.ID, f.actor, f.input(t, h)); err != nil {
					t.Fatal(err)
				}
			}
			l, err := f.svc.List(ctx, f.org.ID, tenants.Page{Limit: 2})
			if err != nil || len(l.Items) != 2 || l.Items[0].Hostname != "a.example.com" || l.NextCursor == "" {
				t.Fatalf("page 1: %+v %v", l, err)
			}
			l, err = f.svc.List(ctx, f.org.ID, tenants.Page{Limit: 2, Cursor: l.NextCursor})
			if err != nil || len(l.Items) != 2 || l.Items[1].Hostname != "c.example.com" || l.NextCursor != "" {
				t.Fatalf("page 2: %+v %v", l, err)
			}
			if l, _ := f.svc.List(ctx, f.other.ID, tenants.Page{}); len(l.Items) != 0 {
				t.Fatalf("other tenant sees %d domains", len(l.Items))
			}
			if err := f.svc.Delete(ctx, f.org.ID, dom.ID, f.actor); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Get(ctx, f.org.ID, dom.ID); tenants.ErrorCode(err) != tenants.ENotFound {
				t.Fatalf("after delete: %v", err)
			}
			// Freed: another tenant may now take it.
			if _, err := f.svc.Add(ctx, f.other.ID, f.actor, f.input(t, "api.example.com")); err != nil {
				t.Fatal(err)
			}
			// The audit log has the changes, without key material.
			ev, err := f.ten.ListAudit(ctx, f.org.ID, f.actor, tenants.Page{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			actions := map[string]bool{}
			for _, e := range ev.Items {
				actions[e.Action] = true
				if strings.Contains(e.Details, "PRIVATE") || strings.Contains(e.Details, "CERTIFICATE") {
					t.Fatalf("audit details hold PEM: %s", e.Details)
				}
			}
			for _, a := range []string{"domain.add", "domain.certificate.replace", "domain.delete"} {
				if !actions[a] {
					t.Fatalf("audit lacks %s: %v", a, actions)
				}
			}
		})
	}
}

func TestDomainValidation(t *testing.T) {
	db := testdb.Open(t, migrations.SQLite)
	f := newFixture(t, db)
	ctx := context.Background()
	good := f.input(t, "api.example.com")
	other := f.input(t, "api.example.com")
	expired := f.ca.Leaf(t, time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour), "api.example.com")
	// Issued by a CA the service does not trust: anyone can make one for
	// any name, so it proves nothing about who holds the domain.
	untrusted := tlstest.NewCA(t).Leaf(t, time.Time{}, time.Time{}, "api.example.com")
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	weak := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}))
	cases := []struct {
		name        string
		in          domains.Input
		field, want string
	}{
		{"empty host", domains.Input{CertificatePEM: good.CertificatePEM, PrivateKeyPEM: good.PrivateKeyPEM}, "hostname", "Enter the host name"},
		{"port", domains.Input{Hostname: "api.example.com:443", CertificatePEM: good.CertificatePEM, PrivateKeyPEM: good.PrivateKeyPEM}, "hostname", "port"},
		{"url", domains.Input{Hostname: "https://api.example.com/", CertificatePEM: good.CertificatePEM, PrivateKeyPEM: good.PrivateKeyPEM}, "hostname", "no scheme"},
		{"wildcard", domains.Input{Hostname: "*.example.com", CertificatePEM: good.CertificatePEM, PrivateKeyPEM: good.PrivateKeyPEM}, "hostname", "Wildcard"},
		{"ip", domains.Input{Hostname: "192.0.2.7", CertificatePEM: good.CertificatePEM, PrivateKeyPEM: good.PrivateKeyPEM}, "hostname", "IP address"},
		{"single label", domains.Input{Hostname: "localhost", CertificatePEM: good.CertificatePEM, PrivateKeyPEM: good.PrivateKeyPEM}, "hostname", "fully qualified"},
		{"bad label", domains.Input{Hostname: "api_x.example.com", CertificatePEM: good.CertificatePEM, PrivateKeyPEM: good.PrivateKeyPEM}, "hostname", "not a valid host name"},
		{"platform domain", domains.Input{Hostname: "acme.gw.portico.test", CertificatePEM: good.CertificatePEM, PrivateKeyPEM: good.PrivateKeyPEM}, "hostname", "belong to the platform"},
		{"garbage chain", domains.Input{Hostname: "api.example.com", CertificatePEM: "hello", PrivateKeyPEM: good.PrivateKeyPEM}, "certificate", "PEM form"},
		{"garbage block", domains.Input{Hostname: "api.example.com", CertificatePEM: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", PrivateKeyPEM: good.PrivateKeyPEM}, "certificate", "does not parse"},
		{"key in chain", domains.Input{Hostname: "api.example.com", CertificatePEM: good.PrivateKeyPEM, PrivateKeyPEM: good.PrivateKeyPEM}, "certificate", "holds a private key"},
		{"garbage key", domains.Input{Hostname: "api.example.com", CertificatePEM: good.CertificatePEM, PrivateKeyPEM: "nope"}, "private_key", "PEM form"},
		{"mismatched key", domains.Input{Hostname: "api.example.com", CertificatePEM: good.CertificatePEM, PrivateKeyPEM: other.PrivateKeyPEM}, "private_key", "does not match"},
		{"weak rsa", domains.Input{Hostname: "api.example.com", CertificatePEM: good.CertificatePEM, PrivateKeyPEM: weak}, "private_key", "2048"},
		{"wrong host", domains.Input{Hostname: "www.example.org", CertificatePEM: good.CertificatePEM, PrivateKeyPEM: good.PrivateKeyPEM}, "certificate", "does not cover www.example.org"},
		{"untrusted issuer", domains.Input{Hostname: "api.example.com", CertificatePEM: string(untrusted.ChainPEM), PrivateKeyPEM: string(untrusted.KeyPEM)}, "certificate", "not issued by a trusted certificate authority"},
		{"expired", domains.Input{Hostname: "api.example.com", CertificatePEM: string(expired.ChainPEM), PrivateKeyPEM: string(expired.KeyPEM)}, "certificate", "expired"},
		{"wrong order", domains.Input{Hostname: "api.example.com", CertificatePEM: string(f.ca.PEM) + good.CertificatePEM[:strings.Index(good.CertificatePEM, "-----END CERTIFICATE-----")+26], PrivateKeyPEM: good.PrivateKeyPEM}, "certificate", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Add(ctx, f.org.ID, f.actor, tc.in)
			wantCode(t, err, tenants.EInvalid)
			msg := tenants.ErrorFields(err)[tc.field]
			if msg == "" || !strings.Contains(msg, tc.want) {
				t.Fatalf("%s: %q, want %q (%v)", tc.field, msg, tc.want, tenants.ErrorFields(err))
			}
			keyBody := strings.Split(good.PrivateKeyPEM, "\n")[1]
			if strings.Contains(tenants.ErrorMessage(err)+fmt.Sprint(tenants.ErrorFields(err)), keyBody[:20]) {
				t.Fatal("error quotes the key")
			}
		})
	}
	// Replacing with a certificate for another host is refused and leaves
	// the stored one in place.
	dom, err := f.svc.Add(ctx, f.org.ID, f.actor, good)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.ReplaceCertificate(ctx, f.org.ID, dom.ID, f.actor, f.input(t, "www.example.org"))
	wantCode(t, err, tenants.EInvalid)
	if got, _ := f.svc.Get(ctx, f.org.ID, dom.ID); got.Certificate.Fingerprint != dom.Certificate.Fingerprint {
		t.Fatal("failed replace changed the certificate")
	}
	// Same org, same host → conflict.
	_, err = f.svc.Add(ctx, f.org.ID, f.actor, good)
	wantCode(t, err, tenants.EConflict)
}
