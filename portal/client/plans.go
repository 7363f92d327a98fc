package client

import (
	"context"
	"time"
)

// PlanState is where a plan revision is in its life.
type PlanState string

// Plan states: a draft may still change; a published revision is on sale
// and frozen; a deprecated one takes no new subscribers; closed is final.
const (
	PlanDraft      PlanState = "draft"
	PlanPublished  PlanState = "published"
	PlanDeprecated PlanState = "deprecated"
	PlanClosed     PlanState = "closed"
)

// Approval says whether a new subscription starts at once or waits for the
// provider.
type Approval string

// Approval modes.
const (
	ApprovalAuto   Approval = "auto"
	ApprovalManual Approval = "manual"
)

// RateLimit caps how fast one subscription may call.
type RateLimit struct {
	RequestsPerSecond int `json:"requests_per_second"`
	// Burst is how many calls may arrive at once; 0 in a request means the
	// same as RequestsPerSecond.
	Burst int `json:"burst,omitempty"`
}

// Quota caps the calls of one subscription per UTC day and calendar month;
// nil is no cap.
type Quota struct {
	Day   *int64 `json:"day"`
	Month *int64 `json:"month"`
}

// Plan is one revision of a plan. Revisions share the slug; a published
// revision never changes.
type Plan struct {
	ID string `json:"id"`
	// APIID is the id of the API the plan sells.
	APIID       string `json:"api_id,omitempty"`
	Slug        string `json:"slug"`
	Revision    int    `json:"revision"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// PriceCents is the monthly price in the currency's minor unit.
	PriceCents int64 `json:"price_cents"`
	// Currency is a lower-case ISO 4217 code, like usd.
	Currency      string `json:"currency"`
	IncludedCalls int64  `json:"included_calls"`
	// OverageCentsPer1000 prices calls beyond IncludedCalls; nil is a hard
	// limit (those calls are refused).
	OverageCentsPer1000 *int64     `json:"overage_cents_per_1000"`
	RateLimit           *RateLimit `json:"rate_limit"`
	Quota               Quota      `json:"quota"`
	Approval            Approval   `json:"approval"`
	// Versions names the API versions a subscription grants.
	Versions  []string  `json:"versions"`
	TrialDays int       `json:"trial_days"`
	State     PlanState `json:"state"`
	// SupersedesID names the revision this one replaces.
	SupersedesID *string    `json:"supersedes_id"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	PublishedAt  *time.Time `json:"published_at"`
}

// PlanRequest creates a plan (revision 1, a draft).
type PlanRequest struct {
	Slug          string `json:"slug"`
	Name          string `json:"name"`
	Description   string `json:"description,omitempty"`
	PriceCents    int64  `json:"price_cents"`
	Currency      string `json:"currency"`
	IncludedCalls int64  `json:"included_calls"`
	// OverageCentsPer1000 nil makes a hard limit.
	OverageCentsPer1000 *int64     `json:"overage_cents_per_1000"`
	RateLimit           *RateLimit `json:"rate_limit"`
	Quota               Quota      `json:"quota"`
	// Approval defaults to auto.
	Approval  Approval `json:"approval,omitempty"`
	Versions  []string `json:"versions"`
	TrialDays int      `json:"trial_days,omitempty"`
}

// PlanPatch changes some of a plan's terms; unset fields stay. A change to
// a published plan creates a new draft revision; a patch that changes
// nothing returns the plan as it is.
type PlanPatch struct {
	Name          *string `json:"name,omitempty"`
	Description   *string `json:"description,omitempty"`
	PriceCents    *int64  `json:"price_cents,omitempty"`
	Currency      *string `json:"currency,omitempty"`
	IncludedCalls *int64  `json:"included_calls,omitempty"`
	// OverageCentsPer1000 set to Null makes the plan a hard limit.
	OverageCentsPer1000 Nullable[int64] `json:"overage_cents_per_1000,omitzero"`
	// RateLimit is replaced whole; Null removes it.
	RateLimit Nullable[RateLimit] `json:"rate_limit,omitzero"`
	Quota     *QuotaPatch         `json:"quota,omitempty"`
	Approval  *Approval           `json:"approval,omitempty"`
	Versions  *[]string           `json:"versions,omitempty"`
	TrialDays *int                `json:"trial_days,omitempty"`
}

// QuotaPatch changes the day and month quotas independently; Null removes
// one.
type QuotaPatch struct {
	Day   Nullable[int64] `json:"day,omitzero"`
	Month Nullable[int64] `json:"month,omitzero"`
}

func planPath(org, api string, rest ...string) string {
	return path(append([]string{"orgs", org, "apis", api, "plans"}, rest...)...)
}

// ListPlans lists the latest revision of each of an API's plans, by slug.
func (c *Client) ListPlans(ctx context.Context, org, api string, opts ListOptions) (*Page[Plan], error) {
	return listPage[Plan](ctx, c, planPath(org, api), nil, opts)
}

// CreatePlan creates a plan as a draft.
func (c *Client) CreatePlan(ctx context.Context, org, api string, req PlanRequest) (*Plan, error) {
	var out Plan
	if err := c.do(ctx, request{method: "POST", path: planPath(org, api), body: req, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetPlan returns a plan's latest revision: its pending draft if it has one.
func (c *Client) GetPlan(ctx context.Context, org, api, plan string) (*Plan, error) {
	var out Plan
	if err := c.do(ctx, request{method: "GET", path: planPath(org, api, plan), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdatePlan changes some of a plan's terms.
func (c *Client) UpdatePlan(ctx context.Context, org, api, plan string, p PlanPatch) (*Plan, error) {
	var out Plan
	if err := c.do(ctx, request{method: "PATCH", path: planPath(org, api, plan), body: p, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// PublishPlan puts the plan's draft on sale; a revision on sale before it
// becomes deprecated (its subscribers keep it).
func (c *Client) PublishPlan(ctx context.Context, org, api, plan string) (*Plan, error) {
	return c.planAction(ctx, org, api, plan, "publish")
}

// DeprecatePlan stops new subscriptions to the plan; subscribers keep it.
// A pending draft is discarded.
func (c *Client) DeprecatePlan(ctx context.Context, org, api, plan string) (*Plan, error) {
	return c.planAction(ctx, org, api, plan, "deprecate")
}

// ClosePlan ends the plan for good, for subscribers too.
func (c *Client) ClosePlan(ctx context.Context, org, api, plan string) (*Plan, error) {
	return c.planAction(ctx, org, api, plan, "close")
}

func (c *Client) planAction(ctx context.Context, org, api, plan, action string) (*Plan, error) {
	var out Plan
	if err := c.do(ctx, request{method: "POST", path: planPath(org, api, plan, action), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListPlanRevisions lists every revision of a plan, newest first.
func (c *Client) ListPlanRevisions(ctx context.Context, org, api, plan string) ([]Plan, error) {
	return listAll[Plan](ctx, c, planPath(org, api, plan, "revisions"), nil)
}
