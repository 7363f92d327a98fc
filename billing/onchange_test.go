package billing_test

import (
	"context"
	"testing"
	"time"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/tenants"
)

// TestOnChange: every committed change to a subscription the gateway
// enforces calls OnChange once; refused changes and reads do not.
func TestOnChange(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newSubFixture(t, db)
		ctx := context.Background()
		acme, globex := f.acme.org.ID, f.globex.org.ID
		in := terms("both", 0, 1000)
		in.Versions = []string{"v1", "v2"}
		f.plan(t, f.weather, in)
		bigger := terms("bigger", 0, 5000)
		bigger.Versions = []string{"v1", "v2"}
		f.plan(t, f.weather, bigger)
		vip := terms("vip", 0, 1000)
		vip.Approval = billing.ApprovalManual
		f.plan(t, f.weather, vip)
		if f.changes != 0 {
			t.Fatalf("plans announced %d changes; no subscription uses them yet", f.changes)
		}
		step := func(what string, err error, want int) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if f.changes != want {
				t.Fatalf("after %s: OnChange ×%d, want ×%d", what, f.changes, want)
			}
		}
		sub, err := f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app1, Plan: "both"})
		step("subscribe", err, 1)
		_, err = f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app1, Plan: "both"})
		wantCode(t, err, tenants.EConflict)
		step("refused subscribe", nil, 1)
		pending, err := f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app2, Plan: "vip"})
		step("request", err, 2)
		_, err = f.svc.Approve(ctx, acme, pending.ID, f.acme.actor)
		step("approve", err, 3)
		_, err = f.svc.Suspend(ctx, acme, sub.ID, f.acme.actor, "Too many calls.")
		step("suspend", err, 4)
		_, err = f.svc.Resume(ctx, acme, sub.ID, f.acme.actor)
		step("resume", err, 5)
		_, err = f.svc.ChangePlan(ctx, globex, sub.ID, f.globex.actor, "bigger")
		step("upgrade", err, 6)
		_, err = f.svc.Subscription(ctx, globex, sub.ID)
		step("read", err, 6)
		f.now = f.now.AddDate(0, 1, 1)
		n, err := f.svc.RollPeriods(ctx, f.now)
		if n != 2 {
			t.Fatalf("rolled %d", n)
		}
		step("roll two periods", err, 7)
		_, err = f.svc.RollPeriods(ctx, f.now)
		step("roll nothing", err, 7)
		_, err = f.svc.Cancel(ctx, globex, pending.ID, f.globex.actor)
		step("cancel", err, 8)
		_, err = f.cat.Deprecate(ctx, acme, "weather", "v1", f.now.Add(24*time.Hour), f.acme.actor)
		noErr(t, err)
		_, err = f.cat.TakeOffline(ctx, acme, "weather", "v1", f.acme.actor)
		noErr(t, err)
		_, err = f.svc.EndForVersion(ctx, acme, f.weather, "v1", f.acme.actor)
		step("version offline", err, 9)
		_, err = f.svc.EndForVersion(ctx, acme, f.weather, "v1", f.acme.actor)
		step("version offline again", err, 9)
		_, err = f.svc.CancelForApp(ctx, globex, f.app1, f.globex.actor)
		step("app deleted", err, 10)
	})
}
