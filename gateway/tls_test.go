package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/gateway/sigv4"
	"github.com/portico-dev/portico/gateway/tlstest"
)

type tlsFixture struct {
	ca    *tlstest.CA
	store *Store
	addr  string
	def   *tls.Certificate
	now   time.Time
}

func tlsConfigWith(t *testing.T, now time.Time, certs map[string]tlstest.Pair) *Config {
	t.Helper()
	cfg := demoConfig(Limits{}, SubActive, now)
	cfg.CustomDomains = map[string]string{"api.acme.test": "acme"}
	cfg.Certificates = map[string]Certificate{}
	for h, p := range certs {
		cfg.Certificates[h] = Certificate{ChainPEM: p.ChainPEM, KeyPEM: p.KeyPEM}
	}
	return cfg
}

// startTLS runs the gateway handler behind TLSConfig on a loopback port,
// as cmd/portico does, with a default certificate from files when withDefault.
func startTLS(t *testing.T, withDefault bool) *tlsFixture {
	t.Helper()
	f := &tlsFixture{ca: tlstest.NewCA(t), now: time.Now().UTC()}
	snap, err := Compile(tlsConfigWith(t, f.now, map[string]tlstest.Pair{"api.acme.test": f.ca.Leaf(t, time.Time{}, time.Time{}, "api.acme.test")}))
	if err != nil {
		t.Fatal(err)
	}
	f.store = NewStore(snap)
	if withDefault {
		p := f.ca.Leaf(t, time.Time{}, time.Time{}, "gateway.portico.test")
		dir := t.TempDir()
		certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		os.WriteFile(certFile, p.ChainPEM, 0o600)
		os.WriteFile(keyFile, p.KeyPEM, 0o600)
		if f.def, err = LoadCertificate(certFile, keyFile); err != nil {
			t.Fatal(err)
		}
	}
	h, err := NewHandler(f.store, Options{Region: "local", Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, TLSConfig: TLSConfig(f.store, f.def), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(tls.NewListener(ln, srv.TLSConfig))
	t.Cleanup(func() { srv.Close() })
	f.addr = ln.Addr().String()
	return f
}

// handshake connects with the server name and version bounds and returns
// the connection state. It does not check the name (tests look at the
// certificate served); the HTTP/2 test verifies the chain properly.
func (f *tlsFixture) handshake(serverName string, minV, maxV uint16) (tls.ConnectionState, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", f.addr, &tls.Config{ServerName: serverName, RootCAs: f.ca.Pool(), MinVersion: minV, MaxVersion: maxV,
		InsecureSkipVerify: true})
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.ConnectionState(), nil
}

// signedGet sends a signed GET for url over HTTP/2 (or HTTP/1.1) to the
// fixture's listener, whatever url's host, with the client TLS settings tc,
// and returns the answer with its body read.
func (f *tlsFixture) signedGet(t *testing.T, tc *tls.Config, url string) (*http.Response, string) {
	t.Helper()
	tr := &http.Transport{
		TLSClientConfig:   tc,
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, f.addr)
		},
	}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", url, nil)
	if err := (&sigv4.Signer{Region: "local"}).Sign(req, "PKTESTTESTTESTTEST01", "secretsecretsecretsecretsecretsecret1234", "", f.now); err != nil {
		t.Fatal(err)
	}
	res, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func TestTLSVersions(t *testing.T) {
	f := startTLS(t, true)
	if _, err := f.handshake("api.acme.test", tls.VersionTLS10, tls.VersionTLS11); err == nil {
		t.Fatal("TLS 1.1 was accepted")
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		st, err := f.handshake("api.acme.test", v, v)
		if err != nil {
			t.Fatalf("%s refused: %v", tls.VersionName(v), err)
		}
		if st.Version != v {
			t.Fatalf("negotiated %s, want %s", tls.VersionName(st.Version), tls.VersionName(v))
		}
	}
}

// A client naming the custom domain gets its certificate, speaks HTTP/2,
// and its request — with no organisation in the path — is routed to the
// domain's organisation.
func TestTLSCustomDomainOverHTTP2(t *testing.T) {
	f := startTLS(t, true)
	_, port, _ := net.SplitHostPort(f.addr)
	res, body := f.signedGet(t, &tls.Config{RootCAs: f.ca.Pool()}, "https://api.acme.test:"+port+"/echo/v1/things/1")
	if res.ProtoMajor != 2 {
		t.Fatalf("protocol %s, want HTTP/2", res.Proto)
	}
	if res.StatusCode != 200 || !strings.Contains(body, `"ok":true`) {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	if got := res.TLS.PeerCertificates[0].DNSNames; len(got) != 1 || got[0] != "api.acme.test" {
		t.Fatalf("served certificate for %v", got)
	}
}

func TestTLSDefaultCertificate(t *testing.T) {
	f := startTLS(t, true)
	for _, name := range []string{"unknown.example.com", ""} {
		st, err := f.handshake(name, 0, 0)
		if err != nil {
			t.Fatalf("SNI %q: %v", name, err)
		}
		if got := st.PeerCertificates[0].DNSNames[0]; got != "gateway.portico.test" {
			t.Fatalf("SNI %q served %s, want the default certificate", name, got)
		}
	}
	// The custom domain matches whatever the client's case.
	st, err := f.handshake("API.Acme.Test", 0, 0)
	if err != nil || st.PeerCertificates[0].DNSNames[0] != "api.acme.test" {
		t.Fatalf("mixed-case SNI: %v", err)
	}
	// Without a default certificate, an unknown name fails the handshake
	// and a known one still works.
	g := startTLS(t, false)
	if _, err := g.handshake("unknown.example.com", 0, 0); err == nil {
		t.Fatal("unknown SNI without a default certificate was accepted")
	}
	if _, err := g.handshake("api.acme.test", 0, 0); err != nil {
		t.Fatal(err)
	}
}

// A new snapshot with a replaced certificate is served from the next
// handshake, without restarting the listener.
func TestTLSCertificateReload(t *testing.T) {
	f := startTLS(t, true)
	before, err := f.handshake("api.acme.test", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	next := f.ca.Leaf(t, time.Time{}, time.Time{}, "api.acme.test")
	snap, err := Compile(tlsConfigWith(t, f.now, map[string]tlstest.Pair{"api.acme.test": next}))
	if err != nil {
		t.Fatal(err)
	}
	f.store.Swap(snap)
	after, err := f.handshake("api.acme.test", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if after.PeerCertificates[0].Equal(before.PeerCertificates[0]) || !after.PeerCertificates[0].Equal(next.Leaf) {
		t.Fatal("the replaced certificate is not served after the swap")
	}
	// Removing the domain's certificate falls back to the default.
	snap, _ = Compile(tlsConfigWith(t, f.now, nil))
	f.store.Swap(snap)
	st, err := f.handshake("api.acme.test", 0, 0)
	if err != nil || st.PeerCertificates[0].DNSNames[0] != "gateway.portico.test" {
		t.Fatalf("after removal: %v", err)
	}
}

// Bad certificates are left out with a problem naming the host; the rest of
// the configuration compiles and serves.
func TestCompileCertificateProblems(t *testing.T) {
	ca := tlstest.NewCA(t)
	good := ca.Leaf(t, time.Time{}, time.Time{}, "api.acme.test")
	other := ca.Leaf(t, time.Time{}, time.Time{}, "www.acme.test")
	cfg := tlsConfigWith(t, time.Now(), map[string]tlstest.Pair{"api.acme.test": good})
	cfg.CustomDomains["www.acme.test"] = "acme"
	cfg.CustomDomains["bad.acme.test"] = "acme"
	cfg.CustomDomains["mismatch.acme.test"] = "acme"
	cfg.Certificates["www.acme.test"] = Certificate{ChainPEM: other.ChainPEM, KeyPEM: other.KeyPEM}
	cfg.Certificates["bad.acme.test"] = Certificate{ChainPEM: []byte("garbage"), KeyPEM: []byte("garbage")}
	cfg.Certificates["mismatch.acme.test"] = Certificate{ChainPEM: good.ChainPEM, KeyPEM: good.KeyPEM}
	cfg.Certificates["stray.example.com"] = Certificate{ChainPEM: good.ChainPEM, KeyPEM: good.KeyPEM}
	snap, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Certificates() != 2 {
		t.Fatalf("%d certificates, want 2", snap.Certificates())
	}
	probs := fmt.Sprint(snap.CertificateProblems())
	for _, h := range []string{"bad.acme.test", "mismatch.acme.test", "stray.example.com"} {
		if !strings.Contains(probs, h) {
			t.Fatalf("problems %s lack %s", probs, h)
		}
	}
	if _, ok := snap.Certificate("bad.acme.test"); ok {
		t.Fatal("bad certificate served")
	}
	// Key material stays out of JSON and fmt output.
	b, _ := json.Marshal(cfg)
	s := string(b) + fmt.Sprintf("%v %+v %#v", cfg.Certificates["www.acme.test"], cfg.Certificates["www.acme.test"], cfg.Certificates["www.acme.test"])
	if strings.Contains(s, "PRIVATE KEY") || strings.Contains(s, "BEGIN CERTIFICATE") {
		t.Fatal("certificate material in JSON or fmt output")
	}
	if !strings.Contains(string(b), `"api.acme.test":"acme"`) {
		t.Fatalf("custom domains missing from JSON: %s", b)
	}
}

// A custom domain's certificate for a name under the gateway domain (one
// stored before the domain was set or changed) is left out: the router
// sends those names to the organisation they name, and the TLS listener
// must not serve another organisation's certificate for them.
func TestCompileCertificateUnderGatewayDomain(t *testing.T) {
	ca := tlstest.NewCA(t)
	cfg := tlsConfigWith(t, time.Now(), map[string]tlstest.Pair{"api.acme.test": ca.Leaf(t, time.Time{}, time.Time{}, "api.acme.test")})
	cfg.Domain = "gw.portico.test"
	for _, h := range []string{"globex.gw.portico.test", "GW.portico.test."} {
		p := ca.Leaf(t, time.Time{}, time.Time{}, strings.ToLower(strings.TrimSuffix(h, ".")))
		cfg.CustomDomains[h] = "acme"
		cfg.Certificates[h] = Certificate{ChainPEM: p.ChainPEM, KeyPEM: p.KeyPEM}
	}
	snap, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Certificates() != 1 {
		t.Fatalf("%d certificates, want only api.acme.test's", snap.Certificates())
	}
	for _, h := range []string{"globex.gw.portico.test", "gw.portico.test"} {
		if _, ok := snap.Certificate(h); ok {
			t.Fatalf("%s: a custom domain's certificate is served for a platform name", h)
		}
	}
	if probs := fmt.Sprint(snap.CertificateProblems()); !strings.Contains(probs, "globex.gw.portico.test") || !strings.Contains(probs, "under the gateway domain") {
		t.Fatalf("problems: %s", probs)
	}
}

// TestTLSServerNameForms: the custom domain's certificate is found whatever
// the case of the name and with a trailing dot, in the snapshot's lookup
// and over a handshake (Go's client drops the dot, as RFC 6066 asks).
func TestTLSServerNameForms(t *testing.T) {
	f := startTLS(t, true)
	for _, name := range []string{"api.acme.test.", "API.ACME.TEST.", "Api.Acme.Test"} {
		if _, ok := f.store.Load().Certificate(name); !ok {
			t.Fatalf("Certificate(%q) not found", name)
		}
		st, err := f.handshake(name, 0, 0)
		if err != nil {
			t.Fatalf("SNI %q: %v", name, err)
		}
		if got := st.PeerCertificates[0].DNSNames[0]; got != "api.acme.test" {
			t.Fatalf("SNI %q served %s, want the custom domain's certificate", name, got)
		}
	}
}

// The default certificate from files is read again when the files change
// (a renewal), at most every CertFilesCheckEvery; a pair that does not load
// keeps the previous one serving.
func TestCertFilesReload(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	write := func(p tlstest.Pair, mod time.Time) {
		t.Helper()
		for name, b := range map[string][]byte{certFile: p.ChainPEM, keyFile: p.KeyPEM} {
			if err := os.WriteFile(name, b, 0o600); err != nil {
				t.Fatal(err)
			}
			os.Chtimes(name, mod, mod)
		}
	}
	old, renewed := ca.Leaf(t, time.Time{}, time.Time{}, "old.portico.test"), ca.Leaf(t, time.Time{}, time.Time{}, "new.portico.test")
	start := time.Now()
	write(old, start.Add(-time.Hour))
	var buf bytes.Buffer
	f, err := LoadCertFiles(certFile, keyFile, slog.New(slog.NewTextHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	clock := start
	f.now = func() time.Time { return clock }
	name := func() string { return f.Certificate().Leaf.DNSNames[0] }
	if name() != "old.portico.test" {
		t.Fatalf("loaded %s", name())
	}
	write(renewed, start)
	clock = clock.Add(CertFilesCheckEvery - time.Second)
	if name() != "old.portico.test" {
		t.Fatal("the files were read again before a look was due")
	}
	clock = clock.Add(2 * time.Second)
	if name() != "new.portico.test" {
		t.Fatalf("after a renewal and a look: %s", name())
	}
	if !strings.Contains(buf.String(), "default certificate reloaded") {
		t.Fatalf("no log of the reload: %s", buf.String())
	}
	// A renewal caught half-written: the loaded certificate stays.
	os.WriteFile(certFile, old.ChainPEM[:len(old.ChainPEM)/2], 0o600)
	os.Chtimes(certFile, start.Add(time.Minute), start.Add(time.Minute))
	clock = clock.Add(CertFilesCheckEvery)
	if name() != "new.portico.test" {
		t.Fatalf("a broken pair replaced the certificate: %s", name())
	}
	if !strings.Contains(buf.String(), "do not load") || strings.Contains(buf.String(), "PRIVATE KEY") {
		t.Fatalf("log of the failed reload: %s", buf.String())
	}
	// Once whole, it is served.
	write(old, start.Add(2*time.Minute))
	clock = clock.Add(CertFilesCheckEvery)
	if name() != "old.portico.test" {
		t.Fatalf("after the files were mended: %s", name())
	}
	if _, err := LoadCertFiles(filepath.Join(dir, "missing.pem"), keyFile, nil); err == nil {
		t.Fatal("a missing file loaded")
	}
}

// A request whose Host its connection's server name does not stand for is
// answered 421 (no domain fronting): into a custom domain from a
// connection opened under another name, or out of a custom domain's
// connection to a host its certificate does not cover. Names under the
// default certificate may share a connection; so may requests without a
// server name.
func TestTLSMisdirectedRequest(t *testing.T) {
	f := startTLS(t, true)
	_, port, _ := net.SplitHostPort(f.addr)
	call := func(serverName, host, path string) (int, string) {
		t.Helper()
		res, body := f.signedGet(t, &tls.Config{ServerName: serverName, InsecureSkipVerify: true}, "https://"+host+":"+port+path)
		return res.StatusCode, body
	}
	for _, c := range []struct {
		name, sni, host, path string
		want                  int
	}{
		{"custom domain, its own name", "api.acme.test", "api.acme.test", "/echo/v1/things/1", 200},
		{"custom domain, name in another case", "API.acme.test", "api.ACME.test", "/echo/v1/things/1", 200},
		{"into a custom domain under the default certificate", "gateway.portico.test", "api.acme.test", "/echo/v1/things/1", 421},
		{"out of a custom domain's connection", "api.acme.test", "gateway.portico.test", "/acme/echo/v1/things/1", 421},
		{"default-certificate names share a connection", "other.portico.test", "gateway.portico.test", "/acme/echo/v1/things/1", 200},
		// Go's client sends no server name for an IP address.
		{"no server name", "", "127.0.0.1", "/acme/echo/v1/things/1", 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, body := call(c.sni, c.host, c.path)
			if st != c.want || c.want == 421 && problemType(body) != "misdirected-request" {
				t.Fatalf("SNI %q, Host %q: %d %s, want %d", c.sni, c.host, st, body, c.want)
			}
		})
	}
}
