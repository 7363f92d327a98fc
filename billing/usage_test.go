package billing_test

import (
	"context"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
)

// TestLedgerCountsExactly records events from many goroutines across
// several flushes (a background one and Close) and checks the ledger holds
// each exactly once, grouped by minute and operation.
func TestLedgerCountsExactly(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		ctx := context.Background()
		l := billing.NewLedger(db.DB, 5*time.Millisecond, nil, nil)
		base := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
		var wg sync.WaitGroup
		const workers, each = 8, 250
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < each; i++ {
					l.Record(gateway.UsageEvent{Time: base.Add(time.Duration(i%3) * time.Minute), SubscriptionID: "sub1",
						OperationID: []string{"get", "post"}[i%2], ProviderOrgID: "prov", PartnerOrgID: "part", APIID: "api", Version: "v1",
						AppID: "app", AccessKey: "PK1", Status: []int{200, 500}[i%5/4], Billable: i%2 == 0})
				}
			}(w)
		}
		wg.Wait()
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
		var calls, billable, errs, rows int64
		db.Raw("SELECT COALESCE(SUM(calls),0), COALESCE(SUM(billable),0), COALESCE(SUM(errors),0), COUNT(*) FROM usage_ledger").Row().Scan(&calls, &billable, &errs, &rows)
		if calls != workers*each || billable != workers*each/2 || errs != workers*each/5 || rows != 6 {
			t.Fatalf("ledger: %d calls, %d billable, %d errors in %d rows", calls, billable, errs, rows)
		}
	})
}

// TestLedgerManyOperations: a subscription calling more operations and
// minutes between two flushes than its pending rows are scanned for (they
// are then indexed) still gets one row per operation and minute, through a
// failed flush and the put-back too.
func TestLedgerManyOperations(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		ctx := context.Background()
		l := billing.NewLedger(db.DB, time.Hour, nil, nil)
		base := time.Date(2026, 11, 26, 12, 0, 30, 0, time.UTC)
		const ops, minutes, each = 20, 2, 3
		record := func() {
			for i := range ops * minutes * each {
				l.Record(gateway.UsageEvent{Time: base.Add(time.Duration(i%minutes) * time.Minute), SubscriptionID: "sub1",
					OperationID: "op" + strconv.Itoa(i/minutes%ops), ProviderOrgID: "prov", PartnerOrgID: "part", APIID: "api", Version: "v1",
					AppID: "app", AccessKey: "PK1", Status: 200, Billable: true})
			}
		}
		record()
		failFlush(t, db, l)
		record()
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
		var calls, rows, perRow int64
		db.Raw("SELECT COALESCE(SUM(calls),0), COUNT(*), COALESCE(MAX(calls),0) FROM usage_ledger").Row().Scan(&calls, &rows, &perRow)
		if calls != 2*ops*minutes*each || rows != ops*minutes || perRow != 2*each {
			t.Fatalf("ledger: %d calls in %d rows (at most %d a row), want %d in %d (%d each)", calls, rows, perRow, 2*ops*minutes*each, ops*minutes, 2*each)
		}
	})
}

// TestLedgerShardsPutBack: usage of many subscriptions (spread over the
// ledger's shards) recorded concurrently, a flush that fails and puts its
// batch back, more calls, then a flush that succeeds: every call is in the
// ledger once, and each key's last use is its latest across subscriptions.
func TestLedgerShardsPutBack(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		ctx := context.Background()
		var touched map[string]time.Time
		l := billing.NewLedger(db.DB, time.Hour, nil, func(_ context.Context, used map[string]time.Time) error {
			touched = used
			return nil
		})
		base := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
		const subs, keys = 40, 7
		record := func(n int) {
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range n {
						j := w*n + i
						l.Record(gateway.UsageEvent{Time: base.Add(time.Duration(j%90) * time.Second), SubscriptionID: "sub" + strconv.Itoa(j%subs),
							OperationID: "get", ProviderOrgID: "prov", PartnerOrgID: "part", APIID: "api", Version: "v1", AppID: "app",
							AccessKey: "PK" + strconv.Itoa(j%keys), Status: 200, Billable: true})
					}
				}()
			}
			wg.Wait()
		}
		record(300)
		failFlush(t, db, l)
		record(200)
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
		var calls, rows int64
		db.Raw("SELECT COALESCE(SUM(calls),0), COUNT(*) FROM usage_ledger").Row().Scan(&calls, &rows)
		if calls != 4*300+4*200 || rows != subs*2 {
			t.Fatalf("ledger: %d calls in %d rows, want %d in %d", calls, rows, 4*300+4*200, subs*2)
		}
		if len(touched) != keys {
			t.Fatalf("last use of %d keys, want %d", len(touched), keys)
		}
		for k, at := range touched {
			if want := base.Add(89 * time.Second); !at.Equal(want) {
				t.Errorf("%s last used %v, want %v", k, at, want)
			}
		}
	})
}

// TestLedgerQuotaUse: the billable calls in each subscription's day and
// period windows, bounds included and excluded as the gateway counts them,
// the minute a period began counted whole.
func TestLedgerQuotaUse(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		ctx := context.Background()
		l := billing.NewLedger(db.DB, time.Hour, nil, nil)
		day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
		periodStart := time.Date(2026, 11, 10, 8, 30, 20, 0, time.UTC)
		rec := func(sub string, at time.Time, billable bool, n int) {
			for range n {
				l.Record(gateway.UsageEvent{Time: at, SubscriptionID: sub, OperationID: "op", ProviderOrgID: "prov", PartnerOrgID: "part",
					APIID: "api", Version: "v1", AppID: "app", AccessKey: "PK1", Status: 200, Billable: billable})
			}
		}
		rec("s1", day.Add(-time.Second), true, 1)                         // yesterday: period only
		rec("s1", day, true, 2)                                           // today
		rec("s1", day.Add(13*time.Hour), true, 3)                         // today
		rec("s1", day.Add(13*time.Hour), false, 4)                        // not billable
		rec("s1", periodStart.Add(-time.Minute), true, 5)                 // before the period
		rec("s1", periodStart.Add(10*time.Second), true, 6)               // in the period's first minute
		rec("s2", day.Add(time.Hour), true, 7)                            // another subscription
		rec("s3", day.Add(-48*time.Hour), true, 8)                        // nothing in its windows
		rec("s1", periodStart.AddDate(0, 1, 0).Add(time.Minute), true, 9) // the next period
		if err := l.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		ws := []gateway.QuotaWindow{
			{SubscriptionID: "s1", DayStart: day, DayEnd: day.Add(24 * time.Hour), PeriodStart: periodStart, PeriodEnd: periodStart.AddDate(0, 1, 0)},
			{SubscriptionID: "s2", DayStart: day, DayEnd: day.Add(24 * time.Hour)},
			{SubscriptionID: "s3", DayStart: day, DayEnd: day.Add(24 * time.Hour), PeriodStart: day.Add(-time.Hour), PeriodEnd: day.Add(time.Hour)},
		}
		// More subscriptions than one batch of conditions holds.
		for i := range 450 {
			ws = append(ws, gateway.QuotaWindow{SubscriptionID: "none" + strconv.Itoa(i), DayStart: day, DayEnd: day.Add(24 * time.Hour)})
		}
		got, err := l.QuotaUse(ctx, ws)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]gateway.QuotaUse{"s1": {Day: 5, Period: 1 + 2 + 3 + 6}, "s2": {Day: 7}}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("QuotaUse = %v, want %v", got, want)
		}
	})
}

// TestLedgerCountsBrokenAnswersAsErrors: an answer that broke off after
// its head keeps the status it was sent, but is an error in the ledger,
// as the gateway's failures (5xx) and a client that left before any answer
// (499) are; an answer that did not break off is not.
func TestLedgerCountsBrokenAnswersAsErrors(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		ctx := context.Background()
		l := billing.NewLedger(db.DB, time.Hour, nil, nil)
		at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
		for _, e := range []struct {
			status int
			broken bool
		}{{200, false}, {200, true}, {101, false}, {206, true}, {404, false}, {499, false}, {502, false}} {
			l.Record(gateway.UsageEvent{Time: at, SubscriptionID: "sub1", OperationID: "get", ProviderOrgID: "prov", PartnerOrgID: "part",
				APIID: "api", Version: "v1", AppID: "app", AccessKey: "PK1", Status: e.status, Broken: e.broken, Billable: true})
		}
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
		var calls, errs int64
		db.Raw("SELECT COALESCE(SUM(calls),0), COALESCE(SUM(errors),0) FROM usage_ledger").Row().Scan(&calls, &errs)
		if calls != 7 || errs != 4 {
			t.Fatalf("ledger: %d calls and %d errors, want 7 and 4 (the two broken off, the 499 and the 502)", calls, errs)
		}
	})
}

// A quota window that begins mid-minute counts its first minute whole: the
// ledger has no finer grain, and leaving that minute out would let calls
// in it go uncounted.
func TestQuotaSpan(t *testing.T) {
	start := time.Date(2026, 11, 1, 9, 30, 45, 0, time.FixedZone("CET", 3600))
	end := start.AddDate(0, 1, 0)
	from, to := billing.QuotaSpan(start, end)
	if want := time.Date(2026, 11, 1, 8, 30, 0, 0, time.UTC); !from.Equal(want) || from.Location() != time.UTC {
		t.Fatalf("from = %v, want %v", from, want)
	}
	if !to.Equal(end) || to.Location() != time.UTC {
		t.Fatalf("to = %v, want %v in UTC", to, end)
	}
}

// failFlush makes one flush of l fail (its table is away meanwhile), so that
// the batch is put back.
func failFlush(t *testing.T, db *migrations.DB, l *billing.Ledger) {
	t.Helper()
	if err := db.Exec("ALTER TABLE usage_ledger RENAME TO usage_ledger_away").Error; err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(context.Background()); err == nil {
		t.Fatal("flush into a missing table succeeded")
	}
	if err := db.Exec("ALTER TABLE usage_ledger_away RENAME TO usage_ledger").Error; err != nil {
		t.Fatal(err)
	}
}

// TestLedgerSlots: events carrying the gateway's per-subscription slots
// are counted exactly like events without, across flushes (a successful
// one, a failed one put back) and while flushes run; a slot that holds
// another ledger's entry, or one filled by another subscription, is not
// trusted.
func TestLedgerSlots(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		ctx := context.Background()
		l := billing.NewLedger(db.DB, time.Hour, nil, nil)
		base := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
		const subs = 12
		slots := make([]gateway.MeterSlot, subs)
		want := map[string]int64{}
		event := func(sub, i int) gateway.UsageEvent {
			return gateway.UsageEvent{Time: base.Add(time.Duration(i%150) * time.Second), SubscriptionID: "sub" + strconv.Itoa(sub),
				OperationID: "op" + strconv.Itoa(i%3), ProviderOrgID: "prov", PartnerOrgID: "part", APIID: "api", Version: "v1", AppID: "app",
				AccessKey: "PK1", Status: 200, Billable: true, Slot: &slots[sub]}
		}
		var mu sync.Mutex
		record := func(workers, n int) {
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range n {
						sub := (w*7 + i) % subs
						l.Record(event(sub, i))
						mu.Lock()
						want["sub"+strconv.Itoa(sub)]++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
		}
		record(4, 500)
		if err := l.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		record(4, 500) // every slot holds an entry of a past generation
		failFlush(t, db, l)
		// Flushes racing the calls.
		stop := make(chan struct{})
		flushed := make(chan error, 1)
		go func() {
			var err error
			for {
				select {
				case <-stop:
					flushed <- err
					return
				default:
				}
				if e := l.Flush(ctx); e != nil && err == nil {
					err = e
				}
			}
		}()
		record(4, 2000)
		close(stop)
		if err := <-flushed; err != nil {
			t.Fatal(err)
		}
		// One slot filled by sub1's calls, then used for sub2's: sub2's
		// calls still count as sub2's.
		for i := range 10 {
			e := event(1, i)
			e.SubscriptionID = "sub2"
			l.Record(e)
			want["sub2"]++
		}
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		rows, err := db.Raw("SELECT subscription_id, SUM(calls) FROM usage_ledger GROUP BY subscription_id").Rows()
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id string
			var n int64
			if err := rows.Scan(&id, &n); err != nil {
				t.Fatal(err)
			}
			got[id] = n
		}
		rows.Close()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ledger by subscription: %v, want %v", got, want)
		}

		// Another ledger given slots this one filled keeps its own
		// count: its flush holds every call it was given.
		l2 := billing.NewLedger(db.DB, time.Hour, nil, nil)
		l3 := billing.NewLedger(db.DB, time.Hour, nil, nil)
		for i := range 30 {
			l3.Record(event(i%subs, i))
		}
		for i := range 30 {
			l2.Record(event(i%subs, i))
		}
		if err := l2.Close(ctx); err != nil {
			t.Fatal(err)
		}
		var total int64
		db.Raw("SELECT COALESCE(SUM(calls),0) FROM usage_ledger").Row().Scan(&total)
		var before int64
		for _, n := range want {
			before += n
		}
		if total != before+30 {
			t.Fatalf("after the second ledger's flush: %d calls, want %d", total, before+30)
		}
		if err := l3.Close(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
