// Package throttle limits how often a key (a client IP, an account) may try
// something expensive or guessable, such as logging in. Limits are token
// buckets from golang.org/x/time/rate kept in memory per process; idle
// buckets are dropped so memory stays bounded under a spray of keys.
package throttle

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter throttles keys independently.
type Limiter struct {
	mu      sync.Mutex
	every   rate.Limit
	burst   int
	buckets map[string]*bucket
	maxKeys int
	now     func() time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// New allows burst attempts at once per key, refilled at one per interval.
func New(interval time.Duration, burst int) *Limiter {
	return &Limiter{every: rate.Every(interval), burst: burst, buckets: map[string]*bucket{}, maxKeys: 100_000, now: time.Now}
}

// Allow takes one attempt for key. When refused, retry says how long until
// the next attempt would be allowed.
func (l *Limiter) Allow(key string) (ok bool, retry time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.maxKeys {
			l.sweep(now)
		}
		b = &bucket{lim: rate.NewLimiter(l.every, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Reset forgets key, for example after a successful login.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	delete(l.buckets, key)
	l.mu.Unlock()
}

// sweep drops buckets that have been idle long enough to be full again.
// When none has (keys arriving faster than buckets refill), it drops the
// least recently seen bucket so the map never grows past maxKeys.
func (l *Limiter) sweep(now time.Time) {
	full := time.Duration(float64(l.burst) / float64(l.every) * float64(time.Second))
	var oldestKey string
	var oldest time.Time
	found := false
	for k, b := range l.buckets {
		if now.Sub(b.seen) > full {
			delete(l.buckets, k)
		} else if !found || b.seen.Before(oldest) {
			oldestKey, oldest, found = k, b.seen, true
		}
	}
	if found && len(l.buckets) >= l.maxKeys {
		delete(l.buckets, oldestKey)
	}
}
