package limits

import (
	"context"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portico-dev/portico/migrations/testdb/testenv"
)

// testRedis connects to PORTICO_TEST_REDIS_URL. Without it the test is
// skipped, except under PORTICO_TEST_STRICT=1, where that is a failure.
func testRedis(t *testing.T) *redis.Client {
	t.Helper()
	u := testenv.Env(t, "PORTICO_TEST_REDIS_URL")
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("PORTICO_TEST_REDIS_URL: %v", err)
	}
	opt.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis ping: %v", err)
	}
	return rdb
}

// testPrefix keeps concurrent test runs on one Redis apart and deletes the
// test's keys when it ends.
func testPrefix(t *testing.T, rdb *redis.Client) string {
	t.Helper()
	p := "portico:test:" + t.Name() + ":" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, p+"*", 100).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("clean up test keys: %v", err)
		}
	})
	return p
}

func mustLeaser(t *testing.T, cfg LeaseConfig) *Leaser {
	t.Helper()
	l, err := NewLeaser(cfg)
	if err != nil {
		t.Fatalf("NewLeaser: %v", err)
	}
	// Release every lease when the test ends, before its keys are deleted:
	// this waits for background fetches, so none outlives the test and
	// recreates a key after clean-up.
	t.Cleanup(func() {
		l.leases.Range(func(_, v any) bool {
			if err := v.(*Lease).Release(context.Background()); err != nil {
				t.Errorf("release lease: %v", err)
			}
			return true
		})
	})
	return l
}

type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func TestNewLeaserValidates(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	defer rdb.Close()
	plain := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer plain.Close()
	cases := []struct {
		name string
		cfg  LeaseConfig
		ok   bool
	}{
		{"defaults", LeaseConfig{Client: rdb}, true},
		{"client ignoring context deadlines", LeaseConfig{Client: plain}, false},
		{"no client", LeaseConfig{}, false},
		{"bad mode", LeaseConfig{Client: rdb, Mode: 7}, false},
		{"negative timeout", LeaseConfig{Client: rdb, Timeout: -1}, false},
		{"max below min", LeaseConfig{Client: rdb, MinBlock: 10, MaxBlock: 5}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NewLeaser(c.cfg); (err == nil) != c.ok {
				t.Fatalf("err = %v, want ok=%v", err, c.ok)
			}
		})
	}
}

// hangingRedis accepts connections and never answers, like a Redis that is
// overloaded or partitioned away.
func hangingRedis(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// TestLeaseRedisDown covers a Redis nothing listens on (calls fail at once)
// and one that never answers (calls end at the lease Timeout). Assertions
// are on counts only.
func TestLeaseRedisDown(t *testing.T) {
	hanging := hangingRedis(t)
	cases := []struct {
		name string
		addr string
		mode FailMode
		want int64 // admitted out of 2*limit attempts
	}{
		{"refused, fail open serves the local quota", "127.0.0.1:1", FailOpen, 5},
		{"refused, fail closed refuses", "127.0.0.1:1", FailClosed, 0},
		{"hanging, fail open serves the local quota", hanging, FailOpen, 5},
		{"hanging, fail closed refuses", hanging, FailClosed, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rdb := redis.NewClient(&redis.Options{Addr: c.addr, MaxRetries: -1, ContextTimeoutEnabled: true})
			defer rdb.Close()
			var errs atomic.Int64
			var gotMode FailMode = -1
			l := mustLeaser(t, LeaseConfig{Client: rdb, Mode: c.mode, Backoff: time.Minute, Timeout: 20 * time.Millisecond,
				OnError: func(key string, m FailMode, err error) { errs.Add(1); gotMode = m }})
			ls := l.Lease("k", 5, Day())
			var admitted int64
			for i := range 10 {
				if ls.Take(context.Background(), Day(), t0.Add(time.Duration(i)*time.Second)) {
					admitted++
				}
			}
			if admitted != c.want {
				t.Fatalf("admitted %d, want %d", admitted, c.want)
			}
			// One failed call, then the backoff keeps Redis off the path.
			if errs.Load() != 1 || gotMode != c.mode {
				t.Fatalf("OnError called %d times with mode %v, want once with %v", errs.Load(), gotMode, c.mode)
			}
		})
	}
}

func TestLeaseRedisSingleNode(t *testing.T) {
	rdb := testRedis(t)
	hook := &countHook{}
	rdb.AddHook(hook)
	ctx := context.Background()
	l := mustLeaser(t, LeaseConfig{Client: rdb, Prefix: testPrefix(t, rdb), Timeout: 5 * time.Second})
	const limit = 1000
	ls := l.Lease("tenant-1", limit, Day())
	var admitted int64
	now := t0
	for range 3 * limit {
		if ls.Take(ctx, Day(), now) {
			admitted++
		}
		now = now.Add(time.Millisecond)
	}
	if admitted != limit {
		t.Fatalf("admitted %d, want exactly %d", admitted, limit)
	}
	if calls := hook.n.Load(); calls > admitted/10 {
		t.Fatalf("%d Redis calls for %d admissions; want at most one per 10", calls, admitted)
	}
	used, err := rdb.Get(ctx, l.RedisKey("tenant-1", Day(), t0)).Int64()
	if err != nil || used != limit {
		t.Fatalf("redis counter = %d (%v), want %d", used, err, limit)
	}
	ttl := rdb.PTTL(ctx, l.RedisKey("tenant-1", Day(), t0)).Val()
	if ttl <= 0 {
		t.Fatalf("counter has no expiry (PTTL %v)", ttl)
	}
}

func TestLeaseRedisReleaseReturnsUnits(t *testing.T) {
	rdb := testRedis(t)
	ctx := context.Background()
	l := mustLeaser(t, LeaseConfig{Client: rdb, Prefix: testPrefix(t, rdb), Timeout: 5 * time.Second,
		MinBlock: 50, MaxBlock: 50, IdleAfter: 10 * time.Second})
	ls := l.Lease("k", 100, Day())
	for i := range 3 {
		if !ls.Take(ctx, Day(), t0) {
			t.Fatalf("take %d refused", i)
		}
	}
	// Let any background fetch land, then sweep while still busy: nothing
	// is returned.
	key := l.RedisKey("k", Day(), t0)
	l.Sweep(ctx, t0.Add(time.Second))
	if ls.Local() == 0 {
		t.Fatal("a busy lease was emptied by Sweep")
	}
	l.Sweep(ctx, t0.Add(11*time.Second))
	if ls.Local() != 0 {
		t.Fatalf("idle lease still holds %d units", ls.Local())
	}
	if used, _ := rdb.Get(ctx, key).Int64(); used != 3 {
		t.Fatalf("after release the counter is %d, want the 3 admitted", used)
	}
}

func TestLeaseRedisTwoNodesNeverExceed(t *testing.T) {
	cases := []struct {
		name       string
		limit      int64
		goroutines int
		attempts   int
		minBlock   int64
	}{
		{"small limit", 100, 8, 50, 10},
		{"large limit", 5000, 16, 1000, 10},
		{"blocks larger than limit", 30, 4, 40, 100},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rdb := testRedis(t)
			ctx := context.Background()
			prefix := testPrefix(t, rdb)
			// Two nodes: separate Leasers and separate Redis clients.
			var nodes [2]*Lease
			var leasers [2]*Leaser
			for i := range nodes {
				cl := redis.NewClient(rdb.Options())
				t.Cleanup(func() { cl.Close() })
				leasers[i] = mustLeaser(t, LeaseConfig{Client: cl, Prefix: prefix, Timeout: 5 * time.Second,
					MinBlock: c.minBlock, Mode: FailClosed})
				nodes[i] = leasers[i].Lease("shared", c.limit, Day())
			}
			var admitted atomic.Int64
			var wg sync.WaitGroup
			for g := range c.goroutines {
				wg.Go(func() {
					ls := nodes[g%2]
					for i := range c.attempts {
						if ls.Take(ctx, Day(), t0.Add(time.Duration(i)*time.Millisecond)) {
							admitted.Add(1)
						}
					}
				})
			}
			wg.Wait()
			if got := admitted.Load(); got > c.limit {
				t.Fatalf("two nodes admitted %d, over the limit %d", got, c.limit)
			}
			// Drain both nodes: every unit is either admitted or still
			// leased, so once both refuse the total is exactly the limit.
			late := t0.Add(time.Hour)
			for _, ls := range nodes {
				for ls.Take(ctx, Day(), late) {
					admitted.Add(1)
				}
			}
			if got := admitted.Load(); got != c.limit {
				t.Fatalf("after draining, admitted %d, want exactly %d", got, c.limit)
			}
			used, err := rdb.Get(ctx, leasers[0].RedisKey("shared", Day(), t0)).Int64()
			if err != nil || used != c.limit {
				t.Fatalf("redis counter = %d (%v), want %d", used, err, c.limit)
			}
		})
	}
}

func TestLeaseRedisWindowRollover(t *testing.T) {
	rdb := testRedis(t)
	ctx := context.Background()
	l := mustLeaser(t, LeaseConfig{Client: rdb, Prefix: testPrefix(t, rdb), Timeout: 5 * time.Second})
	ls := l.Lease("k", 3, Day())
	midnight := time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		at   time.Time
		want bool
	}{
		{"day one 1", midnight.Add(-time.Hour), true},
		{"day one 2", midnight.Add(-time.Hour), true},
		{"day one 3", midnight.Add(-time.Hour), true},
		{"day one spent", midnight.Add(-time.Nanosecond), false},
		{"day two starts afresh", midnight, true},
		{"stale day one call refused", midnight.Add(-time.Second), false},
	}
	for _, c := range cases {
		if got := ls.Take(ctx, Day(), c.at); got != c.want {
			t.Fatalf("%s: Take = %v, want %v", c.name, got, c.want)
		}
	}
}

func BenchmarkLeaseTake(b *testing.B) {
	u := os.Getenv("PORTICO_TEST_REDIS_URL")
	if u == "" {
		b.Skip("PORTICO_TEST_REDIS_URL not set")
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		b.Fatal(err)
	}
	opt.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	prefix := "portico:bench:" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	l, err := NewLeaser(LeaseConfig{Client: rdb, Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	rl, err := NewRateLeaser(RateLeaseConfig{Client: rdb, Prefix: prefix + "rate:"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	// As the gateway calls them for each request: the lease is looked up
	// by key every time.
	b.Run("quota", func(b *testing.B) {
		now := time.Now()
		b.ReportAllocs()
		for b.Loop() {
			now = now.Add(time.Microsecond)
			l.Lease("sub-bench:day", 1<<60, Day()).Take(ctx, Day(), now)
		}
	})
	b.Run("rate", func(b *testing.B) {
		now := time.Now()
		b.ReportAllocs()
		for b.Loop() {
			now = now.Add(time.Microsecond)
			rl.Take(ctx, "sub-bench", 1e6, 1e6, now)
		}
	})
}

// TestLeaserRaiseAll: counters Redis lost come back from the ledger's
// counts before a node serves, so leases grant only what is left; a
// counter already higher (units other nodes hold) is kept.
func TestLeaserRaiseAll(t *testing.T) {
	rdb := testRedis(t)
	ctx := context.Background()
	l := mustLeaser(t, LeaseConfig{Client: rdb, Prefix: testPrefix(t, rdb), Timeout: 5 * time.Second})
	rdb.Set(ctx, l.RedisKey("higher", Day(), t0), 70, time.Hour)
	rs := []Raise{{Key: "spent", Used: 95, W: Day()}, {Key: "higher", Used: 40, W: Day()}, {Key: "none", Used: 0, W: Day()}}
	for i := range 600 { // more than one pipelined batch
		rs = append(rs, Raise{Key: "k" + strconv.Itoa(i), Used: int64(i + 1), W: Day()})
	}
	if err := l.RaiseAll(ctx, rs, t0); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]int64{"spent": 95, "higher": 70, "k0": 1, "k599": 600} {
		if got, err := rdb.Get(ctx, l.RedisKey(key, Day(), t0)).Int64(); err != nil || got != want {
			t.Errorf("%s: counter %d (%v), want %d", key, got, err, want)
		}
	}
	if n, _ := rdb.Exists(ctx, l.RedisKey("none", Day(), t0)).Result(); n != 0 {
		t.Error("a zero use created a counter")
	}
	if ttl := rdb.PTTL(ctx, l.RedisKey("spent", Day(), t0)).Val(); ttl <= 0 {
		t.Errorf("raised counter has no expiry (PTTL %v)", ttl)
	}
	// A lease on the raised counter admits only the rest of the quota.
	ls := l.Lease("spent", 100, Day())
	admitted := 0
	for range 20 {
		if ls.Take(ctx, Day(), t0) {
			admitted++
		}
	}
	if admitted != 5 {
		t.Fatalf("admitted %d after a raise to 95 of 100, want 5", admitted)
	}
}

// TestLeaseRedisCounterLost: Redis loses the counter mid-window (a restart
// without persistence, a flush). The next block starts from the count the
// node last saw, not from zero: one node admits exactly the quota, and two
// nodes at most one block more, where without it they would admit a whole
// quota anew.
func TestLeaseRedisCounterLost(t *testing.T) {
	rdb := testRedis(t)
	ctx := context.Background()
	const limit = 100
	t.Run("one node", func(t *testing.T) {
		l := mustLeaser(t, LeaseConfig{Client: rdb, Prefix: testPrefix(t, rdb), Timeout: 5 * time.Second, MinBlock: 5, MaxBlock: 10})
		ls := l.Lease("k", limit, Day())
		admitted := 0
		for i := range 300 {
			if i == 60 {
				rdb.Del(ctx, l.RedisKey("k", Day(), t0))
			}
			if ls.Take(ctx, Day(), t0) {
				admitted++
			}
		}
		if admitted != limit {
			t.Fatalf("admitted %d, want exactly %d", admitted, limit)
		}
	})
	t.Run("two nodes", func(t *testing.T) {
		prefix := testPrefix(t, rdb)
		a := mustLeaser(t, LeaseConfig{Client: rdb, Prefix: prefix, Timeout: 5 * time.Second, MinBlock: 5, MaxBlock: 10})
		b := mustLeaser(t, LeaseConfig{Client: rdb, Prefix: prefix, Timeout: 5 * time.Second, MinBlock: 5, MaxBlock: 10})
		la, lb := a.Lease("k", limit, Day()), b.Lease("k", limit, Day())
		admitted := 0
		for i := range 400 {
			if i == 100 {
				rdb.Del(ctx, a.RedisKey("k", Day(), t0))
			}
			ls := la
			if i%2 == 1 {
				ls = lb
			}
			if ls.Take(ctx, Day(), t0) {
				admitted++
			}
		}
		if admitted < limit || admitted > limit+10 {
			t.Fatalf("admitted %d, want %d and at most one block (10) more", admitted, limit)
		}
	})
	// The node that notices says so (OnLost), takes only its smallest
	// block then, and keeps to smallest blocks for a while, as the
	// counters are being restored from a fuller record.
	t.Run("noticed", func(t *testing.T) {
		prefix := testPrefix(t, rdb)
		var lost atomic.Int64
		l := mustLeaser(t, LeaseConfig{Client: rdb, Prefix: prefix, Timeout: 5 * time.Second, MinBlock: 5, MaxBlock: 1000,
			OnLost: func(key string) {
				if key != "k" {
					t.Errorf("OnLost(%q)", key)
				}
				lost.Add(1)
			}})
		ls := l.Lease("k", 10000, Day())
		key := l.RedisKey("k", Day(), t0)
		for range 200 {
			ls.Take(ctx, Day(), t0)
		}
		ls.wait()
		before, err := rdb.Get(ctx, key).Int64()
		if err != nil || before < 200 {
			t.Fatalf("counter before the loss = %d, %v", before, err)
		}
		rdb.Del(ctx, key)
		for i := 0; lost.Load() == 0; i++ {
			if i > 10000 {
				t.Fatal("the loss was never noticed")
			}
			ls.Take(ctx, Day(), t0)
		}
		ls.wait()
		after, _ := rdb.Get(ctx, key).Int64()
		if after > before+10 {
			t.Fatalf("counter %d after the loss was noticed, want at most %d (the count seen, the noticing block and one more, each the smallest)", after, before+10)
		}
		if got := ls.blockSize(t0.UnixNano()); got != 5 {
			t.Fatalf("block size right after the loss = %d, want the smallest (5)", got)
		}
		if got := ls.blockSize(t0.Add(lostCaution).UnixNano()); got <= 5 {
			t.Fatalf("block size %v after the loss = %d, want larger again", lostCaution, got)
		}
	})
}

// wait returns once no fetch of the lease is in flight.
func (ls *Lease) wait() {
	ls.mu.Lock()
	for ls.fetching != nil {
		ch := ls.fetching
		ls.mu.Unlock()
		<-ch
		ls.mu.Lock()
	}
	ls.mu.Unlock()
}

// A quota lease kept by its caller past its window's end, which Sweep
// released and forgot, admits through the key's current lease: the new
// window's limit holds exactly, and no unit lands in the forgotten one.
func TestLeaseKeptAcrossWindowEnd(t *testing.T) {
	rdb := testRedis(t)
	ctx := context.Background()
	l := mustLeaser(t, LeaseConfig{Client: rdb, Prefix: testPrefix(t, rdb), Timeout: 5 * time.Second})
	const limit = 5
	ls := l.Lease("k", limit, Day())
	if !l.Holds(ls) || l.Lease("k", limit, Day()) != ls {
		t.Fatal("a new lease is not held, or not found again")
	}
	if !ls.Take(ctx, Day(), t0) {
		t.Fatal("refused")
	}
	next := t0.Add(24 * time.Hour)
	l.Sweep(ctx, next)
	if l.Holds(ls) {
		t.Fatal("the leaser still holds a lease whose window ended")
	}
	// Two calls through the forgotten lease, the rest through the key's
	// current one: a unit the forgotten lease kept would be lost to both.
	admitted := 0
	for range 2 {
		if ls.Take(ctx, Day(), next) {
			admitted++
		}
	}
	cur := l.Lease("k", limit, Day())
	if cur == ls || !l.Holds(cur) || ls.Local() != 0 {
		t.Fatalf("the key's lease was not replaced, or units went to the forgotten one (%d)", ls.Local())
	}
	for range 2 * limit {
		if cur.Take(ctx, Day(), next) {
			admitted++
		}
	}
	if admitted != limit {
		t.Fatalf("admitted %d in the new window, want %d", admitted, limit)
	}
	other := mustLeaser(t, LeaseConfig{Client: rdb, Prefix: testPrefix(t, rdb), Timeout: 5 * time.Second})
	if other.Holds(cur) {
		t.Fatal("a leaser holds another's lease")
	}
}
