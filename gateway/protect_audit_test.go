package gateway

// An adversarial audit of the per-client-IP protection: in-flight
// accounting on every path, bans, the client address behind trusted
// proxies, the allow/deny lists and the memory per-IP state may take.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-dev/portico/gateway/sigv4"
)

// protInflight is the number of addresses with requests in flight and
// their total.
func protInflight(p *protector) (addrs, total int) {
	for i := range p.shards {
		sh := &p.shards[i]
		sh.mu.Lock()
		for _, n := range sh.inflight {
			addrs++
			total += n
		}
		sh.mu.Unlock()
	}
	return addrs, total
}

func protFailures(p *protector) int {
	n := 0
	for i := range p.shards {
		sh := &p.shards[i]
		sh.mu.Lock()
		n += len(sh.failures)
		sh.mu.Unlock()
	}
	return n
}

// protectAuditGW is an audit gateway whose protection caps in-flight
// requests at 2 per address.
func protectAuditGW(t *testing.T, kind string, cfg *Config) *auditGW {
	t.Helper()
	g := newAuditGW(t, kind, cfg, Options{})
	p, err := newProtector(Protection{MaxConcurrent: 2})
	if err != nil {
		t.Fatal(err)
	}
	g.h.protect = p // before any request
	return g
}

// noLeak checks that nothing is left in flight and that a call from the
// address is still admitted by the protector.
func (g *auditGW) noLeak(t *testing.T, path string, signed bool) {
	t.Helper()
	if a, n := protInflight(g.h.protect); a != 0 || n != 0 {
		t.Fatalf("after every request ended: %d addresses hold %d requests in flight", a, n)
	}
	var req *http.Request
	if signed {
		req = g.signed(t, "GET", path, nil, nil)
	} else {
		req, _ = http.NewRequest("GET", g.url+path, nil)
	}
	res, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	g.waitServed(t, 1)
	if problemType(string(b)) == "too-many-connections" {
		t.Fatalf("the address is locked out: %d %s", res.StatusCode, b)
	}
}

// protectUpstream answers by path: /reset breaks the connection before
// answering, /abort after the head and some body, /block waits for the
// gateway to give up, an Upgrade request switches to an echo tunnel, and
// anything else is a 200.
func protectUpstream(t *testing.T) (*httptest.Server, chan struct{}) {
	t.Helper()
	arrived := make(chan struct{}, 64)
	tunnel := switchingUpstream(t, true, nil)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Upgrade") == "audit-echo":
			tunnel.Config.Handler.ServeHTTP(w, r)
		case strings.HasSuffix(r.URL.Path, "/reset"):
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				c.Close()
			}
		case strings.HasSuffix(r.URL.Path, "/abort"):
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		case strings.HasSuffix(r.URL.Path, "/block"):
			arrived <- struct{}{}
			<-r.Context().Done()
		default:
			io.WriteString(w, "ok")
		}
	}))
	t.Cleanup(up.Close)
	return up, arrived
}

// TestProtectAuditInflightNoLeak: with MaxConcurrent 2, every path an
// admitted request can take — answers, refusals after admission, upstream
// failures before and after the head, clients leaving mid-call, upgrade
// tunnels, public versions — is run many times from one address; then
// nothing is in flight and a normal call is admitted.
func TestProtectAuditInflightNoLeak(t *testing.T) {
	const rounds = 4
	forEachKind(t, func(t *testing.T, kind string) {
		up, arrived := protectUpstream(t)
		t.Run("private", func(t *testing.T) {
			g := protectAuditGW(t, kind, auditConfig(up.URL, Limits{}))
			for range rounds {
				// Normal answer, upstream reset (502), upstream abort
				// after the head (the proxy panics ErrAbortHandler).
				for _, p := range []string{"/ok", "/reset", "/abort"} {
					if res, err := g.client.Do(g.signed(t, "GET", "/acme/echo/v1"+p, nil, nil)); err == nil {
						io.Copy(io.Discard, res.Body)
						res.Body.Close()
					}
					g.waitServed(t, 1)
				}
				// Authentication failures: bad signature, bad token, bad
				// app code; unknown route; /oauth/token refusals.
				bad := g.signed(t, "GET", "/acme/echo/v1/x", nil, nil)
				bad.Header.Set("Authorization", strings.Replace(bad.Header.Get("Authorization"), "Signature=", "Signature=00", 1))
				tok, _ := http.NewRequest("GET", g.url+"/acme/echo/v1/x", nil)
				tok.Header.Set("Authorization", "Bearer nope")
				code, _ := http.NewRequest("GET", g.url+"/acme/echo/v1/x", nil)
				code.Header.Set(AppCodeHeader, "nope")
				nf := g.signed(t, "GET", "/acme/nope/v1/x", nil, nil)
				get, _ := http.NewRequest("GET", g.url+"/oauth/token", nil)
				post, _ := http.NewRequest("POST", g.url+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
				post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				post.SetBasicAuth("PKTESTTESTTESTTEST01", "wrong")
				for _, req := range []*http.Request{bad, tok, code, nf, get, post} {
					res, err := g.client.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode < 400 {
						t.Fatalf("%s %s: %d", req.Method, req.URL.Path, res.StatusCode)
					}
					g.waitServed(t, 1)
				}
				// The client leaves while the upstream works.
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() {
					defer close(done)
					if res, err := g.client.Do(g.signed(t, "GET", "/acme/echo/v1/block", nil, nil).WithContext(ctx)); err == nil {
						res.Body.Close()
					}
				}()
				select {
				case <-arrived:
				case <-time.After(auditGuard):
					t.Fatal("the call never reached the upstream")
				}
				cancel()
				<-done
				g.waitServed(t, 1)
				// An upgrade tunnel, closed by the client.
				c, br := g.openTunnel(t, "/acme/echo/v1/ws")
				io.WriteString(c, "ping\n")
				if got, _ := br.ReadString('\n'); got != "ping\n" {
					t.Fatalf("tunnel echoed %q", got)
				}
				c.Close()
				g.waitServed(t, 1)
			}
			g.noLeak(t, "/acme/echo/v1/ok", true)
		})
		t.Run("quota", func(t *testing.T) {
			g := protectAuditGW(t, kind, auditConfig(up.URL, Limits{DayQuota: 1}))
			for i := range rounds {
				st, body := g.do(t, "GET", "/acme/echo/v1/ok", nil)
				g.waitServed(t, 1)
				if want := map[bool]int{true: 200, false: 429}[i == 0]; st != want {
					t.Fatalf("call %d: %d %s", i, st, body)
				}
			}
			g.noLeak(t, "/acme/echo/v1/ok", true)
		})
		t.Run("subscription", func(t *testing.T) {
			cfg := auditConfig(up.URL, Limits{})
			cfg.Subscriptions[0].Status = SubSuspended
			g := protectAuditGW(t, kind, cfg)
			for range rounds {
				if st, body := g.do(t, "GET", "/acme/echo/v1/ok", nil); st != 403 {
					t.Fatalf("%d %s", st, body)
				}
				g.waitServed(t, 1)
			}
			g.noLeak(t, "/acme/echo/v1/ok", true)
		})
		t.Run("public", func(t *testing.T) {
			cfg := auditConfig(up.URL, Limits{})
			cfg.APIs[0].Settings.Public = true
			g := protectAuditGW(t, kind, cfg)
			for range rounds {
				for _, p := range []string{"/ok", "/reset", "/abort"} {
					req, _ := http.NewRequest("GET", g.url+"/acme/echo/v1"+p, nil)
					if res, err := g.client.Do(req); err == nil {
						io.Copy(io.Discard, res.Body)
						res.Body.Close()
					}
					g.waitServed(t, 1)
				}
			}
			g.noLeak(t, "/acme/echo/v1/ok", false)
		})
	})
}

// TestProtectAuditInflightCap: MaxConcurrent is enforced (the third call
// from an address with two in flight is refused, 429 with Retry-After) and
// released as soon as one ends.
func TestProtectAuditInflightCap(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		up, arrived := protectUpstream(t)
		g := protectAuditGW(t, kind, auditConfig(up.URL, Limits{}))
		var cancels []context.CancelFunc
		var wg sync.WaitGroup
		for range 2 {
			ctx, cancel := context.WithCancel(context.Background())
			cancels = append(cancels, cancel)
			req := g.signed(t, "GET", "/acme/echo/v1/block", nil, nil).WithContext(ctx)
			wg.Go(func() {
				if res, err := g.client.Do(req); err == nil {
					res.Body.Close()
				}
			})
			select {
			case <-arrived:
			case <-time.After(auditGuard):
				t.Fatal("the call never reached the upstream")
			}
		}
		res, err := g.client.Do(g.signed(t, "GET", "/acme/echo/v1/ok", nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		g.waitServed(t, 1)
		if res.StatusCode != 429 || problemType(string(b)) != "too-many-connections" || res.Header.Get("Retry-After") != "1" {
			t.Fatalf("third call in flight: %d %s %v", res.StatusCode, b, res.Header)
		}
		cancels[0]()
		g.waitServed(t, 1)
		if st, body := g.do(t, "GET", "/acme/echo/v1/ok", nil); st != 200 {
			t.Fatalf("after one ended: %d %s", st, body)
		}
		g.waitServed(t, 1)
		cancels[1]()
		wg.Wait()
		g.waitServed(t, 1)
		g.noLeak(t, "/acme/echo/v1/ok", true)
	})
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// banGW is a handler on the demo mock API with a fake clock.
type banGW struct {
	h   *Handler
	clk *fakeClock
}

func newBanGW(t *testing.T, prot Protection) *banGW {
	t.Helper()
	clk := &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	snap, err := Compile(demoConfig(Limits{}, SubActive, clk.t))
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(NewStore(snap), Options{Region: "local", Now: clk.Now, Protection: &prot,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return &banGW{h: h, clk: clk}
}

// req is a call of the demo API from remote (host:port), signed with the
// right secret or not, with body.
func (g *banGW) req(t *testing.T, remote string, good bool, body []byte) *http.Request {
	t.Helper()
	r := httptest.NewRequest("GET", "http://gw/acme/echo/v1/things/1", bytes.NewReader(body))
	secret := "secretsecretsecretsecretsecretsecret1234"
	if !good {
		secret = strings.Repeat("w", 40)
	}
	if err := (&sigv4.Signer{Region: "local"}).Sign(r, "PKTESTTESTTESTTEST01", secret, "", g.clk.Now()); err != nil {
		t.Fatal(err)
	}
	r.RemoteAddr = remote
	return r
}

func (g *banGW) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	g.h.ServeHTTP(w, r)
	return w
}

// TestProtectAuditBan: N failures ban the address (403 ip-banned with
// Retry-After) for BanFor, then it is admitted again; successes do not
// count; another address is not affected.
func TestProtectAuditBan(t *testing.T) {
	g := newBanGW(t, Protection{BanAfter: 3, BanWindow: time.Minute, BanFor: 5 * time.Minute})
	a, b := "198.51.100.1:1000", "198.51.100.2:1000"
	// Successes in between do not count, nor reset the count.
	for i := range 2 {
		if w := g.serve(g.req(t, a, false, nil)); w.Code != 403 || problemType(w.Body.String()) == "ip-banned" {
			t.Fatalf("failure %d: %d %s", i, w.Code, w.Body)
		}
		for range 5 {
			if w := g.serve(g.req(t, a, true, nil)); w.Code != 200 {
				t.Fatalf("good call: %d %s", w.Code, w.Body)
			}
		}
	}
	if w := g.serve(g.req(t, a, false, nil)); w.Code != 403 || problemType(w.Body.String()) == "ip-banned" {
		t.Fatalf("third failure: %d %s", w.Code, w.Body)
	}
	w := g.serve(g.req(t, a, true, nil))
	if w.Code != 403 || problemType(w.Body.String()) != "ip-banned" || w.Header().Get("Retry-After") != "301" ||
		w.Header().Get("Content-Type") != "application/problem+json; charset=utf-8" {
		t.Fatalf("banned: %d %v %s", w.Code, w.Header(), w.Body)
	}
	if w := g.serve(g.req(t, b, true, nil)); w.Code != 200 {
		t.Fatalf("another address: %d %s", w.Code, w.Body)
	}
	g.clk.Add(5*time.Minute - time.Second)
	if w := g.serve(g.req(t, a, true, nil)); w.Code != 403 || w.Header().Get("Retry-After") != "2" {
		t.Fatalf("a second before the end: %d %v", w.Code, w.Header())
	}
	g.clk.Add(time.Second)
	if w := g.serve(g.req(t, a, true, nil)); w.Code != 200 {
		t.Fatalf("after the ban: %d %s", w.Code, w.Body)
	}
	// Failures spread wider than the window never ban.
	for i := range 6 {
		g.clk.Add(31 * time.Second)
		if w := g.serve(g.req(t, b, false, nil)); problemType(w.Body.String()) == "ip-banned" {
			t.Fatalf("failure %d spread over windows banned", i)
		}
	}
	if a, n := protInflight(g.h.protect); a != 0 || n != 0 {
		t.Fatalf("in flight: %d %d", a, n)
	}
}

// hookBody runs hook on its first read, then yields its data: a client
// whose body trickles in while other things happen.
type hookBody struct {
	hook func()
	r    io.Reader
}

func (b *hookBody) Read(p []byte) (int, error) {
	if b.hook != nil {
		b.hook()
		b.hook = nil
	}
	return b.r.Read(p)
}

func (b *hookBody) Close() error { return nil }

// TestProtectAuditBanNotLiftedByLateFailure: a request admitted before the
// ban whose authentication fails after the failure window has passed (a
// slow body) must not lift the ban.
func TestProtectAuditBanNotLiftedByLateFailure(t *testing.T) {
	g := newBanGW(t, Protection{BanAfter: 3, BanWindow: time.Minute, BanFor: 10 * time.Minute})
	a := "198.51.100.1:1000"
	body := []byte("slow body")
	slow := g.req(t, a, false, body)
	slow.Body = &hookBody{r: bytes.NewReader(body), hook: func() {
		// While the slow request's body trickles in: three quick
		// failures ban the address, then two minutes pass.
		for range 3 {
			g.serve(g.req(t, a, false, nil))
		}
		if w := g.serve(g.req(t, a, true, nil)); problemType(w.Body.String()) != "ip-banned" {
			t.Errorf("not banned after 3 failures: %d %s", w.Code, w.Body)
		}
		g.clk.Add(2 * time.Minute)
	}}
	if w := g.serve(slow); w.Code != 403 || problemType(w.Body.String()) == "ip-banned" {
		t.Fatalf("the slow request: %d %s", w.Code, w.Body)
	}
	w := g.serve(g.req(t, a, true, nil))
	// 481: the ban as it was; 601: extended by the late failure (also fine).
	if ra := w.Header().Get("Retry-After"); problemType(w.Body.String()) != "ip-banned" || ra != "481" && ra != "601" {
		t.Fatalf("the ban (until +10m) was lifted at +2m by a late failure: %d %v %s", w.Code, w.Header(), w.Body)
	}
}

// TestProtectAuditServedBanWipesSlate: with BanFor shorter than
// BanWindow, a client whose ban has ended is not banned again by its next
// single failure (the window that earned the ban ended with it); it takes
// BanAfter new failures.
func TestProtectAuditServedBanWipesSlate(t *testing.T) {
	g := newBanGW(t, Protection{BanAfter: 3, BanWindow: 10 * time.Minute, BanFor: time.Minute})
	a := "198.51.100.7:1000"
	for range 3 {
		g.serve(g.req(t, a, false, nil))
	}
	if w := g.serve(g.req(t, a, true, nil)); problemType(w.Body.String()) != "ip-banned" {
		t.Fatalf("not banned after 3 failures: %d %s", w.Code, w.Body)
	}
	g.clk.Add(2 * time.Minute) // the ban is over; the window is not
	for i := range 2 {
		g.serve(g.req(t, a, false, nil))
		if w := g.serve(g.req(t, a, true, nil)); problemType(w.Body.String()) == "ip-banned" {
			t.Fatalf("banned again by failure %d after the ban ended: %d %s", i+1, w.Code, w.Body)
		}
	}
	g.serve(g.req(t, a, false, nil))
	if w := g.serve(g.req(t, a, true, nil)); problemType(w.Body.String()) != "ip-banned" {
		t.Fatalf("3 new failures did not ban: %d %s", w.Code, w.Body)
	}
}

// TestProtectAuditBadRequestNotAFailure documents that a malformed
// request (400) and a request without credentials are not counted
// towards the ban (policy, see the report).
func TestProtectAuditBadRequestNotAFailure(t *testing.T) {
	g := newBanGW(t, Protection{BanAfter: 2, BanWindow: time.Minute, BanFor: time.Minute})
	a := "198.51.100.1:1000"
	for range 5 {
		r := httptest.NewRequest("GET", "http://gw/acme/echo/v1/things/1", nil)
		r.RemoteAddr = a
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 garbage")
		if w := g.serve(r); w.Code/100 != 4 || problemType(w.Body.String()) == "ip-banned" {
			t.Fatalf("garbled authorization: %d %s", w.Code, w.Body)
		}
	}
	if w := g.serve(g.req(t, a, true, nil)); w.Code != 200 {
		t.Fatalf("banned by malformed requests: %d %s", w.Code, w.Body)
	}
}

// TestProtectAuditOAuthFailureKeyedByClient: behind a trusted proxy, bad
// client credentials at /oauth/token must count against the client that
// sent them (else a secret can be guessed there without ever being
// banned), not against the proxy's own address.
func TestProtectAuditOAuthFailureKeyedByClient(t *testing.T) {
	g := newBanGW(t, Protection{BanAfter: 2, BanWindow: time.Minute, BanFor: time.Minute,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	for range 2 {
		r := httptest.NewRequest("POST", "http://gw/oauth/token", strings.NewReader("grant_type=client_credentials"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth("PKTESTTESTTESTTEST01", "wrong")
		r.RemoteAddr = "10.0.0.1:1000"
		r.Header.Set("X-Forwarded-For", "203.0.113.66")
		if w := g.serve(r); w.Code != 401 {
			t.Fatalf("bad credentials: %d %s", w.Code, w.Body)
		}
	}
	r := g.req(t, "10.0.0.1:1000", true, nil)
	r.Header.Set("X-Forwarded-For", "203.0.113.66")
	if w := g.serve(r); problemType(w.Body.String()) != "ip-banned" {
		t.Errorf("the client that failed twice is not banned: %d %s", w.Code, w.Body)
	}
	if w := g.serve(g.req(t, "10.0.0.1:1000", true, nil)); w.Code != 200 {
		t.Errorf("the proxy's own calls are banned: %d %s", w.Code, w.Body)
	}
}

// TestProtectAuditClientAddr: the rightmost X-Forwarded-For address that
// is not a trusted proxy, only from trusted peers, and never spoofable.
func TestProtectAuditClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, c := range []struct {
		remote string
		xff    []string
		want   string
	}{
		{"10.0.0.1:1", nil, "10.0.0.1"},                                                    // a proxy's own request
		{"10.0.0.1:1", []string{"203.0.113.5"}, "203.0.113.5"},                             // one hop
		{"10.0.0.1:1", []string{" 198.51.100.9 ,203.0.113.5 ,  10.0.0.2 "}, "203.0.113.5"}, // spaces, a trusted hop
		{"10.0.0.1:1", []string{"198.51.100.9", "203.0.113.5, 10.0.0.2"}, "203.0.113.5"},   // several headers
		{"10.0.0.1:1", []string{"203.0.113.5", "10.0.0.2"}, "203.0.113.5"},
		{"10.0.0.1:1", []string{"1.1.1.1, 10.0.0.2", ""}, "10.0.0.1"},              // an empty header: garbled hop, trust nothing before
		{"10.0.0.1:1", []string{"1.1.1.1, garbage"}, "10.0.0.1"},                   // garbage written last: the proxy
		{"10.0.0.1:1", []string{"garbage, 203.0.113.5"}, "203.0.113.5"},            // garbage the client wrote
		{"10.0.0.1:1", []string{"10.0.0.9, 10.0.0.3"}, "10.0.0.9"},                 // every hop trusted
		{"10.0.0.1:1", []string{"2001:db8::1"}, "2001:db8::1"},                     // IPv6
		{"10.0.0.1:1", []string{"::ffff:203.0.113.5"}, "203.0.113.5"},              // mapped
		{"10.0.0.1:1", []string{"203.0.113.5, ::ffff:10.0.0.2"}, "203.0.113.5"},    // a mapped trusted hop
		{"[::ffff:10.0.0.1]:1", []string{"203.0.113.5"}, "203.0.113.5"},            // a mapped trusted peer
		{"[fd00::1]:1", []string{"203.0.113.5"}, "203.0.113.5"},                    // an IPv6 proxy
		{"[fd00::1%eth0]:1", []string{"203.0.113.5"}, "203.0.113.5"},               // a zoned IPv6 proxy
		{"10.0.0.1:1", []string{"203.0.113.5:4711"}, "203.0.113.5"},                // a proxy that writes ports
		{"10.0.0.1:1", []string{"[2001:db8::1]:4711, 10.0.0.2:80"}, "2001:db8::1"}, // bracketed IPv6 with a port
		{"192.0.2.1:1", []string{"203.0.113.5"}, "192.0.2.1"},                      // an untrusted peer's claim
		{"192.0.2.1:1", []string{"10.0.0.2"}, "192.0.2.1"},                         // ... cannot make it a proxy
		{"[::ffff:192.0.2.1]:1", []string{"10.0.0.2"}, "192.0.2.1"},
		{"garbage", []string{"203.0.113.5"}, "invalid IP"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientAddr(r, trusted); got.String() != c.want {
			t.Errorf("%s %q: %v, want %s", c.remote, c.xff, got, c.want)
		}
	}
}

// TestProtectAuditClientThroughGateway: what the access log, the per-IP
// key and the upstream's X-Forwarded-For see, behind a trusted proxy and
// from an untrusted peer sending X-Forwarded-For.
func TestProtectAuditClientThroughGateway(t *testing.T) {
	up := newEchoUpstream(t)
	var mu sync.Mutex
	var xff []string
	upx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		xff = append(xff, strings.Join(r.Header.Values("X-Forwarded-For"), "|"))
		mu.Unlock()
		up.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(upx.Close)
	snap, err := Compile(auditConfig(upx.URL, Limits{}))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var logMu sync.Mutex
	h, err := NewHandler(NewStore(snap), Options{Region: "local", AllowPrivateUpstreams: true,
		Logger: slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) {
			logMu.Lock()
			defer logMu.Unlock()
			return logs.Write(p)
		}), nil)),
		Protection: &Protection{BanAfter: 1, BanWindow: time.Minute, BanFor: time.Minute,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}})
	if err != nil {
		t.Fatal(err)
	}
	call := func(remote, fwd string, good bool) int {
		r := httptest.NewRequest("GET", "http://gw/acme/echo/v1/x", nil)
		secret := "secretsecretsecretsecretsecretsecret1234"
		if !good {
			secret = strings.Repeat("w", 40)
		}
		(&sigv4.Signer{Region: "local"}).Sign(r, "PKTESTTESTTESTTEST01", secret, "", time.Now())
		r.RemoteAddr = remote
		if fwd != "" {
			r.Header.Set("X-Forwarded-For", fwd)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	// A failure bans the client behind the proxy, not the proxy.
	if st := call("10.0.0.1:1", "203.0.113.66", false); st != 403 {
		t.Fatalf("bad signature: %d", st)
	}
	if st := call("10.0.0.1:1", "203.0.113.66", true); st != 403 {
		t.Fatalf("the banned client: %d", st)
	}
	if st := call("10.0.0.1:1", "203.0.113.7", true); st != 200 {
		t.Fatalf("another client behind the proxy: %d", st)
	}
	if st := call("10.0.0.1:1", "", true); st != 200 {
		t.Fatalf("the proxy itself: %d", st)
	}
	// An untrusted peer spoofing another's address is keyed by its own.
	if st := call("192.0.2.1:1", "203.0.113.66", true); st != 200 {
		t.Fatalf("a spoofed X-Forwarded-For: %d", st)
	}
	logMu.Lock()
	lg := logs.String()
	logMu.Unlock()
	for _, want := range []string{`"client_ip":"203.0.113.66"`, `"client_ip":"203.0.113.7"`, `"client_ip":"10.0.0.1"`, `"client_ip":"192.0.2.1"`} {
		if !strings.Contains(lg, want) {
			t.Errorf("access log lacks %s:\n%s", want, lg)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// Upstream: what earlier hops said, then the gateway's peer.
	want := []string{"203.0.113.7, 10.0.0.1", "10.0.0.1", "203.0.113.66, 192.0.2.1"}
	if fmt.Sprint(xff) != fmt.Sprint(want) {
		t.Fatalf("upstream X-Forwarded-For %q, want %q", xff, want)
	}
}

// TestProtectAuditIPList: mapped addresses match IPv4 CIDRs, deny wins,
// zones do not slip past a deny list, and a per-API list narrows the
// global one (both must admit).
func TestProtectAuditIPList(t *testing.T) {
	l, err := ParseIPList([]string{"203.0.113.0/24", "::ffff:198.51.100.0/120", "fe80::/10"}, []string{"203.0.113.128/25", "fe80::bad", "::ffff:198.51.100.128/121"})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"203.0.113.1": true, "::ffff:203.0.113.1": true, "203.0.113.200": false, "::ffff:203.0.113.200": false,
		"198.51.100.1": true, "::ffff:198.51.100.1": true, "198.51.101.1": false, // an IPv4-mapped CIDR is its IPv4 CIDR
		"fe80::1": true, "fe80::1%eth0": true, "fe80::bad": false, "fe80::bad%eth0": false, "192.0.2.1": false, "198.51.100.200": false, "::ffff:198.51.100.200": false,
	} {
		if got := l.Admits(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Admits(%s) = %v, want %v", addr, got, want)
		}
	}
	// A deny-only list: a zoned link-local address must not slip past it.
	d, _ := ParseIPList(nil, []string{"fe80::/10"})
	if d.Admits(netip.MustParseAddr("fe80::1%eth0")) || d.Admits(netip.MustParseAddr("fe80::1")) {
		t.Error("a zoned address slips past the deny list")
	}
	p, err := ParsePrefix("::ffff:203.0.113.7")
	if err != nil || p.String() != "203.0.113.7/32" {
		t.Errorf("a mapped address is its IPv4 address: %v %v", p, err)
	}

	// Through the gateway: global allow 203.0.113.0/24, the API allows
	// only 203.0.113.0/28 and denies 203.0.113.5.
	now := time.Now()
	cfg := demoConfig(Limits{}, SubActive, now)
	cfg.APIs[0].Settings.IPAllow = []string{"203.0.113.0/28"}
	cfg.APIs[0].Settings.IPDeny = []string{"203.0.113.5"}
	snap, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	global, _ := ParseIPList([]string{"203.0.113.0/24"}, []string{"fe80::/10"})
	h, err := NewHandler(NewStore(snap), Options{Region: "local", Protection: &Protection{IPs: global},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for remote, want := range map[string]string{
		"203.0.113.1:1": "", "[::ffff:203.0.113.1]:1": "", "203.0.113.5:1": "ip-denied", "[::ffff:203.0.113.5]:1": "ip-denied",
		"203.0.113.100:1": "ip-denied", "192.0.2.1:1": "ip-denied", "[fe80::1%eth0]:1": "ip-denied", "garbage": "ip-denied",
	} {
		r := httptest.NewRequest("GET", "http://gw/acme/echo/v1/things/1", nil)
		(&sigv4.Signer{Region: "local"}).Sign(r, "PKTESTTESTTESTTEST01", "secretsecretsecretsecretsecretsecret1234", "", now)
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == 200 && want != "" || w.Code != 200 && problemType(w.Body.String()) != want {
			t.Errorf("%s: %d %s, want %q", remote, w.Code, w.Body, want)
		}
	}
}

// TestProtectAuditManyAddresses measures the per-IP state a spray of
// distinct addresses leaves: in-flight entries go with their requests;
// failure windows stay within their cap (protFailCap per shard) even while
// every window is live, and expired ones are swept.
func TestProtectAuditManyAddresses(t *testing.T) {
	p, err := newProtector(Protection{RequestsPerSecond: 10, Burst: 10, MaxConcurrent: 4, BanAfter: 5, BanWindow: time.Minute, BanFor: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 200_000
	w := httptest.NewRecorder()
	for i := range n {
		k := p.key(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		if code := p.enter(w, k, now, "id"); code != "" {
			t.Fatalf("%v refused: %s", k.net, code)
		}
		p.failed(k, now)
		p.leave(k)
	}
	if a, _ := protInflight(p); a != 0 {
		t.Fatalf("%d in-flight entries left", a)
	}
	for i := range p.shards {
		if got := len(p.shards[i].failures); got > protFailCap {
			t.Fatalf("shard %d holds %d failure windows within the window, cap %d", i, got, protFailCap)
		}
	}
	before := protFailures(p)
	t.Logf("GCRA keys after %d addresses: %d (bounded by limits.DefaultMaxKeys = %d)", n, p.rate.Len(), 1<<20)
	// After the window, a new failure in a full shard sweeps its expired
	// windows (a shard not full keeps them until it is): every new one is
	// recorded, and the cap holds.
	later := now.Add(2 * time.Minute)
	for i := range 64 * 16 {
		k := p.key(netip.AddrFrom4([4]byte{11, 0, byte(i >> 8), byte(i)}))
		p.failed(k, later)
		if sh := p.shard(k); sh.failures[k] == nil {
			t.Fatalf("a failure from %v after the window was not recorded", k.net)
		}
	}
	for i := range p.shards {
		if got := len(p.shards[i].failures); got > protFailCap {
			t.Fatalf("shard %d holds %d failure windows, cap %d", i, got, protFailCap)
		}
	}
	t.Logf("failure windows: %d after %d addresses within the window, %d after it passed and %d new failures", before, n, protFailures(p), 64*16)
}
