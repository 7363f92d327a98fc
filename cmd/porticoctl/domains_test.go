package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestDomainsCommands(t *testing.T) {
	const domainJSON = `{"id":"0190a0b0-0000-7000-8000-0000000000d1","hostname":"api.acme.test","status":"valid",
		"certificate":{"subject":"CN=api.acme.test","dns_names":["api.acme.test"],"issuer":"CN=Test CA","not_before":"2026-01-01T00:00:00Z","not_after":"2027-01-01T00:00:00Z","fingerprint":"ab12"},
		"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}`
	var mu sync.Mutex
	var seen []string
	var added map[string]string
	mux := http.NewServeMux()
	js := func(w http.ResponseWriter, status int, body string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
	mux.HandleFunc("GET /api/v1/orgs/acme/domains", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, `{"items":[`+domainJSON+`],"next_cursor":null}`)
	})
	mux.HandleFunc("POST /api/v1/orgs/acme/domains", func(w http.ResponseWriter, r *http.Request) {
		json.NewDecoder(r.Body).Decode(&added)
		js(w, 201, domainJSON)
	})
	mux.HandleFunc("PUT /api/v1/orgs/acme/domains/{id}", func(w http.ResponseWriter, r *http.Request) { js(w, 200, domainJSON) })
	mux.HandleFunc("DELETE /api/v1/orgs/acme/domains/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o600)
	os.WriteFile(keyFile, []byte("-----BEGIN PRIVATE KEY-----\nBBBB\n-----END PRIVATE KEY-----\n"), 0o600)
	c := newCLI(t)
	g := []string{"--server", srv.URL, "--token", "pat_given", "--org", "acme"}

	if code := c.run(append([]string{"domains", "list"}, g...)...); code != 0 {
		t.Fatalf("list exit %d: %s", code, c.stderr.String())
	}
	if out := c.stdout.String(); !strings.Contains(out, "api.acme.test") || !strings.Contains(out, "2027-01-01") {
		t.Fatalf("list printed:\n%s", out)
	}
	if code := c.run(append([]string{"domains", "add", "api.acme.test"}, g...)...); code == 0 || !strings.Contains(c.stderr.String(), "--cert and --key") {
		t.Fatalf("add without files: exit %d %s", code, c.stderr.String())
	}
	if code := c.run(append([]string{"domains", "add", "api.acme.test", "--cert", certFile, "--key", keyFile}, g...)...); code != 0 {
		t.Fatalf("add exit %d: %s", code, c.stderr.String())
	}
	if added["hostname"] != "api.acme.test" || !strings.Contains(added["certificate"], "AAAA") || !strings.Contains(added["private_key"], "BBBB") {
		t.Fatalf("add sent %v", added)
	}
	if strings.Contains(c.stdout.String(), "BBBB") {
		t.Fatal("add printed the key")
	}
	if code := c.run(append([]string{"domains", "renew", "api.acme.test", "--cert", certFile, "--key", keyFile}, g...)...); code != 0 {
		t.Fatalf("renew exit %d: %s", code, c.stderr.String())
	}
	if code := c.run(append([]string{"domains", "delete", "api.acme.test"}, g...)...); code == 0 {
		t.Fatal("delete without --yes accepted")
	}
	if code := c.run(append([]string{"domains", "delete", "api.acme.test", "--yes"}, g...)...); code != 0 {
		t.Fatalf("delete exit %d: %s", code, c.stderr.String())
	}
	mu.Lock()
	defer mu.Unlock()
	last := strings.Join(seen, "\n")
	for _, want := range []string{"PUT /api/v1/orgs/acme/domains/0190a0b0-0000-7000-8000-0000000000d1", "DELETE /api/v1/orgs/acme/domains/0190a0b0-0000-7000-8000-0000000000d1"} {
		if !strings.Contains(last, want) {
			t.Fatalf("requests lack %q:\n%s", want, last)
		}
	}
}
