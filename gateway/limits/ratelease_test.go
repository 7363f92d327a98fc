package limits

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func mustRateLeaser(t *testing.T, cfg RateLeaseConfig) *RateLeaser {
	t.Helper()
	l, err := NewRateLeaser(cfg)
	if err != nil {
		t.Fatalf("NewRateLeaser: %v", err)
	}
	return l
}

// rateKeys also removes the keys redis_rate writes under its own "rate:"
// prefix.
func rateTestPrefix(t *testing.T, rdb *redis.Client) string {
	p := testPrefix(t, rdb)
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, "rate:"+p+"*", 100).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return p
}

func TestNewRateLeaserValidates(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	defer rdb.Close()
	plain := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer plain.Close()
	for name, c := range map[string]struct {
		cfg RateLeaseConfig
		ok  bool
	}{
		"defaults":                          {RateLeaseConfig{Client: rdb}, true},
		"client ignoring context deadlines": {RateLeaseConfig{Client: plain}, false},
		"no client":                         {RateLeaseConfig{}, false},
		"bad mode":                          {RateLeaseConfig{Client: rdb, Mode: 9}, false},
		"negative horizon":                  {RateLeaseConfig{Client: rdb, Horizon: -1}, false},
	} {
		if _, err := NewRateLeaser(c.cfg); (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", name, err, c.ok)
		}
	}
}

// Three nodes hammer one key concurrently for a while: together they admit
// the configured rate (burst + rate×elapsed) within 10%, and reach Redis
// far less often than once per request.
func TestRateLeaseSharedAcrossNodes(t *testing.T) {
	rdb := testRedis(t)
	prefix := rateTestPrefix(t, rdb)
	const rate, burst = 200, 200
	nodes := make([]*RateLeaser, 3)
	var redisErrs atomic.Int64 // a background fetch may outlive the test: count, don't fail from it
	for i := range nodes {
		nodes[i] = mustRateLeaser(t, RateLeaseConfig{Client: rdb, Prefix: prefix, Timeout: time.Second, Mode: FailClosed,
			OnError: func(string, FailMode, error) { redisErrs.Add(1) }})
	}
	var admitted, attempts atomic.Int64
	start := time.Now()
	deadline := start.Add(1500 * time.Millisecond)
	var wg sync.WaitGroup
	for i := range 9 {
		wg.Add(1)
		go func(l *RateLeaser) {
			defer wg.Done()
			for time.Now().Before(deadline) {
				attempts.Add(1)
				if l.Take(context.Background(), "sub_1", rate, burst, time.Now()).Allowed {
					admitted.Add(1)
				}
			}
		}(nodes[i%3])
	}
	wg.Wait()
	if n := redisErrs.Load(); n > 0 {
		t.Fatalf("%d Redis errors during the run", n)
	}
	elapsed := time.Since(start).Seconds()
	want := float64(burst) + rate*elapsed
	got := float64(admitted.Load())
	if got < 0.9*want || got > 1.1*want {
		t.Fatalf("admitted %v over %.2fs, want %.0f ± 10%%", got, elapsed, want)
	}
	var trips int64
	for _, n := range nodes {
		trips += n.RoundTrips()
	}
	if attempts.Load() < 10*int64(got) {
		t.Fatalf("only %d attempts: the test did not exceed the rate", attempts.Load())
	}
	if trips*5 > attempts.Load() {
		t.Fatalf("%d Redis round trips for %d attempts: refusals are not cached locally", trips, attempts.Load())
	}
	t.Logf("admitted %v of %d attempts in %.2fs (want %.0f), %d round trips", got, attempts.Load(), elapsed, want, trips)
}

// Under a high limit a node takes tokens in blocks: many admissions per
// round trip.
func TestRateLeaseBlocks(t *testing.T) {
	rdb := testRedis(t)
	prefix := rateTestPrefix(t, rdb)
	l := mustRateLeaser(t, RateLeaseConfig{Client: rdb, Prefix: prefix, Timeout: time.Second})
	now := time.Now()
	const n = 20000
	for i := range n {
		// 20k calls over a simulated second: the lease sizes its blocks from
		// that rate.
		if d := l.Take(context.Background(), "sub_big", 1_000_000, 1_000_000, now.Add(time.Duration(i)*50*time.Microsecond)); !d.Allowed {
			t.Fatalf("call %d refused under a limit of a million per second", i)
		}
	}
	if trips := l.RoundTrips(); trips > n/20 {
		t.Fatalf("%d round trips for %d calls", trips, n)
	}
}

// With Redis unreachable a node falls back to its own GCRA (fail open) or
// refuses (fail closed), tells OnError once per backoff, and recovers.
func TestRateLeaseRedisDown(t *testing.T) {
	for _, mode := range []FailMode{FailOpen, FailClosed} {
		t.Run(mode.String(), func(t *testing.T) {
			rdb := redis.NewClient(&redis.Options{Addr: hangingRedis(t), MaxRetries: -1, ContextTimeoutEnabled: true})
			defer rdb.Close()
			var errs atomic.Int64
			l := mustRateLeaser(t, RateLeaseConfig{Client: rdb, Mode: mode, Timeout: 20 * time.Millisecond, Backoff: time.Minute,
				OnError: func(string, FailMode, error) { errs.Add(1) }})
			now := time.Now()
			var admitted int
			for range 20 {
				if l.Take(context.Background(), "k", 5, 10, now).Allowed {
					admitted++
				}
			}
			want := 10 // the local burst
			if mode == FailClosed {
				want = 0
			}
			if admitted != want || errs.Load() != 1 {
				t.Fatalf("admitted %d (want %d), OnError %d times (want 1)", admitted, want, errs.Load())
			}
		})
	}
}
