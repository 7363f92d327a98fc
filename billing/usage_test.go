package billing_test

import (
	"context"
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
