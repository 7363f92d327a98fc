package gateway

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"net/textproto"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/portico-dev/portico/gateway/backendsig"
	"github.com/portico-dev/portico/gateway/sigv4"
)

// fwdConfig is demoConfig with a real upstream: one catch-all operation
// forwarded to targets.
func fwdConfig(up Upstream) *Config {
	cfg := demoConfig(Limits{}, SubActive, time.Now())
	v := &cfg.APIs[0]
	v.Mock = false
	v.Upstream = up
	v.Operations = []Operation{{ID: "any", Method: "*", Path: "/*", Billable: true}}
	return cfg
}

type fwdGW struct {
	srv   *httptest.Server
	h     *Handler
	store *Store
	reg   *prometheus.Registry
}

// newFwdGateway serves cfg with private upstreams allowed (the tests'
// upstreams are on loopback) unless opts says otherwise.
func newFwdGateway(t *testing.T, cfg *Config, opts Options) *fwdGW {
	t.Helper()
	snap, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := &fwdGW{store: NewStore(snap), reg: prometheus.NewRegistry()}
	opts.Region = "local"
	opts.Registry = g.reg
	opts.Protection = &Protection{}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if g.h, err = NewHandler(g.store, opts); err != nil {
		t.Fatal(err)
	}
	g.srv = serveGateway(t, g.h)
	t.Cleanup(g.srv.Close)
	return g
}

// call sends a signed request and returns the response with its body read.
func (g *fwdGW) call(t *testing.T, method, path, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	res, err := g.send(t, method, path, body, hdr)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// send sends a signed request and returns what the client got, the body
// unread: for answers that may break off.
func (g *fwdGW) send(t *testing.T, method, path, body string, hdr map[string]string) (*http.Response, error) {
	t.Helper()
	req, _ := http.NewRequest(method, g.srv.URL+path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if err := (&sigv4.Signer{Region: "local"}).Sign(req, "PKTESTTESTTESTTEST01", "secretsecretsecretsecretsecretsecret1234", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	return http.DefaultClient.Do(req)
}

// doSigned signs req as the test app (payload: the body's hex SHA-256, or
// "" to let the signer hash it), sends it and returns the answer with its
// body read.
func doSigned(t *testing.T, req *http.Request, payload string) (*http.Response, string) {
	t.Helper()
	if err := (&sigv4.Signer{Region: "local"}).Sign(req, "PKTESTTESTTESTTEST01", "secretsecretsecretsecretsecretsecret1234", payload, time.Now()); err != nil {
		t.Fatal(err)
	}
	return sendAndRead(t, req)
}

// sigSeen is what a signature-checking backend saw of one call.
type sigSeen struct {
	Err     string // the backend signature's verification error
	Dups    string // backend-signature headers not present exactly once
	ID      string // X-Portico-Request-Id
	Path    string
	BodyLen int
}

// sigCheckingUpstream is a backend that verifies every call's backend
// signature under bk1 = secret, reports what it saw on the channel and
// answers reply.
func sigCheckingUpstream(t *testing.T, secret []byte, reply string) (*httptest.Server, <-chan sigSeen) {
	t.Helper()
	got := make(chan sigSeen, 64)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(b)
		s := sigSeen{ID: r.Header.Get(backendsig.HeaderRequestID), Path: r.URL.Path, BodyLen: len(b)}
		if _, err := backendsig.Verify(r, map[string][]byte{"bk1": secret}, hex.EncodeToString(sum[:]), time.Now()); err != nil {
			s.Err = err.Error()
		}
		for _, name := range backendsig.Names {
			if n := len(r.Header.Values(name)); n != 1 {
				s.Dups += fmt.Sprintf(" %s×%d", name, n)
			}
		}
		got <- s
		io.WriteString(w, reply)
	}))
	t.Cleanup(up.Close)
	return up, got
}

func (g *fwdGW) metrics(t *testing.T) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(g.reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func problemType(body string) string {
	var p struct{ Type string }
	json.Unmarshal([]byte(body), &p)
	return p.Type[strings.LastIndexByte(p.Type, '/')+1:]
}

// Modes of a rawUpstream.
const (
	rawReset    int32 = iota // read the request, then reset the connection
	rawOK                    // answer 200 "ok" and close
	rawTruncate              // promise 1000 bytes, send 10, reset
)

// rawUpstream is a TCP listener that misbehaves on purpose and counts the
// connections it accepts (every answer closes its connection, so each
// attempt is one connection).
type rawUpstream struct {
	ln      net.Listener
	mode    atomic.Int32
	accepts atomic.Int32
}

func newRawUpstream(t *testing.T, mode int32) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln}
	u.mode.Store(mode)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.accepts.Add(1)
			go u.serve(c.(*net.TCPConn))
		}
	}()
	return u
}

func (u *rawUpstream) URL() string { return "http://" + u.ln.Addr().String() }

func (u *rawUpstream) serve(c *net.TCPConn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return
	}
	io.Copy(io.Discard, req.Body)
	switch u.mode.Load() {
	case rawReset:
		c.SetLinger(0)
	case rawOK:
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
	case rawTruncate:
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n0123456789")
		time.Sleep(50 * time.Millisecond)
		c.SetLinger(0)
	}
}

// refusedURL is an address nothing listens on.
func refusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// echoUpstream answers with the request it received, as JSON, and counts
// the calls to paths other than /health.
type echoUpstream struct {
	*httptest.Server
	calls     atomic.Int32
	unhealthy atomic.Bool
}

type echoed struct {
	Method, Path, Body string
	Header             http.Header
}

func newEchoUpstream(t *testing.T) *echoUpstream {
	t.Helper()
	e := &echoUpstream{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			if e.unhealthy.Load() {
				w.WriteHeader(http.StatusInternalServerError)
			}
			return
		}
		e.calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(echoed{r.Method, r.URL.EscapedPath(), string(b), r.Header})
	}))
	t.Cleanup(e.Close)
	return e
}

func TestForwardUpstreamDown(t *testing.T) {
	t.Run("refused answers 502", func(t *testing.T) {
		g := newFwdGateway(t, fwdConfig(Upstream{Targets: []Target{{URL: refusedURL(t), Weight: 1}}}), Options{AllowPrivateUpstreams: true})
		res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil)
		if res.StatusCode != 502 || problemType(body) != "upstream-unavailable" || res.Header.Get(RequestIDHeader) == "" {
			t.Fatalf("%d %s", res.StatusCode, body)
		}
		if m := g.metrics(t); !strings.Contains(m, `portico_gateway_upstream_errors_total{api="echo",kind="unavailable",provider="acme"} 1`) {
			t.Fatalf("no upstream error metric:\n%s", m)
		}
	})
	t.Run("GET retried on a healthy target", func(t *testing.T) {
		dead, live := newRawUpstream(t, rawReset), newEchoUpstream(t)
		g := newFwdGateway(t, fwdConfig(Upstream{Retries: 1, Targets: []Target{{URL: dead.URL(), Weight: 1}, {URL: live.URL, Weight: 1}}}),
			Options{AllowPrivateUpstreams: true, BreakerFailures: 1000})
		for i := range 20 {
			if res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil); res.StatusCode != 200 {
				t.Fatalf("call %d: %d %s", i, res.StatusCode, body)
			}
		}
		if dead.accepts.Load() == 0 {
			t.Fatal("the dead target was never tried, so nothing was retried")
		}
		// A PUT's body is replayed intact on the retry.
		for i := range 10 {
			res, body := g.call(t, "PUT", "/acme/echo/v1/x", `{"n":42}`, nil)
			var e echoed
			json.Unmarshal([]byte(body), &e)
			if res.StatusCode != 200 || e.Body != `{"n":42}` {
				t.Fatalf("PUT %d: %d %s", i, res.StatusCode, body)
			}
		}
	})
	// One target that resets every connection: the number of connections
	// it sees is the number of attempts.
	for _, tc := range []struct {
		name     string
		method   string
		hdr      map[string]string
		attempts int32
	}{
		{"GET retried", "GET", nil, 3},
		{"DELETE retried", "DELETE", nil, 3},
		{"POST not retried", "POST", nil, 1},
		{"PATCH not retried", "PATCH", nil, 1},
		{"POST with Idempotency-Key retried", "POST", map[string]string{"Idempotency-Key": "k1"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dead := newRawUpstream(t, rawReset)
			g := newFwdGateway(t, fwdConfig(Upstream{Retries: 2, Targets: []Target{{URL: dead.URL(), Weight: 1}}}),
				Options{AllowPrivateUpstreams: true, BreakerFailures: 1000})
			res, body := g.call(t, tc.method, "/acme/echo/v1/x", `{"a":1}`, tc.hdr)
			if res.StatusCode != 502 || problemType(body) != "upstream-unavailable" {
				t.Fatalf("%d %s", res.StatusCode, body)
			}
			if n := dead.accepts.Load(); n != tc.attempts {
				t.Fatalf("%d attempts, want %d", n, tc.attempts)
			}
		})
	}
}

func TestForwardSlowUpstream(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer slow.Close()
	defer close(release)
	g := newFwdGateway(t, fwdConfig(Upstream{Timeout: 300 * time.Millisecond, Retries: 3, Targets: []Target{{URL: slow.URL, Weight: 1}}}),
		Options{AllowPrivateUpstreams: true})
	start := time.Now()
	res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil)
	if res.StatusCode != 504 || problemType(body) != "upstream-timeout" {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	// Generous bound: the point is that it is the timeout, not the
	// 10 s the test would otherwise wait, and that it is not retried.
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("answered after %v", d)
	}
	if m := g.metrics(t); !strings.Contains(m, `kind="timeout"`) {
		t.Fatalf("no timeout metric:\n%s", m)
	}
}

// An answer that stalls after its headers is cut at the timeout, whichever
// transport carries it (h1Transport enforces the call's deadline on the
// connection, without a timer context), and counted as a timeout.
func TestForwardTimeoutMidBody(t *testing.T) {
	release := make(chan struct{})
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(200)
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer stall.Close()
	defer close(release)
	g := newFwdGateway(t, fwdConfig(Upstream{Timeout: 300 * time.Millisecond, Targets: []Target{{URL: stall.URL, Weight: 1}}}),
		Options{AllowPrivateUpstreams: true})
	start := time.Now()
	res, err := g.send(t, "GET", "/acme/echo/v1/x", "", nil)
	if err == nil {
		b, rerr := io.ReadAll(res.Body)
		res.Body.Close()
		if rerr == nil && len(b) == 1000 {
			t.Fatalf("got the whole body %q", b)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cut after %v, want about the 300 ms timeout", d)
	}
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(g.metrics(t), `kind="timeout"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no timeout metric:\n%s", g.metrics(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestForwardResetMidResponse(t *testing.T) {
	up := newRawUpstream(t, rawTruncate)
	g := newFwdGateway(t, fwdConfig(Upstream{Targets: []Target{{URL: up.URL(), Weight: 1}}}), Options{AllowPrivateUpstreams: true})
	res, err := g.send(t, "GET", "/acme/echo/v1/x", "", nil)
	if err == nil {
		b, rerr := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == 200 && (rerr == nil || len(b) >= 1000) {
			t.Fatalf("truncated answer looked complete: %d bytes, %v", len(b), rerr)
		}
		if res.StatusCode != 200 && res.StatusCode != 502 {
			t.Fatalf("status %d", res.StatusCode)
		}
	}
	if m := g.metrics(t); !strings.Contains(m, `portico_gateway_upstream_errors_total{api="echo",kind="truncated",provider="acme"} 1`) {
		t.Fatalf("no truncation metric:\n%s", m)
	}
	// The gateway is still serving.
	up.mode.Store(rawOK)
	if res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil); res.StatusCode != 200 || body != "ok" {
		t.Fatalf("after the reset: %d %s", res.StatusCode, body)
	}
}

// TestForwardCircuitBreaker: after N consecutive failures the target gets
// no connection attempts; after the cool-down one probe closes the breaker.
// The breaker outlives a configuration reload.
func TestForwardCircuitBreaker(t *testing.T) {
	up := newRawUpstream(t, rawReset)
	cfg := fwdConfig(Upstream{Targets: []Target{{URL: up.URL(), Weight: 1}}})
	var logs syncLog
	g := newFwdGateway(t, cfg, Options{AllowPrivateUpstreams: true, BreakerFailures: 3, BreakerCooldown: 300 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	for i := range 3 {
		if res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil); res.StatusCode != 502 {
			t.Fatalf("failure %d: %d %s", i, res.StatusCode, body)
		}
	}
	// A reload with the same target keeps its state.
	cfg2 := fwdConfig(Upstream{Targets: []Target{{URL: up.URL(), Weight: 1}}})
	cfg2.Version = 2
	snap2, err := Compile(cfg2)
	if err != nil {
		t.Fatal(err)
	}
	g.store.Swap(snap2)
	for i := range 5 {
		res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil)
		if res.StatusCode != 503 || problemType(body) != "no-healthy-upstream" {
			t.Fatalf("open breaker, call %d: %d %s", i, res.StatusCode, body)
		}
	}
	if n := up.accepts.Load(); n != 3 {
		t.Fatalf("the open breaker let %d connections through, want 3", n)
	}
	if m := g.metrics(t); !strings.Contains(m, `portico_gateway_upstream_breaker_state{target="`+up.URL()+`"} 1`) ||
		!strings.Contains(m, `portico_gateway_upstream_target_healthy{target="`+up.URL()+`"} 0`) {
		t.Fatalf("metrics do not show the open breaker:\n%s", m)
	}
	up.mode.Store(rawOK)
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil)
		if res.StatusCode == 200 {
			break
		}
		if res.StatusCode != 503 || time.Now().After(deadline) {
			t.Fatalf("waiting for the half-open probe: %d %s", res.StatusCode, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := range 3 {
		if res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil); res.StatusCode != 200 {
			t.Fatalf("closed again, call %d: %d %s", i, res.StatusCode, body)
		}
	}
	for _, want := range []string{"upstream breaker opened", "upstream breaker half-open", "upstream breaker closed"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}
}

// TestForwardActiveHealthChecks: a target failing its health checks leaves
// the rotation and comes back once they pass; with every target down the
// gateway answers 503.
func TestForwardActiveHealthChecks(t *testing.T) {
	a, b := newEchoUpstream(t), newEchoUpstream(t)
	g := newFwdGateway(t, fwdConfig(Upstream{HealthCheckPath: "/health", Targets: []Target{{URL: a.URL, Weight: 1}, {URL: b.URL, Weight: 1}}}),
		Options{AllowPrivateUpstreams: true, HealthCheckInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { g.h.RunHealthChecks(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	healthy := func(u string) bool {
		return strings.Contains(g.metrics(t), `portico_gateway_upstream_target_healthy{target="`+u+`"} 1`)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s:\n%s", what, g.metrics(t))
			}
		}
	}
	waitFor("both targets healthy", func() bool { return healthy(a.URL) && healthy(b.URL) })

	b.unhealthy.Store(true)
	waitFor("b out of rotation", func() bool { return !healthy(b.URL) })
	before := b.calls.Load()
	for i := range 20 {
		if res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil); res.StatusCode != 200 {
			t.Fatalf("call %d: %d %s", i, res.StatusCode, body)
		}
	}
	if n := b.calls.Load() - before; n != 0 {
		t.Fatalf("the unhealthy target got %d calls", n)
	}

	a.unhealthy.Store(true)
	waitFor("a out of rotation", func() bool { return !healthy(a.URL) })
	res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil)
	if res.StatusCode != 503 || problemType(body) != "no-healthy-upstream" || res.Header.Get("Retry-After") == "" {
		t.Fatalf("every target down: %d %s", res.StatusCode, body)
	}

	a.unhealthy.Store(false)
	b.unhealthy.Store(false)
	waitFor("both back", func() bool { return healthy(a.URL) && healthy(b.URL) })
	before = b.calls.Load()
	for i := 0; i < 60 && b.calls.Load() == before; i++ {
		if res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil); res.StatusCode != 200 {
			t.Fatalf("call %d: %d %s", i, res.StatusCode, body)
		}
	}
	if b.calls.Load() == before {
		t.Fatal("the recovered target got no calls")
	}
}

// TestForwardHeaders: credentials and forged signature headers are
// stripped; X-Forwarded-*, X-Portico-Request-Id and traceparent are sent.
func TestForwardHeaders(t *testing.T) {
	up := newEchoUpstream(t)
	g := newFwdGateway(t, fwdConfig(Upstream{Targets: []Target{{URL: up.URL + "/base", Weight: 1}}}), Options{AllowPrivateUpstreams: true})
	get := func(hdr map[string]string) (*http.Response, echoed) {
		t.Helper()
		res, body := g.call(t, "GET", "/acme/echo/v1/a%2Fb/c?q=1", "", hdr)
		var e echoed
		if err := json.Unmarshal([]byte(body), &e); err != nil || res.StatusCode != 200 {
			t.Fatalf("%d %s", res.StatusCode, body)
		}
		return res, e
	}
	const incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	res, e := get(map[string]string{"Traceparent": incoming, "Tracestate": "rojo=00f067aa0ba902b7", "X-Forwarded-For": "203.0.113.9",
		"X-Portico-Consumer": "forged", "X-Portico-Nonce": "n1"})
	if e.Path != "/base/a%2Fb/c" {
		t.Errorf("path = %q", e.Path)
	}
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Portico-Nonce", "X-Portico-Consumer"} {
		if v := e.Header.Get(h); v != "" {
			t.Errorf("%s forwarded: %q", h, v)
		}
	}
	if got := e.Header.Get("X-Forwarded-For"); got != "203.0.113.9, 127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q", got)
	}
	if got := e.Header.Get("X-Forwarded-Host"); got != strings.TrimPrefix(g.srv.URL, "http://") {
		t.Errorf("X-Forwarded-Host = %q", got)
	}
	if got := e.Header.Get("X-Forwarded-Proto"); got != "http" {
		t.Errorf("X-Forwarded-Proto = %q", got)
	}
	if got := e.Header.Get(RequestIDHeader); got == "" || got != res.Header.Get(RequestIDHeader) {
		t.Errorf("request id to backend %q, to client %q", got, res.Header.Get(RequestIDHeader))
	}
	tp := e.Header.Get("Traceparent")
	if !validTraceparent(tp) || tp[3:35] != incoming[3:35] || tp[36:52] == incoming[36:52] || tp[53:] != "01" {
		t.Errorf("traceparent %q does not continue %q with a new span", tp, incoming)
	}
	if got := e.Header.Get("Tracestate"); got != "rojo=00f067aa0ba902b7" {
		t.Errorf("tracestate = %q", got)
	}
	for _, in := range []string{"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"} {
		hdr := map[string]string{"Tracestate": "rojo=1"}
		if in != "" {
			hdr["Traceparent"] = in
		}
		_, e := get(hdr)
		tp := e.Header.Get("Traceparent")
		if !validTraceparent(tp) || strings.Contains(tp, "00000000000000000000000000000000") {
			t.Errorf("incoming %q: started trace %q is invalid", in, tp)
		}
		if e.Header.Get("Tracestate") != "" {
			t.Errorf("incoming %q: tracestate of an unknown trace kept", in)
		}
	}
}

func TestValidTraceparent(t *testing.T) {
	for s, want := range map[string]bool{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01":       true,
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00":       true,
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra": true,
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra": false,
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01":       false,
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01":       false,
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01":       false,
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01":       false,
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7":          false,
		"": false,
	} {
		if got := validTraceparent(s); got != want {
			t.Errorf("validTraceparent(%q) = %v", s, got)
		}
	}
}

// TestForwardPrivateUpstreamRefused: without AllowPrivateUpstreams the
// dialer refuses loopback after resolution, whether the URL names an IP
// or a host name that resolves to one.
func TestForwardPrivateUpstreamRefused(t *testing.T) {
	up := newEchoUpstream(t)
	port := up.URL[strings.LastIndexByte(up.URL, ':'):]
	for _, target := range []string{up.URL, "http://localhost" + port} {
		t.Run(target, func(t *testing.T) {
			g := newFwdGateway(t, fwdConfig(Upstream{Retries: 2, Targets: []Target{{URL: target, Weight: 1}}}), Options{})
			res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil)
			if res.StatusCode != 502 || problemType(body) != "upstream-forbidden" {
				t.Fatalf("%d %s", res.StatusCode, body)
			}
			if strings.Contains(body, "127.0.0.1") {
				t.Fatalf("the problem names the internal address: %s", body)
			}
		})
	}
	if n := up.calls.Load(); n != 0 {
		t.Fatalf("the loopback upstream got %d calls", n)
	}
}

func TestBlockedUpstreamAddr(t *testing.T) {
	for s, want := range map[string]bool{
		"127.0.0.1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true, "169.254.169.254": true,
		"0.0.0.0": true, "224.0.0.1": true, "100.64.0.1": true, "::1": true, "::": true, "fe80::1": true, "fd00::1": true,
		"ff02::1": true, "::ffff:127.0.0.1": true, "::ffff:10.0.0.1": true,
		"93.184.216.34": false, "8.8.8.8": false, "2606:4700:4700::1111": false,
	} {
		if got := BlockedUpstreamAddr(netip.MustParseAddr(s)); got != want {
			t.Errorf("BlockedUpstreamAddr(%s) = %v", s, got)
		}
	}
}

// TestUpstreamDialTimeouts: each target address dials with its upstream's
// ConnectTimeout (the longest when versions share an address).
func TestUpstreamDialTimeouts(t *testing.T) {
	cfg := fwdConfig(Upstream{ConnectTimeout: 700 * time.Millisecond, Targets: []Target{{URL: "http://backend.example:8080/x", Weight: 1}, {URL: "https://secure.example", Weight: 1}}})
	snap, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(NewStore(snap), Options{Region: "local"})
	if err != nil {
		t.Fatal(err)
	}
	h.ups.poolFor(&snap.APIs()[0])
	for addr, want := range map[string]time.Duration{"backend.example:8080": 700 * time.Millisecond, "secure.example:443": 700 * time.Millisecond, "other.example:80": DefaultConnectTimeout} {
		if got := h.ups.dialTimeout(addr); got != want {
			t.Errorf("dialTimeout(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestPoolPickWeights: weighted selection follows the weights, skips
// weight-0 and down targets, and reports none when all are down.
func TestPoolPickWeights(t *testing.T) {
	u := newUpstreams(NewStore(nil), slog.New(slog.NewTextHandler(io.Discard, nil)), 0, 0)
	mk := func(s string) *targetState { st, _ := newTargetState(s); return st }
	p := &pool{targets: []poolTarget{{mk("http://a"), 3}, {mk("http://b"), 1}, {mk("http://c"), 0}}}
	var n [3]int
	for range 4000 {
		n[p.pickOne(u, 0)]++
	}
	if n[2] != 0 || n[0] < 2600 || n[0] > 3400 {
		t.Fatalf("picks = %v, want about 3000/1000/0", n)
	}
	p.targets[0].activeDown.Store(true)
	for range 100 {
		if i := p.pickOne(u, 0); i != 1 {
			t.Fatalf("picked %d with a down", i)
		}
	}
	if i := p.pickOne(u, 1<<1); i != 1 {
		t.Fatalf("a retry with only b left picked %d, want b again", i)
	}
	p.targets[1].activeDown.Store(true)
	if i := p.pickOne(u, 0); i != -1 {
		t.Fatalf("picked %d with every target down", i)
	}
}

// syncLog is a log destination safe for concurrent writers.
type syncLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestForwardRelaysEarlyHints: a 103 Early Hints from the backend reaches
// the client before the final answer, as httputil.ReverseProxy relays it
// over net/http's Transport; the final answer keeps the gateway's own
// fields, which the proxy clears from the header map after a 1xx; and the
// call is logged and metered with the final status, not 103.
func TestForwardRelaysEarlyHints(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "done")
	}))
	t.Cleanup(up.Close)
	cfg := fwdConfig(Upstream{Targets: []Target{{URL: up.URL, Weight: 1}}})
	cfg.Subscriptions[0].Limits = Limits{RequestsPerSecond: 100, DayQuota: 1000}
	m := &recordingMeter{}
	g := newFwdGateway(t, cfg, Options{AllowPrivateUpstreams: true, Meter: m})

	var hints []string
	req, _ := http.NewRequest("GET", g.srv.URL+"/acme/echo/v1/page", nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			hints = append(hints, fmt.Sprintf("%d %s", code, h.Get("Link")))
			return nil
		},
	}))
	res, body := doSigned(t, req, "")
	if res.StatusCode != http.StatusCreated || body != "done" {
		t.Fatalf("final answer %d %q", res.StatusCode, body)
	}
	if len(hints) != 1 || hints[0] != "103 </style.css>; rel=preload; as=style" {
		t.Fatalf("1xx answers the client got: %q", hints)
	}
	for _, k := range []string{RequestIDHeader, "Ratelimit-Policy", "Ratelimit"} {
		if res.Header.Get(k) == "" {
			t.Errorf("the final answer lost %s: %v", k, res.Header)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.events) != 1 || m.events[0].Status != http.StatusCreated {
		t.Fatalf("metered %+v, want one call with status 201", m.events)
	}
}

// The backend signature reaches the backend whole and once, whichever
// transport carries the call: h1Transport writes it into the head itself
// (it is held outside the header map), net/http's Transport — a chunked
// body h1Transport does not carry, or a transport of the caller's —
// gets it in the map.
func TestBackendSignatureEveryTransport(t *testing.T) {
	secret := []byte("backend-secret-backend-secret-32")
	up, got := sigCheckingUpstream(t, secret, "ok")
	cfg := fwdConfig(Upstream{Targets: []Target{{URL: up.URL + "/base", Weight: 1}}})
	cfg.APIs[0].BackendKeys = []BackendKey{{ID: "bk1", Secret: secret}}
	for _, tc := range []struct {
		name    string
		opts    Options
		chunked bool
	}{
		{"h1", Options{AllowPrivateUpstreams: true}, false},
		{"h1-fallback-chunked", Options{AllowPrivateUpstreams: true}, true},
		{"own-transport", Options{AllowPrivateUpstreams: true, Transport: &http.Transport{}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newFwdGateway(t, cfg, tc.opts)
			body := "payload"
			bodySum := sha256.Sum256([]byte(body))
			req, _ := http.NewRequest("POST", g.srv.URL+"/acme/echo/v1/things/1?b=2&a=1", nil)
			req.Body, req.ContentLength = io.NopCloser(strings.NewReader(body)), int64(len(body))
			if tc.chunked {
				req.ContentLength = -1 // no length: sent chunked
			}
			// The client's own X-Portico-* headers never reach the backend.
			req.Header.Set(backendsig.HeaderConsumer, "forged")
			req.Header.Set(backendsig.HeaderSignature, "keyId=bk1, v1=00")
			res, b := doSigned(t, req, hex.EncodeToString(bodySum[:]))
			if res.StatusCode != 200 {
				t.Fatalf("%d %s", res.StatusCode, b)
			}
			s := <-got
			if s.Err != "" || s.Dups != "" || s.ID != res.Header.Get(RequestIDHeader) || s.BodyLen != len(body) {
				t.Fatalf("backend saw: %+v (client's request id %s)", s, res.Header.Get(RequestIDHeader))
			}
		})
	}
}

// The upstream's answer fields reach the client as the proxy would copy
// them — every value, in order, after the gateway's own, and without the
// hop-by-hop ones — whichever transport carried the call, though they
// are handed over whole rather than copied.
func TestForwardAnswerHeaders(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Set-Cookie"] = []string{"a=1", "b=2"}
		h.Set("Connection", "X-Hop")
		h.Set("X-Hop", "secret")
		h.Set("Keep-Alive", "timeout=5")
		h.Set("Content-Type", "application/json")
		h.Set(RequestIDHeader, "upstream's own")
		h.Set("Ratelimit", `"upstream";r=1;t=1`)
		h.Set("X-Custom", "kept")
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(up.Close)
	cfg := fwdConfig(Upstream{Targets: []Target{{URL: up.URL, Weight: 1}}})
	cfg.Subscriptions[0].Limits = Limits{RequestsPerSecond: 100, DayQuota: 1000}
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"h1", Options{AllowPrivateUpstreams: true}},
		{"own-transport", Options{AllowPrivateUpstreams: true, Transport: &http.Transport{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newFwdGateway(t, cfg, tc.opts)
			for i := range 3 { // a reused connection, and a fresh answer each time
				res, body := g.call(t, "GET", "/acme/echo/v1/page", "", nil)
				if res.StatusCode != 200 || body != `{"ok":true}` {
					t.Fatalf("call %d: %d %q", i, res.StatusCode, body)
				}
				h := res.Header
				if got := h.Values("Set-Cookie"); len(got) != 2 || got[0] != "a=1" || got[1] != "b=2" {
					t.Errorf("Set-Cookie = %q", got)
				}
				for _, k := range []string{"X-Hop", "Keep-Alive"} {
					if v := h.Get(k); v != "" {
						t.Errorf("hop-by-hop %s reached the client: %q", k, v)
					}
				}
				if got := h.Values(RequestIDHeader); len(got) != 2 || got[0] == "upstream's own" || got[1] != "upstream's own" {
					t.Errorf("%s = %q: want the gateway's, then the upstream's", RequestIDHeader, got)
				}
				if got := h.Values("Ratelimit"); len(got) != 2 || !strings.HasPrefix(got[0], `"burst"`) || got[1] != `"upstream";r=1;t=1` {
					t.Errorf("RateLimit = %q: want the gateway's, then the upstream's", got)
				}
				if h.Get("Content-Type") != "application/json" || h.Get("X-Custom") != "kept" || h.Get("Ratelimit-Policy") == "" {
					t.Errorf("answer header %v", h)
				}
			}
		})
	}
}

// An event stream is relayed event by event even when its length is
// declared: the proxy flushes text/event-stream at once, and so the
// gateway leaves that Content-Type where the proxy looks for it.
func TestForwardFlushesEventStream(t *testing.T) {
	const first, second = "data: one\n\n", "data: two\n\n"
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "Text/Event-Stream; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(first)+len(second)))
		io.WriteString(w, first)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		io.WriteString(w, second)
	}))
	t.Cleanup(up.Close)
	g := newFwdGateway(t, fwdConfig(Upstream{Targets: []Target{{URL: up.URL, Weight: 1}}}), Options{AllowPrivateUpstreams: true})
	type answer struct {
		res   *http.Response
		first string
		err   error
	}
	got := make(chan answer, 1)
	go func() { // the head and the first event must come while the upstream waits
		res, err := g.send(t, "GET", "/acme/echo/v1/events", "", nil)
		if err != nil {
			got <- answer{err: err}
			return
		}
		b := make([]byte, len(first))
		_, err = io.ReadFull(res.Body, b)
		got <- answer{res, string(b), err}
	}()
	var a answer
	select {
	case a = <-got:
		if a.err != nil || a.first != first {
			t.Fatalf("first event: %q %v", a.first, a.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first event was held back until the stream ended")
	}
	res := a.res
	defer res.Body.Close()
	close(release)
	rest, _ := io.ReadAll(res.Body)
	if string(rest) != second || res.Header.Get("Content-Type") != "Text/Event-Stream; charset=utf-8" {
		t.Fatalf("rest %q, Content-Type %q", rest, res.Header.Get("Content-Type"))
	}
}

func TestMoveHeader(t *testing.T) {
	shared := make([]string, 1, 4) // room to append into, as a slice the gateway shares might have
	shared[0] = "gw"
	dst := http.Header{"Vary": shared, "X-Own": {"1"}}
	src := http.Header{"Vary": {"Accept"}, "Content-Type": {"text/event-stream"}, "X-New": {"a", "b"}}
	moveHeader(dst, src)
	if got := dst["Vary"]; len(got) != 2 || got[0] != "gw" || got[1] != "Accept" || shared[:2][1] != "" {
		t.Errorf("Vary = %q (shared %q)", got, shared)
	}
	if got := dst["X-New"]; len(got) != 2 || got[1] != "b" {
		t.Errorf("X-New = %q", got)
	}
	if len(src) != 1 || src.Get("Content-Type") != "text/event-stream" || dst.Get("Content-Type") != "" {
		t.Errorf("left %v, moved %v: an event stream's Content-Type stays for the proxy", src, dst)
	}
	for ct, want := range map[string]bool{"text/event-stream": true, " TEXT/event-stream ; charset=x": true,
		"text/event-streams": false, "application/json": false, "": false} {
		if eventStream(ct) != want {
			t.Errorf("eventStream(%q) = %v", ct, !want)
		}
	}
}

// The backend sees the same request fields whether the gateway's own
// server handed the request's header map over to the proxy (handOver)
// or the proxy copied it (net/http's server, which never hands it over):
// plain fields and repeated ones in order, keep-alive's fields gone,
// earlier proxies' X-Forwarded-For extended, and whatever the proxy
// strips stripped.
func TestForwardHandsOverHeader(t *testing.T) {
	up := newEchoUpstream(t)
	g := newFwdGateway(t, fwdConfig(Upstream{Targets: []Target{{URL: up.URL, Weight: 1}}}), Options{AllowPrivateUpstreams: true})
	std := "http://" + startServer(t, StdServer, g.h, ServerLimits{})
	type field struct{ name, value string }
	sets := map[string][]field{
		"plain": {{"Accept", "text/plain"}, {"X-Custom", "a"}, {"X-Custom", "b"}, {"User-Agent", "probe/1"},
			{"Tracestate", "rojo=1"}},
		"keep-alive":    {{"Connection", "keep-alive"}, {"Keep-Alive", "timeout=5"}, {"X-Custom", "c"}},
		"earlier proxy": {{"X-Forwarded-For", "203.0.113.9"}, {"X-Forwarded-For", "198.51.100.1"}, {"X-Forwarded-Host", "evil"}, {"X-Forwarded-Proto", "https"}},
		"credentials":   {{"X-Portico-Consumer", "forged"}, {"X-Amz-Security-Token", "t"}, {"X-Portico-App", "forged"}},
		// One each: a field the parser did not class would be handed over.
		"te":                  {{"Te", "trailers, deflate"}, {"X-Custom", "d"}},
		"proxy-connection":    {{"Proxy-Connection", "keep-alive"}},
		"forwarded":           {{"Forwarded", "for=192.0.2.1"}},
		"proxy-authorization": {{"Proxy-Authorization", "Basic eA=="}},
		"named by Connection": {{"Connection", "X-Secret"}, {"X-Secret", "s"}, {"X-Custom", "e"}},
	}
	// What differs between any two calls, or between the two listeners.
	varying := []string{RequestIDHeader, "Traceparent", "X-Forwarded-Host", backendsig.HeaderTimestamp, backendsig.HeaderSignature}
	seen := func(t *testing.T, base string, fields []field) (echoed, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/acme/echo/v1/h", nil)
		for _, f := range fields {
			req.Header.Add(f.name, f.value)
		}
		res, body := doSigned(t, req, "")
		var e echoed
		if err := json.Unmarshal([]byte(body), &e); err != nil || res.StatusCode != 200 {
			t.Fatalf("%d %s", res.StatusCode, body)
		}
		host := e.Header.Get("X-Forwarded-Host")
		for _, k := range varying {
			delete(e.Header, k)
		}
		return e, host
	}
	for name, fields := range sets {
		t.Run(name, func(t *testing.T) {
			lean, leanHost := seen(t, g.srv.URL, fields)
			ref, refHost := seen(t, std, fields)
			if !reflect.DeepEqual(lean.Header, ref.Header) {
				t.Errorf("backend saw\n%v\nthrough the gateway's server, and\n%v\nthrough net/http's", lean.Header, ref.Header)
			}
			if leanHost != strings.TrimPrefix(g.srv.URL, "http://") || refHost != strings.TrimPrefix(std, "http://") {
				t.Errorf("X-Forwarded-Host %q and %q", leanHost, refHost)
			}
			for _, k := range []string{"Authorization", "X-Amz-Date", "Keep-Alive", "Connection", "X-Secret", "Proxy-Connection",
				"Forwarded", "Proxy-Authorization", "X-Portico-Consumer", "X-Portico-App", "X-Amz-Security-Token"} {
				if v, ok := lean.Header[k]; ok {
					t.Errorf("%s reached the backend: %q", k, v)
				}
			}
			var custom []string
			for _, f := range fields {
				if f.name == "X-Custom" {
					custom = append(custom, f.value)
				}
			}
			if got := lean.Header["X-Custom"]; !slices.Equal(got, custom) {
				t.Errorf("X-Custom = %q, want %q", got, custom)
			}
		})
	}
	lean, _ := seen(t, g.srv.URL, sets["earlier proxy"])
	if got := lean.Header.Get("X-Forwarded-For"); got != "203.0.113.9, 198.51.100.1, 127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q", got)
	}
	if got := lean.Header.Get("X-Forwarded-Proto"); got != "http" {
		t.Errorf("X-Forwarded-Proto = %q", got)
	}
	hop, _ := seen(t, g.srv.URL, sets["te"])
	if got := hop.Header.Get("Te"); got != "trailers" {
		t.Errorf("Te = %q: the proxy passes trailers on", got)
	}
}
