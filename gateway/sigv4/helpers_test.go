package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Test credentials in Portico's format: PK + 18, 40-character secret.
const (
	testAK     = "PKTESTTESTTESTTEST01"
	testSecret = "s3cr3tS3CR3Ts3cr3tS3CR3Ts3cr3tS3CR3T/+ab"
	otherAK    = "PKTESTTESTTESTTEST02"
)

// testTime is the fixed server clock of most tests.
var testTime = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

type mapKeys map[string]Credential

func (m mapKeys) Lookup(_ context.Context, ak string) (Credential, bool) {
	c, ok := m[ak]
	return c, ok
}

func testKeyStore() mapKeys {
	return mapKeys{
		testAK:                 {AccessKey: testAK, Secret: []byte(testSecret), Owner: "app-1", Active: true},
		otherAK:                {AccessKey: otherAK, Secret: []byte(testSecret + "x"), Owner: "app-2", Active: true},
		"PKREVOKED00000000000": {AccessKey: "PKREVOKED00000000000", Secret: []byte(testSecret), Active: false},
		"PKEXPIRED00000000000": {AccessKey: "PKEXPIRED00000000000", Secret: []byte(testSecret), Active: true,
			ExpiresAt: testTime.Add(-time.Second)},
	}
}

type verifierOption func(*Config)

func newTestVerifier(t testing.TB, opts ...verifierOption) *Verifier {
	t.Helper()
	cfg := Config{Keys: testKeyStore(), Nonces: NewMemoryNonces(1000), Now: func() time.Time { return testTime }}
	for _, o := range opts {
		o(&cfg)
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

// serverRequest parses raw HTTP/1.1 bytes the way net/http's server does,
// giving a request with RequestURI, Host and canonical header keys set.
func serverRequest(t testing.TB, raw string) *http.Request {
	t.Helper()
	raw = strings.ReplaceAll(raw, "\r\n", "\n")
	raw = strings.ReplaceAll(raw, "\n", "\r\n")
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatalf("ReadRequest(%q): %v", raw, err)
	}
	return r
}

// wantProblem asserts err is an *Error of the given type and status.
func wantProblem(t testing.TB, err error, typ string, status int) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *Error %s", err, err, typ)
	}
	if e.Type != typ || e.Status != status {
		t.Fatalf("error = %d %s (%s), want %d %s", e.Status, e.Type, e.Detail, status, typ)
	}
	if e.Title == "" || e.Detail == "" {
		t.Fatalf("error %s lacks title or detail: %+v", typ, e)
	}
	return e
}

// signedServerRequest signs a client request with s at testTime and returns
// it as a server would receive it.
func signedServerRequest(t testing.TB, method, rawURL, body string, s Signer) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sign(r, testAK, testSecret, "", testTime); err != nil {
		t.Fatal(err)
	}
	return toServer(t, r)
}

// toServer writes a client request out and parses it back as a server does.
func toServer(t testing.TB, r *http.Request) *http.Request {
	t.Helper()
	var b bytes.Buffer
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	sr, err := http.ReadRequest(bufio.NewReader(&b))
	if err != nil {
		t.Fatal(err)
	}
	return sr
}
