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

// targetState is what the gateway knows about one upstream target URL of
// one API version. It lives in the Handler (keyed by version and URL; see
// stateKey), not in a Snapshot, so a configuration reload keeps a target's
// breaker and health. Every field the request path touches is an atomic:
// requests to different targets share nothing, and requests to one target
// share only these words.
type targetState struct {
	url string
	// api names the version for logs: org/api/version (stage).
	api string
	// scheme, host and basePath (escaped, without a trailing slash) are
	// parsed once, not per request.
	scheme, host, basePath string

	// The circuit breaker, which is also the passive health check: after
	// `failures` consecutive connection failures, timeouts or 502/503/504
	// answers the target is out of rotation until `until`; then one
	// request is admitted as a probe (half-open) and its outcome, and only
	// its outcome, closes or re-opens the breaker: a request admitted
	// before the breaker opened proves nothing about the target now. until
	// doubles as the probe's deadline (the cool-down, or the probe call's
	// own timeout when that is later: one probe at a time), so a probe that
	// never reports does not wedge the breaker half-open; a probe that ends
	// without a verdict (its client went away) gives its slot back at once
	// (release).
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

// acquire admits one request, which ends by deadline (zero: unknown). A
// closed breaker admits all; an open one admits exactly one probe once its
// cool-down is over. probe is non-zero for the probe: the deadline of its
// slot, which identifies it; the request's outcome goes back with it
// (succeeded, failed or release).
func (t *targetState) acquire(u *upstreams, deadline time.Time) (ok bool, probe int64) {
	st := t.state.Load()
	if st == breakerClosed {
		return true, 0
	}
	now := nanotime()
	until := t.until.Load()
	probe = now + int64(u.cooldown)
	if !deadline.IsZero() {
		probe = max(probe, int64(deadline.Sub(epoch)))
	}
	if now < until || !t.until.CompareAndSwap(until, probe) {
		return false, 0
	}
	if t.state.Swap(breakerHalfOpen) == breakerOpen {
		u.log.Info("upstream breaker half-open: admitting a probe", "target", t.url, "api", t.api)
	}
	return true, probe
}

// succeeded records a good answer; on the hot path it only reads. Only the
// probe closes an open breaker.
func (t *targetState) succeeded(u *upstreams, probe int64) {
	if t.fails.Load() != 0 {
		t.fails.Store(0)
	}
	if probe != 0 && t.state.Swap(breakerClosed) != breakerClosed {
		u.log.Info("upstream breaker closed: target recovered", "target", t.url, "api", t.api)
	}
}

// failed records a connection failure, timeout or gateway-error answer:
// the probe's re-opens the breaker, and the failures of requests admitted
// while it was closed open it when they reach the threshold.
func (t *targetState) failed(u *upstreams, probe int64) {
	n := t.fails.Add(1)
	if probe != 0 {
		t.until.Store(nanotime() + int64(u.cooldown))
		if t.state.Swap(breakerOpen) != breakerOpen {
			u.log.Warn("upstream breaker re-opened: probe failed", "target", t.url, "api", t.api, "cooldown", u.cooldown)
		}
		return
	}
	if n >= int32(u.failures) && t.state.Load() == breakerClosed {
		t.until.Store(nanotime() + int64(u.cooldown))
		if t.state.CompareAndSwap(breakerClosed, breakerOpen) {
			u.log.Warn("upstream breaker opened", "target", t.url, "api", t.api, "consecutive_failures", n, "cooldown", u.cooldown)
		}
	}
}

// release gives back the slot of a probe that ended without a verdict on
// the target (its client went away, or its address is forbidden): the
// next request may probe at once rather than after another cool-down.
func (t *targetState) release(probe int64) {
	if probe != 0 && t.state.Load() == breakerHalfOpen {
		t.until.CompareAndSwap(probe, nanotime())
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
// targets not in tried, and acquires it for a call that ends by deadline.
// It returns the index or -1, and the probe token of acquire.
func (p *pool) pick(u *upstreams, tried uint32, deadline time.Time) (int, int64) {
	var excluded uint32
	for range len(p.targets) {
		i := p.pickFrom(tried | excluded)
		if i < 0 && tried != 0 {
			// Every untried target is down: retry on one already used.
			i = p.pickFrom(excluded)
		}
		if i < 0 {
			return -1, 0
		}
		if ok, probe := p.targets[i].acquire(u, deadline); ok {
			return i, probe
		}
		excluded |= 1 << i // lost the race for a half-open probe
	}
	return -1, 0
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
//
// A state belongs to one API version (and stage) and one target URL, not to
// the URL alone: versions of different APIs, perhaps of different
// providers, that name the same URL do not share a breaker or active health,
// so one API's failing calls, short timeouts or health check path cannot
// take the target out of another's rotation. A reload that keeps a
// version's target keeps its state.
type upstreams struct {
	store    *Store
	log      *slog.Logger
	failures int
	cooldown time.Duration

	table atomic.Pointer[upstreamTable]
	// mu guards states and serialises table builds (once per reload).
	mu     sync.Mutex
	states map[string]*targetState // by stateKey
}

// stateKey is the key of a version's target in upstreams.states.
func stateKey(v *APIVersion, url string) string {
	return v.OrgID + "\x00" + v.APIID + "\x00" + v.VersionID + "\x00" + v.Version + "\x00" + v.Stage + "\x00" + url
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
		key := stateKey(v, tg.URL)
		st := u.states[key]
		if st == nil {
			var ok bool
			if st, ok = newTargetState(tg.URL); !ok {
				continue // Compile rejects these; never forward to them
			}
			st.api = v.OrgSlug + "/" + v.APISlug + "/" + v.Version + " (" + v.Stage + ")"
			// A pool built for a request on an older snapshot (used
			// is nil) keeps a target the current one dropped to
			// itself: the table's next build would not remove it.
			if used != nil {
				u.states[key] = st
			}
		}
		if used != nil {
			used[key] = true
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
