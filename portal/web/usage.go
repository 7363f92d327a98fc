package web

import (
	"cmp"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/templates/components"
	"github.com/portico-dev/portico/templates/pages/subscriptions"
	"github.com/portico-dev/portico/tenants"
)

// usageNow is the usage views' clock; tests stop it.
var usageNow = time.Now

const (
	// usageDefaultDays is the range the usage chart shows by default:
	// today and the 29 days before.
	usageDefaultDays = 30
	// usageMaxDays is the longest range, as the ledger's query allows.
	usageMaxDays = 400
)

// showsUsage reports whether a subscription's page shows its usage: not
// while it waits for (or was refused) the provider's approval, when no
// call can have been made.
func showsUsage(s billing.Subscription) bool {
	return s.Status != billing.SubPendingApproval && s.Status != billing.SubRejected
}

// usageRange reads ?from= and ?to=, UTC dates with both days included
// (to defaults to today, from to 29 days before to). A date that does not
// parse, to before from or more than usageMaxDays days set the fields'
// errors and a message on u and return the default range instead, so the
// page still shows something true.
func usageRange(c *gin.Context, today time.Time, u *subscriptions.UsageProps) (first, last time.Time) {
	defFirst := today.AddDate(0, 0, 1-usageDefaultDays)
	fromS, toS := c.Query("from"), c.Query("to")
	u.From, u.To = fromS, toS
	u.Custom = fromS != "" || toS != ""
	first, last = defFirst, today
	var fromErr, toErr string
	if toS != "" {
		t, err := time.Parse(time.DateOnly, toS)
		if err != nil {
			toErr = "Enter the last day as a date, like " + today.Format(time.DateOnly) + "."
		}
		last = t
	}
	if fromS != "" {
		t, err := time.Parse(time.DateOnly, fromS)
		if err != nil {
			fromErr = "Enter the first day as a date, like " + defFirst.Format(time.DateOnly) + "."
		}
		first = t
	} else if toErr == "" {
		first = last.AddDate(0, 0, 1-usageDefaultDays)
	}
	if fromErr == "" && toErr == "" {
		switch days := int(last.Sub(first)/(24*time.Hour)) + 1; {
		case last.Before(first) && toS == "":
			fromErr = "The first day is after today: choose today or a day before."
		case last.Before(first):
			toErr = "The last day is before the first one: choose a day on or after " + first.Format(time.DateOnly) + "."
		case days > usageMaxDays:
			toErr = "Choose at most " + strconv.Itoa(usageMaxDays) + " days; this range has " + strconv.Itoa(days) + "."
		}
	}
	if fromErr == "" && toErr == "" {
		u.From, u.To = first.Format(time.DateOnly), last.Format(time.DateOnly)
		return first, last
	}
	u.FromError, u.ToError = fromErr, toErr
	u.Message = "That range cannot be shown, so this is the last " + strconv.Itoa(usageDefaultDays) + " days. " + cmp.Or(fromErr, toErr)
	return defFirst, today
}

// usageView loads a subscription's usage for its page on either side
// (orgID is the reader's organisation, action the page's URL): the quota
// use of the current windows — the UTC day for a daily quota, the
// billing period for a monthly quota and for included calls — and the
// calls per day of the chosen range. Quotas count billable calls, as the
// gateway spends them; the chart shows every call, errors stacked at the
// bottom.
func (w *Console) usageView(c *gin.Context, orgID string, s billing.Subscription, action string) (subscriptions.UsageProps, error) {
	ctx := c.Request.Context()
	now := usageNow().UTC()
	today := now.Truncate(24 * time.Hour) // UTC midnight: days since year 1 are whole
	u := subscriptions.UsageProps{Action: action, DefaultURL: action + "#usage"}
	sum := func(from, to time.Time) (billing.Usage, error) {
		return w.Plans.SubscriptionUsage(ctx, orgID, s.ID, from, to)
	}

	// Quota use now.
	pl := s.Plan
	hasDay := pl.Quota.Day != nil && *pl.Quota.Day > 0
	hasMonth := pl.Quota.Month != nil && *pl.Quota.Month > 0
	hasIncluded := pl.IncludedCalls > 0
	switch {
	case !hasDay && !hasMonth && !hasIncluded:
		u.QuotaNote = "The plan has no quota: its calls are not capped per day or per period."
		if pl.RateLimit != nil {
			u.QuotaNote += " Only its rate limit applies."
		}
	case s.Status != billing.SubActive && s.Status != billing.SubSuspended:
		u.QuotaNote = "The subscription is not active, so no quota is being spent."
		if s.Status == billing.SubPendingPayment {
			u.QuotaNote = "The quotas count from when the subscription becomes active."
		}
	default:
		if hasDay {
			day, err := sum(today, today.AddDate(0, 0, 1))
			if err != nil {
				return u, err
			}
			u.Quotas = append(u.Quotas, quotaMeter("quota-day", "Daily quota", *pl.Quota.Day, day.Billable,
				"Today so far, "+today.Format(time.DateOnly)+" (UTC); it starts again at 00:00 UTC.",
				"Beyond it the gateway refuses the app's billable calls until the next day."))
		}
		if hasMonth || hasIncluded {
			// As the gateway restores its counters.
			period, err := sum(billing.QuotaSpan(s.PeriodStart, s.PeriodEnd))
			if err != nil {
				return u, err
			}
			window := "This billing period so far, " + formatTime(s.PeriodStart) + " to " + formatTime(s.PeriodEnd) + "."
			if hasMonth {
				u.Quotas = append(u.Quotas, quotaMeter("quota-month", "Monthly quota", *pl.Quota.Month, period.Billable, window,
					"Beyond it the gateway refuses the app's billable calls until the next period."))
			}
			if hasIncluded {
				note := "Beyond them the gateway refuses the app's billable calls until the next period (a hard limit)."
				if o := pl.OverageCentsPer1000; o != nil {
					note = "Calls beyond them are billed at " + formatMoney(*o, pl.Currency) + " per 1,000 calls."
					if *o == 0 {
						note = "Calls beyond them are not charged."
					}
				}
				m := quotaMeter("quota-included", "Included calls", pl.IncludedCalls, period.Billable, window, note)
				if o := pl.OverageCentsPer1000; o != nil && period.Billable > pl.IncludedCalls {
					m.Text += " — " + components.Count(period.Billable-pl.IncludedCalls) + " beyond them"
				}
				u.Quotas = append(u.Quotas, m)
			}
		}
		if s.Status == billing.SubSuspended {
			u.QuotaNote = "The subscription is suspended: the gateway refuses all its calls for now."
		}
	}

	// Usage over time.
	first, last := usageRange(c, today, &u)
	r, err := sum(first, last.AddDate(0, 0, 1))
	if err != nil {
		if !isFormError(err) {
			return u, err
		}
		// The ledger refused the range after all: show the default one.
		u.Message = tenants.ErrorMessage(err)
		first, last = today.AddDate(0, 0, 1-usageDefaultDays), today
		if r, err = sum(first, last.AddDate(0, 0, 1)); err != nil {
			return u, err
		}
	}
	points := make([]components.BarPoint, 0, len(r.ByDay))
	for _, d := range r.ByDay {
		points = append(points, components.BarPoint{Label: d.Day, Value: d.Calls, Part: d.Errors, Extra: d.Billable})
	}
	days := int(last.Sub(first)/(24*time.Hour)) + 1
	u.Range = strconv.Itoa(days) + " days, " + first.Format(time.DateOnly) + " to " + last.Format(time.DateOnly) + " (UTC), both included."
	if days == 1 {
		u.Range = "1 day, " + first.Format(time.DateOnly) + " (UTC)."
	}
	u.Chart = components.Chart{
		ID: "usage-chart", Title: "Calls per day", LabelName: "Day (UTC)", ValueName: "calls", PartName: "errors", ExtraName: "billable",
		Points: components.FillDays(first, last, points),
	}
	u.Calls, u.Billable, u.Errors = components.Count(r.Calls), components.Count(r.Billable), components.Count(r.Errors)
	u.ErrorRate = "No calls"
	if r.Calls > 0 {
		u.ErrorRate = strconv.FormatFloat(float64(r.Errors)*100/float64(r.Calls), 'f', 1, 64) + "%"
	}
	return u, nil
}

// quotaMeter is a quota of limit calls of which used are spent: "850 of
// 1,000 used (85%)", a warning from 80% and a danger once all is used.
func quotaMeter(id, label string, limit, used int64, window, note string) subscriptions.QuotaMeter {
	m := subscriptions.QuotaMeter{ID: id, Label: label, Window: window, Used: used, Limit: limit, Note: note, Level: "ok"}
	pct := used * 100 / limit // floor: 99.9% is not yet 100%
	p := strconv.FormatInt(pct, 10) + "%"
	if used > 0 && pct == 0 {
		p = "less than 1%"
	}
	m.Text = components.Count(used) + " of " + components.Count(limit) + " used (" + p + ")"
	switch {
	case used >= limit:
		m.Level = "danger"
	case used*10 >= limit*8:
		m.Level = "warning"
	}
	return m
}
