package gateway

import (
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the upstream health machinery (see Options).
const (
	DefaultBreakerFailures     = 5
	DefaultBreakerCooldown     = 10 * time.Second
	DefaultHealthCheckInterval = 5 * time.Second
	// healthThreshold consecutive probe results flip a target's active
	// health: two failures take it out, two successes bring it back.
	healthThreshold = 2
)

// Breaker states, as the upstream_breaker_state gauge reports them.
const (
	breakerClosed int32 = iota
	breakerOpen
	breakerHalfOpen
)

// epoch anchors the monotonic clock the breakers use: nanoseconds since
// process start fit an int64 and compare without wall-clock jumps.
var epoch = time.Now()

func nanotime() int64 { return int64(time.Since(epoch)) }

// targetState is what the gateway knows about one upstream target URL. It
// lives in the Handler (keyed by URL), not in a Snapshot, so a configuration
// reload keeps a target's breaker and health. Every field the request path
// touches is an atomic: requests to different targets share nothing, and
// requests to one target share only these words.
type targetState struct {
	url string
	// scheme, host and basePath (escaped, without a trailing slash) are
	// parsed once, not per request.
	scheme, host, basePath string

	// The circuit breaker, which is also the passive health check: after
	// `failures` consecutive connection failures, timeouts or 502/503/504
	// answers the target is out of rotation until `until`; then one
	// request is admitted as a probe (half-open) and its outcome closes or
	// re-opens the breaker. until doubles as the probe's deadline, so a
	// probe that never reports (its client went away) does not wedge the
	// breaker half-open.
	state atomic.Int32
	fails atomic.Int32
	until atomic.Int64

	// activeDown is set by the active health checker.
	activeDown atomic.Bool
	// probeFails and probeOKs are streaks only the checker touches.
	probeFails, probeOKs int
}

func newTargetState(raw string) (*targetState, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, false
	}
	return &targetState{url: raw, scheme: u.Scheme, host: u.Host, basePath: strings.TrimRight(u.EscapedPath(), "/")}, true
}

// dialAddr is the host:port the transport dials for this target.
func (t *targetState) dialAddr() string {
	u := url.URL{Host: t.host}
	port := u.Port()
	if port == "" {
		port = "80"
		if t.scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// available reports whether the target may be picked: actively healthy and
// its breaker closed or due for a half-open probe.
func (t *targetState) available() bool {
	if t.activeDown.Load() {
		return false
	}
	return t.state.Load() == breakerClosed || nanotime() >= t.until.Load()
}

// acquire admits one request. A closed breaker admits all; an open one
// admits exactly one probe once its cool-down is over.
func (t *targetState) acquire(u *upstreams) bool {
	st := t.state.Load()
	if st == breakerClosed {
		return true
	}
	now := nanotime()
	until := t.until.Load()
	if now < until || !t.until.CompareAndSwap(until, now+int64(u.cooldown)) {
		return false
	}
	if t.state.Swap(breakerHalfOpen) == breakerOpen {
		u.log.Info("upstream breaker half-open: admitting a probe", "target", t.url)
	}
	return true
}

// succeeded records a good answer; on the hot path it only reads.
func (t *targetState) succeeded(u *upstreams) {
	if t.fails.Load() != 0 {
		t.fails.Store(0)
	}
	if t.state.Load() != breakerClosed && t.state.Swap(breakerClosed) != breakerClosed {
		u.log.Info("upstream breaker closed: target recovered", "target", t.url)
	}
}

// failed records a connection failure, timeout or gateway-error answer.
func (t *targetState) failed(u *upstreams) {
	n := t.fails.Add(1)
	switch t.state.Load() {
	case breakerHalfOpen:
		t.until.Store(nanotime() + int64(u.cooldown))
		if t.state.CompareAndSwap(breakerHalfOpen, breakerOpen) {
			u.log.Warn("upstream breaker re-opened: probe failed", "target", t.url, "cooldown", u.cooldown)
		}
	case breakerClosed:
		if n >= int32(u.failures) {
			t.until.Store(nanotime() + int64(u.cooldown))
			if t.state.CompareAndSwap(breakerClosed, breakerOpen) {
				u.log.Warn("upstream breaker opened", "target", t.url, "consecutive_failures", n, "cooldown", u.cooldown)
			}
		}
	}
}

// healthy is the target's state as the upstream_target_healthy gauge
// shows it: in rotation for new requests.
func (t *targetState) healthy() bool {
	return !t.activeDown.Load() && t.state.Load() == breakerClosed
}

// pool is one API version's upstream as the request path uses it: its
// targets' shared states with the version's weights and policies.
type pool struct {
	targets []poolTarget
	// plain: every target is http://, so h1Transport carries every call
	// it can (see forward).
	plain          bool
	retries        int
	connectTimeout time.Duration
	healthPath     string
}

type poolTarget struct {
	*targetState
	weight int
}

// maxPoolTargets bounds a pool so a bit mask can track the targets one
// request already tried (the catalog allows 16).
const maxPoolTargets = 32

// pick chooses a target by weight among the available ones, preferring
// targets not in tried, and acquires it. It returns the index or -1.
func (p *pool) pick(u *upstreams, tried uint32) int {
	var excluded uint32
	for range len(p.targets) {
		i := p.pickFrom(tried | excluded)
		if i < 0 && tried != 0 {
			// Every untried target is down: retry on one already used.
			i = p.pickFrom(excluded)
		}
		if i < 0 {
			return -1
		}
		if p.targets[i].acquire(u) {
			return i
		}
		excluded |= 1 << i // lost the race for a half-open probe
	}
	return -1
}

func (p *pool) pickFrom(skip uint32) int {
	if len(p.targets) == 1 {
		if skip&1 == 0 && p.targets[0].weight > 0 && p.targets[0].available() {
			return 0
		}
		return -1
	}
	var avail uint32
	total := 0
	for i, t := range p.targets {
		if skip&(1<<i) == 0 && t.weight > 0 && t.available() {
			avail |= 1 << i
			total += t.weight
		}
	}
	if total == 0 {
		return -1
	}
	x := rand.IntN(total)
	for i, t := range p.targets {
		if avail&(1<<i) == 0 {
			continue
		}
		if x < t.weight {
			return i
		}
		x -= t.weight
	}
	return -1
}

// upstreamTable is the pools of one snapshot, built once when a snapshot is
// first used and read without locks afterwards.
type upstreamTable struct {
	snap  *Snapshot
	pools map[*APIVersion]*pool
	// dialTimeouts maps host:port to the longest connect timeout of the
	// versions that use it: the transport's dialer knows only the address.
	dialTimeouts map[string]time.Duration
}

// upstreams owns the per-target states of a Handler.
type upstreams struct {
	store    *Store
	log      *slog.Logger
	failures int
	cooldown time.Duration

	table atomic.Pointer[upstreamTable]
	// mu guards states and serialises table builds (once per reload).
	mu     sync.Mutex
	states map[string]*targetState
}

func newUpstreams(store *Store, log *slog.Logger, failures int, cooldown time.Duration) *upstreams {
	if failures <= 0 {
		failures = DefaultBreakerFailures
	}
	if cooldown <= 0 {
		cooldown = DefaultBreakerCooldown
	}
	return &upstreams{store: store, log: log, failures: failures, cooldown: cooldown, states: map[string]*targetState{}}
}

// poolFor returns the pool of an API version. The first request on a new
// snapshot builds its table; a request still finishing on an older
// snapshot during a swap gets a pool built for it alone.
func (u *upstreams) poolFor(api *APIVersion) *pool {
	t := u.table.Load()
	if cur := u.store.Load(); t == nil || t.snap != cur {
		t = u.tableFor(cur)
	}
	if p := t.pools[api]; p != nil {
		return p
	}
	if api.Mock || api.State == StateOffline {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.buildPool(api, nil, map[string]time.Duration{})
}

// tableFor returns snap's table, building it when needed; the table of the
// store's current snapshot becomes the current one, and the states of
// targets it no longer names are dropped.
func (u *upstreams) tableFor(snap *Snapshot) *upstreamTable {
	u.mu.Lock()
	defer u.mu.Unlock()
	cur := u.table.Load()
	if cur != nil && cur.snap == snap {
		return cur
	}
	t := &upstreamTable{snap: snap, pools: map[*APIVersion]*pool{}, dialTimeouts: map[string]time.Duration{}}
	if snap == nil {
		return t
	}
	used := map[string]bool{}
	apis := snap.APIs()
	for i := range apis {
		v := &apis[i]
		if v.Mock || v.State == StateOffline {
			continue
		}
		t.pools[v] = u.buildPool(v, used, t.dialTimeouts)
	}
	// Install the table only for the store's current snapshot: a caller
	// still on an older one must not swap the old table back.
	if snap == u.store.Load() {
		u.table.Store(t)
		for k := range u.states {
			if !used[k] {
				delete(u.states, k)
			}
		}
	}
	return t
}

// buildPool makes v's pool from the shared target states (u.mu held),
// noting the URLs used and the connect timeout of each address.
func (u *upstreams) buildPool(v *APIVersion, used map[string]bool, dialTimeouts map[string]time.Duration) *pool {
	p := &pool{retries: v.Upstream.Retries, connectTimeout: v.Upstream.ConnectTimeout, healthPath: v.Upstream.HealthCheckPath, plain: true}
	if p.connectTimeout <= 0 {
		p.connectTimeout = DefaultConnectTimeout
	}
	for _, tg := range v.Upstream.Targets {
		if len(p.targets) == maxPoolTargets {
			break
		}
		st := u.states[tg.URL]
		if st == nil {
			var ok bool
			if st, ok = newTargetState(tg.URL); !ok {
				continue // Compile rejects these; never forward to them
			}
			u.states[tg.URL] = st
		}
		if used != nil {
			used[tg.URL] = true
		}
		p.targets = append(p.targets, poolTarget{st, tg.Weight})
		p.plain = p.plain && st.scheme == "http"
		addr := st.dialAddr()
		if p.connectTimeout > dialTimeouts[addr] {
			dialTimeouts[addr] = p.connectTimeout
		}
	}
	return p
}

// dialTimeout is the connect timeout for addr (host:port).
func (u *upstreams) dialTimeout(addr string) time.Duration {
	if t := u.table.Load(); t != nil {
		if d, ok := t.dialTimeouts[addr]; ok {
			return d
		}
	}
	return DefaultConnectTimeout
}

// each calls fn for every known target state, under the lock.
func (u *upstreams) each(fn func(*targetState)) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, st := range u.states {
		fn(st)
	}
}
