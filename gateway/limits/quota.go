package limits

import (
	"math"
	"strings"
	"sync"
	"time"
)

type windowKind uint8

const (
	kindDay windowKind = iota + 1
	kindPeriod
)

// Window is the span a quota counts over: the current UTC day, or a billing
// period whose bounds the caller supplies (plans know their own anchors).
// Windows are small values built per call without allocation.
type Window struct {
	kind       windowKind
	start, end time.Time
}

// Day is the UTC calendar day containing the moment of each call.
func Day() Window { return Window{kind: kindDay} }

// Period is the billing period [start, end). Calls whose now falls outside
// it are refused: the caller must pass the period that is current.
func Period(start, end time.Time) Window { return Window{kind: kindPeriod, start: start, end: end} }

// Name is the policy name used for this window in RateLimit headers.
func (w Window) Name() string {
	if w.kind == kindDay {
		return "day"
	}
	return "period"
}

// Bounds returns the window's [start, end) that contains now; ok is false
// for a malformed window or a period now does not fall in.
func (w Window) Bounds(now time.Time) (start, end time.Time, ok bool) {
	switch w.kind {
	case kindDay:
		// Unix time has no leap seconds: every UTC day is 86,400 of its
		// seconds, so the day is plain arithmetic (this runs on every
		// call with a day quota; time.Date costs several times more).
		sec := now.Unix()
		day := sec - (sec%86400+86400)%86400
		start = time.Unix(day, 0).UTC()
		return start, start.Add(24 * time.Hour), true
	case kindPeriod:
		if !w.end.After(w.start) || now.Before(w.start) || !now.Before(w.end) {
			return w.start, w.end, false
		}
		return w.start, w.end, true
	}
	return time.Time{}, time.Time{}, false
}

// Quotas counts usage per key and window in this process. A hard quota is
// never exceeded: the check and the increment happen under one lock.
type Quotas struct {
	perShard int
	shards   [shardCount]quotaShard
}

type quotaKey struct {
	key  string
	kind windowKind
}

// Counter is one key's count in one kind of window, with its own lock
// (beside the count it guards: one cache line). Like a GCRA Cell, a caller
// that counts the same key on every call can keep its Counter
// (Quotas.Counter) and pass it to TakeCounter, skipping the key's hash, its
// shard's lock and the lookup; a counter the Quotas has dropped since (its
// window ended, or evicted) is dead and TakeCounter says so. Lock order:
// a shard, then a counter.
type Counter struct {
	mu         sync.Mutex
	dead       bool
	kind       windowKind
	start, end int64 // unix nanoseconds of the window this count belongs to
	used       int64
	q          *Quotas
}

type quotaShard struct {
	mu sync.Mutex
	m  map[quotaKey]*Counter
	_  [40]byte
}

// NewQuotas returns an empty in-process quota counter.
func NewQuotas(opts ...Option) (*Quotas, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	q := &Quotas{perShard: max(1, o.maxKeys/shardCount)}
	for i := range q.shards {
		q.shards[i].m = make(map[quotaKey]*Counter)
	}
	return q, nil
}

// Take consumes n units of key's quota in window if that keeps usage within
// limit. It returns whether it did, the usage after the call (unchanged when
// refused) and when the window resets. A counter follows the newest window
// it has seen; a call for an older window is refused.
func (q *Quotas) Take(key string, n, limit int64, w Window, now time.Time) (allowed bool, used int64, resetAt time.Time) {
	start, end, ok := w.Bounds(now)
	if !ok || n < 0 {
		return false, 0, end
	}
	k := quotaKey{key: key, kind: w.kind}
	s := &q.shards[hash(key)&(shardCount-1)]
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.m[k]
	if c == nil {
		// A new counter only for a call that counts: a refusal leaves
		// nothing behind.
		var probe Counter
		if allowed, used, resetAt = probe.take(start, end, n, limit); !allowed {
			return allowed, used, resetAt
		}
		c = s.add(q, k, now)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.take(start, end, n, limit)
}

// Counter returns key's counter for windows of w's kind, adding an empty one
// if there is none.
func (q *Quotas) Counter(key string, w Window, now time.Time) *Counter {
	k := quotaKey{key: key, kind: w.kind}
	s := &q.shards[hash(key)&(shardCount-1)]
	s.mu.Lock()
	c := s.m[k]
	if c == nil {
		c = s.add(q, k, now)
	}
	s.mu.Unlock()
	return c
}

// TakeCounter is Take for the key and window kind whose counter c is (from
// Counter). When the Quotas has dropped c since, or c belongs to another
// Quotas or kind of window, it takes nothing and returns live false: the
// caller asks Counter for the key's current one (or calls Take).
func (q *Quotas) TakeCounter(c *Counter, n, limit int64, w Window, now time.Time) (allowed bool, used int64, resetAt time.Time, live bool) {
	if c.q != q || c.kind != w.kind {
		return false, 0, time.Time{}, false
	}
	start, end, ok := w.Bounds(now)
	if !ok || n < 0 {
		return false, 0, end, true
	}
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return false, 0, time.Time{}, false
	}
	allowed, used, resetAt = c.take(start, end, n, limit)
	c.mu.Unlock()
	return allowed, used, resetAt, true
}

// take is the count itself: n units in the window [start, end) if they fit
// within limit. The counter is locked.
func (c *Counter) take(start, end time.Time, n, limit int64) (allowed bool, used int64, resetAt time.Time) {
	s0, e0 := start.UnixNano(), end.UnixNano()
	switch {
	case c.start < s0: // a counter of an ended window (or a new one) starts this one
		c.start, c.end, c.used = s0, e0, 0
	case c.start > s0:
		return false, c.used, time.Unix(0, c.end).UTC()
	}
	if c.used+n > limit || c.used+n < c.used {
		return false, c.used, end
	}
	c.used += n
	return true, c.used, end
}

// add stores a new, empty counter, making room first; the map keeps its own
// copy of the key (package doc). The shard is locked.
func (s *quotaShard) add(q *Quotas, k quotaKey, now time.Time) *Counter {
	if len(s.m) >= q.perShard {
		s.evict(now.UnixNano(), q.perShard)
	}
	c := &Counter{q: q, kind: k.kind}
	k.key = strings.Clone(k.key)
	s.m[k] = c
	return c
}

// drop forgets the counter c of k if its window ended by now (any window,
// if now is math.MaxInt64); the shard is locked.
func (s *quotaShard) drop(k quotaKey, c *Counter, now int64) {
	c.mu.Lock()
	if c.end <= now {
		c.dead = true
		delete(s.m, k)
	}
	c.mu.Unlock()
}

// Release gives back n units taken from key's quota in the window current at
// now (for example units leased but never used). Usage never drops below 0.
func (q *Quotas) Release(key string, n int64, w Window, now time.Time) {
	start, _, ok := w.Bounds(now)
	if !ok || n <= 0 {
		return
	}
	k := quotaKey{key: key, kind: w.kind}
	s := &q.shards[hash(key)&(shardCount-1)]
	s.mu.Lock()
	if c := s.m[k]; c != nil {
		c.mu.Lock()
		if c.start == start.UnixNano() {
			c.used = max(0, c.used-n)
		}
		c.mu.Unlock()
	}
	s.mu.Unlock()
}

// Raise sets key's usage in the window current at now to at least used,
// creating the counter: a node that starts mid-window goes on from what
// was already spent (the usage ledger's count), never from zero. It never
// lowers a count.
func (q *Quotas) Raise(key string, used int64, w Window, now time.Time) {
	start, end, ok := w.Bounds(now)
	if !ok || used <= 0 {
		return
	}
	s0, e0 := start.UnixNano(), end.UnixNano()
	k := quotaKey{key: key, kind: w.kind}
	s := &q.shards[hash(key)&(shardCount-1)]
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.m[k]
	if p == nil {
		p = s.add(q, k, now)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.start < s0:
		p.start, p.end, p.used = s0, e0, used
	case p.start == s0:
		p.used = max(p.used, used)
	}
}

// evict drops ended windows first, then arbitrary entries. Dropping a live
// entry forgets usage, so MaxKeys must exceed the number of active
// key/window pairs when quotas are hard; it only guards memory.
func (s *quotaShard) evict(now int64, limit int) {
	for k, c := range s.m {
		s.drop(k, c, now)
	}
	for k, c := range s.m {
		if len(s.m) < limit {
			break
		}
		s.drop(k, c, math.MaxInt64)
	}
}

// Sweep drops counters whose window has ended.
func (q *Quotas) Sweep(now time.Time) {
	n := now.UnixNano()
	for i := range q.shards {
		s := &q.shards[i]
		s.mu.Lock()
		for k, c := range s.m {
			s.drop(k, c, n)
		}
		s.mu.Unlock()
	}
}
