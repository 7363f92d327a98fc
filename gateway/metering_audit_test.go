package gateway

// An adversarial audit of metering and quota exactness: every call the
// gateway admits yields exactly one usage event whose Status is what the
// client got (499 when it left before any answer, the gateway's own 502 or
// 504 when the upstream failed), whatever goes wrong on either side; calls
// refused before admission yield none and spend no quota unit. Each
// scenario drives real HTTP through the gateway, on both server kinds, to
// real loopback upstreams.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/portico-dev/portico/gateway/sigv4"
)

// auditGuard bounds every wait of the audit; nothing should come near it.
const auditGuard = 10 * time.Second

// auditGW is a gateway metering into a recordingMeter, served by one
// server kind. served receives one value each time the handler's
// ServeHTTP returns (normally or by panicking): once a test has seen as
// many as it sent requests, every event those requests will ever produce
// has been recorded, so counting them is exact rather than a race.
type auditGW struct {
	h      *Handler
	store  *Store
	meter  *recordingMeter
	reg    *prometheus.Registry
	addr   string
	url    string
	served chan struct{}
	client *http.Client
	// logs has the gateway's log lines unless the test gave a logger.
	logs *syncLog
}

// reasons returns the reasons of the JSON access-log lines, in order.
func (l *syncLog) reasons(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, line := range bytes.Split(bytes.TrimSpace([]byte(l.String())), []byte("\n")) {
		var v struct{ Msg, Reason string }
		if err := json.Unmarshal(line, &v); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if v.Msg == "gateway" {
			out = append(out, v.Reason)
		}
	}
	return out
}

func newAuditGW(t *testing.T, kind string, cfg *Config, opts Options) *auditGW {
	t.Helper()
	snap, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := &auditGW{store: NewStore(snap), meter: &recordingMeter{}, reg: prometheus.NewRegistry(), served: make(chan struct{}, 4096)}
	opts.Region = "local"
	opts.Registry = g.reg
	opts.Meter = g.meter
	opts.Protection = &Protection{}
	opts.AllowPrivateUpstreams = true
	if opts.Logger == nil {
		g.logs = &syncLog{}
		opts.Logger = slog.New(slog.NewJSONHandler(g.logs, nil))
	}
	if g.h, err = NewHandler(g.store, opts); err != nil {
		t.Fatal(err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { g.served <- struct{}{} }()
		g.h.ServeHTTP(w, r)
	})
	if kind == h2Kind {
		// The TLS listener as portico serves it: net/http's server, HTTP/2.
		srv := httptest.NewUnstartedServer(handler)
		srv.EnableHTTP2 = true
		srv.StartTLS()
		t.Cleanup(srv.Close)
		g.addr, g.url, g.client = srv.Listener.Addr().String(), srv.URL, srv.Client()
		return g
	}
	g.addr = startServer(t, kind, handler, ServerLimits{})
	g.url = "http://" + g.addr
	tr := &http.Transport{MaxConnsPerHost: 8, MaxIdleConnsPerHost: 8}
	g.client = &http.Client{Transport: tr}
	t.Cleanup(tr.CloseIdleConnections)
	return g
}

// h2Kind serves an auditGW over TLS with HTTP/2, as the TLS listener does.
const h2Kind = "h2"

// waitServed waits until n more requests have left the handler.
func (g *auditGW) waitServed(t *testing.T, n int) {
	t.Helper()
	guard := time.NewTimer(auditGuard)
	defer guard.Stop()
	for i := range n {
		select {
		case <-g.served:
		case <-guard.C:
			t.Fatalf("only %d of %d requests left the handler within %v", i, n, auditGuard)
		}
	}
}

func (g *auditGW) events() []UsageEvent {
	g.meter.mu.Lock()
	defer g.meter.mu.Unlock()
	return append([]UsageEvent(nil), g.meter.events...)
}

// oneEvent asserts that exactly one usage event was recorded, with status
// and billable, of an answer that did not break off, and returns it.
func (g *auditGW) oneEvent(t *testing.T, status int, billable bool) UsageEvent {
	t.Helper()
	return g.oneEventBroken(t, status, billable, false)
}

// brokenEvent asserts that exactly one usage event was recorded, of a
// billable call whose answer broke off after a head with status, and that
// the access log gave reason for it, which the rejections do not count.
func (g *auditGW) brokenEvent(t *testing.T, status int, reason string) UsageEvent {
	t.Helper()
	ev := g.oneEventBroken(t, status, true, true)
	if got := g.logs.reasons(t); len(got) != 1 || got[0] != reason {
		t.Fatalf("access-log reasons %q, want [%q]", got, reason)
	}
	if g.metric(t, "portico_gateway_rejections_total{") {
		t.Fatal("an answer that broke off counts as a rejection")
	}
	if !g.metric(t, `portico_gateway_requests_total{api="echo",provider="acme",status="`+strconv.Itoa(status)+`"} 1`) {
		t.Fatalf("the request is not counted with the status %d it was sent", status)
	}
	return ev
}

func (g *auditGW) oneEventBroken(t *testing.T, status int, billable, broken bool) UsageEvent {
	t.Helper()
	ev := g.events()
	if len(ev) != 1 {
		t.Fatalf("%d usage events, want exactly 1: %+v", len(ev), ev)
	}
	if ev[0].Status != status || ev[0].Billable != billable || ev[0].Broken != broken {
		t.Fatalf("usage event status %d billable %v broken %v, want %d %v %v", ev[0].Status, ev[0].Billable, ev[0].Broken, status, billable, broken)
	}
	if ev[0].SubscriptionID == "" || ev[0].OperationID == "" || ev[0].AccessKey == "" {
		t.Fatalf("usage event without its subscription, operation or key: %+v", ev[0])
	}
	return ev[0]
}

func (g *auditGW) metric(t *testing.T, line string) bool {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(g.reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return strings.Contains(rec.Body.String(), line)
}

// signed returns a request signed with the demo key.
func (g *auditGW) signed(t *testing.T, method, path string, body []byte, hdr map[string]string) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, g.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if err := (&sigv4.Signer{Region: "local"}).Sign(req, "PKTESTTESTTESTTEST01", "secretsecretsecretsecretsecretsecret1234", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

// do sends a signed request and returns the status and body (read whole).
func (g *auditGW) do(t *testing.T, method, path string, hdr map[string]string) (int, string) {
	t.Helper()
	res, err := g.client.Do(g.signed(t, method, path, nil, hdr))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// wire is the request as it goes on the wire.
func wire(t *testing.T, req *http.Request) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// dial opens a raw client connection to the gateway.
func (g *auditGW) dial(t *testing.T) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(auditGuard))
	return c.(*net.TCPConn)
}

// auditConfig forwards every call of the demo key's subscription (limits
// l) to up: "any" (billable) catches all, "free" (GET /free) is not
// billable.
func auditConfig(up string, l Limits) *Config {
	cfg := fwdConfig(Upstream{Targets: []Target{{URL: up, Weight: 1}}})
	cfg.APIs[0].Operations = []Operation{{ID: "free", Method: "GET", Path: "/free", Billable: false}, {ID: "any", Method: "*", Path: "/*", Billable: true}}
	cfg.Subscriptions[0].Limits = l
	return cfg
}

// blockingUpstream waits for the gateway to give up on it: arrived gets a
// value for each request that reached it; with headers it first sends the
// head and a few bytes of a body it never ends.
type blockingUpstream struct {
	*httptest.Server
	arrived chan struct{}
}

func newBlockingUpstream(t *testing.T, headers bool) *blockingUpstream {
	t.Helper()
	u := &blockingUpstream{arrived: make(chan struct{}, 16)}
	stop := make(chan struct{})
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if headers {
			// Streamed (no Content-Length): the proxy flushes each
			// write, so the client has the head and "partial".
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
		}
		u.arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(func() { close(stop); u.Close() })
	return u
}

func (u *blockingUpstream) waitArrived(t *testing.T) {
	t.Helper()
	select {
	case <-u.arrived:
	case <-time.After(auditGuard):
		t.Fatal("the call never reached the upstream")
	}
}

func forEachKind(t *testing.T, f func(t *testing.T, kind string)) {
	for _, kind := range serverKinds {
		t.Run(kind, func(t *testing.T) { f(t, kind) })
	}
}

// spendsOneUnitLeft checks, on a subscription with a day quota of one,
// that the unit is still there: one call is admitted, the next refused.
func (g *auditGW) spendsOneUnitLeft(t *testing.T, path string) {
	t.Helper()
	if st, body := g.do(t, "GET", path, nil); st != 200 {
		t.Fatalf("the quota's only unit is gone: %d %s", st, body)
	}
	if st, body := g.do(t, "GET", path, nil); st != 429 || problemType(body) != "quota-exceeded" {
		t.Fatalf("the second call: %d %s, want 429 quota-exceeded", st, body)
	}
	g.waitServed(t, 2)
}

// 1. A client that breaks off its request body. Every way of
// authenticating (SigV4, bearer token, app code) reads the whole body to
// hash it before the subscription and limit checks, so a body cut short
// is always refused before admission: no usage event, no quota unit, no
// upstream call. There is no "after admission" variant: once admitted the
// body is in memory and the client can only leave while the upstream
// works (scenario 2).
func TestAuditBodyCutOff(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		up := newEchoUpstream(t)
		g := newAuditGW(t, kind, auditConfig(up.URL, Limits{DayQuota: 1}), Options{})
		body := bytes.Repeat([]byte("x"), 1000)
		raw := wire(t, g.signed(t, "POST", "/acme/echo/v1/x", body, nil))

		// The client sends 300 of the 1000 bytes and goes away.
		c := g.dial(t)
		c.Write(raw[:len(raw)-700])
		c.Close()
		g.waitServed(t, 1)

		// The client sends 300 bytes, half-closes and reads the answer:
		// a client error, not the gateway's 503.
		c = g.dial(t)
		c.Write(raw[:len(raw)-700])
		c.CloseWrite()
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		c.Close()
		g.waitServed(t, 1)
		if res.StatusCode != http.StatusBadRequest || problemType(string(b)) != "unreadable-body" {
			t.Fatalf("a body cut short: %d %s, want 400 unreadable-body", res.StatusCode, b)
		}
		if g.metric(t, `status="503"`) {
			t.Fatal("a body cut short counts as the gateway's 503 in the metrics")
		}
		if ev := g.events(); len(ev) != 0 {
			t.Fatalf("calls refused before admission were metered: %+v", ev)
		}
		if n := up.calls.Load(); n != 0 {
			t.Fatalf("the upstream saw %d calls", n)
		}
		g.spendsOneUnitLeft(t, "/acme/echo/v1/x")
		g.oneEvent(t, 200, true)
	})
}

// 2a. The client leaves while the upstream has not answered: one event,
// 499, and the quota unit stays spent (the call was admitted).
func TestAuditClientLeavesBeforeHeaders(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		up := newBlockingUpstream(t, false)
		g := newAuditGW(t, kind, auditConfig(up.URL, Limits{DayQuota: 1}), Options{})
		c := g.dial(t)
		c.Write(wire(t, g.signed(t, "GET", "/acme/echo/v1/slow", nil, nil)))
		up.waitArrived(t)
		c.Close()
		g.waitServed(t, 1)
		g.oneEvent(t, 499, true)
		if st, body := g.do(t, "GET", "/acme/echo/v1/x", nil); st != 429 {
			t.Fatalf("after the abandoned call: %d %s, want 429 (its unit spent)", st, body)
		}
		g.waitServed(t, 1)
		g.oneEvent(t, 499, true)
	})
}

// 2b. The client leaves after the head and part of the body: one event
// with the status it got (200), marked broken off (the ledger counts it
// as an error), with the reason client-gone in the access log; the
// upstream is not blamed.
func TestAuditClientLeavesMidBody(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		up := newBlockingUpstream(t, true)
		g := newAuditGW(t, kind, auditConfig(up.URL, Limits{}), Options{})
		c := g.dial(t)
		req := g.signed(t, "GET", "/acme/echo/v1/slow", nil, nil)
		c.Write(wire(t, req))
		br := bufio.NewReader(c)
		res, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatal(err)
		}
		part := make([]byte, len("partial"))
		if _, err := io.ReadFull(res.Body, part); err != nil || string(part) != "partial" {
			t.Fatalf("%q %v", part, err)
		}
		c.Close()
		g.waitServed(t, 1)
		g.brokenEvent(t, 200, "client-gone")
		if g.metric(t, "portico_gateway_upstream_errors_total{") {
			t.Fatal("the client's leaving counts as an upstream error")
		}
	})
}

// 3 and 7. The upstream resets the connection after its head: the proxy
// aborts the handler (http.ErrAbortHandler), forward re-panics, the server
// recovers. Exactly one event, with the 200 the client got, marked broken
// off: the ledger counts it as an error, the access log's reason is
// upstream-truncated and the upstream error metric counts it as truncated.
func TestAuditUpstreamResetsMidBody(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		up := newRawUpstream(t, rawTruncate)
		g := newAuditGW(t, kind, auditConfig(up.URL(), Limits{}), Options{})
		// The lean server sends what it buffered (the head and 10
		// bytes) before it closes; net/http's drops its buffer, so its
		// client gets no answer at all — and the event still says 200.
		res, err := g.client.Do(g.signed(t, "GET", "/acme/echo/v1/x", nil, nil))
		if err == nil {
			if _, err := io.ReadAll(res.Body); err == nil || res.StatusCode != 200 {
				t.Fatalf("%d %v: want a 200 broken off", res.StatusCode, err)
			}
			res.Body.Close()
		} else if kind == LeanServer {
			t.Fatalf("the lean server dropped the head it had: %v", err)
		}
		g.waitServed(t, 1)
		g.brokenEvent(t, 200, "upstream-truncated")
		if !g.metric(t, `portico_gateway_upstream_errors_total{api="echo",kind="truncated",provider="acme"} 1`) {
			t.Fatal("the truncated answer is not counted")
		}
	})
}

// 7. The upstream sends its head, then stalls past the operation's
// timeout: the connection's deadline ends the copy, the handler aborts.
// One event, 200 (the status sent) and broken off, counted as an upstream
// timeout.
func TestAuditUpstreamTimesOutMidBody(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		up := newBlockingUpstream(t, true)
		cfg := auditConfig(up.URL, Limits{})
		cfg.APIs[0].Operations[1].Timeout = 200 * time.Millisecond
		g := newAuditGW(t, kind, cfg, Options{})
		res, err := g.client.Do(g.signed(t, "GET", "/acme/echo/v1/x", nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(res.Body); err == nil {
			t.Fatal("the stalled answer was not broken off")
		}
		res.Body.Close()
		g.waitServed(t, 1)
		g.brokenEvent(t, 200, "upstream-timeout")
		if !g.metric(t, `portico_gateway_upstream_errors_total{api="echo",kind="timeout",provider="acme"} 1`) {
			t.Fatal("the timeout is not counted")
		}
	})
}

// 4. The gateway's own answers when the upstream fails are metered with
// their status; retries are one call, one event and one quota unit.
func TestAuditUpstreamFailures(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		t.Run("refused 502", func(t *testing.T) {
			g := newAuditGW(t, kind, auditConfig(refusedURL(t), Limits{}), Options{})
			if st, body := g.do(t, "GET", "/acme/echo/v1/x", nil); st != 502 {
				t.Fatalf("%d %s", st, body)
			}
			g.waitServed(t, 1)
			g.oneEvent(t, 502, true)
		})
		t.Run("reset POST 502", func(t *testing.T) {
			up := newRawUpstream(t, rawReset)
			g := newAuditGW(t, kind, auditConfig(up.URL(), Limits{}), Options{})
			res, err := g.client.Do(g.signed(t, "POST", "/acme/echo/v1/x", []byte(`{"n":1}`), nil))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			g.waitServed(t, 1)
			if res.StatusCode != 502 || up.accepts.Load() != 1 {
				t.Fatalf("%d after %d attempts", res.StatusCode, up.accepts.Load())
			}
			g.oneEvent(t, 502, true)
		})
		t.Run("timeout 504", func(t *testing.T) {
			up := newBlockingUpstream(t, false)
			cfg := auditConfig(up.URL, Limits{})
			cfg.APIs[0].Operations[1].Timeout = 100 * time.Millisecond
			g := newAuditGW(t, kind, cfg, Options{})
			if st, body := g.do(t, "GET", "/acme/echo/v1/x", nil); st != 504 {
				t.Fatalf("%d %s", st, body)
			}
			g.waitServed(t, 1)
			g.oneEvent(t, 504, true)
		})
		t.Run("retried on another target", func(t *testing.T) {
			// The dead target is picked first almost always (weight
			// 1000:1), so nearly every call is retried on the live one.
			const n = 20
			dead, live := newRawUpstream(t, rawReset), newEchoUpstream(t)
			cfg := auditConfig(live.URL, Limits{DayQuota: n})
			cfg.APIs[0].Upstream = Upstream{Retries: 1, Targets: []Target{{URL: dead.URL(), Weight: 1000}, {URL: live.URL, Weight: 1}}}
			g := newAuditGW(t, kind, cfg, Options{BreakerFailures: 1 << 20})
			for i := range n {
				if st, body := g.do(t, "GET", "/acme/echo/v1/x", nil); st != 200 {
					t.Fatalf("call %d: %d %s", i, st, body)
				}
			}
			if st, body := g.do(t, "GET", "/acme/echo/v1/x", nil); st != 429 {
				t.Fatalf("call %d of a quota of %d: %d %s (a retry spent or gave back a unit)", n+1, n, st, body)
			}
			g.waitServed(t, n+1)
			if dead.accepts.Load() == 0 {
				t.Fatal("nothing was retried")
			}
			ev := g.events()
			if len(ev) != n || live.calls.Load() != n {
				t.Fatalf("%d events, %d upstream calls for %d admitted calls", len(ev), live.calls.Load(), n)
			}
			for _, e := range ev {
				if e.Status != 200 || !e.Billable {
					t.Fatalf("%+v", e)
				}
			}
		})
	})
}

// 5. HEAD, 204 and 304: answers without a body are metered with their
// status, once.
func TestAuditBodylessAnswers(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st, _ := strconv.Atoi(r.Header.Get("X-Audit-Status"))
			if st == 0 {
				st = 200
			}
			w.Header().Set("Content-Length", "5")
			w.Header().Set("ETag", `"v1"`)
			w.WriteHeader(st)
			io.WriteString(w, "hello")
		}))
		t.Cleanup(up.Close)
		g := newAuditGW(t, kind, auditConfig(up.URL, Limits{}), Options{})
		for _, tc := range []struct {
			method, status string
			want           int
		}{{"HEAD", "", 200}, {"GET", "204", 204}, {"GET", "304", 304}, {"HEAD", "304", 304}} {
			res, err := g.client.Do(g.signed(t, tc.method, "/acme/echo/v1/x", nil, map[string]string{"X-Audit-Status": tc.status}))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.want || len(b) != 0 {
				t.Fatalf("%s %s: %d %q", tc.method, tc.status, res.StatusCode, b)
			}
			g.waitServed(t, 1)
			ev := g.events()
			if len(ev) != 1 || ev[0].Status != tc.want || !ev[0].Billable {
				t.Fatalf("%s %s: events %+v", tc.method, tc.status, ev)
			}
			g.meter.mu.Lock()
			g.meter.events = nil
			g.meter.mu.Unlock()
		}
	})
}

// 6. An upgrade (101) goes through the std transport (h1Carries refuses
// it) and the proxy's tunnel. It is metered once, with 101, when the
// tunnel closes — by design, a tunnel is one call: Latency is the tunnel's
// life, BytesIn what the client sent through it and BytesOut what it sent
// to the client, exactly (not the 101's head: no answer's head counts).
func TestAuditUpgrade(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		tunnel := switchingUpstream(t, true, nil)
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Upgrade") != "audit-echo" {
				return // a plain 200
			}
			tunnel.Config.Handler.ServeHTTP(w, r)
		}))
		t.Cleanup(up.Close)
		g := newAuditGW(t, kind, auditConfig(up.URL, Limits{DayQuota: 2}), Options{})
		c, br := g.openTunnel(t, "/acme/echo/v1/ws")
		for i := range 3 {
			msg := fmt.Sprintf("ping %d\n", i)
			io.WriteString(c, msg)
			if got, err := br.ReadString('\n'); got != msg {
				t.Fatalf("tunnel echoed %q %v", got, err)
			}
		}
		if ev := g.events(); len(ev) != 0 {
			t.Fatalf("metered while the tunnel is open: %+v", ev)
		}
		c.Close()
		g.waitServed(t, 1)
		const sent = int64(3 * len("ping 0\n"))
		if ev := g.oneEvent(t, http.StatusSwitchingProtocols, true); ev.BytesIn != sent || ev.BytesOut != sent {
			t.Fatalf("tunnel metered with %d bytes in and %d out, want %d each", ev.BytesIn, ev.BytesOut, sent)
		}
		// One unit spent: one more call is admitted, then none.
		g.spendsOneUnitLeft(t, "/acme/echo/v1/x")
		if ev := g.events(); len(ev) != 2 || ev[1].Status != 200 {
			t.Fatalf("events %+v", ev)
		}
	})
}

// 6b. Bytes the client sent right behind its upgrade request are read by
// the server with the request, before the 101: the tunnel still carries
// them to the upstream first, and they are metered.
func TestAuditUpgradeEarlyBytes(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		up := switchingUpstream(t, true, nil)
		g := newAuditGW(t, kind, auditConfig(up.URL, Limits{}), Options{})
		c, br := g.openTunnelEarly(t, "/acme/echo/v1/ws", "early\n")
		if got, err := br.ReadString('\n'); got != "early\n" {
			t.Fatalf("the tunnel echoed %q %v, want the early bytes", got, err)
		}
		io.WriteString(c, "later\n")
		if got, err := br.ReadString('\n'); got != "later\n" {
			t.Fatalf("the tunnel echoed %q %v", got, err)
		}
		c.Close()
		g.waitServed(t, 1)
		const sent = int64(len("early\n") + len("later\n"))
		if ev := g.oneEvent(t, http.StatusSwitchingProtocols, true); ev.BytesIn != sent || ev.BytesOut != sent {
			t.Fatalf("tunnel metered with %d bytes in and %d out, want %d each", ev.BytesIn, ev.BytesOut, sent)
		}
	})
}

// 6b'. Tunnel bytes the client sends while the upgrade is still with the
// upstream, after the gateway began watching the connection for the client
// going away (the lean server's watch then holds the first byte): all of
// them reach the upstream and are metered.
func TestAuditUpgradeBytesWhileWatched(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		up := switchingUpstream(t, true, map[string]time.Duration{"/ws": 400 * time.Millisecond})
		g := newAuditGW(t, kind, auditConfig(up.URL, Limits{}), Options{})
		c := g.dial(t)
		req := g.signed(t, "GET", "/acme/echo/v1/ws", nil, map[string]string{"Connection": "Upgrade", "Upgrade": "audit-echo"})
		c.Write(wire(t, req))
		time.Sleep(200 * time.Millisecond) // past the sweep that starts the watch
		io.WriteString(c, "watched\n")
		br := bufio.NewReader(c)
		if res, err := http.ReadResponse(br, req); err != nil || res.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v %v", res, err)
		}
		c.SetReadDeadline(time.Now().Add(auditGuard))
		if got, err := br.ReadString('\n'); got != "watched\n" {
			t.Fatalf("the tunnel echoed %q %v, want every byte sent during the handshake", got, err)
		}
		c.Close()
		g.waitServed(t, 1)
		if ev := g.oneEvent(t, http.StatusSwitchingProtocols, true); ev.BytesIn != int64(len("watched\n")) || ev.BytesOut != int64(len("watched\n")) {
			t.Fatalf("tunnel metered with %d bytes in and %d out, want %d each", ev.BytesIn, ev.BytesOut, len("watched\n"))
		}
	})
}

// 6c. Each side of a tunnel ends on its own: the upstream greets and
// half-closes, which reaches the client as the end of its input while it
// can still send; what it sends then still reaches the upstream, and the
// call is metered once both sides ended, with every byte.
func TestAuditUpgradeHalfClose(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		got := make(chan string, 1)
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer c.Close()
			brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: audit-echo\r\n\r\nhello\n")
			brw.Flush()
			c.(*net.TCPConn).CloseWrite()
			b, _ := io.ReadAll(brw)
			got <- string(b)
		}))
		t.Cleanup(up.Close)
		g := newAuditGW(t, kind, auditConfig(up.URL, Limits{}), Options{})
		c, br := g.openTunnel(t, "/acme/echo/v1/ws")
		if b, err := io.ReadAll(br); string(b) != "hello\n" || err != nil {
			t.Fatalf("the client read %q %v, want the greeting and the end", b, err)
		}
		io.WriteString(c, "late data\n")
		c.CloseWrite()
		select {
		case s := <-got:
			if s != "late data\n" {
				t.Fatalf("the upstream read %q", s)
			}
		case <-time.After(auditGuard):
			t.Fatal("the upstream never saw the end of the client's data")
		}
		g.waitServed(t, 1)
		if ev := g.oneEvent(t, http.StatusSwitchingProtocols, true); ev.BytesIn != int64(len("late data\n")) || ev.BytesOut != int64(len("hello\n")) {
			t.Fatalf("tunnel metered with %d bytes in and %d out, want %d and %d", ev.BytesIn, ev.BytesOut, len("late data\n"), len("hello\n"))
		}
	})
}

// 8. Concurrent calls at a day quota's boundary, over a few keep-alive
// connections, mixed with calls of a free operation: exactly the quota is
// admitted and metered, the rest refused (429) unmetered, and the free
// calls pass and are metered as not billable.
func TestAuditQuotaBoundary(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		now := time.Now()
		g := newAuditGW(t, kind, demoConfig(Limits{DayQuota: 50}, SubActive, now), Options{})
		ok, refused, free := g.storm(t, 200, 50)
		if ok != 50 || refused != 150 || free != 50 {
			t.Fatalf("admitted %d, refused %d of 200 billable; %d of 50 free calls passed", ok, refused, free)
		}
		g.checkEvents(t, 50, 50)
	})
}

// A refusal by the month quota gives back the day quota's unit: after 200
// calls against day 60 / month 40, the day has 20 units left.
func TestAuditQuotaRefusalGivesBack(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		now := time.Now()
		g := newAuditGW(t, kind, demoConfig(Limits{DayQuota: 60, MonthQuota: 40}, SubActive, now), Options{})
		if ok, refused, _ := g.storm(t, 200, 0); ok != 40 || refused != 160 {
			t.Fatalf("admitted %d, refused %d, want 40 and 160", ok, refused)
		}
		// The month is lifted; the day's counter decides alone.
		snap, err := Compile(demoConfig(Limits{DayQuota: 60}, SubActive, now))
		if err != nil {
			t.Fatal(err)
		}
		g.store.Swap(snap)
		if ok, refused, _ := g.storm(t, 100, 0); ok != 20 || refused != 80 {
			t.Fatalf("then admitted %d, refused %d, want 20 and 80 (day units spent by refused calls?)", ok, refused)
		}
		g.checkEvents(t, 60, 0)
	})
}

// The same boundary with the quota leased from Redis by one node.
func TestAuditQuotaBoundaryRedis(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		rdb, prefix := sharedRedis(t, "")
		g := newAuditGW(t, kind, demoConfig(Limits{DayQuota: 50}, SubActive, time.Now()), Options{Redis: rdb, RedisPrefix: prefix, RedisTimeout: 2 * time.Second})
		ok, refused, free := g.storm(t, 200, 50)
		if ok != 50 || refused != 150 || free != 50 {
			t.Fatalf("admitted %d, refused %d of 200 billable; %d of 50 free calls passed", ok, refused, free)
		}
		g.checkEvents(t, 50, 50)
	})
}

// storm sends billable calls of the mock API's "get" and free calls of
// "ping" all at once over the client's few connections, and returns how
// many billable calls were admitted and refused for quota, and how many
// free ones passed.
func (g *auditGW) storm(t *testing.T, billable, free int) (ok, refused, passed int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range billable + free {
		path := "/acme/echo/v1/things/1"
		if i >= billable {
			path = "/acme/echo/v1/ping"
		}
		req := g.signed(t, "GET", path, nil, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := g.client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case i >= billable && res.StatusCode == 200:
				passed++
			case i < billable && res.StatusCode == 200:
				ok++
			case i < billable && res.StatusCode == 429 && problemType(string(b)) == "quota-exceeded":
				refused++
			default:
				t.Errorf("%s: %d %s", path, res.StatusCode, b)
			}
		}()
	}
	close(start)
	wg.Wait()
	g.waitServed(t, billable+free)
	return ok, refused, passed
}

// checkEvents asserts the events are billable 200s of "get" and free 200s
// of "ping", as many as given.
func (g *auditGW) checkEvents(t *testing.T, billable, free int) {
	t.Helper()
	var b, f int
	for _, e := range g.events() {
		switch {
		case e.Status == 200 && e.Billable && e.OperationID == "get":
			b++
		case e.Status == 200 && !e.Billable && e.OperationID == "ping":
			f++
		default:
			t.Fatalf("unexpected event %+v", e)
		}
	}
	if b != billable || f != free {
		t.Fatalf("%d billable and %d free events, want %d and %d", b, f, billable, free)
	}
}

// Calls refused before admission are not metered and spend nothing.
func TestAuditRefusalsUnmetered(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		up := newEchoUpstream(t)
		cfg := auditConfig(up.URL, Limits{DayQuota: 1})
		cfg.APIs[0].Operations[1] = Operation{ID: "get", Method: "GET", Path: "/x", Billable: true, MaxBodyBytes: 16}
		other := cfg.APIs[0] // a version the app has no subscription to
		other.APIID, other.APISlug, other.VersionID = "a9", "other", "v9id"
		other.Operations = append([]Operation(nil), other.Operations...)
		cfg.APIs = append(cfg.APIs, other)
		g := newAuditGW(t, kind, cfg, Options{})
		try := func(want int, req *http.Request) {
			t.Helper()
			res, err := g.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != want {
				t.Fatalf("%s %s: %d %s, want %d", req.Method, req.URL.Path, res.StatusCode, b, want)
			}
			g.waitServed(t, 1)
		}
		unsigned, _ := http.NewRequest("GET", g.url+"/acme/echo/v1/x", nil)
		try(401, unsigned)
		badSig := g.signed(t, "GET", "/acme/echo/v1/x", nil, nil)
		a := badSig.Header.Get("Authorization")
		flip := "0"
		if strings.HasSuffix(a, "0") {
			flip = "1"
		}
		badSig.Header.Set("Authorization", a[:len(a)-1]+flip) // a wrong signature
		try(403, badSig)
		try(403, g.signed(t, "GET", "/acme/other/v1/x", nil, nil))
		try(404, g.signed(t, "GET", "/acme/nothing/v1/x", nil, nil))
		try(405, g.signed(t, "DELETE", "/acme/echo/v1/x", nil, nil))
		try(413, g.signed(t, "GET", "/acme/echo/v1/x", bytes.Repeat([]byte("x"), 100), nil))
		if ev := g.events(); len(ev) != 0 || up.calls.Load() != 0 {
			t.Fatalf("refused calls metered %+v or forwarded (%d)", ev, up.calls.Load())
		}
		try(200, g.signed(t, "GET", "/acme/echo/v1/x", nil, nil))
		try(429, g.signed(t, "GET", "/acme/echo/v1/x", nil, nil))
		g.oneEvent(t, 200, true)
	})
}

// 9. 103 Early Hints from the upstream reach the client; the call is
// metered once, with the final status.
func TestAuditEarlyHints(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, "made")
		}))
		t.Cleanup(up.Close)
		g := newAuditGW(t, kind, auditConfig(up.URL, Limits{}), Options{})
		var hints []int
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
			hints = append(hints, code)
			return nil
		}}
		req := g.signed(t, "POST", "/acme/echo/v1/x", []byte("{}"), nil)
		req = req.WithContext(httptrace.WithClientTrace(context.Background(), trace))
		res, err := g.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 201 || string(b) != "made" || len(hints) != 2 || hints[0] != 103 {
			t.Fatalf("%d %q after %v", res.StatusCode, b, hints)
		}
		g.waitServed(t, 1)
		g.oneEvent(t, 201, true)
	})
}

// A 101 the client did not ask for (no Upgrade in the request) is the
// upstream's fault: h1Transport refuses it and the call is metered once as
// the gateway's 502.
func TestAuditUnaskedSwitchingProtocols(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		up := switchingUpstream(t, false, nil)
		g := newAuditGW(t, kind, auditConfig(up.URL, Limits{}), Options{})
		if st, body := g.do(t, "GET", "/acme/echo/v1/x", nil); st != 502 {
			t.Fatalf("%d %s", st, body)
		}
		g.waitServed(t, 1)
		g.oneEvent(t, 502, true)
	})
}

// An upgrade's timeout bounds the handshake, not the tunnel: a tunnel
// outlives the upstream timeout, and a handshake that takes longer than it
// fails with 504.
func TestForwardTunnelOutlivesTimeout(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		up := switchingUpstream(t, true, map[string]time.Duration{"/slow": time.Second})
		cfg := auditConfig(up.URL, Limits{})
		cfg.APIs[0].Upstream.Timeout = 200 * time.Millisecond
		g := newAuditGW(t, kind, cfg, Options{})

		c, br := g.openTunnel(t, "/acme/echo/v1/ws")
		time.Sleep(600 * time.Millisecond) // three times the timeout
		io.WriteString(c, "still there?\n")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if got, err := br.ReadString('\n'); got != "still there?\n" {
			t.Fatalf("the tunnel ended at the upstream timeout: %q %v", got, err)
		}
		c.Close()

		c = g.dial(t)
		req := g.signed(t, "GET", "/acme/echo/v1/slow", nil, map[string]string{"Connection": "Upgrade", "Upgrade": "audit-echo"})
		c.Write(wire(t, req))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if res, err := http.ReadResponse(bufio.NewReader(c), req); err != nil || res.StatusCode != http.StatusGatewayTimeout {
			t.Fatalf("slow handshake: %v %v, want 504", res, err)
		}
	})
}

// switchingUpstream answers every request with 101 Switching Protocols to
// "audit-echo" and then echoes the tunnel's bytes (only when echo is set),
// after delaying the answer for paths in slow.
func switchingUpstream(t *testing.T, echo bool, slow map[string]time.Duration) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(slow[r.URL.Path])
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: audit-echo\r\n\r\n")
		brw.Flush()
		if echo {
			io.Copy(c, brw.Reader)
		}
	}))
	t.Cleanup(up.Close)
	return up
}

// openTunnel sends a signed upgrade to "audit-echo" for path on a new
// connection and returns it once the gateway answered 101.
func (g *auditGW) openTunnel(t *testing.T, path string) (*net.TCPConn, *bufio.Reader) {
	t.Helper()
	return g.openTunnelEarly(t, path, "")
}

// openTunnelEarly is openTunnel sending early, the first bytes for the
// tunnel, in the same write as the request, before the 101 came.
func (g *auditGW) openTunnelEarly(t *testing.T, path, early string) (*net.TCPConn, *bufio.Reader) {
	t.Helper()
	c := g.dial(t)
	req := g.signed(t, "GET", path, nil, map[string]string{"Connection": "Upgrade", "Upgrade": "audit-echo"})
	c.Write(append(wire(t, req), early...))
	br := bufio.NewReader(c)
	if res, err := http.ReadResponse(br, req); err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	return c, br
}

// TestMeteringOverHTTP2: many calls multiplexed on one HTTP/2 connection
// are each metered once, and calls the client cancels while the backend
// holds them (an HTTP/2 stream reset, the connection staying up) are
// metered as 499s, as on HTTP/1.1 when the client leaves before any
// answer: as many events as calls the gateway admitted, exactly.
func TestMeteringOverHTTP2(t *testing.T) {
	block := newBlockingUpstream(t, false)
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(fast.Close)
	cfg := auditConfig(fast.URL, Limits{})
	slow := cfg.APIs[0]
	slow.APISlug, slow.APIID, slow.VersionID = "slow", "a-slow", "slow-v1"
	slow.Upstream = Upstream{Targets: []Target{{URL: block.URL, Weight: 1}}}
	cfg.APIs = append(cfg.APIs, slow)
	cfg.Subscriptions = append(cfg.Subscriptions, cfg.Subscriptions[0])
	cfg.Subscriptions[1].ID, cfg.Subscriptions[1].APIID = "s-slow", slow.APIID
	g := newAuditGW(t, h2Kind, cfg, Options{})

	const n, cancelled = 40, 4
	var wg sync.WaitGroup
	errs := make(chan error, n+cancelled)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := g.client.Do(g.signed(t, "GET", "/acme/echo/v1/things/"+strconv.Itoa(i), nil, nil))
			if err != nil {
				errs <- err
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || res.ProtoMajor != 2 {
				errs <- fmt.Errorf("call %d: %d over %s", i, res.StatusCode, res.Proto)
			}
		}()
	}
	for range cancelled {
		ctx, cancel := context.WithCancel(context.Background())
		req := g.signed(t, "GET", "/acme/slow/v1/things/held", nil, nil).WithContext(ctx)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res, err := g.client.Do(req); err == nil {
				res.Body.Close()
				errs <- fmt.Errorf("a cancelled call was answered %d", res.StatusCode)
			}
		}()
		block.waitArrived(t)
		cancel()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	g.waitServed(t, n+cancelled)
	var ok, broken int
	for _, e := range g.events() {
		switch {
		case e.Status == 200 && !e.Broken && e.SubscriptionID == cfg.Subscriptions[0].ID:
			ok++
		case e.Status == 499 && !e.Broken && e.SubscriptionID == "s-slow":
			broken++
		default:
			t.Errorf("unexpected event %+v", e)
		}
	}
	if ok != n || broken != cancelled {
		t.Fatalf("metered %d answered and %d cancelled calls, want %d and %d", ok, broken, n, cancelled)
	}
}
