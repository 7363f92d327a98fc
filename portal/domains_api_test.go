package portal_test

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/gateway/sigv4"
	"github.com/portico-dev/portico/gateway/tlstest"
	"github.com/portico-dev/portico/portal/client"
	"github.com/portico-dev/portico/portal/gwconfig"
)

func domainBody(host string, p tlstest.Pair) map[string]any {
	m := map[string]any{"certificate": string(p.ChainPEM), "private_key": string(p.KeyPEM)}
	if host != "" {
		m["hostname"] = host
	}
	return m
}

func TestAPIDomains(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ca := tlstest.NewCA(t)
		acme, _ := e.signUp("Paula", "paula@example.com", "acme")
		other, _ := e.signUp("Olga", "olga@example.com", "other")
		pair := ca.Leaf(t, time.Time{}, time.Time{}, "api.acme.test")

		r := e.call("POST", "/api/v1/orgs/acme/domains", acme, domainBody("API.acme.test", pair))
		expectStatus(t, r, http.StatusCreated)
		d := r.json(t)
		id := d["id"].(string)
		cert := d["certificate"].(map[string]any)
		if d["hostname"] != "api.acme.test" || d["status"] != "valid" || cert["dns_names"].([]any)[0] != "api.acme.test" || len(cert["fingerprint"].(string)) != 64 {
			t.Fatalf("added: %v", d)
		}
		if strings.Contains(string(r.Body), "PRIVATE") || strings.Contains(string(r.Body), "BEGIN") {
			t.Fatalf("response carries PEM: %s", r.Body)
		}
		r = e.call("GET", "/api/v1/orgs/acme/domains", acme, nil)
		expectStatus(t, r, http.StatusOK)
		if items := r.json(t)["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != id {
			t.Fatalf("list: %s", r.Body)
		}
		expectStatus(t, e.call("GET", "/api/v1/orgs/acme/domains/"+id, acme, nil), http.StatusOK)

		// Another tenant: the host is taken (without saying by whom); the
		// id does not exist for them, in their organisation or in acme's.
		r = e.call("POST", "/api/v1/orgs/other/domains", other, domainBody("api.acme.test", ca.Leaf(t, time.Time{}, time.Time{}, "api.acme.test")))
		expectStatus(t, r, http.StatusConflict)
		if strings.Contains(string(r.Body), "acme Ltd") || strings.Contains(string(r.Body), "/orgs/acme") {
			t.Fatalf("conflict reveals the holder: %s", r.Body)
		}
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			expectStatus(t, e.call(m, "/api/v1/orgs/other/domains/"+id, other, domainBody("", pair)), http.StatusNotFound)
			expectStatus(t, e.call(m, "/api/v1/orgs/acme/domains/"+id, other, domainBody("", pair)), http.StatusNotFound)
		}

		// Validation errors are 422 problems naming the field.
		expired := ca.Leaf(t, time.Now().Add(-72*time.Hour), time.Now().Add(-time.Hour), "www.acme.test")
		stranger := ca.Leaf(t, time.Time{}, time.Time{}, "www.acme.test")
		for name, tc := range map[string]struct {
			body  map[string]any
			field string
		}{
			"mismatched key": {map[string]any{"hostname": "www.acme.test", "certificate": string(stranger.ChainPEM), "private_key": string(pair.KeyPEM)}, "private_key"},
			"wrong host":     {domainBody("api2.acme.test", stranger), "certificate"},
			"expired":        {domainBody("www.acme.test", expired), "certificate"},
			"garbage pem":    {map[string]any{"hostname": "www.acme.test", "certificate": "not a pem", "private_key": "nor this"}, "certificate"},
			"port":           {domainBody("www.acme.test:8443", stranger), "hostname"},
			"platform":       {domainBody("acme.gw.portico.test", stranger), "hostname"},
		} {
			r := e.call("POST", "/api/v1/orgs/acme/domains", acme, tc.body)
			expectStatus(t, r, http.StatusUnprocessableEntity)
			if !strings.Contains(string(r.Body), `"field":"`+tc.field+`"`) {
				t.Fatalf("%s: %s", name, r.Body)
			}
		}
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/domains", acme, map[string]any{"hostname": "x.acme.test", "cert": "x"}), http.StatusBadRequest)

		// Replace: a renewed certificate; the host name cannot change.
		renewed := ca.Leaf(t, time.Time{}, time.Time{}, "api.acme.test")
		expectStatus(t, e.call("PUT", "/api/v1/orgs/acme/domains/"+id, acme, domainBody("www.acme.test", renewed)), http.StatusUnprocessableEntity)
		expectStatus(t, e.call("PUT", "/api/v1/orgs/acme/domains/"+id, acme, domainBody("", stranger)), http.StatusUnprocessableEntity)
		r = e.call("PUT", "/api/v1/orgs/acme/domains/"+id, acme, domainBody("api.acme.test", renewed))
		expectStatus(t, r, http.StatusOK)
		if r.json(t)["certificate"].(map[string]any)["fingerprint"] == cert["fingerprint"] {
			t.Fatal("certificate not replaced")
		}
		expectStatus(t, e.call("DELETE", "/api/v1/orgs/acme/domains/"+id, acme, nil), http.StatusNoContent)
		expectStatus(t, e.call("GET", "/api/v1/orgs/acme/domains/"+id, acme, nil), http.StatusNotFound)
		// Freed, the other tenant may add it.
		expectStatus(t, e.call("POST", "/api/v1/orgs/other/domains", other, domainBody("api.acme.test", renewed)), http.StatusCreated)
	})
}

// TestCustomDomainTLSEndToEnd: a provider adds a custom domain through the
// API; after a reload the gateway's TLS listener serves its certificate for
// that server name over HTTP/2 and routes the signed call — with no
// organisation in the path — to the provider's API. A certificate replaced
// through the API is served after the next reload; other names get the
// default certificate.
func TestCustomDomainTLSEndToEnd(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ca := tlstest.NewCA(t)
		prov := provideWeather(t, e)
		part, _ := e.signUp("Pat", "pat@example.com", "partner")
		app := e.call("POST", "/api/v1/orgs/partner/apps", part, map[string]any{"name": "Widget"}).json(t)["id"].(string)
		r := e.call("POST", "/api/v1/orgs/partner/apps/"+app+"/keys", part, nil)
		ak, sk := r.json(t)["access_key"].(string), r.json(t)["secret_key"].(string)
		expectStatus(t, e.call("POST", "/api/v1/orgs/partner/subscriptions", part, map[string]any{"app": app, "api": "acme/weather", "version": "v1", "plan": "free"}), http.StatusCreated)
		first := ca.Leaf(t, time.Time{}, time.Time{}, "api.acme.test")
		r = e.call("POST", "/api/v1/orgs/acme/domains", prov, domainBody("api.acme.test", first))
		expectStatus(t, r, http.StatusCreated)
		id := r.json(t)["id"].(string)

		store := gateway.NewStore(nil)
		rl := gwconfig.NewReloader(store, nil)
		rl.Sources = gwconfig.Sources{Catalog: e.cat, Plans: e.plans, Tenants: e.svc, Domains: e.doms}
		if err := rl.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if m, err := store.Load().Router().Lookup("api.acme.test", "/weather/v1/forecast", "GET", ""); err != nil || m.API.OrgSlug != "acme" {
			t.Fatalf("custom domain routes to %+v, %v", m.API, err)
		}
		def := ca.Leaf(t, time.Time{}, time.Time{}, "gateway.portico.test")
		defCert, err := tls.X509KeyPair(def.ChainPEM, def.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		h, err := gateway.NewHandler(store, gateway.Options{Region: "local"})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: h, TLSConfig: gateway.TLSConfig(store, &defCert), ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
		go srv.Serve(tls.NewListener(ln, srv.TLSConfig))
		defer srv.Close()
		addr := ln.Addr().String()
		_, port, _ := net.SplitHostPort(addr)

		served := func(name string) []byte {
			t.Helper()
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{ServerName: name, InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			return c.ConnectionState().PeerCertificates[0].Raw
		}
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			}}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest("GET", "https://api.acme.test:"+port+"/weather/v1/forecast", nil)
		if err := (&sigv4.Signer{Region: "local"}).Sign(req, ak, sk, "", time.Now()); err != nil {
			t.Fatal(err)
		}
		res, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.ProtoMajor != 2 || !res.TLS.PeerCertificates[0].Equal(first.Leaf) {
			t.Fatalf("call through the custom domain: %s %d %s", res.Proto, res.StatusCode, body)
		}
		if string(served("elsewhere.example.com")) != string(def.Leaf.Raw) {
			t.Fatal("unknown server name did not get the default certificate")
		}

		// Replace through the API, reload: the new certificate is served.
		second := ca.Leaf(t, time.Time{}, time.Time{}, "api.acme.test")
		expectStatus(t, e.call("PUT", "/api/v1/orgs/acme/domains/"+id, prov, domainBody("", second)), http.StatusOK)
		if string(served("api.acme.test")) != string(first.Leaf.Raw) {
			t.Fatal("certificate changed before the reload")
		}
		if err := rl.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if string(served("api.acme.test")) != string(second.Leaf.Raw) {
			t.Fatal("replaced certificate not served after the reload")
		}
		// Deleted: the host neither routes nor has a certificate.
		expectStatus(t, e.call("DELETE", "/api/v1/orgs/acme/domains/"+id, prov, nil), http.StatusNoContent)
		rl.Reload(ctx)
		if string(served("api.acme.test")) != string(def.Leaf.Raw) {
			t.Fatal("deleted domain's certificate still served")
		}
		if _, err := store.Load().Router().Lookup("api.acme.test", "/weather/v1/forecast", "GET", ""); err == nil {
			t.Fatal("deleted domain still routes")
		}
	})
}

// TestClientDomains drives the Go client's domain methods against the real
// server.
func TestClientDomains(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		ca := tlstest.NewCA(t)
		tok, _ := e.signUp("Paula", "paula@example.com", "acme")
		c := client.New(e.srv.URL, client.WithToken(tok))
		p := ca.Leaf(t, time.Time{}, time.Time{}, "api.acme.test")
		d, err := c.AddDomain(ctx, "acme", client.DomainRequest{Hostname: "api.acme.test", Certificate: string(p.ChainPEM), PrivateKey: string(p.KeyPEM)})
		if err != nil || d.Hostname != "api.acme.test" || d.Status != "valid" || !d.Certificate.NotAfter.Equal(p.Leaf.NotAfter.Truncate(time.Second)) {
			t.Fatalf("add: %+v %v", d, err)
		}
		l, err := c.ListDomains(ctx, "acme", client.ListOptions{})
		if err != nil || len(l.Items) != 1 {
			t.Fatalf("list: %v %v", l, err)
		}
		q := ca.Leaf(t, time.Time{}, time.Time{}, "api.acme.test")
		d2, err := c.ReplaceDomainCertificate(ctx, "acme", d.ID, client.DomainRequest{Certificate: string(q.ChainPEM), PrivateKey: string(q.KeyPEM)})
		if err != nil || d2.Certificate.Fingerprint == d.Certificate.Fingerprint {
			t.Fatalf("replace: %+v %v", d2, err)
		}
		_, err = c.AddDomain(ctx, "acme", client.DomainRequest{Hostname: "api.acme.test", Certificate: string(q.ChainPEM), PrivateKey: string(q.KeyPEM)})
		if ce := client.AsError(err); ce == nil || ce.StatusCode != http.StatusConflict {
			t.Fatalf("duplicate: %v", err)
		}
		if err := c.DeleteDomain(ctx, "acme", d.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetDomain(ctx, "acme", d.ID); client.AsError(err) == nil || client.AsError(err).StatusCode != 404 {
			t.Fatalf("get after delete: %v", err)
		}
	})
}
