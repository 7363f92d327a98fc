package gateway

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-dev/portico/gateway/limits"
)

// enforcer applies a subscription's rate limit and quotas. Without Redis
// the counters live in this process (one node). With Redis (shared != nil)
// every node draws on one budget: rate tokens and quota units are leased
// from Redis in blocks and admitted locally, so a hard quota holds across
// nodes and Redis is not on the path of each request. Local limiters are
// built once per distinct (rate, burst) and shared by every subscription
// with those terms; counters are keyed by subscription.
type enforcer struct {
	// gcras maps [rate, burst] to its limiter: a map replaced whole when a
	// new pair first appears, so requests read it without a lock or an
	// allocation (a sync.Map would box the key on every lookup).
	gcras   atomic.Pointer[map[[2]int]*limits.GCRA]
	gcrasMu sync.Mutex
	quotas  *limits.Quotas
	rates   *limits.RateLeaser // nil without Redis
	leaser  *limits.Leaser     // nil without Redis

	lastSweep atomic.Int64
	sweeping  atomic.Bool
}

func newEnforcer(rates *limits.RateLeaser, leaser *limits.Leaser) (*enforcer, error) {
	q, err := limits.NewQuotas()
	if err != nil {
		return nil, err
	}
	e := &enforcer{quotas: q, rates: rates, leaser: leaser}
	e.gcras.Store(&map[[2]int]*limits.GCRA{})
	if rates != nil {
		// Count the nodes at once, for the fail-open shares; the sweeps
		// keep announcing.
		go rates.Announce(context.Background())
	}
	return e, nil
}

func (e *enforcer) gcra(rps, burst int) *limits.GCRA {
	if burst < rps {
		burst = rps
	}
	k := [2]int{rps, burst}
	if g, ok := (*e.gcras.Load())[k]; ok {
		return g
	}
	e.gcrasMu.Lock()
	defer e.gcrasMu.Unlock()
	cur := *e.gcras.Load()
	if g, ok := cur[k]; ok {
		return g
	}
	g, err := limits.NewGCRA(float64(rps), burst)
	if err != nil {
		return nil
	}
	next := make(map[[2]int]*limits.GCRA, len(cur)+1)
	for kk, v := range cur {
		next[kk] = v
	}
	next[k] = g
	e.gcras.Store(&next)
	return g
}

// subCells keeps a subscription's per-call state at hand: the record built
// into a Subscription once, and its in-process limiter state — the
// cells of its rate limit and quota counters, found by key on the
// subscription's first call after a reload and then reached through its
// compiled record, without hashing or comparing its 36-character ID on
// every call (under load each lookup was a few cache misses). The limiters
// own the state: a cell they drop is dead, and the next call finds the
// key's current one. With Redis the same holds for the leases of the
// rate limit and quotas (a sync.Map lookup each, by a key built for the
// call: 1.2 µs a call under load). The meter keeps the subscription's
// pending usage at hand the same way (meter).
type subCells struct {
	sub   atomic.Pointer[Subscription] // the record as a value (Snapshot.subscriptionRef)
	rate  atomic.Pointer[limits.Cell]
	quota [3]atomic.Pointer[limits.Counter] // by quotaCheck.slot
	// With Redis, the leases of the rate limit and of the quotas, kept
	// the same way (a lease the leaser no longer Holds is looked up anew).
	rateLease  atomic.Pointer[limits.RateLease]
	quotaLease [3]atomic.Pointer[limits.Lease]
	meter      MeterSlot
}

// allow is g.Allow for sub, through its cell when it has one.
func (e *enforcer) allow(g *limits.GCRA, sub *Subscription, now time.Time) limits.Decision {
	if sub.cells == nil {
		return g.Allow(sub.ID, now)
	}
	if c := sub.cells.rate.Load(); c != nil {
		if d, ok := g.AllowCell(c, now); ok {
			return d
		}
	}
	c := g.Cell(sub.ID, now)
	sub.cells.rate.Store(c)
	if d, ok := g.AllowCell(c, now); ok {
		return d
	}
	return g.Allow(sub.ID, now) // dropped again at once: a limiter at its key bound
}

// take is e.quotas.Take of one unit of sub's quota x, through its counter
// when it has one.
func (e *enforcer) take(sub *Subscription, x *quotaCheck, now time.Time) (bool, int64, time.Time) {
	if sub.cells != nil {
		slot := &sub.cells.quota[x.slot]
		if c := slot.Load(); c != nil {
			if ok, used, resetAt, live := e.quotas.TakeCounter(c, 1, x.limit, x.window, now); live {
				return ok, used, resetAt
			}
		}
		c := e.quotas.Counter(quotaKey(sub, x), x.window, now)
		slot.Store(c)
		if ok, used, resetAt, live := e.quotas.TakeCounter(c, 1, x.limit, x.window, now); live {
			return ok, used, resetAt
		}
	}
	return e.quotas.Take(quotaKey(sub, x), 1, x.limit, x.window, now)
}

// takeRate is e.rates.Take for sub, through the lease its cells keep.
func (e *enforcer) takeRate(ctx context.Context, sub *Subscription, rate, burst int, now time.Time) limits.Decision {
	if sub.cells == nil {
		return e.rates.Take(ctx, sub.ID, rate, burst, now)
	}
	ls := sub.cells.rateLease.Load()
	if ls == nil || !e.rates.Holds(ls) {
		ls = e.rates.Lease(sub.ID, rate, burst)
		sub.cells.rateLease.Store(ls)
	}
	return e.rates.TakeFrom(ctx, ls, now)
}

// quotaLease is e.leaser.Lease for sub's quota x, kept in its cells.
func (e *enforcer) quotaLease(sub *Subscription, x *quotaCheck) *limits.Lease {
	if sub.cells == nil {
		return e.leaser.Lease(quotaKey(sub, x), x.limit, x.window)
	}
	slot := &sub.cells.quotaLease[x.slot]
	ls := slot.Load()
	if ls == nil || !e.leaser.Holds(ls) {
		ls = e.leaser.Lease(quotaKey(sub, x), x.limit, x.window)
		slot.Store(ls)
	}
	return ls
}

// quotaKey is the key sub's quota x counts under, in process and in Redis.
func quotaKey(sub *Subscription, x *quotaCheck) string { return sub.ID + ":" + x.name }

// quotaCheck is one quota a call spends.
type quotaCheck struct {
	slot   int // its subCells.quota entry
	name   string
	limit  int64
	window limits.Window
	span   time.Duration
	lease  *limits.Lease // with Redis
	grant  limits.Grant
}

// quotaChecks lists the quotas a billable call of sub spends, in the order
// admit takes them: its plan's day quota, monthly quota and hard limit on
// included calls, the last two over its billing period. Each counts under
// the key sub.ID + ":" + name.
func quotaChecks(sub *Subscription) (qs [3]quotaCheck, n int) {
	l := &sub.Limits
	if l.DayQuota > 0 {
		qs[n] = quotaCheck{slot: 0, name: "day", limit: l.DayQuota, window: limits.Day(), span: 24 * time.Hour}
		n++
	}
	period := limits.Period(sub.PeriodStart, sub.PeriodEnd)
	if l.MonthQuota > 0 {
		qs[n] = quotaCheck{slot: 1, name: "month", limit: l.MonthQuota, window: period, span: sub.PeriodEnd.Sub(sub.PeriodStart)}
		n++
	}
	if l.HardLimit && l.IncludedCalls > 0 {
		qs[n] = quotaCheck{slot: 2, name: "included", limit: l.IncludedCalls, window: period, span: sub.PeriodEnd.Sub(sub.PeriodStart)}
		n++
	}
	return qs, n
}

// admit decides one call. On refusal it has written the 429 and returns
// false; on success it has set the RateLimit headers. Non-billable calls
// pass the quotas without spending them.
func (e *enforcer) admit(ctx context.Context, w *meteredWriter, sub *Subscription, billable bool, now time.Time, requestID string) (bool, string) {
	e.maybeSweep(now)
	var policies [4]limits.Policy
	np := 0
	l := sub.Limits
	if l.RequestsPerSecond > 0 {
		burst := max(l.Burst, l.RequestsPerSecond)
		var d limits.Decision
		if e.rates != nil {
			d = e.takeRate(ctx, sub, l.RequestsPerSecond, burst, now)
		} else if g := e.gcra(l.RequestsPerSecond, burst); g != nil {
			d = e.allow(g, sub, now)
		} else {
			d.Allowed = true
		}
		p := limits.Policy{Name: "burst", Quota: int64(burst), Window: time.Second, Remaining: int64(d.Remaining), Reset: d.ResetAfter}
		if !d.Allowed {
			limits.WriteRefusal(w, limits.RateLimited, d.RetryAfter, requestID, p)
			return false, string(limits.RateLimited)
		}
		policies[np] = p
		np++
	}
	if billable {
		qs, nq := quotaChecks(sub)
		for i := range nq {
			x := &qs[i]
			var ok bool
			var remaining int64
			var reset time.Duration
			if e.leaser != nil {
				x.lease = e.quotaLease(sub, x)
				var resetAt time.Time
				x.grant, remaining, resetAt = x.lease.TakeGrant(ctx, x.window, now)
				ok, reset = x.grant != limits.Refused, resetAt.Sub(now)
			} else {
				var used int64
				var resetAt time.Time
				ok, used, resetAt = e.take(sub, x, now)
				remaining, reset = x.limit-used, resetAt.Sub(now)
			}
			p := limits.Policy{Name: x.name, Quota: x.limit, Window: x.span, Remaining: remaining, Reset: reset}
			if !ok {
				for j := range qs[:i] { // give back what this call took
					if y := &qs[j]; y.lease != nil {
						y.lease.Return(y.grant, y.window, now)
					} else {
						e.quotas.Release(quotaKey(sub, y), 1, y.window, now)
					}
				}
				policies[np] = p
				np++
				limits.WriteRefusal(w, limits.QuotaExceeded, reset, requestID, policies[:np]...)
				return false, string(limits.QuotaExceeded)
			}
			policies[np] = p
			np++
		}
	}
	if np > 0 {
		limits.WriteHeadersTo(w.Header(), &w.rateLimit, policies[:np]...)
	}
	return true, ""
}

// sweepEvery is how often idle limiter state is dropped and idle leases
// hand their units back to Redis.
const sweepEvery = 10 * time.Second

// maybeSweep starts a sweep in the background when one is due; requests
// never wait for it.
func (e *enforcer) maybeSweep(now time.Time) {
	n := now.UnixNano()
	last := e.lastSweep.Load()
	if n-last < int64(sweepEvery) || !e.lastSweep.CompareAndSwap(last, n) || !e.sweeping.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer e.sweeping.Store(false)
		for _, g := range *e.gcras.Load() {
			g.Sweep(now)
		}
		e.quotas.Sweep(now)
		if e.rates != nil {
			e.rates.Sweep(now)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			e.rates.Announce(ctx) // failing with Redis, which the calls report
			cancel()
		}
		if e.leaser != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			e.leaser.Sweep(ctx, now)
			cancel()
		}
	}()
}

// release hands every leased quota unit back to Redis, so that a node
// leaving the cluster does not strand budget the others could use, and
// leaves the set of live nodes.
func (e *enforcer) release(ctx context.Context) {
	if e.leaser != nil {
		e.leaser.ReleaseAll(ctx)
	}
	if e.rates != nil {
		e.rates.Leave(ctx)
	}
}
