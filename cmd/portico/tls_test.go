package main

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/gateway/tlstest"
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
