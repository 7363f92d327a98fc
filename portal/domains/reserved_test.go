package domains_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/portico-dev/portico/portal/domains"
	"github.com/portico-dev/portico/tenants"
)

// reservedBy reports whether svc refuses host as the platform's own. The
// refusal comes before any certificate or database work, so the service
// needs neither.
func reservedBy(t *testing.T, svc *domains.Service, host string) bool {
	t.Helper()
	_, err := svc.Add(context.Background(), "org", tenants.Actor{}, domains.Input{Hostname: host})
	if err == nil {
		t.Fatalf("%s: added without a certificate", host)
	}
	return strings.Contains(tenants.ErrorFields(err)["hostname"], "belongs to the platform")
}

// TestReservedWildcards: a wildcard name of the default certificate
// reserves every name it covers — one label in place of the "*", as TLS
// clients match it (RFC 6125 §6.4.3) — and nothing else. It used to be
// kept as the literal "*.api.portico.test", which no host name equals, so
// x.api.portico.test could be claimed although the platform's certificate
// serves it.
func TestReservedWildcards(t *testing.T) {
	svc := domains.NewService(nil, domains.Options{AnyIssuer: true,
		ReservedHosts: []string{"*.API.portico.test.", "https://*.edge.portico.test:8443/", "w*.www.portico.test", "a*z.mid.portico.test", "*.*.bad.portico.test"}})
	for host, want := range map[string]bool{
		"x.api.portico.test":              true,
		"X.Api.Portico.Test.":             true,
		"xn--bcher-kva.api.portico.test":  true,
		"a-b.edge.portico.test":           true,
		"api.portico.test":                false, // the wildcard's parent is not covered
		"a.b.api.portico.test":            false, // nor two labels
		"xapi.portico.test":               false,
		"x.api.portico.test.evil.example": false,
		"w.www.portico.test":              true, // a "*" within a label: every label it could match
		"web.www.portico.test":            true,
		"x.www.portico.test":              false,
		"az.mid.portico.test":             true,
		"abcz.mid.portico.test":           true,
		"ab.mid.portico.test":             false,
		"x.y.bad.portico.test":            false, // a "*" beyond the first label matches nothing in TLS
		"www.portico.test":                false,
	} {
		if got := reservedBy(t, svc, host); got != want {
			t.Errorf("%s: reserved %t, want %t", host, got, want)
		}
	}
}

// TestReservedHostsFunc: names from ReservedHostsFunc are asked for at
// every check, so a name the platform starts to serve is reserved from
// then on, and one it stops serving is free again, without a new Service;
// the function may be called from concurrent checks.
func TestReservedHostsFunc(t *testing.T) {
	var cur atomic.Pointer[[]string]
	set := func(names ...string) { cur.Store(&names) }
	set("gateway.portico.test", "*.api.portico.test")
	var calls atomic.Int64
	svc := domains.NewService(nil, domains.Options{AnyIssuer: true, ReservedHosts: []string{"https://console.portico.test"},
		ReservedHostsFunc: func() []string { calls.Add(1); return *cur.Load() }})
	for host, want := range map[string]bool{"console.portico.test": true, "gateway.portico.test": true, "x.api.portico.test": true, "new.portico.test": false} {
		if got := reservedBy(t, svc, host); got != want {
			t.Errorf("before: %s reserved %t, want %t", host, got, want)
		}
	}
	set("Gateway.Portico.Test.", "new.portico.test:443")
	for host, want := range map[string]bool{"console.portico.test": true, "gateway.portico.test": true, "x.api.portico.test": false, "new.portico.test": true} {
		if got := reservedBy(t, svc, host); got != want {
			t.Errorf("after: %s reserved %t, want %t", host, got, want)
		}
	}
	if calls.Load() == 0 {
		t.Fatal("ReservedHostsFunc never called")
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				if !reservedBy(t, svc, "new.portico.test") {
					t.Error("new.portico.test not reserved")
					return
				}
			}
		}()
	}
	wg.Wait()
}
