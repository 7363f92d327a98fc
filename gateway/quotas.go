package gateway

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/portico-dev/portico/gateway/limits"
)

// QuotaWindow is one subscription's quota windows current when a node
// starts: the UTC day when its plan has a day quota, and its billing
// period when the plan has a monthly quota or a hard limit on included
// calls. A window a plan does not count over is zero.
type QuotaWindow struct {
	SubscriptionID         string
	DayStart, DayEnd       time.Time
	PeriodStart, PeriodEnd time.Time
}

// QuotaUse is what a subscription has spent in its windows: the billable
// calls the gateway admitted, as the usage ledger counts them.
type QuotaUse struct {
	Day, Period int64
}

// QuotaLedger reports the spent quota of the given windows; subscriptions
// that spent nothing may be left out. billing.Ledger.QuotaUse is one.
type QuotaLedger func(ctx context.Context, ws []QuotaWindow) (map[string]QuotaUse, error)

// RestoreQuotas raises the quota counters of every subscription in the
// configuration now served (suspended ones too: they may resume within
// the window) to what ledger says was spent in the windows current at
// now, and returns how many of them had spent some. A node calls it when
// it starts, before it serves: otherwise a restart (or, with Redis, a
// Redis that lost its data) would hand every partner a fresh day's and
// period's quota. In process the counters are this node's; with
// Redis they are the shared ones, raised but never lowered (they also hold
// units nodes have leased and not yet spent). Calls admitted after the
// ledger's last flush — at most the flush interval's, and none after a
// graceful stop, which flushes — are not in it.
//
// The handler keeps ledger: when Redis turns out to have lost a quota
// counter later (a restart without persistence, a flush), it restores
// them all from it again (restoreLostQuotas).
func (h *Handler) RestoreQuotas(ctx context.Context, now time.Time, ledger QuotaLedger) (int, error) {
	if ledger != nil {
		h.quotaLedger.Store(&ledger)
	}
	snap := h.store.Load()
	if snap == nil || h.limits == nil {
		return 0, nil
	}
	dayStart, dayEnd, _ := limits.Day().Bounds(now)
	var ws []QuotaWindow
	subs := map[string]Subscription{}
	for sub := range snap.allSubscriptions() {
		w := QuotaWindow{SubscriptionID: sub.ID}
		qs, nq := quotaChecks(&sub)
		for _, x := range qs[:nq] {
			if x.name == "day" {
				w.DayStart, w.DayEnd = dayStart, dayEnd
			} else if _, _, ok := x.window.Bounds(now); ok {
				w.PeriodStart, w.PeriodEnd = sub.PeriodStart, sub.PeriodEnd
			}
		}
		if w.DayStart.IsZero() && w.PeriodStart.IsZero() {
			continue
		}
		ws = append(ws, w)
		subs[sub.ID] = sub
	}
	if len(ws) == 0 {
		return 0, nil
	}
	use, err := ledger(ctx, ws)
	if err != nil {
		return 0, fmt.Errorf("restore quotas: %w", err)
	}
	var raises []limits.Raise
	n := 0
	for id, u := range use {
		sub, ok := subs[id]
		if !ok || u.Day <= 0 && u.Period <= 0 {
			continue
		}
		n++
		// The keys and windows admit counts under.
		qs, nq := quotaChecks(&sub)
		for _, x := range qs[:nq] {
			used := u.Period
			if x.name == "day" {
				used = u.Day
			}
			if used > 0 {
				raises = append(raises, limits.Raise{Key: quotaKey(&sub, &x), Used: used, W: x.window})
			}
		}
	}
	if e := h.limits; e.leaser != nil {
		if err := e.leaser.RaiseAll(ctx, raises, now); err != nil {
			return 0, fmt.Errorf("restore quotas: %w", err)
		}
	} else {
		for _, r := range raises {
			e.quotas.Raise(r.Key, r.Used, r.W, now)
		}
	}
	return n, nil
}

// allSubscriptions yields the snapshot's subscriptions.
func (s *Snapshot) allSubscriptions() iter.Seq[Subscription] {
	return func(yield func(Subscription) bool) {
		for i := range s.subs {
			if !yield(s.subscription(i)) {
				return
			}
		}
	}
}

// lostRestoreEvery spaces the restores Redis losing counters sets off:
// every node notices the loss on each counter it uses.
const lostRestoreEvery = 10 * time.Second

// restoreLostQuotas runs RestoreQuotas again, in the background, with the
// ledger it last read, after Redis lost a quota counter: the counter
// started again from this node's last view of it, and the others from
// nothing. Calls admitted since the ledger's last flush are not in it.
func (h *Handler) restoreLostQuotas() {
	now := h.now()
	last := h.lostRestore.Load()
	if last != 0 && now.UnixNano()-last < int64(lostRestoreEvery) || !h.lostRestore.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	ledger := h.quotaLedger.Load()
	if ledger == nil {
		h.log.Warn("redis lost quota counters, and no usage ledger to restore them from: they count from what this node last saw")
		return
	}
	h.log.Warn("redis lost quota counters (a restart without persistence, or a flush): restoring them from the usage ledger")
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		n, err := h.RestoreQuotas(ctx, h.now(), *ledger)
		if err != nil {
			h.log.Error("redis quota counters: restore from the usage ledger failed", "err", err)
			return
		}
		h.log.Info("redis quota counters: restored from the usage ledger", "subscriptions_with_use", n)
	}()
}
