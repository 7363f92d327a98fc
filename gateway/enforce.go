package gateway

import (
	"net/http"
	"sync"
	"time"

	"github.com/portico-dev/portico/gateway/limits"
)

// enforcer applies a subscription's rate limit and quotas on this node.
// Limiters are built once per distinct (rate, burst) and shared by every
// subscription with those terms; counters are keyed by subscription.
//
// Counters live in process: on several nodes each enforces its own share
// until the Redis leasing in gateway/limits is wired in (see the gateway
// issue's notes).
type enforcer struct {
	// gcras maps [rate, burst] to its limiter: built on first use, then
	// read without locks on every request.
	gcras  sync.Map
	quotas *limits.Quotas
}

func newEnforcer() (*enforcer, error) {
	q, err := limits.NewQuotas()
	if err != nil {
		return nil, err
	}
	return &enforcer{quotas: q}, nil
}

func (e *enforcer) gcra(rps, burst int) *limits.GCRA {
	if burst < rps {
		burst = rps
	}
	k := [2]int{rps, burst}
	if g, ok := e.gcras.Load(k); ok {
		return g.(*limits.GCRA)
	}
	g, err := limits.NewGCRA(float64(rps), burst)
	if err != nil {
		return nil
	}
	actual, _ := e.gcras.LoadOrStore(k, g)
	return actual.(*limits.GCRA)
}

// admit decides one call. On refusal it has written the 429 and returns
// false; on success it has set the RateLimit headers. Non-billable calls
// pass the quotas without spending them.
func (e *enforcer) admit(w http.ResponseWriter, sub *Subscription, billable bool, now time.Time, requestID string) (bool, string) {
	var policies []limits.Policy
	l := sub.Limits
	if l.RequestsPerSecond > 0 {
		if g := e.gcra(l.RequestsPerSecond, l.Burst); g != nil {
			d := g.Allow(sub.ID, now)
			p := limits.Policy{Name: "burst", Quota: int64(g.Burst()), Window: time.Second, Remaining: int64(d.Remaining), Reset: d.ResetAfter}
			if !d.Allowed {
				limits.WriteRefusal(w, limits.RateLimited, d.RetryAfter, requestID, p)
				return false, string(limits.RateLimited)
			}
			policies = append(policies, p)
		}
	}
	if billable {
		type q struct {
			name   string
			limit  int64
			window limits.Window
			span   time.Duration
		}
		var qs []q
		if l.DayQuota > 0 {
			qs = append(qs, q{"day", l.DayQuota, limits.Day(), 24 * time.Hour})
		}
		period := limits.Period(sub.PeriodStart, sub.PeriodEnd)
		if l.MonthQuota > 0 {
			qs = append(qs, q{"month", l.MonthQuota, period, sub.PeriodEnd.Sub(sub.PeriodStart)})
		}
		if l.HardLimit && l.IncludedCalls > 0 {
			qs = append(qs, q{"included", l.IncludedCalls, period, sub.PeriodEnd.Sub(sub.PeriodStart)})
		}
		for i, x := range qs {
			key := sub.ID + ":" + x.name
			ok, used, reset := e.quotas.Take(key, 1, x.limit, x.window, now)
			p := limits.Policy{Name: x.name, Quota: x.limit, Window: x.span, Remaining: x.limit - used, Reset: reset.Sub(now)}
			if !ok {
				for _, y := range qs[:i] { // give back what this call took
					e.quotas.Release(sub.ID+":"+y.name, 1, y.window, now)
				}
				limits.WriteRefusal(w, limits.QuotaExceeded, reset.Sub(now), requestID, append(policies, p)...)
				return false, string(limits.QuotaExceeded)
			}
			policies = append(policies, p)
		}
	}
	if len(policies) > 0 {
		limits.WriteHeaders(w.Header(), policies...)
	}
	return true, ""
}
