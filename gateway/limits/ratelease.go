package limits

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRatePrefix prefixes Redis keys when RateLeaseConfig.Prefix is empty.
const DefaultRatePrefix = "portico:rate:"

// RateLeaseConfig configures a RateLeaser. Zero values take the defaults
// noted on each field.
type RateLeaseConfig struct {
	// Client is the Redis shared by every gateway node. Required; a
	// *redis.Client must have ContextTimeoutEnabled (see LeaseConfig).
	Client redis.UniversalClient
	// Prefix prefixes every Redis key (DefaultRatePrefix).
	Prefix string
	// Timeout bounds each Redis round trip (100ms).
	Timeout time.Duration
	// Mode is the behaviour while Redis fails (FailOpen: each node falls
	// back to its own in-process GCRA with its share of the rate — see
	// Announce).
	Mode FailMode
	// Horizon is how much of the node's recent rate one block of tokens
	// covers (50ms). Larger blocks mean fewer round trips and coarser
	// sharing between nodes.
	Horizon time.Duration
	// MaxAge is how long leased tokens stay usable (1s); older ones are
	// dropped, so a node cannot bank tokens and spend them as an extra
	// burst later.
	MaxAge time.Duration
	// Backoff is how long a node stays on its fallback after a Redis error
	// before trying Redis again (1s).
	Backoff time.Duration
	// IdleAfter is how long a key may go unused before Sweep forgets its
	// lease (10s).
	IdleAfter time.Duration
	// OnError and OnRecover are told about failed round trips and the first
	// success after them, as for LeaseConfig.
	OnError   func(key string, mode FailMode, err error)
	OnRecover func(key string)
}

// RateLeaser shares a requests-per-second limit with burst across gateway
// nodes. Redis holds one GCRA state per key (rateScript, which takes the
// time from Redis itself, so node clocks need not agree); a node
// takes tokens from it a block at a time and admits from its block locally.
// Redis therefore grants, across all nodes, at most burst + rate×t tokens in
// any t — the admitted rate of the cluster is the configured one — while
// each node reaches Redis once per block rather than once per request. A
// refusal from Redis is remembered locally until its Retry-After, so a
// flood above the limit costs Redis one round trip per node per emission
// interval at most.
type RateLeaser struct {
	cfg        RateLeaseConfig
	leases     sync.Map // rateLeaseID -> *RateLease
	fallback   sync.Map // [2]int{rate, burst} -> *GCRA
	roundTrips atomic.Int64
	node       string       // this node's name in the set of live nodes
	nodes      atomic.Int64 // live nodes when last announced (1 before)
}

type rateLeaseID struct {
	key         string
	rate, burst int
}

// RateLease is one key's share of its limit on this node: the tokens the
// node holds for it. A caller may keep the lease it was given (Lease) for
// the key's later calls and admit through it (TakeFrom) without looking
// the key up again, as long as the leaser Holds it: Sweep forgets idle
// leases, and the key's calls then go to a new one.
type RateLease struct {
	mu            sync.Mutex
	l             *RateLeaser
	key           string
	rate, burst   int
	redisKey      string
	dead          atomic.Bool // forgotten by Sweep; set with mu held
	local         int         // tokens held
	block         int         // size of the last request
	consumed      int         // admitted since grantAt
	grantAt       int64       // unix ns of the last grant
	lastUse       int64
	remaining     int // Redis's remaining burst at the last grant
	resetAfter    time.Duration
	emptyUntil    int64 // Redis refused; refuse locally until then
	degradedUntil int64
	degraded      bool
	fetching      chan struct{}
}

// rateScript is GCRA over Redis time that grants up to ARGV[3] whole tokens
// of a limit of ARGV[2] per second with burst ARGV[1], charging exactly what
// it grants. It returns {granted, remaining, wait µs}: wait is the time until
// the bucket is full again after a grant, or until the next token after a
// refusal. Times are integer microseconds, exact in a double until 2255.
var rateScript = redis.NewScript(`
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = 1000000 / rate
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then
  tat = now
end
local avail = math.floor((now + burst * interval - tat) / interval + 1e-6)
if avail < 1 then
  return {0, 0, math.ceil(tat - burst * interval + interval - now)}
end
local grant = math.min(want, avail)
tat = tat + grant * interval
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
return {grant, avail - grant, math.ceil(tat - now)}
`)

type rateGrant struct {
	Allowed, Remaining int
	Wait               time.Duration
}

// NewRateLeaser validates cfg and returns a RateLeaser.
func NewRateLeaser(cfg RateLeaseConfig) (*RateLeaser, error) {
	if cfg.Client == nil {
		return nil, errors.New("limits: rate lease config needs a Redis client")
	}
	if !contextTimeouts(cfg.Client) {
		return nil, errors.New("limits: Redis client needs ContextTimeoutEnabled so that lease timeouts apply")
	}
	if cfg.Mode != FailOpen && cfg.Mode != FailClosed {
		return nil, errors.New("limits: unknown fail mode")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultRatePrefix
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.Timeout, 100*time.Millisecond)
	def(&cfg.Horizon, 50*time.Millisecond)
	def(&cfg.MaxAge, time.Second)
	def(&cfg.Backoff, time.Second)
	def(&cfg.IdleAfter, 10*time.Second)
	if cfg.Timeout < 0 || cfg.Horizon < 0 || cfg.MaxAge < 0 || cfg.Backoff < 0 || cfg.IdleAfter < 0 {
		return nil, errors.New("limits: rate lease durations must not be negative")
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	l := &RateLeaser{cfg: cfg, node: hex.EncodeToString(id[:])}
	l.nodes.Store(1)
	return l, nil
}

// NodeTTL is how long a node counts as live after it last announced itself
// (Announce); the gateway announces every ten seconds.
const NodeTTL = 30 * time.Second

// nodesScript records a node as live now (Redis's clock), forgets those
// silent for longer than ARGV[2] milliseconds, and counts the rest.
var nodesScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
redis.call('PEXPIRE', KEYS[1], 2 * ttl)
return redis.call('ZCARD', KEYS[1])
`)

// Announce records this node as live in Redis and learns how many nodes
// share the limits. While Redis fails, a node in fail-open mode admits each
// key at its share of the rate and burst (divided by the nodes it last
// counted, rounded up), so the cluster stays near the configured rate
// instead of multiplying it by the number of nodes. Until a first Announce
// succeeds a node counts itself alone.
func (l *RateLeaser) Announce(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	l.roundTrips.Add(1)
	n, err := nodesScript.Run(ctx, l.cfg.Client, []string{l.nodesKey()}, l.node, NodeTTL.Milliseconds()).Int64()
	if err != nil {
		return fmt.Errorf("announce node: %w", err)
	}
	l.nodes.Store(max(1, n))
	return nil
}

// Leave removes this node from the live set (graceful shutdown), so the
// others' shares grow at their next Announce.
func (l *RateLeaser) Leave(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	return l.cfg.Client.ZRem(ctx, l.nodesKey(), l.node).Err()
}

// Nodes is how many nodes this one counted at its last Announce (1 before).
func (l *RateLeaser) Nodes() int { return int(l.nodes.Load()) }

func (l *RateLeaser) nodesKey() string { return l.cfg.Prefix + "nodes" }

// share is a node's part of x among n nodes, rounded up, at least 1.
func share(x int, n int64) int {
	return max(1, int(ceilDiv(int64(x), n)))
}

// ceilDiv is x/n rounded up, for x ≥ 0 and n ≥ 1: one node's part of x
// shared among n (the fail-open shares of rates and quotas).
func ceilDiv(x, n int64) int64 { return (x + n - 1) / n }

// RoundTrips counts the Redis calls made so far, for metrics.
func (l *RateLeaser) RoundTrips() int64 { return l.roundTrips.Load() }

// Mode is the configured fail mode.
func (l *RateLeaser) Mode() FailMode { return l.cfg.Mode }

// Lease returns the lease of key under rate per second with burst (a
// burst below the rate is the rate), creating it on first use.
func (l *RateLeaser) Lease(key string, rate, burst int) *RateLease {
	if burst < rate {
		burst = rate
	}
	id := rateLeaseID{key, rate, burst}
	v, ok := l.leases.Load(id)
	if ok && !v.(*RateLease).dead.Load() {
		return v.(*RateLease)
	}
	if ok {
		l.leases.CompareAndDelete(id, v) // Sweep is about to
	}
	id.key = strings.Clone(key) // its own copy (package doc)
	ls := &RateLease{l: l, key: id.key, rate: rate, burst: burst,
		redisKey: fmt.Sprintf("%s%d:%d:%s", l.cfg.Prefix, rate, burst, key)}
	v, _ = l.leases.LoadOrStore(id, ls)
	return v.(*RateLease)
}

// Holds reports whether ls is one of l's leases and still its key's: a
// caller that kept a lease asks Lease again when it is not.
func (l *RateLeaser) Holds(ls *RateLease) bool { return ls.l == l && !ls.dead.Load() }

// Take admits one request for key under rate per second with burst. It
// waits for Redis only when the node holds no tokens for the key and no
// refill is already on its way.
func (l *RateLeaser) Take(ctx context.Context, key string, rate, burst int, now time.Time) Decision {
	return l.TakeFrom(ctx, l.Lease(key, rate, burst), now)
}

// TakeFrom is Take through ls, a lease Lease returned. One that Sweep has
// forgotten since (or another leaser's) admits through its key's current
// lease instead.
func (l *RateLeaser) TakeFrom(ctx context.Context, ls *RateLease, now time.Time) Decision {
	rate, burst, key := ls.rate, ls.burst, ls.key
	n := now.UnixNano()
	ls.mu.Lock()
	if ls.dead.Load() || ls.l != l {
		ls.mu.Unlock()
		return l.Take(ctx, key, rate, burst, now)
	}
	ls.lastUse = n
	for {
		if ls.local > 0 && n-ls.grantAt > int64(l.cfg.MaxAge) {
			ls.local = 0 // stale: spending them now would be an extra burst
		}
		if ls.local > 0 {
			ls.local--
			ls.consumed++
			if ls.local <= ls.block/4 && ls.fetching == nil && n >= ls.degradedUntil && n >= ls.emptyUntil {
				done := ls.startFetch()
				go l.fetch(context.WithoutCancel(ctx), ls, done, n)
			}
			d := Decision{Allowed: true, Remaining: ls.remaining + ls.local, ResetAfter: ls.resetAfter}
			ls.mu.Unlock()
			return d
		}
		if n < ls.degradedUntil {
			until := ls.degradedUntil
			ls.mu.Unlock()
			if l.cfg.Mode == FailClosed {
				return Decision{RetryAfter: time.Duration(until - n)}
			}
			nodes := l.nodes.Load()
			return l.local(share(rate, nodes), share(burst, nodes)).Allow(key, now)
		}
		if n < ls.emptyUntil {
			d := Decision{RetryAfter: time.Duration(ls.emptyUntil - n), ResetAfter: ls.resetAfter}
			ls.mu.Unlock()
			return d
		}
		if ch := ls.fetching; ch != nil {
			ls.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return Decision{RetryAfter: time.Second}
			}
			ls.mu.Lock()
			continue
		}
		done := ls.startFetch()
		ls.mu.Unlock()
		l.fetch(context.WithoutCancel(ctx), ls, done, n)
		ls.mu.Lock()
	}
}

func (ls *RateLease) startFetch() chan struct{} {
	ch := make(chan struct{})
	ls.fetching = ch
	return ch
}

// fetch asks Redis for the next block of tokens.
func (l *RateLeaser) fetch(ctx context.Context, ls *RateLease, done chan struct{}, n int64) {
	ls.mu.Lock()
	want := ls.blockSize(n, l.cfg)
	ls.block = want
	ls.mu.Unlock()

	l.roundTrips.Add(1)
	ctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	r, err := rateScript.Run(ctx, l.cfg.Client, []string{ls.redisKey}, ls.burst, ls.rate, want).Int64Slice()
	cancel()
	var res rateGrant
	if err == nil && len(r) != 3 {
		err = fmt.Errorf("unexpected reply %v", r)
	} else if err == nil {
		res = rateGrant{Allowed: int(r[0]), Remaining: int(r[1]), Wait: time.Duration(r[2]) * time.Microsecond}
	}

	ls.mu.Lock()
	close(done)
	ls.fetching = nil
	recovered := false
	if err != nil {
		ls.degradedUntil = n + int64(l.cfg.Backoff)
		ls.degraded = true
	} else {
		recovered = ls.degraded
		ls.degraded = false
		ls.remaining = res.Remaining
		if res.Allowed > 0 {
			ls.local += res.Allowed
			ls.consumed, ls.grantAt = 0, n
			ls.resetAfter = res.Wait
		} else {
			ls.emptyUntil = n + int64(max(res.Wait, 100*time.Microsecond))
		}
	}
	ls.mu.Unlock()
	if err != nil && l.cfg.OnError != nil {
		l.cfg.OnError(ls.redisKey, l.cfg.Mode, fmt.Errorf("limits: take rate tokens: %w", err))
	}
	if recovered && l.cfg.OnRecover != nil {
		l.cfg.OnRecover(ls.redisKey)
	}
}

// blockSize sizes the next request from the node's recent rate: Horizon's
// worth of it, at least one token, at most the burst and at most what the
// rate refills within MaxAge. Called with mu held.
func (ls *RateLease) blockSize(n int64, cfg RateLeaseConfig) int {
	want := int(float64(ls.rate) * cfg.Horizon.Seconds())
	if el := n - ls.grantAt; ls.grantAt > 0 && el > 0 && ls.consumed > 0 {
		want = int(float64(ls.consumed) * float64(cfg.Horizon) / float64(el))
	} else if ls.block > 0 && ls.grantAt > 0 && el == 0 {
		want = ls.block * 2 // a burst within one instant: grow
	}
	if ls.remaining > ls.burst/2 {
		// Little contention: the bucket was more than half full after the
		// last grant. A bigger block costs nobody anything (unused tokens
		// lapse after MaxAge) and keeps a key far below its limit at
		// about one round trip per MaxAge.
		want = max(want, ls.remaining/4)
	}
	hi := min(ls.burst, max(1, int(float64(ls.rate)*cfg.MaxAge.Seconds())))
	return min(max(want, 1), hi)
}

func (l *RateLeaser) local(rate, burst int) *GCRA {
	k := [2]int{rate, burst}
	if g, ok := l.fallback.Load(k); ok {
		return g.(*GCRA)
	}
	g, err := NewGCRA(float64(rate), burst)
	if err != nil { // rate and burst were validated by the configuration
		panic(err)
	}
	v, _ := l.fallback.LoadOrStore(k, g)
	return v.(*GCRA)
}

// Sweep forgets leases unused for IdleAfter (their few tokens lapse) and
// idle fallback state.
func (l *RateLeaser) Sweep(now time.Time) {
	n := now.UnixNano()
	l.leases.Range(func(k, v any) bool {
		ls := v.(*RateLease)
		ls.mu.Lock()
		idle := ls.fetching == nil && n-ls.lastUse >= int64(l.cfg.IdleAfter)
		if idle {
			ls.dead.Store(true) // under mu: no TakeFrom admits through it after this
		}
		ls.mu.Unlock()
		if idle {
			l.leases.CompareAndDelete(k, v)
		}
		return true
	})
	l.fallback.Range(func(_, v any) bool {
		v.(*GCRA).Sweep(now)
		return true
	})
}
