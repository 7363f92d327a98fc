package limits

import (
	"errors"
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxKeys bounds how many keys a GCRA limiter or a Quotas counter
// remembers when no MaxKeys option is given.
const DefaultMaxKeys = 1 << 20

const shardCount = 64 // power of two; a key's shard is hash & (shardCount-1)

// Decision is the outcome of one admission check.
type Decision struct {
	// Allowed reports whether the request may proceed.
	Allowed bool
	// Remaining is how many more requests would be admitted right now.
	Remaining int
	// ResetAfter is how long until the key is back to its full burst.
	ResetAfter time.Duration
	// RetryAfter is how long to wait before a refused request would be
	// admitted; zero when Allowed.
	RetryAfter time.Duration
}

// Option tunes a limiter or counter at construction.
type Option func(*options)

type options struct{ maxKeys int }

// MaxKeys bounds how many keys are remembered. Idle keys are dropped first;
// if every key is busy, arbitrary keys are dropped, which at worst hands
// those keys a fresh burst (for GCRA) — memory stays bounded under a flood of
// distinct keys.
func MaxKeys(n int) Option { return func(o *options) { o.maxKeys = n } }

func buildOptions(opts []Option) (options, error) {
	o := options{maxKeys: DefaultMaxKeys}
	for _, f := range opts {
		f(&o)
	}
	if o.maxKeys < 1 {
		return o, errors.New("limits: MaxKeys must be at least 1")
	}
	return o, nil
}

// GCRA is a generic cell rate algorithm limiter: per key it keeps one
// theoretical arrival time (TAT), which is all the state a token bucket needs.
// It is safe for concurrent use; keys are spread over lock-striped shards so
// unrelated keys rarely contend.
type GCRA struct {
	interval int64 // emission interval T, nanoseconds per request
	tau      int64 // burst * T: how far ahead of now the TAT may run
	burst    int
	perShard int
	shards   [shardCount]gcraShard
}

type gcraShard struct {
	mu  sync.Mutex
	tat map[string]*Cell
	_   [40]byte // keep neighbouring shard locks off one cache line
}

// Cell is one key's state in a GCRA limiter: its theoretical arrival time,
// updated by compare-and-swap, so deciding needs no lock. A caller that
// checks the same key on every call (the gateway: a subscription's compiled
// record) can keep the key's cell (Cell) and pass it to AllowCell, which
// skips hashing the key, locking its shard and finding it in the shard's
// map — on a busy server each of those is a cache miss or more. A cell the
// limiter has dropped since (idle, or evicted to bound memory) is dead:
// AllowCell says so and the caller asks Cell for the key's current one.
type Cell struct {
	tat atomic.Int64 // unix nanoseconds; deadTAT once dropped
	g   *GCRA
}

// deadTAT marks a dropped cell. Dropping swaps it in, so a decision racing
// with the drop either lands before it (and an idle key's drop then fails)
// or sees the cell dead: no admitted call is ever lost.
const deadTAT = math.MinInt64

// allow decides a call at n on c and records it if admitted; ok is false
// if c is dead.
func (c *Cell) allow(n int64) (d Decision, ok bool) {
	for {
		tat := c.tat.Load()
		if tat == deadTAT {
			return Decision{}, false
		}
		d, newTat := c.g.decide(tat, n)
		if !d.Allowed || c.tat.CompareAndSwap(tat, newTat) {
			return d, true
		}
	}
}

// NewGCRA returns a limiter admitting rate requests per second on average,
// with up to burst requests at once from an idle key.
func NewGCRA(rate float64, burst int, opts ...Option) (*GCRA, error) {
	if math.IsNaN(rate) || math.IsInf(rate, 0) || rate <= 0 {
		return nil, errors.New("limits: GCRA rate must be a positive number")
	}
	if burst < 1 {
		return nil, errors.New("limits: GCRA burst must be at least 1")
	}
	interval := float64(time.Second) / rate
	if interval < 1 || interval*float64(burst) > math.MaxInt64/4 {
		return nil, errors.New("limits: GCRA rate or burst out of range")
	}
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	g := &GCRA{interval: int64(interval), burst: burst}
	g.tau = g.interval * int64(burst)
	g.perShard = max(1, o.maxKeys/shardCount)
	for i := range g.shards {
		g.shards[i].tat = make(map[string]*Cell)
	}
	return g, nil
}

// Burst returns the configured burst.
func (g *GCRA) Burst() int { return g.burst }

// decide is the algorithm: the decision for a call at n on a key whose TAT
// is tat (0 for a key never seen), and the TAT to store if it is admitted.
func (g *GCRA) decide(tat, n int64) (Decision, int64) {
	tat = max(tat, n)
	newTat := tat + g.interval
	allowAt := newTat - g.tau
	if n < allowAt {
		return Decision{
			Remaining:  0,
			ResetAfter: time.Duration(tat - n),
			RetryAfter: time.Duration(allowAt - n),
		}, 0
	}
	return Decision{
		Allowed:    true,
		Remaining:  int((n - allowAt) / g.interval),
		ResetAfter: time.Duration(newTat - n),
	}, newTat
}

// Allow admits or refuses one request for key at now. It does not allocate
// for a key already known.
func (g *GCRA) Allow(key string, now time.Time) Decision {
	n := now.UnixNano()
	s := &g.shards[hash(key)&(shardCount-1)]
	s.mu.Lock()
	c := s.tat[key]
	if c == nil {
		d, newTat := g.decide(0, n)
		if d.Allowed { // a refused call leaves no state behind
			s.add(g, key, n).tat.Store(newTat)
		}
		s.mu.Unlock()
		return d
	}
	s.mu.Unlock()
	// A cell dropped after the lock was released has no decision: the
	// key's state is gone, as if it had been dropped just before.
	if d, ok := c.allow(n); ok {
		return d
	}
	return g.Allow(key, now)
}

// Cell returns key's cell, adding an idle one if the limiter has none.
func (g *GCRA) Cell(key string, now time.Time) *Cell {
	s := &g.shards[hash(key)&(shardCount-1)]
	s.mu.Lock()
	c := s.tat[key]
	if c == nil {
		c = s.add(g, key, now.UnixNano())
	}
	s.mu.Unlock()
	return c
}

// AllowCell is Allow for the key whose cell c is (from Cell), without a
// lock. When the limiter has dropped c since, or c is another limiter's, it
// decides nothing and returns ok false: the caller asks Cell for the key's
// current cell (or calls Allow). It does not allocate.
func (g *GCRA) AllowCell(c *Cell, now time.Time) (d Decision, ok bool) {
	if c.g != g {
		return Decision{}, false
	}
	return c.allow(now.UnixNano())
}

// add stores a new, idle cell for key, making room first; the map keeps its
// own copy of the key (package doc). The shard is locked.
func (s *gcraShard) add(g *GCRA, key string, now int64) *Cell {
	if len(s.tat) >= g.perShard {
		s.evict(now, g.perShard)
	}
	c := &Cell{g: g}
	s.tat[strings.Clone(key)] = c
	return c
}

// dropIdle forgets key if its cell c is idle at now (its TAT in the past:
// the same as an unknown key); the shard is locked.
func (s *gcraShard) dropIdle(key string, c *Cell, now int64) {
	if tat := c.tat.Load(); tat <= now && c.tat.CompareAndSwap(tat, deadTAT) {
		delete(s.tat, key)
	}
}

// evict makes room for one more key: first every idle key, then arbitrary
// ones (which hands those a fresh burst).
func (s *gcraShard) evict(now int64, limit int) {
	for k, c := range s.tat {
		s.dropIdle(k, c, now)
	}
	for k, c := range s.tat {
		if len(s.tat) < limit {
			break
		}
		c.tat.Store(deadTAT)
		delete(s.tat, k)
	}
}

// Sweep drops every idle key; a janitor may call it periodically so that
// memory follows the set of active keys.
func (g *GCRA) Sweep(now time.Time) {
	n := now.UnixNano()
	for i := range g.shards {
		s := &g.shards[i]
		s.mu.Lock()
		for k, c := range s.tat {
			s.dropIdle(k, c, n)
		}
		s.mu.Unlock()
	}
}

// Len reports how many keys are remembered.
func (g *GCRA) Len() int {
	total := 0
	for i := range g.shards {
		s := &g.shards[i]
		s.mu.Lock()
		total += len(s.tat)
		s.mu.Unlock()
	}
	return total
}

// hash picks a key's shard; it does not allocate.
func hash(s string) uint32 {
	return uint32(maphash.String(shardSeed, s))
}

// shardSeed seeds the shard hash: keys are IDs (36-character UUIDs), and
// maphash reads them eight bytes and more at a time where a byte-wise hash
// took a multiply per character.
var shardSeed = maphash.MakeSeed()
