package limits

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func mustQuotas(t testing.TB, opts ...Option) *Quotas {
	t.Helper()
	q, err := NewQuotas(opts...)
	if err != nil {
		t.Fatalf("NewQuotas: %v", err)
	}
	return q
}

type take struct {
	n       int64
	at      time.Time
	allowed bool
	used    int64
	resetAt time.Time
}

func TestQuotaDayBoundary(t *testing.T) {
	midnight := time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)
	paris := time.FixedZone("CET", 3600)
	cases := []struct {
		name  string
		limit int64
		takes []take
	}{
		{"fills then refuses then resets at UTC midnight", 3, []take{
			{1, midnight.Add(-3 * time.Hour), true, 1, midnight},
			{2, midnight.Add(-2 * time.Hour), true, 3, midnight},
			{1, midnight.Add(-time.Nanosecond), false, 3, midnight},
			{1, midnight, true, 1, midnight.Add(24 * time.Hour)},
		}},
		{"refused take leaves usage unchanged", 5, []take{
			{4, midnight, true, 4, midnight.Add(24 * time.Hour)},
			{2, midnight.Add(time.Hour), false, 4, midnight.Add(24 * time.Hour)},
			{1, midnight.Add(time.Hour), true, 5, midnight.Add(24 * time.Hour)},
		}},
		{"local time zone does not move the boundary", 1, []take{
			// 00:30 in Paris is still the previous UTC day.
			{1, time.Date(2026, 3, 15, 0, 30, 0, 0, paris), true, 1, midnight},
			{1, time.Date(2026, 3, 15, 0, 59, 0, 0, paris), false, 1, midnight},
			{1, time.Date(2026, 3, 15, 1, 0, 0, 0, paris), true, 1, midnight.Add(24 * time.Hour)},
		}},
		{"stale call for an earlier day is refused", 10, []take{
			{1, midnight, true, 1, midnight.Add(24 * time.Hour)},
			{1, midnight.Add(-time.Second), false, 1, midnight.Add(24 * time.Hour)},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := mustQuotas(t)
			for i, tk := range c.takes {
				ok, used, reset := q.Take("k", tk.n, c.limit, Day(), tk.at)
				if ok != tk.allowed || used != tk.used || !reset.Equal(tk.resetAt) {
					t.Fatalf("take %d: got (%v, %d, %v), want (%v, %d, %v)", i, ok, used, reset, tk.allowed, tk.used, tk.resetAt)
				}
			}
		})
	}
}

func TestQuotaPeriodBoundaries(t *testing.T) {
	feb := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	mar := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	apr := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	// A period anchored mid-month, as subscriptions started on the 17th are.
	a1 := time.Date(2026, 3, 17, 9, 30, 0, 0, time.UTC)
	a2 := time.Date(2026, 4, 17, 9, 30, 0, 0, time.UTC)
	cases := []struct {
		name       string
		limit      int64
		start, end time.Time
		n          int64
		at         time.Time
		allowed    bool
		used       int64
	}{
		{"first unit of february", 2, feb, mar, 1, feb, true, 1},
		{"last instant of february", 2, feb, mar, 1, mar.Add(-time.Nanosecond), true, 2},
		{"february exhausted", 2, feb, mar, 1, mar.Add(-time.Nanosecond), false, 2},
		{"now past the period end is refused", 2, feb, mar, 1, mar, false, 0},
		{"march starts afresh", 2, mar, apr, 2, mar, true, 2},
		{"call for february after march began is refused", 2, feb, mar, 1, feb.Add(time.Hour), false, 2},
		{"anchored period before its start is refused", 5, a1, a2, 1, a1.Add(-time.Nanosecond), false, 0},
		{"anchored period starts afresh", 5, a1, a2, 5, a1, true, 5},
		{"empty period is refused", 5, a2, a1, 1, a1, false, 0},
	}
	// The cases share one counter and run in order: each continues the last.
	q := mustQuotas(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ok, used, reset := q.Take("k", c.n, c.limit, Period(c.start, c.end), c.at)
			if ok != c.allowed || used != c.used {
				t.Fatalf("got (%v, %d), want (%v, %d)", ok, used, c.allowed, c.used)
			}
			if ok && !reset.Equal(c.end) {
				t.Fatalf("resetAt = %v, want %v", reset, c.end)
			}
		})
	}
}

func TestQuotaDayAndPeriodAreSeparate(t *testing.T) {
	q := mustQuotas(t)
	start := t0.Add(-time.Hour)
	if ok, _, _ := q.Take("k", 1, 1, Day(), t0); !ok {
		t.Fatal("day take refused")
	}
	if ok, used, _ := q.Take("k", 1, 1, Period(start, start.AddDate(0, 1, 0)), t0); !ok || used != 1 {
		t.Fatalf("period take shares the day counter: ok=%v used=%d", ok, used)
	}
}

func TestQuotaRelease(t *testing.T) {
	q := mustQuotas(t)
	q.Take("k", 5, 5, Day(), t0)
	q.Release("k", 2, Day(), t0)
	if ok, used, _ := q.Take("k", 2, 5, Day(), t0); !ok || used != 5 {
		t.Fatalf("after release: ok=%v used=%d", ok, used)
	}
	q.Release("k", 100, Day(), t0)
	if _, used, _ := q.Take("k", 0, 5, Day(), t0); used != 0 {
		t.Fatalf("usage went to %d, want 0", used)
	}
}

func TestQuotaConcurrencyExact(t *testing.T) {
	cases := []struct {
		name       string
		limit      int64
		goroutines int
		attempts   int
		keys       int
	}{
		{"one key", 1000, 64, 100, 1},
		{"many keys", 500, 32, 200, 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := mustQuotas(t)
			admitted := make([]atomic.Int64, c.keys)
			var wg sync.WaitGroup
			for g := range c.goroutines {
				wg.Go(func() {
					for i := range c.attempts {
						k := (g + i) % c.keys
						if ok, _, _ := q.Take(string(rune('a'+k)), 1, c.limit, Day(), t0); ok {
							admitted[k].Add(1)
						}
					}
				})
			}
			wg.Wait()
			for k := range admitted {
				if got := admitted[k].Load(); got != c.limit {
					t.Fatalf("key %d: admitted %d, want exactly %d", k, got, c.limit)
				}
			}
		})
	}
}

func TestQuotaSweep(t *testing.T) {
	q := mustQuotas(t, MaxKeys(shardCount))
	for _, k := range []string{"a", "b", "c"} {
		q.Take(k, 1, 10, Day(), t0)
	}
	q.Sweep(t0.Add(24 * time.Hour))
	for i := range q.shards {
		if n := len(q.shards[i].m); n != 0 {
			t.Fatalf("shard %d keeps %d ended windows", i, n)
		}
	}
}

func BenchmarkQuotaTake(b *testing.B) {
	q := mustQuotas(b)
	b.ReportAllocs()
	for b.Loop() {
		q.Take("tenant-42:app-7", 1, 1<<62, Day(), t0)
	}
}

// The day window is computed from Unix seconds; it must be the UTC
// calendar day, whatever the instant's location, before 1970 too.
func TestDayBounds(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*3600)
	instants := []time.Time{
		time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 26, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 11, 27, 8, 30, 0, 0, tokyo), // the 26th in UTC
		time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Unix(0, 0),
	}
	for i := range 1000 {
		instants = append(instants, time.Unix(int64(i)*7919*61-2e9, int64(i)*1e6))
	}
	for _, now := range instants {
		u := now.UTC()
		want := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
		start, end, ok := Day().Bounds(now)
		if !ok || !start.Equal(want) || !end.Equal(want.AddDate(0, 0, 1)) {
			t.Fatalf("Day().Bounds(%v) = %v, %v, %v; want %v, %v", now, start, end, ok, want, want.AddDate(0, 0, 1))
		}
	}
}

// TestQuotaRaise: a counter raised to what was spent before a start admits
// only the rest of the quota; Raise never lowers a count, and a raise of a
// past window leaves the current one alone.
func TestQuotaRaise(t *testing.T) {
	q := mustQuotas(t)
	q.Raise("k", 8, Day(), t0)
	if ok, used, _ := q.Take("k", 2, 10, Day(), t0); !ok || used != 10 {
		t.Fatalf("after Raise(8): ok=%v used=%d, want 10", ok, used)
	}
	if ok, _, _ := q.Take("k", 1, 10, Day(), t0); ok {
		t.Fatal("the 11th unit of 10 was admitted")
	}
	q.Raise("k", 3, Day(), t0)
	if _, used, _ := q.Take("k", 0, 10, Day(), t0); used != 10 {
		t.Fatalf("Raise(3) lowered the count to %d", used)
	}
	// The next day starts from zero; a raise for yesterday does not touch it.
	next := t0.Add(24 * time.Hour)
	if ok, used, _ := q.Take("k", 1, 10, Day(), next); !ok || used != 1 {
		t.Fatalf("next day: ok=%v used=%d", ok, used)
	}
	q.Raise("k", 9, Day(), t0)
	if _, used, _ := q.Take("k", 0, 10, Day(), next); used != 1 {
		t.Fatalf("a raise of yesterday changed today to %d", used)
	}
	// A period window outside now is ignored.
	q.Raise("p", 5, Period(next, next.Add(time.Hour)), t0)
	if _, used, _ := q.Take("p", 0, 10, Period(t0, next), t0); used != 0 {
		t.Fatalf("raise of a period not current: used %d", used)
	}
}
