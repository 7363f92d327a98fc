package main

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-dev/portico/gateway/tlstest"
	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/portal/domains"
	"github.com/portico-dev/portico/tenants"
)

// TestServeGatewayTLS runs serve with the TLS listener and a default
// certificate from files: it prints the https URL, logs its mode, refuses
// TLS 1.1 and answers over HTTP/2 with TLS 1.2 and 1.3.
func TestServeGatewayTLS(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t)
	p := ca.Leaf(t, time.Time{}, time.Time{}, "gateway.portico.test")
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	os.WriteFile(certFile, p.ChainPEM, 0o600)
	os.WriteFile(keyFile, p.KeyPEM, 0o600)
	env := map[string]string{"PORTICO_DATA_DIR": filepath.Join(dir, "data"), "PORTICO_PORTAL_ADDR": "127.0.0.1:0", "PORTICO_GATEWAY_ADDR": "127.0.0.1:0",
		"PORTICO_ADMIN_ADDR": "127.0.0.1:0", "PORTICO_GATEWAY_TLS_ADDR": "127.0.0.1:0", "PORTICO_TLS_CERT_FILE": certFile, "PORTICO_TLS_KEY_FILE": keyFile}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, &stdout, &stderr) }()
	re := regexp.MustCompile(`Gateway \(TLS\)\s+https://(\S+)/`)
	var m []string
	for deadline := time.Now().Add(30 * time.Second); m == nil; {
		if time.Now().After(deadline) {
			t.Fatalf("no https URL printed:\n%s\n%s", stdout.String(), stderr.String())
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v\n%s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		m = re.FindStringSubmatch(stdout.String())
	}
	addr := m[1]
	if !strings.Contains(stderr.String(), "gateway TLS: on with the default certificate") {
		t.Fatalf("TLS mode not logged:\n%s", stderr.String())
	}
	if c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "gateway.portico.test", RootCAs: ca.Pool(), MaxVersion: tls.VersionTLS11}); err == nil {
		c.Close()
		t.Fatal("TLS 1.1 accepted")
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: "gateway.portico.test", RootCAs: ca.Pool(), MinVersion: v, MaxVersion: v}, ForceAttemptHTTP2: true}
		res, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Get("https://" + addr + "/healthz")
		if err != nil {
			t.Fatalf("%s: %v", tls.VersionName(v), err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		tr.CloseIdleConnections()
		if res.StatusCode != 200 || res.ProtoMajor != 2 || res.TLS.Version != v || !strings.Contains(string(b), "ok") {
			t.Fatalf("%s: %s %d %s", tls.VersionName(v), res.Proto, res.StatusCode, b)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v on shutdown", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestTLSOptionsGoTogether(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"cert without key": {"PORTICO_GATEWAY_TLS_ADDR": ":8443", "PORTICO_TLS_CERT_FILE": "c.pem"},
		"key without cert": {"PORTICO_GATEWAY_TLS_ADDR": ":8443", "PORTICO_TLS_KEY_FILE": "k.pem"},
		"files, no addr":   {"PORTICO_TLS_CERT_FILE": "c.pem", "PORTICO_TLS_KEY_FILE": "k.pem"},
	} {
		if _, err := parseConfig("portico serve", nil, func(k string) string { return env[k] }); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c, err := parseConfig("portico serve", []string{"--gateway-tls-addr", ":8443"}, func(string) string { return "" })
	if err != nil || c.GatewayTLSAddr != ":8443" {
		t.Fatalf("%v %+v", err, c)
	}
}

// TestReservedHostsFollowTheDefaultCertificate: the custom-domain
// service's reserved names are the console's host and the default
// certificate's names as its files hold them at each check — wildcards
// covering one label — so a renewal that adds a name reserves it without a
// restart (it used to keep the names read at start-up), one that drops a
// name frees it, and a renewal caught half written keeps the names before
// it, as the TLS listener keeps serving the certificate before it.
func TestReservedHostsFollowTheDefaultCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t)
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	write := func(chain, key []byte) {
		t.Helper()
		if err := os.WriteFile(certFile, chain, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, key, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	first := ca.Leaf(t, time.Time{}, time.Time{}, "gateway.portico.test", "*.api.portico.test")
	write(first.ChainPEM, first.KeyPEM)
	cfg := &Config{BaseURL: "https://console.portico.test:8443", TLSCertFile: certFile, TLSKeyFile: keyFile}
	svc := domains.NewService(nil, domainOptions(cfg, migrations.SQLite, nil, slog.New(slog.DiscardHandler), nil))
	reserved := func(host string) bool {
		t.Helper()
		_, err := svc.Add(context.Background(), "org", tenants.Actor{}, domains.Input{Hostname: host})
		return err != nil && strings.Contains(tenants.ErrorFields(err)["hostname"], "belongs to the platform")
	}
	check := func(when string, want map[string]bool) {
		t.Helper()
		for host, w := range want {
			if got := reserved(host); got != w {
				t.Errorf("%s: %s reserved %t, want %t", when, host, got, w)
			}
		}
	}
	check("at start", map[string]bool{"console.portico.test": true, "gateway.portico.test": true, "x.api.portico.test": true,
		"api.portico.test": false, "new.portico.test": false})

	renewed := ca.Leaf(t, time.Time{}, time.Time{}, "gateway.portico.test", "new.portico.test")
	write(renewed.ChainPEM, renewed.KeyPEM)
	check("renewed", map[string]bool{"console.portico.test": true, "gateway.portico.test": true, "new.portico.test": true, "x.api.portico.test": false})

	half := ca.Leaf(t, time.Time{}, time.Time{}, "half.portico.test")
	write(half.ChainPEM, renewed.KeyPEM) // the new chain, the old key: does not load
	check("half written", map[string]bool{"new.portico.test": true, "half.portico.test": false})

	// Checks racing renewals (run with -race).
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				reserved("gateway.portico.test")
			}
		}()
	}
	for j := 0; j < 20; j++ {
		p := first
		if j%2 == 1 {
			p = renewed
		}
		write(p.ChainPEM, p.KeyPEM)
	}
	wg.Wait()
	check("after the race", map[string]bool{"gateway.portico.test": true, "new.portico.test": true})
}
