package limits

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// FailMode says what a Lease does while Redis is unreachable.
type FailMode int

const (
	// FailOpen keeps serving: leased units first, then a per-node in-process
	// quota that goes on from the cluster's use as the node last saw it in
	// Redis plus what the node admitted on earlier fallbacks in the window,
	// up to the limit, or with LeaseConfig.Nodes up to its share of what was
	// left. Admissions on that fallback are not charged to Redis afterwards:
	// one node never exceeds the limit; N nodes that know of each other
	// exceed it by about what each had not yet seen the others reserve (at
	// most their blocks since its last fetch), and by N−1 times what was
	// left if they do not; choose FailClosed where a quota must never be
	// exceeded.
	FailOpen FailMode = iota
	// FailClosed admits only units already leased and refuses the rest until
	// Redis answers again; the hard quota holds even through an outage.
	FailClosed
)

// String names the mode for logs and metric labels.
func (m FailMode) String() string {
	if m == FailClosed {
		return "fail-closed"
	}
	return "fail-open"
}

// DefaultLeasePrefix prefixes Redis keys when LeaseConfig.Prefix is empty.
const DefaultLeasePrefix = "portico:quota:"

// LeaseConfig configures a Leaser. Zero durations and sizes take the
// defaults noted on each field.
type LeaseConfig struct {
	// Client is the Redis shared by every gateway node. Required. A
	// *redis.Client or *redis.ClusterClient must have ContextTimeoutEnabled
	// set, or go-redis ignores Timeout and waits its ReadTimeout instead.
	Client redis.UniversalClient
	// Prefix prefixes every Redis key (DefaultLeasePrefix).
	Prefix string
	// Timeout bounds each Redis round trip (100ms). A late answer counts as
	// an error; units it may have reserved are lost to this window, which
	// errs on the side of admitting less, never more.
	Timeout time.Duration
	// Mode is the behaviour while Redis fails (FailOpen).
	Mode FailMode
	// MinBlock and MaxBlock bound the units asked for per round trip
	// (10 and 10000).
	MinBlock, MaxBlock int64
	// Horizon is how much of the recently observed rate one block should
	// cover (2s); the next block is requested in the background once a
	// quarter of the block is left.
	Horizon time.Duration
	// Backoff is how long a node stays on its fallback after a Redis error
	// before trying Redis again (1s), and how long it refuses locally after
	// Redis said the quota is spent before asking again, in case other
	// nodes returned units.
	Backoff time.Duration
	// IdleAfter is how long a lease may go unused before Sweep returns its
	// units to Redis (10s).
	IdleAfter time.Duration
	// OnError, if set, is told about every failed Redis call and the mode
	// the node falls back to; wire it to logs and a metric. It may be called
	// from several goroutines at once and should not block.
	OnError func(key string, mode FailMode, err error)
	// OnRecover, if set, is told when a key's lease reaches Redis again
	// after an error.
	OnRecover func(key string)
	// Nodes, if set, says how many nodes share the quotas (the gateway:
	// RateLeaser.Nodes). Fail open, a node then spends on its fallback only
	// its share of what was left when it last saw the counter: the count
	// then, plus the rest divided by Nodes (rounded up). Unset, one node.
	Nodes func() int
	// OnLost, if set, is told when a counter this node had seen is gone
	// from Redis (a restart without persistence, a flush): the counter
	// starts again from this node's last view of it, which misses what
	// other nodes took since, so the caller should raise every counter
	// from a fuller record (RaiseAll; the gateway uses its usage ledger).
	// It should not block.
	OnLost func(key string)
}

// Leaser hands out Leases: per key, budget reserved in blocks from a Redis
// counter shared by all nodes, so that the request path touches Redis once
// per block rather than once per request.
type Leaser struct {
	cfg        LeaseConfig
	fallback   *Quotas
	leases     sync.Map // leaseID -> *Lease
	roundTrips atomic.Int64
	// lostUntil is when leases may take blocks of their usual size again
	// after a lost counter (unix nanoseconds, the leases' clock).
	lostUntil atomic.Int64
}

// lostCaution is how long after noticing a lost counter a node's leases
// take only their smallest blocks, while the counters are restored.
const lostCaution = 2 * time.Second

// RoundTrips counts the Redis calls made so far, for metrics.
func (l *Leaser) RoundTrips() int64 { return l.roundTrips.Load() }

// Mode is the configured fail mode.
func (l *Leaser) Mode() FailMode { return l.cfg.Mode }

type leaseID struct {
	key   string
	limit int64
	kind  windowKind
}

// reserveScript grants up to ARGV[1] units of a counter capped at ARGV[2],
// setting the key to expire in ARGV[3] ms. The expiry is relative so that it
// depends on the node's clock only through the window's remaining length,
// not on Redis and the node agreeing on the time. It returns {granted, used}.
// Check and increment run atomically in Redis, so the units granted to all
// nodes together never exceed the limit.
//
// ARGV[4] is the count this node last saw for the window. A counter that
// is gone although a node saw it is a counter Redis lost (a restart
// without persistence, a flush); it starts again from that count, not from
// zero, which would hand out the window's whole quota anew, the grant is
// at most ARGV[5] (the node's smallest block), and the third value
// returned is 1 so that the node can restore every counter from a fuller
// record (LeaseConfig.OnLost). The node refetches often, so its count
// misses at most the blocks other nodes took since its last fetch.
var reserveScript = redis.NewScript(`
local want = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local cur = redis.call('GET', KEYS[1])
local used = tonumber(cur or '0')
local seen = tonumber(ARGV[4] or '0')
local lost = 0
if not cur and seen > 0 then
  used = seen
  lost = 1
  redis.call('SET', KEYS[1], used, 'PX', ARGV[3])
end
local grant = math.min(want, limit - used)
if lost == 1 then
  grant = math.min(grant, tonumber(ARGV[5]))
end
if grant <= 0 then
  return {0, used, lost}
end
used = redis.call('INCRBY', KEYS[1], grant)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {grant, used, lost}
`)

// releaseScript returns up to ARGV[1] unused units, never taking the counter
// below zero, and returns the new count.
var releaseScript = redis.NewScript(`
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used <= 0 then
  return 0
end
local back = math.min(tonumber(ARGV[1]), used)
return redis.call('DECRBY', KEYS[1], back)
`)

// raiseScript sets the counter to at least ARGV[1], expiring in ARGV[2] ms;
// a larger count (units other nodes hold or spent) stays as it is.
var raiseScript = redis.NewScript(`
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > used then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 0
`)

// Raise is one counter for RaiseAll: key's usage in the window w current
// at the time RaiseAll is given.
type Raise struct {
	Key  string
	Used int64
	W    Window
}

// RaiseAll sets each counter in Redis to at least its Used (never lowers
// one), so that usage Redis lost — a restart without persistence, a flush
// — does not come back as fresh quota. Nodes call it when they start,
// with the usage ledger's counts. The counters are sent in pipelined
// batches.
func (l *Leaser) RaiseAll(ctx context.Context, rs []Raise, now time.Time) error {
	const batch = 500
	for len(rs) > 0 {
		n := min(len(rs), batch)
		_, err := l.cfg.Client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, r := range rs[:n] {
				_, end, ok := r.W.Bounds(now)
				if !ok || r.Used <= 0 {
					continue
				}
				ttl := max(1, (end.Sub(now) + time.Hour).Milliseconds())
				// Eval, not EvalSha: a pipeline cannot fall back on
				// NOSCRIPT, and the script is short.
				raiseScript.Eval(ctx, p, []string{l.RedisKey(r.Key, r.W, now)}, r.Used, ttl)
			}
			return nil
		})
		l.roundTrips.Add(1)
		if err != nil {
			return fmt.Errorf("raise quota counters: %w", err)
		}
		rs = rs[n:]
	}
	return nil
}

// contextTimeouts reports whether a client applies the context's deadline
// to its calls (go-redis does only with ContextTimeoutEnabled), as far as
// its type tells.
func contextTimeouts(c redis.UniversalClient) bool {
	switch c := c.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	}
	return true
}

// NewLeaser validates cfg and returns a Leaser.
func NewLeaser(cfg LeaseConfig) (*Leaser, error) {
	if cfg.Client == nil {
		return nil, errors.New("limits: lease config needs a Redis client")
	}
	if !contextTimeouts(cfg.Client) {
		return nil, errors.New("limits: Redis client needs ContextTimeoutEnabled so that lease timeouts apply")
	}
	if cfg.Mode != FailOpen && cfg.Mode != FailClosed {
		return nil, errors.New("limits: unknown fail mode")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultLeasePrefix
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.Timeout, 100*time.Millisecond)
	def(&cfg.Horizon, 2*time.Second)
	def(&cfg.Backoff, time.Second)
	def(&cfg.IdleAfter, 10*time.Second)
	if cfg.MinBlock == 0 {
		cfg.MinBlock = 10
	}
	if cfg.MaxBlock == 0 {
		cfg.MaxBlock = 10000
	}
	if cfg.Timeout < 0 || cfg.Horizon < 0 || cfg.Backoff < 0 || cfg.IdleAfter < 0 {
		return nil, errors.New("limits: lease durations must not be negative")
	}
	if cfg.MinBlock < 1 || cfg.MaxBlock < cfg.MinBlock {
		return nil, errors.New("limits: lease blocks need 1 <= MinBlock <= MaxBlock")
	}
	fb, err := NewQuotas()
	if err != nil {
		return nil, err
	}
	return &Leaser{cfg: cfg, fallback: fb}, nil
}

// Lease returns the lease for key's quota of limit units per window of w's
// kind, creating it on first use. For an existing lease it does not allocate.
func (l *Leaser) Lease(key string, limit int64, w Window) *Lease {
	id := leaseID{key: key, limit: limit, kind: w.kind}
	v, ok := l.leases.Load(id)
	if ok && !v.(*Lease).dead.Load() {
		return v.(*Lease)
	}
	if ok {
		l.leases.CompareAndDelete(id, v) // Sweep is about to
	}
	id.key = strings.Clone(key) // its own copy (package doc)
	v, _ = l.leases.LoadOrStore(id, &Lease{l: l, key: id.key, limit: limit, name: w.Name()})
	return v.(*Lease)
}

// Sweep returns the units of every lease idle for IdleAfter to Redis, and
// forgets leases whose window has ended. A janitor calls it periodically.
func (l *Leaser) Sweep(ctx context.Context, now time.Time) {
	l.leases.Range(func(k, v any) bool {
		ls := v.(*Lease)
		ls.mu.Lock()
		idle := now.UnixNano()-ls.lastUse >= int64(l.cfg.IdleAfter)
		ended := ls.winEnd != 0 && now.UnixNano() >= ls.winEnd
		if ended {
			ls.dead.Store(true) // under mu: TakeGrant goes to a new lease from here on
		}
		ls.mu.Unlock()
		if idle || ended {
			ls.Release(ctx)
		}
		if ended {
			l.leases.CompareAndDelete(k, v)
		}
		return true
	})
	l.fallback.Sweep(now)
}

// ReleaseAll returns every lease's unused units to Redis; a node calls it
// when it stops, so that the others can use them.
func (l *Leaser) ReleaseAll(ctx context.Context) {
	l.leases.Range(func(_, v any) bool {
		v.(*Lease).Release(ctx)
		return ctx.Err() == nil
	})
}

// Lease admits requests against one key's shared quota from units reserved
// in Redis. It is safe for concurrent use. A caller may keep the lease it
// was given (Leaser.Lease) for the key's later calls as long as the
// leaser Holds it: Sweep forgets a lease once its window has ended, and the key's
// calls then go to a new one (TakeGrant on a forgotten lease takes from it
// too, but the leaser's lookup costs more than the caller's own memory).
type Lease struct {
	l     *Leaser
	key   string
	limit int64
	name  string      // window kind in Redis keys
	dead  atomic.Bool // forgotten by Sweep; set with mu held

	mu              sync.Mutex
	winStart        int64 // unix ns; 0 before first use
	winEnd          int64
	local           int64 // units granted and not yet admitted
	block           int64 // size of the last request to Redis
	consumed        int64 // admitted since grantAt
	grantAt         int64
	lastUse         int64
	fetching        chan struct{} // closed when the in-flight fetch ends
	degradedUntil   int64         // on fallback until then
	degraded        bool
	exhaustedUntil  int64 // Redis said the quota is spent; ask again then
	exhaustedWindow int64
	redisUsed       int64 // the counter in Redis after the last grant
	fallbackSpent   int64 // admitted on the fallback in this window, not charged to Redis
	raiseTo         int64 // raise the fallback counter to this before its next use (0: done)
}

// fallbackLimit is the count this node's fallback may reach in the
// window: the limit when it is alone, else the count it last saw in Redis
// plus its share of the rest. ls.mu is held.
func (ls *Lease) fallbackLimit() int64 {
	n := 1
	if f := ls.l.cfg.Nodes; f != nil {
		n = max(1, f())
	}
	if n == 1 {
		return ls.limit
	}
	seen := min(max(ls.redisUsed, 0), ls.limit)
	return seen + ceilDiv(ls.limit-seen, int64(n))
}

// Grant says where an admission came from, so that it can be returned.
type Grant uint8

// Grants.
const (
	Refused  Grant = iota // not admitted
	Leased                // from units reserved in Redis
	Fallback              // from the in-process quota while Redis fails
)

// Take admits one request at now in window w (which must be of the kind the
// lease was made for), reporting whether it may proceed. It reaches Redis
// only when the lease is empty; a background fetch normally refills it
// first.
func (ls *Lease) Take(ctx context.Context, w Window, now time.Time) bool {
	g, _, _ := ls.TakeGrant(ctx, w, now)
	return g != Refused
}

// TakeGrant is Take, saying where the unit came from, about how many units
// are left in the whole cluster (see remainingLocked) and when the window
// ends, for the RateLimit headers.
func (ls *Lease) TakeGrant(ctx context.Context, w Window, now time.Time) (g Grant, remaining int64, resetAt time.Time) {
	start, end, ok := w.Bounds(now)
	if !ok {
		return Refused, 0, now
	}
	s, n := start.UnixNano(), now.UnixNano()
	ls.mu.Lock()
	if ls.dead.Load() {
		// Its units went back to Redis, and a unit taken here now would
		// be nobody's to give back: the key's current lease admits.
		ls.mu.Unlock()
		return ls.l.Lease(ls.key, ls.limit, w).TakeGrant(ctx, w, now)
	}
	switch {
	case s < ls.winStart:
		ls.mu.Unlock()
		return Refused, 0, end
	case s > ls.winStart:
		// A new window: units leased for the old one are void; its Redis
		// key expires on its own.
		ls.winStart, ls.winEnd = s, end.UnixNano()
		ls.local, ls.consumed, ls.grantAt, ls.redisUsed = 0, 0, n, 0
		ls.fallbackSpent, ls.raiseTo = 0, 0
	}
	ls.lastUse = n
	for {
		if ls.local > 0 {
			ls.local--
			ls.consumed++
			if ls.local <= ls.block/4 && ls.fetching == nil && n >= ls.degradedUntil && !ls.exhausted(n) {
				done := ls.startFetch()
				go ls.fetch(context.WithoutCancel(ctx), done, s, n)
			}
			remaining = ls.remainingLocked()
			ls.mu.Unlock()
			return Leased, remaining, end
		}
		if n < ls.degradedUntil {
			if ls.l.cfg.Mode == FailClosed {
				ls.mu.Unlock()
				return Refused, 0, end
			}
			// The fallback counts on from what the cluster had spent.
			// Raise, take and the count of fallback admissions stay under
			// the lease's lock, so a raise never lands after a take it
			// should have preceded.
			if ls.raiseTo > 0 {
				ls.l.fallback.Raise(ls.key, ls.raiseTo, w, now)
				ls.raiseTo = 0
			}
			limit := ls.fallbackLimit()
			allowed, used, _ := ls.l.fallback.Take(ls.key, 1, limit, w, now)
			if allowed {
				ls.fallbackSpent++
			}
			ls.mu.Unlock()
			if allowed {
				return Fallback, limit - used, end
			}
			return Refused, 0, end
		}
		if ls.exhausted(n) {
			ls.mu.Unlock()
			return Refused, 0, end
		}
		if ch := ls.fetching; ch != nil {
			ls.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return Refused, 0, end
			}
			ls.mu.Lock()
			if ls.winStart != s {
				ls.mu.Unlock()
				return Refused, 0, end
			}
			continue
		}
		done := ls.startFetch()
		ls.mu.Unlock()
		ls.fetch(context.WithoutCancel(ctx), done, s, n)
		ls.mu.Lock()
		if ls.winStart != s {
			ls.mu.Unlock()
			return Refused, 0, end
		}
	}
}

func (ls *Lease) exhausted(n int64) bool {
	return ls.exhaustedWindow == ls.winStart && n < ls.exhaustedUntil
}

// startFetch marks a fetch in flight; called with mu held.
func (ls *Lease) startFetch() chan struct{} {
	ch := make(chan struct{})
	ls.fetching = ch
	return ch
}

// blockSize sizes the next request from the rate seen since the last grant;
// called with mu held.
func (ls *Lease) blockSize(n int64) int64 {
	c := &ls.l.cfg
	if n < ls.l.lostUntil.Load() {
		return c.MinBlock
	}
	want := c.MinBlock
	if el := n - ls.grantAt; el > 0 && ls.consumed > 0 {
		want = int64(float64(ls.consumed) * float64(c.Horizon) / float64(el))
	} else if ls.block > 0 {
		want = ls.block * 2 // a burst within one instant: grow
	}
	if ls.redisUsed > 0 {
		// Far from the limit a bigger block costs nobody anything: take a
		// 64th of what is left in the cluster, so a busy key reaches Redis
		// rarely. Near the limit the blocks shrink with what is left, and
		// what a node holds goes back when it idles or stops.
		want = max(want, (ls.limit-ls.redisUsed)/64)
	}
	return min(max(want, c.MinBlock), c.MaxBlock)
}

// fetch reserves the next block for window s and adds it to the lease.
func (ls *Lease) fetch(ctx context.Context, done chan struct{}, s, n int64) {
	c := &ls.l.cfg
	ls.mu.Lock()
	want := ls.blockSize(n)
	ls.block = want
	// Keep the counter an hour past the window's end so that late releases
	// still find it.
	ttl := time.Duration(ls.winEnd-n) + time.Hour
	ttlMs := max(1, ttl.Milliseconds())
	var seen int64
	if ls.winStart == s {
		seen = ls.redisUsed
	}
	ls.mu.Unlock()

	ls.l.roundTrips.Add(1)
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	res, err := reserveScript.Run(ctx, c.Client, []string{ls.redisKey(s)}, want, ls.limit, ttlMs, seen, c.MinBlock).Int64Slice()
	cancel()
	if err == nil && len(res) != 3 {
		err = fmt.Errorf("unexpected reply %v", res)
	}

	ls.mu.Lock()
	close(done)
	ls.fetching = nil
	recovered := false
	if err != nil {
		ls.degradedUntil = n + int64(c.Backoff)
		ls.degraded = true
		if ls.winStart == s {
			ls.raiseTo = ls.redisUsed + ls.fallbackSpent
		}
	} else {
		recovered = ls.degraded
		ls.degraded = false
		if res[2] == 1 {
			// Until the counters are restored (OnLost), every lease of
			// this node takes its smallest blocks: what Redis now counts
			// is short of what was spent. Set before the lock goes, so
			// that no fetch after this one misses it.
			ls.l.lostUntil.Store(n + int64(lostCaution))
		}
		if ls.winStart == s {
			ls.redisUsed = res[1]
			ls.local += res[0]
			ls.consumed, ls.grantAt = 0, n
			if res[0] == 0 {
				ls.exhaustedWindow, ls.exhaustedUntil = s, n+int64(c.Backoff)
			}
		}
	}
	ls.mu.Unlock()
	if err != nil && c.OnError != nil {
		c.OnError(ls.key, c.Mode, fmt.Errorf("limits: reserve quota: %w", err))
	}
	if recovered && c.OnRecover != nil {
		c.OnRecover(ls.key)
	}
	if err == nil && res[2] == 1 && c.OnLost != nil {
		c.OnLost(ls.key)
	}
}

// Release waits for any fetch in flight and returns the lease's unused
// units to Redis, so that other nodes may use them.
func (ls *Lease) Release(ctx context.Context) error {
	ls.mu.Lock()
	for ls.fetching != nil {
		ch := ls.fetching
		ls.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		ls.mu.Lock()
	}
	back, s := ls.local, ls.winStart
	ls.local = 0
	ls.mu.Unlock()
	if back <= 0 {
		return nil
	}
	c := &ls.l.cfg
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	if err := releaseScript.Run(ctx, c.Client, []string{ls.redisKey(s)}, back).Err(); err != nil {
		// The units stay reserved until the key expires: fewer admissions,
		// never more.
		err = fmt.Errorf("limits: release quota: %w", err)
		if c.OnError != nil {
			c.OnError(ls.key, c.Mode, err)
		}
		return err
	}
	return nil
}

// Return gives back one unit that TakeGrant admitted at now with grant g
// (a later check refused the call), so it can admit another call.
func (ls *Lease) Return(g Grant, w Window, now time.Time) {
	switch g {
	case Leased:
		start, _, _ := w.Bounds(now)
		ls.mu.Lock()
		if ls.winStart == start.UnixNano() {
			ls.local++
			ls.consumed = max(ls.consumed-1, 0)
		}
		ls.mu.Unlock()
	case Fallback:
		start, _, _ := w.Bounds(now)
		ls.mu.Lock()
		if ls.winStart == start.UnixNano() {
			ls.fallbackSpent = max(ls.fallbackSpent-1, 0)
		}
		ls.l.fallback.Release(ls.key, 1, w, now)
		ls.mu.Unlock()
	}
}

// remainingLocked estimates the units left in the whole cluster: the limit
// less the Redis counter at the last grant, plus this node's unspent units
// (only those while Redis fails). Called with mu held.
func (ls *Lease) remainingLocked() int64 {
	if ls.degraded {
		return max(ls.local, 0)
	}
	return max(ls.limit-ls.redisUsed+ls.local, 0)
}

// Holds reports whether ls is one of l's leases and still its key's: a
// caller that kept a lease asks Lease again when it is not.
func (l *Leaser) Holds(ls *Lease) bool { return ls.l == l && !ls.dead.Load() }

// Local reports how many leased units the lease holds.
func (ls *Lease) Local() int64 {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.local
}

// redisKey names the counter for the window starting at s; the key's
// length prefix keeps it unambiguous whatever the key contains.
func (ls *Lease) redisKey(s int64) string {
	return ls.l.cfg.Prefix + strconv.Itoa(len(ls.key)) + ":" + ls.key + ":" + ls.name + ":" + strconv.FormatInt(s/int64(time.Second), 10)
}

// RedisKey is the Redis key holding the usage counter of key's quota in the
// window w current at now; exposed for tests and operators.
func (l *Leaser) RedisKey(key string, w Window, now time.Time) string {
	start, _, _ := w.Bounds(now)
	return l.cfg.Prefix + strconv.Itoa(len(key)) + ":" + key + ":" + w.Name() + ":" + strconv.FormatInt(start.Unix(), 10)
}
