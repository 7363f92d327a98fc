package limits

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// downHook makes every Redis command fail while down is set: Redis gone
// in the middle of a run, on a real server.
type downHook struct{ down atomic.Bool }

func (h *downHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *downHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.down.Load() {
			err := errors.New("redis down (test)")
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}
func (h *downHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// downRedis is the test Redis with a downHook.
func downRedis(t *testing.T) (*redis.Client, *downHook) {
	rdb := testRedis(t)
	hook := &downHook{}
	rdb.AddHook(hook)
	return rdb, hook
}

// takeUntilRefused takes from ls at a simulated clock until the first
// refusal (at most max takes) and returns how many were admitted and the
// clock after them.
func takeUntilRefused(t *testing.T, ls *Lease, now time.Time, max int) (int, time.Time) {
	t.Helper()
	for i := range max {
		now = now.Add(time.Millisecond)
		if !ls.Take(context.Background(), Day(), now) {
			return i, now
		}
	}
	t.Fatalf("still admitting after %d takes", max)
	return max, now
}

// Fail open, a node that loses Redis goes on from the cluster's use as it
// last saw it, not from zero: alone, it admits exactly the limit however
// the window's calls fall before, during and between outages.
func TestLeaseFallbackGoesOnFromRedis(t *testing.T) {
	rdb, hook := downRedis(t)
	ctx := context.Background()
	const limit = 1000
	l := mustLeaser(t, LeaseConfig{Client: rdb, Prefix: testPrefix(t, rdb), Mode: FailOpen, Timeout: 5 * time.Second,
		Backoff: time.Second, MinBlock: 20, MaxBlock: 50})
	ls := l.Lease("tenant", limit, Day())
	now := t0
	admitted := 0
	take := func(n int) {
		for range n {
			now = now.Add(time.Millisecond)
			if !ls.Take(ctx, Day(), now) {
				t.Fatalf("refused after %d admissions (limit %d)", admitted, limit)
			}
			admitted++
		}
	}
	take(400)
	hook.down.Store(true) // first outage: spend 150 on the fallback
	take(150)
	hook.down.Store(false)
	now = now.Add(2 * time.Second) // past the backoff: Redis again
	take(200)
	hook.down.Store(true) // second outage: the rest
	// Once the leased units are spent, a fallback unit taken and given
	// back (a later check refused the call) is admitted again.
	for ls.Local() > 0 {
		take(1)
	}
	for range 3 {
		now = now.Add(time.Millisecond)
		g, _, _ := ls.TakeGrant(ctx, Day(), now)
		if g != Fallback {
			t.Fatalf("grant %v during the outage, want Fallback", g)
		}
		ls.Return(g, Day(), now)
	}
	n, now := takeUntilRefused(t, ls, now, 2*limit)
	admitted += n
	hook.down.Store(false) // for the clean-up's release
	if admitted != limit {
		t.Fatalf("admitted %d in the window, want exactly the limit %d (fail open went on from zero?)", admitted, limit)
	}
	_ = now
}

// Two nodes lose Redis together, one having spent more than the other.
// Each goes on from the counter as it last saw it, so on its fallback it
// admits exactly the limit less that: together they exceed the limit by
// what was left when Redis went away (N−1 times it for N nodes) plus what
// each had not seen the other reserve, not by the limit twice over as when
// each fallback started from zero.
func TestLeaseFallbackTwoNodesBound(t *testing.T) {
	rdb, hook := downRedis(t)
	ctx := context.Background()
	prefix := testPrefix(t, rdb)
	const limit = 1000
	cfg := LeaseConfig{Client: rdb, Prefix: prefix, Mode: FailOpen, Timeout: 5 * time.Second, Backoff: time.Minute, MinBlock: 20, MaxBlock: 20}
	la := mustLeaser(t, cfg)
	a, b := la.Lease("tenant", limit, Day()), mustLeaser(t, cfg).Lease("tenant", limit, Day())
	now := t0
	admitted := 0
	for i := range 700 {
		now = now.Add(time.Millisecond)
		ls := a
		if i%4 == 3 {
			ls = b // a spends three times what b does
		}
		if !ls.Take(ctx, Day(), now) {
			t.Fatalf("refused at %d before the outage", i)
		}
		admitted++
	}
	// Let the background fetches land: then the counter in Redis and what
	// each node last saw of it are final.
	a.wait()
	b.wait()
	reserved, err := rdb.Get(ctx, la.RedisKey("tenant", Day(), now)).Int64()
	if err != nil {
		t.Fatal(err)
	}
	seenA, seenB := a.seen(), b.seen()
	hook.down.Store(true)
	na, _ := takeUntilRefused(t, a, now, 2*limit)
	nb, _ := takeUntilRefused(t, b, now, 2*limit)
	a.wait() // fetches the outage started fail before Redis is back
	b.wait()
	hook.down.Store(false)
	admitted += na + nb
	if na == 0 || nb == 0 {
		t.Fatalf("fail open refused during the outage: %d and %d admitted", na, nb)
	}
	// Every reserved unit is spent (admitted before or during the outage)
	// and each fallback admits the limit less what its node last saw.
	if want := reserved + (limit - seenA) + (limit - seenB); int64(admitted) != want {
		t.Fatalf("admitted %d; want %d: the %d reserved in Redis plus %d and %d on the fallbacks (limit %d, nodes saw %d and %d)",
			admitted, want, reserved, limit-seenA, limit-seenB, limit, seenA, seenB)
	}
	t.Logf("admitted %d against a limit of %d: %d left unreserved at the outage, nodes had seen %d and %d of the %d reserved; from zero it was up to %d",
		admitted, limit, limit-reserved, seenA, seenB, reserved, reserved+2*limit)
}

// seen is the Redis counter as ls last saw it.
func (ls *Lease) seen() int64 {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.redisUsed
}

// A node that knows it shares the quota with others spends, fail open, only
// its share of what was left when it last saw the counter.
func TestLeaseFallbackShare(t *testing.T) {
	rdb, hook := downRedis(t)
	ctx := context.Background()
	const limit, nodes = 1000, 3
	l := mustLeaser(t, LeaseConfig{Client: rdb, Prefix: testPrefix(t, rdb), Mode: FailOpen, Timeout: 5 * time.Second,
		Backoff: time.Minute, MinBlock: 20, MaxBlock: 50, Nodes: func() int { return nodes }})
	ls := l.Lease("tenant", limit, Day())
	now := t0
	for range 400 {
		now = now.Add(time.Millisecond)
		if !ls.Take(ctx, Day(), now) {
			t.Fatal("refused below the limit")
		}
	}
	hook.down.Store(true)
	for ls.Local() > 0 { // the units already leased first
		now = now.Add(time.Millisecond)
		ls.Take(ctx, Day(), now)
	}
	ls.mu.Lock()
	seen := ls.redisUsed // the counter as the node last saw it: its own blocks
	ls.mu.Unlock()
	n, _ := takeUntilRefused(t, ls, now, limit)
	hook.down.Store(false) // for the clean-up's release
	if want := int(limit-seen+nodes-1) / nodes; n != want {
		t.Fatalf("admitted %d on the fallback after seeing %d used, want a third of the rest, %d", n, seen, want)
	}
}
