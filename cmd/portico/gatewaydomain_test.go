package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/gateway/sigv4"
	"github.com/portico-dev/portico/gateway/tlstest"
)

// TestParseGatewayDomain: the gateway domain is a bare host name; anything
// else is refused with a reason, naming the variable or flag.
func TestParseGatewayDomain(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "",
		"gw.example.com":   "gw.example.com",
		" GW.Example.com.": "gw.example.com",
		"localhost":        "localhost",
		"api-gw.test":      "api-gw.test",
	} {
		c, err := parseConfig("t", []string{"--gateway-domain", in}, func(string) string { return "" })
		if err != nil || c.GatewayDomain != want {
			t.Errorf("--gateway-domain %q = %q, %v; want %q", in, c.GatewayDomain, err, want)
		}
	}
	for in, why := range map[string]string{
		"https://gw.example.com": "scheme",
		"gw.example.com/v1":      "path",
		"gw.example.com:8000":    "port",
		"*.gw.example.com":       "wildcard",
		"10.0.0.1":               "IP address",
		"[::1]":                  "IP address",
		"gateway":                "with a dot",
		"gw_1.example.com":       "letters, digits and dashes",
		"-gw.example.com":        "dash",
		"gw.example.123":         "all digits",
		"user@gw.example.com":    "user",
	} {
		_, err := parseConfig("t", nil, func(k string) string {
			if k == "PORTICO_GATEWAY_DOMAIN" {
				return in
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), "PORTICO_GATEWAY_DOMAIN") || !strings.Contains(err.Error(), why) {
			t.Errorf("PORTICO_GATEWAY_DOMAIN=%q: %v; want an error saying %q", in, err, why)
		}
	}
	if _, err := parseConfig("t", []string{"--gateway-domain", "http://x.test"}, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "--gateway-domain") {
		t.Errorf("bad flag: %v", err)
	}
}

// TestServeGatewayDomain runs `portico serve --demo` with
// PORTICO_GATEWAY_DOMAIN: a signed call to acme.<domain>/echo/v1/… reaches
// the demo's echo API by host, the path-based URL keeps working, an unknown
// organisation's host finds nothing, and the management API refuses a
// custom domain under the gateway domain or on the console's host while
// accepting one outside them.
func TestServeGatewayDomain(t *testing.T) {
	const domain = "gw.portico.test"
	d, cancel, done := startDemo(t, map[string]string{"PORTICO_DATA_DIR": t.TempDir(), "PORTICO_GATEWAY_DOMAIN": "GW.portico.test.",
		"PORTICO_BASE_URL": "http://Console.portico.test:8080"})
	defer func() { cancel(); <-done }()
	gw, err := url.Parse(d.GatewayURL)
	if err != nil {
		t.Fatal(err)
	}
	call := func(host, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", d.GatewayURL+path, nil)
		req.Host = host
		if err := (&sigv4.Signer{Region: d.Region}).Sign(req, d.Partner.AccessKey, d.Partner.SecretKey, "", time.Now()); err != nil {
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var echo struct{ Path, Query string }
		b, _ := io.ReadAll(res.Body)
		json.Unmarshal(b, &echo)
		if res.StatusCode != 200 {
			return res.StatusCode, string(b)
		}
		return res.StatusCode, echo.Path + "?" + echo.Query
	}
	if st, got := call("acme."+domain+":"+gw.Port(), "/echo/v1/hello?name=host"); st != 200 || got != "/hello?name=host" {
		t.Fatalf("host-based call = %d %s", st, got)
	}
	if st, got := call("ACME."+domain, "/echo/v1/hello?name=upper"); st != 200 || got != "/hello?name=upper" {
		t.Fatalf("host-based call without port, upper case = %d %s", st, got)
	}
	if st, got := call(gw.Host, "/acme/echo/v1/hello?name=path"); st != 200 || got != "/hello?name=path" {
		t.Fatalf("path-based call = %d %s", st, got)
	}
	if st, body := call("globex."+domain, "/echo/v1/hello"); st != 404 {
		t.Fatalf("unknown organisation's host = %d %s", st, body)
	}

	ca := tlstest.NewCA(t)
	addDomain := func(host string) (int, string) {
		t.Helper()
		p := ca.Leaf(t, time.Time{}, time.Time{}, host)
		b, _ := json.Marshal(map[string]string{"hostname": host, "certificate": string(p.ChainPEM), "private_key": string(p.KeyPEM)})
		req, _ := http.NewRequest("POST", d.PortalURL+"/api/v1/orgs/acme/domains", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+d.Provider.Token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	if st, body := addDomain("api.acme." + domain); st != http.StatusUnprocessableEntity || !strings.Contains(body, "belong to the platform") {
		t.Fatalf("custom domain under the gateway domain = %d %s", st, body)
	}
	// The console's own host name is the platform's too.
	if st, body := addDomain("console.portico.test"); st != http.StatusUnprocessableEntity || !strings.Contains(body, "belongs to the platform itself") {
		t.Fatalf("the console's host as a custom domain = %d %s", st, body)
	}
	if st, body := addDomain("api.acme-widgets.test"); st != http.StatusCreated {
		t.Fatalf("custom domain outside the gateway domain = %d %s", st, body)
	}
}
