package gateway

// An audit of upstream resilience: weighted balancing, the per-target
// circuit breaker, active health checks, retries and the mapping of
// upstream failures to answers. Tests marked "coverage" passed before the
// audit's fixes and stay for what they pin down; the others failed.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/portico-dev/portico/gateway/sigv4"
)

// --- weighted balancing ------------------------------------------------

func auditPool(weights ...int) (*upstreams, *pool) {
	u := newUpstreams(NewStore(nil), slog.New(slog.NewTextHandler(io.Discard, nil)), 0, 0)
	p := &pool{}
	for i, w := range weights {
		st, _ := newTargetState("http://t" + strconv.Itoa(i) + ".example")
		p.targets = append(p.targets, poolTarget{st, w})
	}
	return u, p
}

// checkShares fails unless each target's share of n is within 1.5 points
// of want (fractions); about ten standard deviations at these sizes.
func checkShares(t *testing.T, what string, got []int64, want []float64) {
	t.Helper()
	var n int64
	for _, c := range got {
		n += c
	}
	for i := range got {
		share := float64(got[i]) / float64(n)
		if d := share - want[i]; d > 0.015 || d < -0.015 || (want[i] == 0 && got[i] != 0) {
			t.Errorf("%s: target %d got %.3f of %d picks, want %.3f (counts %v)", what, i, share, n, want[i], got)
		}
	}
}

// Coverage: shares follow the weights (1:3, 1:1:8, weight 0 never picked),
// a target out of rotation leaves its share to the others in proportion to
// their weights, and concurrent picks (run with -race) stay fair.
func TestUpstreamAuditWeightShares(t *testing.T) {
	const n = 40000
	pickN := func(u *upstreams, p *pool) []int64 {
		c := make([]int64, len(p.targets))
		for range n {
			i := p.pickOne(u, 0)
			if i < 0 {
				t.Fatal("no target picked")
			}
			c[i]++
		}
		return c
	}
	for _, tc := range []struct {
		weights []int
		want    []float64
	}{
		{[]int{1, 3}, []float64{0.25, 0.75}},
		{[]int{1, 1, 8}, []float64{0.1, 0.1, 0.8}},
		{[]int{2, 0, 2}, []float64{0.5, 0, 0.5}},
		{[]int{0, 5}, []float64{0, 1}},
	} {
		u, p := auditPool(tc.weights...)
		checkShares(t, "weights "+strconv.Itoa(len(tc.weights)), pickN(u, p), tc.want)
	}

	// 1:1:8 with the weight-1 target's breaker open: 1:8 of the rest.
	u, p := auditPool(1, 1, 8)
	p.targets[0].state.Store(breakerOpen)
	p.targets[0].until.Store(nanotime() + int64(time.Hour))
	checkShares(t, "breaker open", pickN(u, p), []float64{0, 1.0 / 9, 8.0 / 9})
	// The weight-8 target failing its health checks: 1:1.
	u, p = auditPool(1, 1, 8)
	p.targets[2].activeDown.Store(true)
	checkShares(t, "unhealthy", pickN(u, p), []float64{0.5, 0.5, 0})

	// Concurrent picks on 1:3.
	u, p = auditPool(1, 3)
	counts := make([]atomic.Int64, 2)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range n / 8 {
				counts[p.pickOne(u, 0)].Add(1)
			}
		})
	}
	wg.Wait()
	checkShares(t, "concurrent", []int64{counts[0].Load(), counts[1].Load()}, []float64{0.25, 0.75})

	// Picks racing breaker and health flips of one target: always a
	// valid target (the other stays up), no race.
	u, p = auditPool(1, 1, 1)
	stop := make(chan struct{})
	var flips sync.WaitGroup
	flips.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			tg := p.targets[0].targetState
			tg.activeDown.Store(!tg.activeDown.Load())
			tg.until.Store(nanotime())
			tg.state.Store(breakerOpen)
			tg.state.Store(breakerClosed)
		}
	})
	for range 8 {
		wg.Go(func() {
			for range 5000 {
				if i := p.pickOne(u, 0); i < 0 || i > 2 {
					t.Errorf("picked %d", i)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	flips.Wait()
}

// --- a configurable mock backend ------------------------------------------

// auditBackend answers by path: /fail 503, /status/N N, /hang until the gateway gives
// up, /slow after release is closed (or 300 ms with slowFor), /health per
// healthy; anything else 200 "ok". It counts what reaches it.
type auditBackend struct {
	*httptest.Server
	calls, probes atomic.Int32
	healthy       atomic.Bool
	arrived       chan string
	gone          chan struct{}
	release       chan struct{}
	slowFor       time.Duration
}

func newAuditBackend(t *testing.T) *auditBackend {
	t.Helper()
	b := &auditBackend{arrived: make(chan string, 64), gone: make(chan struct{}, 64), release: make(chan struct{})}
	b.healthy.Store(true)
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasSuffix(p, "/health") {
			b.probes.Add(1)
			if !b.healthy.Load() {
				w.WriteHeader(http.StatusInternalServerError)
			}
			return
		}
		if strings.HasSuffix(p, "/nope") {
			b.probes.Add(1)
			w.WriteHeader(http.StatusNotFound)
			return
		}
		b.calls.Add(1)
		select {
		case b.arrived <- p:
		default:
		}
		switch {
		case strings.HasSuffix(p, "/fail"):
			w.WriteHeader(http.StatusServiceUnavailable)
		case strings.Contains(p, "/status/"):
			st, _ := strconv.Atoi(p[strings.LastIndexByte(p, '/')+1:])
			w.WriteHeader(st)
		case strings.HasSuffix(p, "/hang"):
			<-r.Context().Done()
			b.gone <- struct{}{}
		case strings.HasSuffix(p, "/slow"):
			if b.slowFor > 0 {
				time.Sleep(b.slowFor)
			} else {
				select {
				case <-b.release:
				case <-r.Context().Done():
				}
			}
			io.WriteString(w, "ok")
		default:
			io.WriteString(w, "ok")
		}
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *auditBackend) waitArrived(t *testing.T, path string) {
	t.Helper()
	for {
		select {
		case p := <-b.arrived:
			if strings.HasSuffix(p, path) {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no call to %s reached the backend", path)
		}
	}
}

// twoAPIConfig serves two APIs of two providers, acme/echo/v1 (upstream
// a) and beta/other/v1 (upstream b), both subscribed by the demo key.
func twoAPIConfig(a, b Upstream) *Config {
	cfg := fwdConfig(a)
	v := cfg.APIs[0]
	v.OrgID, v.OrgSlug, v.APIID, v.APISlug, v.VersionID = "o2", "beta", "a2", "other", "v2id"
	v.Upstream = b
	v.Operations = []Operation{{ID: "any", Method: "*", Path: "/*", Billable: true}}
	cfg.APIs = append(cfg.APIs, v)
	s := cfg.Subscriptions[0]
	s.ID, s.ProviderOrgID, s.APIID = "s2", "o2", "a2"
	cfg.Subscriptions = append(cfg.Subscriptions, s)
	return cfg
}

// --- circuit breaker ------------------------------------------------------

// Bug: any success closed an open breaker, so an old request admitted
// before the breaker opened, answering late, put a failing target back
// in rotation without the cool-down or a probe.
func TestUpstreamBreakerOldSuccessKeepsItOpen(t *testing.T) {
	up := newAuditBackend(t)
	g := newFwdGateway(t, fwdConfig(Upstream{Targets: []Target{{URL: up.URL, Weight: 1}}}),
		Options{AllowPrivateUpstreams: true, BreakerFailures: 2, BreakerCooldown: time.Minute})
	slow := make(chan int, 1)
	go func() {
		res, err := g.send(t, "GET", "/acme/echo/v1/slow", "", nil)
		if err != nil {
			slow <- 0
			return
		}
		res.Body.Close()
		slow <- res.StatusCode
	}()
	up.waitArrived(t, "/slow")
	for range 2 {
		if res, body := g.call(t, "GET", "/acme/echo/v1/fail", "", nil); res.StatusCode != 503 {
			t.Fatalf("%d %s", res.StatusCode, body)
		}
	}
	if res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil); res.StatusCode != 503 || problemType(body) != "no-healthy-upstream" {
		t.Fatalf("after two failures: %d %s, want the breaker open", res.StatusCode, body)
	}
	close(up.release)
	if st := <-slow; st != 200 {
		t.Fatalf("the old request: %d", st)
	}
	before := up.calls.Load()
	if res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil); res.StatusCode != 503 || problemType(body) != "no-healthy-upstream" {
		t.Fatalf("an old request's success closed the breaker mid cool-down: %d %s", res.StatusCode, body)
	}
	if n := up.calls.Load() - before; n != 0 {
		t.Fatalf("the open breaker let %d calls through", n)
	}
}

// Bug: a half-open probe whose client went away held the probe slot for a
// whole further cool-down (503 to everyone meanwhile). Client gone must
// neither count as the target's failure nor keep the slot.
func TestUpstreamBreakerProbeClientGone(t *testing.T) {
	up := newAuditBackend(t)
	const cooldown = 1500 * time.Millisecond
	g := newFwdGateway(t, fwdConfig(Upstream{Targets: []Target{{URL: up.URL, Weight: 1}}}),
		Options{AllowPrivateUpstreams: true, BreakerFailures: 1, BreakerCooldown: cooldown})
	if res, body := g.call(t, "GET", "/acme/echo/v1/fail", "", nil); res.StatusCode != 503 {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	time.Sleep(cooldown + 50*time.Millisecond)
	// The probe: its client gives up after 100 ms.
	start := time.Now()
	req, _ := http.NewRequest("GET", g.srv.URL+"/acme/echo/v1/hang", nil)
	signReq(t, req)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if res, err := http.DefaultClient.Do(req.WithContext(ctx)); err == nil {
		res.Body.Close()
		t.Fatalf("the probe answered %d", res.StatusCode)
	}
	select {
	case <-up.gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the gateway never dropped the abandoned probe")
	}
	time.Sleep(50 * time.Millisecond) // the transport returns, the slot is released
	res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil)
	// An unreleased slot would last until the probe call's own deadline
	// (the default 30 s timeout, beyond the cool-down): only a run that
	// slow could pass without the release.
	if el := time.Since(start); el >= DefaultTimeout {
		t.Fatalf("too slow to tell (%v): the probe slot's deadline passed anyway", el)
	}
	if res.StatusCode != 200 || body != "ok" {
		t.Fatalf("after the probe's client left: %d %s, want the next call admitted as the probe", res.StatusCode, body)
	}
	// Closed again, and the abandoned call counted nothing.
	for i := range 3 {
		if res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil); res.StatusCode != 200 {
			t.Fatalf("call %d: %d %s", i, res.StatusCode, body)
		}
	}
}

// Bug: the probe's slot lasted one cool-down, so with an upstream timeout
// longer than the cool-down a second probe was let through while the first
// still waited (and, answering first, closed the breaker under it). The
// slot now lasts until the probe's own deadline when that is later.
func TestUpstreamBreakerSlowProbeHoldsSlot(t *testing.T) {
	up := newAuditBackend(t)
	const cooldown = 400 * time.Millisecond
	g := newFwdGateway(t, fwdConfig(Upstream{Timeout: 2 * time.Second, Targets: []Target{{URL: up.URL, Weight: 1}}}),
		Options{AllowPrivateUpstreams: true, BreakerFailures: 1, BreakerCooldown: cooldown})
	g.call(t, "GET", "/acme/echo/v1/fail", "", nil)
	time.Sleep(cooldown + 50*time.Millisecond)
	probe := make(chan int, 1)
	go func() {
		res, err := g.send(t, "GET", "/acme/echo/v1/hang", "", nil)
		if err != nil {
			probe <- 0
			return
		}
		res.Body.Close()
		probe <- res.StatusCode
	}()
	up.waitArrived(t, "/hang")
	time.Sleep(cooldown + 100*time.Millisecond)
	before := up.calls.Load()
	if res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil); res.StatusCode != 503 || problemType(body) != "no-healthy-upstream" {
		t.Fatalf("a second probe was let through while the first waits: %d %s", res.StatusCode, body)
	}
	if st := <-probe; st != 504 {
		t.Fatalf("the probe: %d, want 504", st)
	}
	if n := up.calls.Load() - before; n != 0 {
		t.Fatalf("%d calls passed the half-open breaker beside its probe", n)
	}
	// The timed-out probe re-opened it; the next probe closes it.
	if res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil); res.StatusCode != 503 || problemType(body) != "no-healthy-upstream" {
		t.Fatalf("after the probe timed out: %d %s", res.StatusCode, body)
	}
	time.Sleep(cooldown + 50*time.Millisecond)
	if res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil); res.StatusCode != 200 {
		t.Fatalf("the next probe: %d %s", res.StatusCode, body)
	}
}

// Coverage: 4xx and 500 answers are the backend working (they reset the
// count); 502, 503 and 504 answers are failures.
func TestUpstreamBreakerCountsGatewayErrors(t *testing.T) {
	up := newAuditBackend(t)
	g := newFwdGateway(t, fwdConfig(Upstream{Targets: []Target{{URL: up.URL, Weight: 1}}}),
		Options{AllowPrivateUpstreams: true, BreakerFailures: 3, BreakerCooldown: time.Minute})
	for i := range 4 {
		for _, st := range []int{502, 504, 500, 400, 404, 429, 501} {
			if res, body := g.call(t, "GET", "/acme/echo/v1/status/"+strconv.Itoa(st), "", nil); res.StatusCode != st {
				t.Fatalf("round %d: %d relayed as %d %s", i, st, res.StatusCode, body)
			}
		}
	}
	for _, st := range []int{502, 503, 504} {
		g.call(t, "GET", "/acme/echo/v1/status/"+strconv.Itoa(st), "", nil)
	}
	if res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil); res.StatusCode != 503 || problemType(body) != "no-healthy-upstream" {
		t.Fatalf("after 502, 503, 504 in a row: %d %s, want the breaker open", res.StatusCode, body)
	}
}

// Coverage: a client that leaves a call to a closed breaker's target is no
// failure of the target (BreakerFailures 1 would open it).
func TestUpstreamBreakerIgnoresClientGone(t *testing.T) {
	up := newAuditBackend(t)
	g := newFwdGateway(t, fwdConfig(Upstream{Targets: []Target{{URL: up.URL, Weight: 1}}}),
		Options{AllowPrivateUpstreams: true, BreakerFailures: 1, BreakerCooldown: time.Minute})
	for range 3 {
		req, _ := http.NewRequest("GET", g.srv.URL+"/acme/echo/v1/hang", nil)
		signReq(t, req)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		if res, err := http.DefaultClient.Do(req.WithContext(ctx)); err == nil {
			res.Body.Close()
		}
		cancel()
		<-up.gone
	}
	time.Sleep(50 * time.Millisecond)
	if res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil); res.StatusCode != 200 {
		t.Fatalf("clients that left opened the breaker: %d %s", res.StatusCode, body)
	}
}

// Coverage: after the cool-down exactly one of many concurrent requests is
// let through as the probe; its failure re-opens the breaker for another
// cool-down, its success closes it.
func TestUpstreamBreakerHalfOpenOneProbe(t *testing.T) {
	up := newAuditBackend(t)
	up.slowFor = time.Second
	const cooldown = 500 * time.Millisecond
	g := newFwdGateway(t, fwdConfig(Upstream{Targets: []Target{{URL: up.URL, Weight: 1}}}),
		Options{AllowPrivateUpstreams: true, BreakerFailures: 2, BreakerCooldown: cooldown})
	for range 2 {
		g.call(t, "GET", "/acme/echo/v1/fail", "", nil)
	}
	// The probe fails: open again at once.
	time.Sleep(cooldown + 50*time.Millisecond)
	before := up.calls.Load()
	if res, body := g.call(t, "GET", "/acme/echo/v1/fail", "", nil); res.StatusCode != 503 || problemType(body) == "no-healthy-upstream" {
		t.Fatalf("the probe: %d %s", res.StatusCode, body)
	}
	if res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil); res.StatusCode != 503 || problemType(body) != "no-healthy-upstream" {
		t.Fatalf("after a failed probe: %d %s", res.StatusCode, body)
	}
	if n := up.calls.Load() - before; n != 1 {
		t.Fatalf("%d calls reached the backend, want the probe alone", n)
	}
	// Twenty concurrent calls after the cool-down: one probe.
	time.Sleep(cooldown + 50*time.Millisecond)
	before = up.calls.Load()
	var wg sync.WaitGroup
	var ok, refused atomic.Int32
	for range 20 {
		wg.Go(func() {
			res, err := g.send(t, "GET", "/acme/echo/v1/slow", "", nil)
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			switch {
			case res.StatusCode == 200:
				ok.Add(1)
			case res.StatusCode == 503 && problemType(string(b)) == "no-healthy-upstream":
				refused.Add(1)
			default:
				t.Errorf("%d %s", res.StatusCode, b)
			}
		})
	}
	wg.Wait()
	if n := up.calls.Load() - before; n != 1 || ok.Load() != 1 || refused.Load() != 19 {
		t.Fatalf("half-open let %d calls through (%d ok, %d refused), want exactly one probe", n, ok.Load(), refused.Load())
	}
	for i := range 5 {
		if res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil); res.StatusCode != 200 {
			t.Fatalf("closed after the probe, call %d: %d %s", i, res.StatusCode, body)
		}
	}
}

// Bug: breakers and health were shared by every API whose upstream named
// the same URL, so one provider's failing calls (or its short timeouts, or
// its health check path) took the target out of rotation for another
// provider's API. Each API version now has its own; a reload keeps them.
func TestUpstreamBreakerPerAPI(t *testing.T) {
	up := newAuditBackend(t)
	tg := []Target{{URL: up.URL, Weight: 1}}
	cfg := twoAPIConfig(Upstream{Targets: tg}, Upstream{Targets: tg})
	g := newFwdGateway(t, cfg, Options{AllowPrivateUpstreams: true, BreakerFailures: 2, BreakerCooldown: time.Minute})
	for range 2 {
		if res, body := g.call(t, "GET", "/acme/echo/v1/fail", "", nil); res.StatusCode != 503 {
			t.Fatalf("%d %s", res.StatusCode, body)
		}
	}
	if res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil); res.StatusCode != 503 || problemType(body) != "no-healthy-upstream" {
		t.Fatalf("acme's breaker: %d %s, want open", res.StatusCode, body)
	}
	if res, body := g.call(t, "GET", "/beta/other/v1/x", "", nil); res.StatusCode != 200 {
		t.Fatalf("acme's failures opened beta's breaker: %d %s", res.StatusCode, body)
	}
	// The metrics show the target once, at its worst, and still gather.
	m := g.metrics(t)
	if !strings.Contains(m, `portico_gateway_upstream_breaker_state{target="`+up.URL+`"} 1`) ||
		strings.Count(m, `portico_gateway_upstream_target_healthy{target="`+up.URL+`"}`) != 1 {
		t.Fatalf("breaker metrics:\n%s", m)
	}
	// A reload keeps acme's breaker open (same version, same URL).
	cfg2 := twoAPIConfig(Upstream{Targets: tg}, Upstream{Targets: tg})
	cfg2.Version = 2
	snap, err := Compile(cfg2)
	if err != nil {
		t.Fatal(err)
	}
	g.store.Swap(snap)
	if res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil); res.StatusCode != 503 || problemType(body) != "no-healthy-upstream" {
		t.Fatalf("after a reload acme's breaker: %d %s, want still open", res.StatusCode, body)
	}
	if res, body := g.call(t, "GET", "/beta/other/v1/x", "", nil); res.StatusCode != 200 {
		t.Fatalf("after a reload beta: %d %s", res.StatusCode, body)
	}
}

// --- active health checks -------------------------------------------------

func runChecks(g *fwdGW, n int) {
	for range n {
		g.h.checkHealth(context.Background())
	}
}

// Bug: one API's health check path decided another API's rotation for a
// shared target URL (and with two paths, a random one was probed each
// round).
func TestUpstreamHealthPerAPI(t *testing.T) {
	for _, other := range []string{"", "/health"} {
		t.Run("other path "+other, func(t *testing.T) {
			up := newAuditBackend(t)
			tg := []Target{{URL: up.URL, Weight: 1}}
			cfg := twoAPIConfig(Upstream{Targets: tg, HealthCheckPath: "/nope"}, Upstream{Targets: tg, HealthCheckPath: other})
			g := newFwdGateway(t, cfg, Options{AllowPrivateUpstreams: true})
			runChecks(g, 4)
			if res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil); res.StatusCode != 503 || problemType(body) != "no-healthy-upstream" {
				t.Fatalf("acme, whose checks fail: %d %s", res.StatusCode, body)
			}
			if res, body := g.call(t, "GET", "/beta/other/v1/x", "", nil); res.StatusCode != 200 {
				t.Fatalf("acme's health check took beta's target out: %d %s", res.StatusCode, body)
			}
		})
	}
}

// Coverage: probes of a target a reload removed stop; a probe that hangs
// ends at its timeout; without AllowPrivateUpstreams a probe cannot reach
// an internal address (it fails, and the target leaves the rotation).
func TestUpstreamHealthProbes(t *testing.T) {
	t.Run("removed target", func(t *testing.T) {
		a, b := newAuditBackend(t), newAuditBackend(t)
		cfg := fwdConfig(Upstream{HealthCheckPath: "/health", Targets: []Target{{URL: a.URL, Weight: 1}, {URL: b.URL, Weight: 1}}})
		g := newFwdGateway(t, cfg, Options{AllowPrivateUpstreams: true})
		runChecks(g, 2)
		if a.probes.Load() != 2 || b.probes.Load() != 2 {
			t.Fatalf("probes %d %d", a.probes.Load(), b.probes.Load())
		}
		cfg2 := fwdConfig(Upstream{HealthCheckPath: "/health", Targets: []Target{{URL: a.URL, Weight: 1}}})
		cfg2.Version = 2
		snap, _ := Compile(cfg2)
		g.store.Swap(snap)
		runChecks(g, 3)
		if a.probes.Load() != 5 || b.probes.Load() != 2 {
			t.Fatalf("after removing b: probes %d %d, want 5 2", a.probes.Load(), b.probes.Load())
		}
	})
	t.Run("hanging probe times out", func(t *testing.T) {
		hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
		defer hang.Close()
		g := newFwdGateway(t, fwdConfig(Upstream{HealthCheckPath: "/health", Targets: []Target{{URL: hang.URL, Weight: 1}}}),
			Options{AllowPrivateUpstreams: true, HealthCheckInterval: 150 * time.Millisecond})
		runChecks(g, 1)
		time.Sleep(100 * time.Millisecond)
		goroutines := runtime.NumGoroutine()
		start := time.Now()
		runChecks(g, 10)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("ten rounds took %v with a 150 ms interval", d)
		}
		time.Sleep(100 * time.Millisecond)
		if n := runtime.NumGoroutine() - goroutines; n >= 10 {
			t.Fatalf("%d more goroutines after ten rounds of timed-out probes", n)
		}
		if res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil); res.StatusCode != 503 || problemType(body) != "no-healthy-upstream" {
			t.Fatalf("a target whose probes time out: %d %s", res.StatusCode, body)
		}
	})
	t.Run("private address refused", func(t *testing.T) {
		up := newAuditBackend(t)
		g := newFwdGateway(t, fwdConfig(Upstream{HealthCheckPath: "/health", Targets: []Target{{URL: up.URL, Weight: 1}}}), Options{})
		runChecks(g, 2)
		if n := up.probes.Load(); n != 0 {
			t.Fatalf("the loopback target got %d probes", n)
		}
		if m := g.metrics(t); !strings.Contains(m, `portico_gateway_upstream_target_healthy{target="`+up.URL+`"} 0`) {
			t.Fatalf("the refused target is in rotation:\n%s", m)
		}
	})
}

// --- every target down ------------------------------------------------------

// Coverage: with every target's breaker open or failing its checks the
// gateway refuses (fail closed): 503 no-healthy-upstream with
// Retry-After, a body naming no internal address; no panic.
func TestUpstreamAllTargetsDown(t *testing.T) {
	r1, r2 := refusedURL(t), refusedURL(t)
	g := newFwdGateway(t, fwdConfig(Upstream{Retries: 1, Targets: []Target{{URL: r1, Weight: 1}, {URL: r2, Weight: 3}}}),
		Options{AllowPrivateUpstreams: true, BreakerFailures: 1, BreakerCooldown: time.Minute})
	res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil)
	if res.StatusCode != 502 || problemType(body) != "upstream-unavailable" {
		t.Fatalf("both refused: %d %s", res.StatusCode, body)
	}
	noInternals(t, body)
	for i := range 5 {
		res, body := g.call(t, "PUT", "/acme/echo/v1/x", "{}", nil)
		if res.StatusCode != 503 || problemType(body) != "no-healthy-upstream" || res.Header.Get("Retry-After") == "" {
			t.Fatalf("call %d with both breakers open: %d %s", i, res.StatusCode, body)
		}
		noInternals(t, body)
	}

	// One target failing its checks, the other's breaker open.
	up, dead := newAuditBackend(t), refusedURL(t)
	up.healthy.Store(false)
	g = newFwdGateway(t, fwdConfig(Upstream{HealthCheckPath: "/health", Targets: []Target{{URL: up.URL, Weight: 1}, {URL: dead, Weight: 1}}}),
		Options{AllowPrivateUpstreams: true, BreakerFailures: 1, BreakerCooldown: time.Minute})
	runChecks(g, 2)
	for range 3 {
		g.call(t, "GET", "/acme/echo/v1/x", "", nil)
	}
	if res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil); res.StatusCode != 503 || problemType(body) != "no-healthy-upstream" {
		t.Fatalf("mixed: %d %s", res.StatusCode, body)
	}
}

// noInternals fails when a problem body names an address or error text.
func noInternals(t *testing.T, body string) {
	t.Helper()
	for _, s := range []string{"127.0.0.1", "dial", "refused", "EOF", "reset", "http://", "timeout awaiting"} {
		if strings.Contains(body, s) {
			t.Fatalf("the problem body leaks %q: %s", s, body)
		}
	}
}

// --- retries ------------------------------------------------------------------

// halfReader accepts connections, reads the request head and part of
// its body, then resets: a PUT whose body was half sent.
func halfReader(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var accepts atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				io.CopyN(io.Discard, br, 1000)
				c.(*net.TCPConn).SetLinger(0)
			}()
		}
	}()
	return "http://" + ln.Addr().String(), &accepts
}

// Coverage: a PUT retried after its body was half sent reaches the other
// target whole, with a backend signature valid for that target's path and
// the request id the client got.
func TestUpstreamRetryResendsBodyAndSignature(t *testing.T) {
	secret := []byte("backend-secret-backend-secret-32")
	live, got := sigCheckingUpstream(t, secret, "stored")
	dead, accepts := halfReader(t)
	cfg := fwdConfig(Upstream{Retries: 1, Targets: []Target{{URL: dead + "/dead", Weight: 1000}, {URL: live.URL + "/live", Weight: 1}}})
	cfg.APIs[0].BackendKeys = []BackendKey{{ID: "bk1", Secret: secret}}
	g := newFwdGateway(t, cfg, Options{AllowPrivateUpstreams: true, BreakerFailures: 1 << 20})
	body := strings.Repeat("0123456789abcdef", 16<<10)
	for i := range 5 {
		res, b := g.call(t, "PUT", "/acme/echo/v1/doc/1", body, nil)
		if res.StatusCode != 200 || b != "stored" {
			t.Fatalf("PUT %d: %d %s", i, res.StatusCode, b)
		}
		s := <-got
		if s.Err != "" || s.Dups != "" || s.BodyLen != len(body) || !strings.HasPrefix(s.Path, "/live/") || s.ID != res.Header.Get(RequestIDHeader) {
			t.Fatalf("PUT %d reached the backend broken: %+v (client's id %s)", i, s, res.Header.Get(RequestIDHeader))
		}
	}
	if accepts.Load() == 0 {
		t.Fatal("the half-reading target was never tried: nothing was retried")
	}
}

// Coverage: each retry goes to a target not yet tried while one exists,
// attempts are bounded by Retries, and a POST without Idempotency-Key is
// sent once.
func TestUpstreamRetryTargetsAndBound(t *testing.T) {
	ups := []*rawUpstream{newRawUpstream(t, rawReset), newRawUpstream(t, rawReset), newRawUpstream(t, rawReset)}
	var tg []Target
	for _, u := range ups {
		tg = append(tg, Target{URL: u.URL(), Weight: 1})
	}
	g := newFwdGateway(t, fwdConfig(Upstream{Retries: 2, Targets: tg}), Options{AllowPrivateUpstreams: true, BreakerFailures: 1 << 20})
	for i := range 4 {
		if res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil); res.StatusCode != 502 {
			t.Fatalf("%d %s", res.StatusCode, body)
		}
		for j, u := range ups {
			if n := u.accepts.Load(); n != int32(i+1) {
				t.Fatalf("after GET %d target %d saw %d attempts, want one per call", i, j, n)
			}
		}
	}
	g.call(t, "POST", "/acme/echo/v1/x", `{"a":1}`, nil)
	var n int32
	for _, u := range ups {
		n += u.accepts.Load()
	}
	if n != 13 {
		t.Fatalf("a POST made %d attempts, want 1", n-12)
	}
	// Retries 5 over two targets: six attempts in all, no more.
	a, b := newRawUpstream(t, rawReset), newRawUpstream(t, rawReset)
	g = newFwdGateway(t, fwdConfig(Upstream{Retries: 5, Targets: []Target{{URL: a.URL(), Weight: 1}, {URL: b.URL(), Weight: 1}}}),
		Options{AllowPrivateUpstreams: true, BreakerFailures: 1 << 20})
	g.call(t, "DELETE", "/acme/echo/v1/x", "", nil)
	if n := a.accepts.Load() + b.accepts.Load(); n != 6 {
		t.Fatalf("Retries 5: %d attempts, want 6", n)
	}
}

// failingDials is a transport whose every call fails like a connect
// timeout after d (or ends with its context).
type failingDials struct {
	d     time.Duration
	calls atomic.Int32
}

func (f *failingDials) RoundTrip(req *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	select {
	case <-time.After(f.d):
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("i/o timeout")}
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
}

// Coverage: the upstream timeout bounds all attempts together, not each.
func TestUpstreamRetryOverallDeadline(t *testing.T) {
	// Attempts at 0, 400 and 800 ms, the third cut at 1 s; bounded per
	// attempt, six would take 2.4 s.
	tr := &failingDials{d: 400 * time.Millisecond}
	g := newFwdGateway(t, fwdConfig(Upstream{Timeout: time.Second, Retries: 5,
		Targets: []Target{{URL: "http://a.example", Weight: 1}, {URL: "http://b.example", Weight: 1}}}),
		Options{Transport: tr, BreakerFailures: 1 << 20})
	start := time.Now()
	res, body := g.call(t, "GET", "/acme/echo/v1/x", "", nil)
	d := time.Since(start)
	if res.StatusCode != 504 || problemType(body) != "upstream-timeout" {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	if n := tr.calls.Load(); d > 1800*time.Millisecond || n < 2 || n > 3 {
		t.Fatalf("%d attempts over %v: the timeout bounds each attempt, not the call", tr.calls.Load(), d)
	}
}

// --- error mapping ----------------------------------------------------------

// resetOnCancel is a transport that waits for the call's context to end
// and then fails as a reset connection would: the client leaving and the
// upstream failing at once.
type resetOnCancel struct{ entered chan struct{} }

func (r *resetOnCancel) RoundTrip(req *http.Request) (*http.Response, error) {
	r.entered <- struct{}{}
	<-req.Context().Done()
	return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
}

// Bug: when the client had gone, an upstream error other than the
// context's own was answered, logged and metered as the gateway's 502
// (and counted as an upstream failure) instead of 499.
func TestUpstreamClientGoneIs499(t *testing.T) {
	forEachKind(t, func(t *testing.T, kind string) {
		tr := &resetOnCancel{entered: make(chan struct{}, 1)}
		var logs syncLog
		g := newAuditGW(t, kind, auditConfig("http://backend.example", Limits{}),
			Options{Transport: tr, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		c := g.dial(t)
		c.Write(wire(t, g.signed(t, "GET", "/acme/echo/v1/x", nil, nil)))
		<-tr.entered
		c.Close()
		g.waitServed(t, 1)
		g.oneEvent(t, 499, true)
		if g.metric(t, `kind="unavailable"`) {
			t.Fatal("a client that left is counted as an upstream failure")
		}
		var line struct{ Status int }
		for l := range strings.SplitSeq(logs.String(), "\n") {
			if strings.Contains(l, `"msg":"gateway"`) {
				json.Unmarshal([]byte(l), &line)
			}
		}
		if line.Status != 499 {
			t.Fatalf("access log status %d, want 499:\n%s", line.Status, logs.String())
		}
	})
}

// Coverage: refused is 502 upstream-unavailable, a timeout 504
// upstream-timeout, a reset 502; no body names the target or the error.
func TestUpstreamErrorBodies(t *testing.T) {
	hang := newAuditBackend(t)
	reset := newRawUpstream(t, rawReset)
	for _, tc := range []struct {
		name, url, path string
		status          int
		code            string
	}{
		{"refused", refusedURL(t), "/x", 502, "upstream-unavailable"},
		{"reset", reset.URL(), "/x", 502, "upstream-unavailable"},
		{"timeout", hang.URL, "/hang", 504, "upstream-timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newFwdGateway(t, fwdConfig(Upstream{Timeout: 200 * time.Millisecond, Targets: []Target{{URL: tc.url, Weight: 1}}}),
				Options{AllowPrivateUpstreams: true})
			res, body := g.call(t, "GET", "/acme/echo/v1"+tc.path, "", nil)
			if res.StatusCode != tc.status || problemType(body) != tc.code {
				t.Fatalf("%d %s", res.StatusCode, body)
			}
			noInternals(t, body)
		})
	}
}

// signReq signs req with the demo key.
func signReq(t *testing.T, req *http.Request) {
	t.Helper()
	if err := (&sigv4.Signer{Region: "local"}).Sign(req, "PKTESTTESTTESTTEST01", "secretsecretsecretsecretsecretsecret1234", "", time.Now()); err != nil {
		t.Fatal(err)
	}
}

// pickOne is pick for a call without a deadline, its index alone.
func (p *pool) pickOne(u *upstreams, tried uint32) int {
	i, _ := p.pick(u, tried, time.Time{})
	return i
}
