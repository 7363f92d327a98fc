package limits

import (
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

type quotaEntry struct {
	start, end int64 // unix nanoseconds of the window this count belongs to
	used       int64
}

type quotaShard struct {
	mu sync.Mutex
	m  map[quotaKey]*quotaEntry
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
		q.shards[i].m = make(map[quotaKey]*quotaEntry)
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
	s0, e0 := start.UnixNano(), end.UnixNano()
	k := quotaKey{key: key, kind: w.kind}
	s := &q.shards[hash(key)&(shardCount-1)]
	s.mu.Lock()
	defer s.mu.Unlock()
	p, found := s.m[k]
	var e quotaEntry
	if found {
		e = *p
	}
	switch {
	case !found || e.start < s0:
		e = quotaEntry{start: s0, end: e0}
	case e.start > s0:
		return false, e.used, time.Unix(0, e.end).UTC()
	}
	if e.used+n > limit || e.used+n < e.used {
		if found {
			*p = e // keep a window roll-over even when refusing
		}
		return false, e.used, end
	}
	e.used += n
	if !found {
		s.add(k, e, now, q.perShard)
		return true, e.used, end
	}
	*p = e
	return true, e.used, end
}

// add stores a new counter, making room first; the map keeps its own copy
// of the key (package doc).
func (s *quotaShard) add(k quotaKey, e quotaEntry, now time.Time, limit int) {
	if len(s.m) >= limit {
		s.evict(now.UnixNano(), limit)
	}
	p := new(quotaEntry)
	*p = e
	k.key = strings.Clone(k.key)
	s.m[k] = p
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
	if e, found := s.m[k]; found && e.start == start.UnixNano() {
		e.used = max(0, e.used-n)
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
	p, found := s.m[k]
	switch {
	case !found:
		s.add(k, quotaEntry{start: s0, end: e0, used: used}, now, q.perShard)
	case p.start < s0:
		*p = quotaEntry{start: s0, end: e0, used: used}
	case p.start == s0:
		p.used = max(p.used, used)
	}
}

// evict drops ended windows first, then arbitrary entries. Dropping a live
// entry forgets usage, so MaxKeys must exceed the number of active
// key/window pairs when quotas are hard; it only guards memory.
func (s *quotaShard) evict(now int64, limit int) {
	for k, e := range s.m {
		if e.end <= now {
			delete(s.m, k)
		}
	}
	for k := range s.m {
		if len(s.m) < limit {
			break
		}
		delete(s.m, k)
	}
}

// Sweep drops counters whose window has ended.
func (q *Quotas) Sweep(now time.Time) {
	n := now.UnixNano()
	for i := range q.shards {
		s := &q.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if e.end <= n {
				delete(s.m, k)
			}
		}
		s.mu.Unlock()
	}
}
