package gateway

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-dev/portico/gateway/limits"
)

// TestRestoreQuotas: a node that starts mid-window with what the ledger
// says was spent admits only the rest of each quota — in process and
// through Redis — and asks the ledger about exactly the windows its
// subscriptions count over.
func TestRestoreQuotas(t *testing.T) {
	now := time.Now()
	cfg := demoConfig(Limits{DayQuota: 10, MonthQuota: 20, IncludedCalls: 15, HardLimit: true}, SubActive, now)
	sub := cfg.Subscriptions[0]
	// Spent: 8 of today's 10, 12 of the period's 20 (and of the 15
	// included): the day quota leaves 2 calls.
	ledger := func(asked *[]QuotaWindow) QuotaLedger {
		return func(_ context.Context, ws []QuotaWindow) (map[string]QuotaUse, error) {
			*asked = ws
			return map[string]QuotaUse{"s1": {Day: 8, Period: 12}, "gone": {Day: 5}}, nil
		}
	}
	check := func(t *testing.T, c *cluster) {
		t.Helper()
		var asked []QuotaWindow
		n, err := c.nodes[0].RestoreQuotas(context.Background(), now, ledger(&asked))
		if err != nil || n != 1 {
			t.Fatalf("RestoreQuotas = %d, %v", n, err)
		}
		dayStart := now.UTC().Truncate(24 * time.Hour)
		want := QuotaWindow{SubscriptionID: "s1", DayStart: dayStart, DayEnd: dayStart.Add(24 * time.Hour), PeriodStart: sub.PeriodStart, PeriodEnd: sub.PeriodEnd}
		if len(asked) != 1 || !asked[0].DayStart.Equal(want.DayStart) || !asked[0].DayEnd.Equal(want.DayEnd) ||
			!asked[0].PeriodStart.Equal(want.PeriodStart) || !asked[0].PeriodEnd.Equal(want.PeriodEnd) || asked[0].SubscriptionID != "s1" {
			t.Fatalf("asked the ledger about %+v, want [%+v]", asked, want)
		}
		for i := range 3 {
			st, typ := c.call(t, i)
			if i < 2 && st != 200 || i == 2 && (st != 429 || !strings.HasSuffix(typ, "/quota-exceeded")) {
				t.Fatalf("call %d after the restore: %d %s", i+1, st, typ)
			}
		}
	}
	t.Run("in process", func(t *testing.T) {
		check(t, newCluster(t, 1, cfg, nil, "", false, nil))
	})
	t.Run("redis", func(t *testing.T) {
		rdb, prefix := sharedRedis(t, "")
		check(t, newCluster(t, 1, cfg, rdb, prefix, false, nil))
	})
	t.Run("suspended subscription", func(t *testing.T) {
		// It may resume within the window: its spending counts too.
		c := newCluster(t, 1, demoConfig(Limits{DayQuota: 10}, SubSuspended, now), nil, "", false, nil)
		var asked []QuotaWindow
		if n, err := c.nodes[0].RestoreQuotas(context.Background(), now, ledger(&asked)); err != nil || n != 1 || len(asked) != 1 {
			t.Fatalf("RestoreQuotas = %d, %v; asked about %+v", n, err, asked)
		}
	})
	t.Run("ledger fails", func(t *testing.T) {
		c := newCluster(t, 1, cfg, nil, "", false, nil)
		boom := errors.New("database down")
		if _, err := c.nodes[0].RestoreQuotas(context.Background(), now, func(context.Context, []QuotaWindow) (map[string]QuotaUse, error) {
			return nil, boom
		}); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no quotas", func(t *testing.T) {
		c := newCluster(t, 1, demoConfig(Limits{RequestsPerSecond: 5}, SubActive, now), nil, "", false, nil)
		n, err := c.nodes[0].RestoreQuotas(context.Background(), now, func(context.Context, []QuotaWindow) (map[string]QuotaUse, error) {
			t.Fatal("the ledger was asked about subscriptions without quotas")
			return nil, nil
		})
		if n != 0 || err != nil {
			t.Fatalf("RestoreQuotas = %d, %v", n, err)
		}
	})
}

// TestRestoreQuotasAfterRedisLosesThem: when Redis loses the quota
// counters (a restart without persistence, a flush), the first node to
// notice — on its next fetch of a counter it had seen — has every node's
// counters raised again from the usage ledger. Without that, another
// node asking for a counter it had never seen would find none and hand
// out the day's quota anew.
func TestRestoreQuotasAfterRedisLosesThem(t *testing.T) {
	now := time.Now()
	cfg := demoConfig(Limits{DayQuota: 100}, SubActive, now)
	rdb, prefix := sharedRedis(t, "")
	c := newCluster(t, 2, cfg, rdb, prefix, false, nil)
	var spent atomic.Int64
	ledger := func(_ context.Context, ws []QuotaWindow) (map[string]QuotaUse, error) {
		return map[string]QuotaUse{"s1": {Day: spent.Load()}}, nil
	}
	for _, n := range c.nodes {
		if _, err := n.RestoreQuotas(context.Background(), now, ledger); err != nil {
			t.Fatal(err)
		}
	}
	// Node 0 serves a call every 100 ms, so its blocks stay small.
	i := 0
	callA := func() {
		t.Helper()
		if st, typ := c.call(t, 2*i); st != 200 {
			t.Fatalf("node 0, call %d: %d %s", i, st, typ)
		}
		i++
		time.Sleep(100 * time.Millisecond)
	}
	for range 5 {
		callA()
	}
	// The day's calls so far, as the ledger has them (from other nodes
	// too): 95. Then Redis loses every key.
	spent.Store(95)
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "*"+prefix+"*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys under the prefix: %v %v", keys, err)
	}
	if err := rdb.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	lostCount := func() float64 {
		mfs, _ := c.regs[0].Gather()
		for _, mf := range mfs {
			if mf.GetName() == "portico_gateway_redis_quota_counters_lost_total" {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		return 0
	}
	for lostCount() < 1 {
		if i > 30 {
			t.Fatal("node 0 never noticed the lost counter")
		}
		callA()
	}
	counter := c.nodes[0].limits.leaser.RedisKey("s1:day", limits.Day(), now)
	deadline := time.Now().Add(5 * time.Second)
	for {
		used, _ := rdb.Get(ctx, counter).Int64()
		if used >= 95 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counter %s = %d after the restore, want at least 95", counter, used)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Node 1 had never fetched the counter: it gets what is left of the
	// 100 after the ledger's 95, at most.
	admitted := 0
	for j := 1; ; j += 2 {
		st, typ := c.call(t, j)
		if st != 200 {
			if st != 429 || !strings.HasSuffix(typ, "/quota-exceeded") {
				t.Fatalf("node 1: %d %s", st, typ)
			}
			break
		}
		if admitted++; admitted > 100 {
			t.Fatal("node 1 admits without end")
		}
	}
	if admitted > 5 {
		t.Fatalf("node 1 admitted %d calls after Redis lost its counters, want at most the 5 the ledger leaves", admitted)
	}
}

// The enforcer reaches a subscription's counters through its compiled
// record, and they stay the subscription's across reloads (a new snapshot
// finds them by key) and after the limiters drop them (the next call finds
// the key's new state): the cells are a shortcut, never a second count.
func TestEnforcerCells(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	cfg := demoConfig(Limits{RequestsPerSecond: 1, Burst: 2, DayQuota: 3}, SubActive, now)
	e, err := newEnforcer(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	admit := func(snap *Snapshot, at time.Time) string {
		t.Helper()
		sub, ok := snap.Subscription("app1", "a1")
		if !ok || sub.cells == nil {
			t.Fatalf("subscription %+v %v", sub, ok)
		}
		mw := &meteredWriter{ResponseWriter: httptest.NewRecorder()}
		if ok, reason := e.admit(context.Background(), mw, &sub, true, at, "req"); !ok {
			return reason
		}
		return "ok"
	}
	compile := func() *Snapshot {
		s, err := Compile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := compile(), compile()
	for i, want := range []string{"ok", "ok", "rate-limited"} {
		if got := admit(a, now); got != want {
			t.Fatalf("call %d on the first snapshot: %s, want %s", i+1, got, want)
		}
	}
	if a.cells[0].rate.Load() == nil || a.cells[0].quota[0].Load() == nil {
		t.Fatal("the first snapshot's record holds no cells")
	}
	if p := a.subscriptionRef("app1", "a1"); p != a.subscriptionRef("app1", "a1") || p.ID != cfg.Subscriptions[0].ID || p.cells != &a.cells[0] {
		t.Fatal("the request path's subscription is not built once per record")
	}
	// The reloaded configuration goes on from the same counts.
	if got := admit(b, now); got != "rate-limited" {
		t.Fatalf("after the reload the burst is fresh: %s", got)
	}
	if got := admit(b, now.Add(time.Second)); got != "ok" {
		t.Fatalf("third call of the day: %s", got)
	}
	if got := admit(a, now.Add(3*time.Second)); got != "quota-exceeded" {
		t.Fatalf("fourth call of the day through the old snapshot: %s", got)
	}
	// Tomorrow, after a sweep dropped every counter the cells point to.
	tomorrow := now.Add(24 * time.Hour)
	for _, g := range *e.gcras.Load() {
		g.Sweep(tomorrow)
	}
	e.quotas.Sweep(tomorrow)
	for i := range 3 {
		if got := admit(b, tomorrow.Add(time.Duration(i)*time.Second)); got != "ok" {
			t.Fatalf("call %d tomorrow: %s", i+1, got)
		}
	}
	if got := admit(a, tomorrow.Add(4*time.Second)); got != "quota-exceeded" {
		t.Fatalf("fourth call tomorrow: %s", got)
	}
}
