package limits

import (
	"errors"
	"hash/maphash"
	"math"
	"strings"
	"sync"
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
	tat map[string]*int64 // unix nanoseconds
	_   [40]byte          // keep neighbouring shard locks off one cache line
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
		g.shards[i].tat = make(map[string]*int64)
	}
	return g, nil
}

// Burst returns the configured burst.
func (g *GCRA) Burst() int { return g.burst }

// Allow admits or refuses one request for key at now. It does not allocate
// for a key already known.
func (g *GCRA) Allow(key string, now time.Time) Decision {
	n := now.UnixNano()
	s := &g.shards[hash(key)&(shardCount-1)]
	s.mu.Lock()
	p, ok := s.tat[key]
	tat := n
	if ok && *p > n {
		tat = *p
	}
	newTat := tat + g.interval
	allowAt := newTat - g.tau
	if n < allowAt {
		s.mu.Unlock()
		return Decision{
			Remaining:  0,
			ResetAfter: time.Duration(tat - n),
			RetryAfter: time.Duration(allowAt - n),
		}
	}
	if !ok {
		if len(s.tat) >= g.perShard {
			s.evict(n, g.perShard)
		}
		p = new(int64)
		s.tat[strings.Clone(key)] = p // its own copy (package doc)
	}
	*p = newTat
	s.mu.Unlock()
	return Decision{
		Allowed:    true,
		Remaining:  int((n - allowAt) / g.interval),
		ResetAfter: time.Duration(newTat - n),
	}
}

// evict makes room for one more key: first every idle key (TAT in the past,
// indistinguishable from an unknown key), then arbitrary ones.
func (s *gcraShard) evict(now int64, limit int) {
	for k, tat := range s.tat {
		if *tat <= now {
			delete(s.tat, k)
		}
	}
	for k := range s.tat {
		if len(s.tat) < limit {
			break
		}
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
		for k, tat := range s.tat {
			if *tat <= n {
				delete(s.tat, k)
			}
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
