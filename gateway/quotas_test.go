package gateway

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
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
