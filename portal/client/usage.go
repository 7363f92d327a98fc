package client

import "context"

// UsageQuery is the time range of SubscriptionUsage; empty fields are not
// sent. The server checks the values: a malformed one is a 422 problem
// naming the field.
type UsageQuery struct {
	// From is a date (2026-11-01, from the start of that UTC day) or an
	// RFC 3339 time, included; "" is 30 days before To.
	From string
	// To is a date, which includes that whole UTC day, or an RFC 3339 time,
	// excluded; "" is now.
	To string
}

// Usage is a subscription's metered usage over a time range, from the usage
// ledger.
type Usage struct {
	// Calls counts every call the gateway answered for the subscription.
	Calls int64 `json:"calls"`
	// Billable counts the calls of billable operations.
	Billable int64 `json:"billable"`
	// Errors counts the calls answered with a 5xx status or abandoned by
	// the caller (499).
	Errors int64 `json:"errors"`
	// ByDay holds one entry per UTC day with calls, oldest first; days
	// without calls are left out.
	ByDay []DayUsage `json:"by_day"`
}

// DayUsage is one UTC day of a subscription's usage.
type DayUsage struct {
	// Day is the date, like 2026-11-26.
	Day      string `json:"day"`
	Calls    int64  `json:"calls"`
	Billable int64  `json:"billable"`
	Errors   int64  `json:"errors"`
}

// SubscriptionUsage sums the metered calls of a subscription over q's range
// (by default the last 30 days). The subscription's partner organisation
// and its provider may both read it; for any other org it is not found.
func (c *Client) SubscriptionUsage(ctx context.Context, org, id string, q UsageQuery) (*Usage, error) {
	var out Usage
	if err := c.do(ctx, request{method: "GET", path: subscriptionPath(org, id, "usage"), query: filters("from", q.From, "to", q.To), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}
