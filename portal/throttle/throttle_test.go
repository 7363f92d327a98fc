package throttle

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for the limiter's now field.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newFake returns a limiter driven by a fake clock.
func newFake(t *testing.T, interval time.Duration, burst int) (*Limiter, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	l := New(interval, burst)
	l.now = clk.now
	return l, clk
}

// approx reports whether got is within a millisecond of want (rate works in
// float64 tokens, so exact equality is not promised).
func approx(got, want time.Duration) bool {
	d := got - want
	return d > -time.Millisecond && d < time.Millisecond
}

func mustAllow(t *testing.T, l *Limiter, key string, what string) {
	t.Helper()
	if ok, retry := l.Allow(key); !ok {
		t.Fatalf("%s: Allow(%q) refused (retry %v), want allowed", what, key, retry)
	}
}

func mustRefuse(t *testing.T, l *Limiter, key string, wantRetry time.Duration, what string) {
	t.Helper()
	ok, retry := l.Allow(key)
	if ok {
		t.Fatalf("%s: Allow(%q) allowed, want refused", what, key)
	}
	if retry <= 0 {
		t.Fatalf("%s: refused with retry %v, want > 0", what, retry)
	}
	if wantRetry > 0 && !approx(retry, wantRetry) {
		t.Fatalf("%s: retry = %v, want %v", what, retry, wantRetry)
	}
}

func TestBurstThenRefuse(t *testing.T) {
	tests := []struct {
		name     string
		interval time.Duration
		burst    int
	}{
		{name: "burst 1", interval: time.Minute, burst: 1},
		{name: "burst 5 every 12s", interval: 12 * time.Second, burst: 5},
		{name: "burst 10 every second", interval: time.Second, burst: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newFake(t, tt.interval, tt.burst)
			for i := range tt.burst {
				mustAllow(t, l, "ip:1", fmt.Sprintf("attempt %d", i+1))
			}
			// With the clock frozen, every further attempt is refused and
			// told to wait one interval; refusals do not consume tokens, so
			// the wait does not grow.
			for i := range 3 {
				mustRefuse(t, l, "ip:1", tt.interval, fmt.Sprintf("attempt %d past the burst", i+1))
			}
		})
	}
}

func TestRealClockRefusal(t *testing.T) {
	// The default clock works too: an hour-long interval cannot refill
	// during the test.
	l := New(time.Hour, 2)
	mustAllow(t, l, "k", "first")
	mustAllow(t, l, "k", "second")
	ok, retry := l.Allow("k")
	if ok || retry <= 0 || retry > time.Hour {
		t.Fatalf("third attempt = %v, %v; want refused with 0 < retry <= 1h", ok, retry)
	}
}

func TestRefill(t *testing.T) {
	l, clk := newFake(t, time.Minute, 3)
	for i := range 3 {
		mustAllow(t, l, "acct:a", fmt.Sprintf("burst %d", i+1))
	}
	mustRefuse(t, l, "acct:a", time.Minute, "burst spent")

	steps := []struct {
		name      string
		advance   time.Duration
		allowed   bool
		wantRetry time.Duration
	}{
		{name: "59s later still refused", advance: 59 * time.Second, allowed: false, wantRetry: time.Second},
		{name: "1 interval later one token", advance: time.Second, allowed: true},
		{name: "and only one", allowed: false, wantRetry: time.Minute},
		{name: "half an interval later", advance: 30 * time.Second, allowed: false, wantRetry: 30 * time.Second},
		{name: "another half", advance: 30 * time.Second, allowed: true},
	}
	for _, s := range steps {
		clk.advance(s.advance)
		if s.allowed {
			mustAllow(t, l, "acct:a", s.name)
		} else {
			mustRefuse(t, l, "acct:a", s.wantRetry, s.name)
		}
	}

	t.Run("long idle refills to burst, not beyond", func(t *testing.T) {
		clk.advance(24 * time.Hour)
		for i := range 3 {
			mustAllow(t, l, "acct:a", fmt.Sprintf("after idle %d", i+1))
		}
		mustRefuse(t, l, "acct:a", time.Minute, "after idle, burst spent")
	})
}

func TestReset(t *testing.T) {
	l, _ := newFake(t, time.Hour, 2)
	mustAllow(t, l, "k", "1")
	mustAllow(t, l, "k", "2")
	mustRefuse(t, l, "k", time.Hour, "spent")
	l.Reset("k")
	mustAllow(t, l, "k", "after reset 1")
	mustAllow(t, l, "k", "after reset 2")
	mustRefuse(t, l, "k", time.Hour, "spent again")

	l.Reset("never-seen") // must not panic or disturb others
	mustRefuse(t, l, "k", time.Hour, "other key reset")
}

func TestKeysIndependent(t *testing.T) {
	l, _ := newFake(t, time.Hour, 2)
	mustAllow(t, l, "ip:1", "a1")
	mustAllow(t, l, "ip:1", "a2")
	mustRefuse(t, l, "ip:1", time.Hour, "a spent")
	for _, k := range []string{"ip:2", "acct:1", "", "IP:1", "ip:1 "} {
		mustAllow(t, l, k, "fresh key "+k)
		mustAllow(t, l, k, "fresh key again "+k)
		mustRefuse(t, l, k, time.Hour, "fresh key spent "+k)
	}
	l.Reset("ip:2")
	mustRefuse(t, l, "ip:1", time.Hour, "reset of another key")
}

func TestSweep(t *testing.T) {
	const interval, burst = time.Minute, 2
	full := burst * interval // idle time after which a bucket is full again

	t.Run("idle full buckets are dropped", func(t *testing.T) {
		l, clk := newFake(t, interval, burst)
		l.maxKeys = 4
		for i := range 4 {
			mustAllow(t, l, fmt.Sprintf("old%d", i), "fill")
		}
		clk.advance(full + time.Second)
		mustAllow(t, l, "new", "after idle")
		if n := len(l.buckets); n != 1 {
			t.Fatalf("%d buckets after sweep, want 1 (only the new key)", n)
		}
	})

	t.Run("recently seen buckets survive", func(t *testing.T) {
		l, clk := newFake(t, interval, burst)
		l.maxKeys = 4
		for i := range 4 {
			mustAllow(t, l, fmt.Sprintf("old%d", i), "fill")
		}
		clk.advance(full + time.Second)
		mustAllow(t, l, "old3", "old3 used again") // seen now; one token left
		mustAllow(t, l, "new", "after idle")
		if _, ok := l.buckets["old3"]; !ok {
			t.Fatal("sweep dropped a bucket that was just used")
		}
		mustAllow(t, l, "old3", "old3 second token")
		mustRefuse(t, l, "old3", interval, "old3 kept its state through the sweep")
		for i := range 3 {
			if _, ok := l.buckets[fmt.Sprintf("old%d", i)]; ok {
				t.Fatalf("sweep kept idle bucket old%d", i)
			}
		}
	})

	t.Run("a spray of keys stays bounded", func(t *testing.T) {
		// Keys arriving faster than buckets refill: none is idle long
		// enough to sweep, yet memory must stay bounded.
		l, clk := newFake(t, interval, burst)
		l.maxKeys = 50
		for i := range 1000 {
			l.Allow(fmt.Sprintf("spray%d", i))
			clk.advance(time.Millisecond)
			if n := len(l.buckets); n > l.maxKeys {
				t.Fatalf("after %d keys the limiter holds %d buckets, want at most maxKeys=%d", i+1, n, l.maxKeys)
			}
		}
	})

	t.Run("spray does not reset the most recent bucket", func(t *testing.T) {
		l, clk := newFake(t, interval, burst)
		l.maxKeys = 10
		for i := range 100 {
			l.Allow(fmt.Sprintf("spray%d", i))
			clk.advance(time.Millisecond)
		}
		mustAllow(t, l, "victim", "1")
		mustAllow(t, l, "victim", "2")
		mustRefuse(t, l, "victim", 0, "victim spent")
		clk.advance(time.Millisecond)
		mustAllow(t, l, "one more", "one new key")
		mustRefuse(t, l, "victim", 0, "victim after one new key")
	})
}

func TestConcurrentAllow(t *testing.T) {
	// Exactly burst attempts succeed however many goroutines race for them.
	l, _ := newFake(t, time.Hour, 25)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		allowed int
	)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, _ := l.Allow("shared"); ok {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if allowed != 25 {
		t.Fatalf("%d attempts allowed, want exactly the burst of 25", allowed)
	}
}
