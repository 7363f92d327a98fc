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

// Nodes announce themselves through Redis and count each other; when Redis
// goes, a fail-open node admits its share of the rate and burst (rounded
// up), so three nodes together stay near the limit instead of tripling it.
// A node that leaves stops counting for the others.
func TestRateLeaseFailOpenShare(t *testing.T) {
	rdb, hook := downRedis(t)
	ctx := context.Background()
	prefix := rateTestPrefix(t, rdb)
	nodes := make([]*RateLeaser, 3)
	for i := range nodes {
		nodes[i] = mustRateLeaser(t, RateLeaseConfig{Client: rdb, Prefix: prefix, Mode: FailOpen, Timeout: time.Second, Backoff: time.Minute})
	}
	if n := nodes[0].Nodes(); n != 1 {
		t.Fatalf("before announcing a node counts %d nodes, want itself alone", n)
	}
	for _, l := range nodes {
		if err := l.Announce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range nodes[:2] {
		l.Announce(ctx) // the early ones learn of the later
	}
	for i, l := range nodes {
		if n := l.Nodes(); n != 3 {
			t.Fatalf("node %d counts %d nodes, want 3", i, n)
		}
	}
	// Redis gone: at one instant each node admits its share of a burst of
	// 30 (10), then one more call every 1/ceil(10/3) s.
	hook.down.Store(true)
	now := time.Now()
	total := 0
	for _, l := range nodes {
		for range 50 {
			if l.Take(ctx, "sub", 10, 30, now).Allowed {
				total++
			}
		}
	}
	if total != 30 {
		t.Fatalf("three nodes admitted %d at once on their fallback, want the burst of 30", total)
	}
	later := now.Add(time.Second)
	for _, l := range nodes {
		if d := l.Take(ctx, "sub", 10, 30, later); !d.Allowed {
			t.Fatalf("a second later the share's rate admits nothing: %+v", d)
		}
	}
	if err := nodes[0].Announce(ctx); err == nil {
		t.Fatal("announced with Redis down")
	}
	if n := nodes[0].Nodes(); n != 3 {
		t.Fatalf("a failed announcement changed the count to %d", n)
	}
	// Back, one node leaves: the others count two.
	hook.down.Store(false)
	if err := nodes[2].Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if err := nodes[0].Announce(ctx); err != nil || nodes[0].Nodes() != 2 {
		t.Fatalf("after a node left: %d nodes, %v", nodes[0].Nodes(), err)
	}
}

// A lease kept by its caller admits through it while the leaser holds it;
// once Sweep has forgotten it (or it is another leaser's), TakeFrom admits
// through the key's current lease, never through the forgotten one.
func TestRateLeaseKeptAcrossSweep(t *testing.T) {
	rdb := testRedis(t)
	prefix := rateTestPrefix(t, rdb)
	ctx := context.Background()
	l := mustRateLeaser(t, RateLeaseConfig{Client: rdb, Prefix: prefix, Timeout: time.Second, IdleAfter: time.Second})
	now := time.Now()
	ls := l.Lease("k", 100, 10) // the burst is the rate at least
	if !l.Holds(ls) || ls.burst != 100 || l.Lease("k", 100, 100) != ls {
		t.Fatal("a new lease is not held, or not found again")
	}
	if d := l.TakeFrom(ctx, ls, now); !d.Allowed {
		t.Fatal("refused")
	}
	later := now.Add(2 * time.Second)
	l.Sweep(later)
	if l.Holds(ls) {
		t.Fatal("the leaser still holds a lease Sweep forgot")
	}
	if d := l.TakeFrom(ctx, ls, later); !d.Allowed {
		t.Fatal("refused through a forgotten lease")
	}
	cur := l.Lease("k", 100, 100)
	if cur == ls || !l.Holds(cur) {
		t.Fatal("the key's lease was not replaced")
	}
	if cur.lastUse != later.UnixNano() || ls.lastUse != now.UnixNano() {
		t.Fatalf("the call went through the forgotten lease (current used at %d, forgotten at %d)", cur.lastUse, ls.lastUse)
	}
	n := 0
	l.leases.Range(func(any, any) bool { n++; return true })
	if n != 1 {
		t.Fatalf("%d leases for one key", n)
	}
	other := mustRateLeaser(t, RateLeaseConfig{Client: rdb, Prefix: prefix, Timeout: time.Second})
	if other.Holds(cur) {
		t.Fatal("a leaser holds another's lease")
	}
	if d := other.TakeFrom(ctx, cur, later); !d.Allowed || other.Lease("k", 100, 100).lastUse != later.UnixNano() {
		t.Fatal("another leaser's lease was not taken through the leaser's own")
	}
}
