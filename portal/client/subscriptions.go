package client

import (
	"context"
	"net/url"
	"time"
)

// SubscriptionStatus is where a subscription is in its life.
type SubscriptionStatus string

// Subscription statuses. A request waits for the provider (manual
// approval) or for payment; an active subscription may be suspended and
// resumed; the last four are final.
const (
	SubPendingApproval SubscriptionStatus = "pending_approval"
	SubPendingPayment  SubscriptionStatus = "pending_payment"
	SubActive          SubscriptionStatus = "active"
	SubSuspended       SubscriptionStatus = "suspended"
	SubRejected        SubscriptionStatus = "rejected"
	SubCancelled       SubscriptionStatus = "cancelled"
	SubTerminated      SubscriptionStatus = "terminated"
	SubEnded           SubscriptionStatus = "ended"
)

// SubscriptionStatuses lists every status, in the order of a subscription's
// life.
var SubscriptionStatuses = []SubscriptionStatus{
	SubPendingApproval, SubPendingPayment, SubActive, SubSuspended, SubRejected, SubCancelled, SubTerminated, SubEnded,
}

// Subscription is an app's subscription to a plan of an API, seen by the
// partner that owns the app or by the provider of the API.
type Subscription struct {
	ID string `json:"id"`
	// OrgID is the partner organisation, which owns the app.
	OrgID         string `json:"org_id"`
	AppID         string `json:"app_id"`
	ProviderOrgID string `json:"provider_org_id"`
	APIID         string `json:"api_id"`
	// Version is the API version subscribed through, like v1; the plan may
	// grant others too.
	Version string `json:"version"`
	// PlanID is the plan revision whose terms apply now.
	PlanID string `json:"plan_id"`
	// NextPlanID is a downgrade waiting for the end of the period.
	NextPlanID *string            `json:"next_plan_id"`
	Status     SubscriptionStatus `json:"status"`
	// Message is the partner's note to the provider.
	Message string `json:"message"`
	// Reason is the provider's reason for a rejection, suspension or
	// termination.
	Reason string `json:"reason"`
	// Notice says in a sentence what the status means for the partner.
	Notice            string     `json:"notice"`
	PeriodStart       time.Time  `json:"period_start"`
	PeriodEnd         time.Time  `json:"period_end"`
	CancelAtPeriodEnd bool       `json:"cancel_at_period_end"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
	EndedAt           *time.Time `json:"ended_at"`

	PartnerOrgSlug  string `json:"partner_org_slug"`
	PartnerOrgName  string `json:"partner_org_name"`
	AppName         string `json:"app_name"`
	ProviderOrgSlug string `json:"provider_org_slug"`
	ProviderOrgName string `json:"provider_org_name"`
	APISlug         string `json:"api_slug"`
	APIName         string `json:"api_name"`
	// Plan is the revision PlanID names; NextPlan the one NextPlanID names.
	Plan     Plan  `json:"plan"`
	NextPlan *Plan `json:"next_plan"`
}

// SubscriptionEvent is one entry of a subscription's history.
type SubscriptionEvent struct {
	ID             string `json:"id"`
	SubscriptionID string `json:"subscription_id"`
	// Kind is what happened: created, approved, rejected, plan_changed,
	// plan_change_scheduled, plan_change_cancelled, cancel_scheduled,
	// cancelled, suspended, resumed, terminated, ended, version_moved or
	// renewed.
	Kind string `json:"kind"`
	// FromStatus is "" for the event that created the subscription.
	FromStatus SubscriptionStatus `json:"from_status"`
	ToStatus   SubscriptionStatus `json:"to_status"`
	FromPlanID *string            `json:"from_plan_id"`
	ToPlanID   *string            `json:"to_plan_id"`
	// By is partner, provider or system.
	By string `json:"by"`
	// ActorEmail is the member who acted, shown only to their own
	// organisation.
	ActorEmail string    `json:"actor_email"`
	Note       string    `json:"note"`
	CreatedAt  time.Time `json:"created_at"`
}

// SubscribeRequest subscribes one of the organisation's apps to a plan.
type SubscribeRequest struct {
	// App is the app's id.
	App string `json:"app"`
	// API names the API as the market shows it: "{provider-org}/{api}".
	API     string `json:"api"`
	Version string `json:"version"`
	// Plan is the plan's slug.
	Plan string `json:"plan"`
	// Message is a note to the provider, for plans with manual approval.
	Message string `json:"message,omitempty"`
}

// SubscriptionQuery filters the organisation's subscriptions; empty fields
// are not sent.
type SubscriptionQuery struct {
	// App is an app id.
	App    string
	Status SubscriptionStatus
	ListOptions
}

// SubscriberQuery filters an API's subscribers; empty fields are not sent.
type SubscriberQuery struct {
	Status SubscriptionStatus
	// Plan is a plan slug.
	Plan string
	// Q matches part of the partner organisation's name.
	Q string
	ListOptions
}

func filters(pairs ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			v.Set(pairs[i], pairs[i+1])
		}
	}
	return v
}

func subscriptionPath(org string, rest ...string) string {
	return path(append([]string{"orgs", org, "subscriptions"}, rest...)...)
}

func subscriberPath(org, api string, rest ...string) string {
	return path(append([]string{"orgs", org, "apis", api, "subscriptions"}, rest...)...)
}

// ListSubscriptions lists the organisation's subscriptions (as a partner),
// newest first.
func (c *Client) ListSubscriptions(ctx context.Context, org string, q SubscriptionQuery) (*Page[Subscription], error) {
	return listPage[Subscription](ctx, c, subscriptionPath(org), filters("app", q.App, "status", string(q.Status)), q.ListOptions)
}

// ListSubscriptionsAll is ListSubscriptions as a ListFunc, for All and
// Collect.
func (c *Client) ListSubscriptionsAll(org string, q SubscriptionQuery) ListFunc[Subscription] {
	return func(ctx context.Context, o ListOptions) (*Page[Subscription], error) {
		q.ListOptions = o
		return c.ListSubscriptions(ctx, org, q)
	}
}

// Subscribe subscribes an app to a plan. A plan with automatic approval
// starts at once; one with manual approval waits for the provider
// (SubPendingApproval), a paid one for payment (SubPendingPayment).
func (c *Client) Subscribe(ctx context.Context, org string, req SubscribeRequest) (*Subscription, error) {
	var out Subscription
	if err := c.do(ctx, request{method: "POST", path: subscriptionPath(org), body: req, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetSubscription returns one of the organisation's subscriptions.
func (c *Client) GetSubscription(ctx context.Context, org, id string) (*Subscription, error) {
	return c.subscription(ctx, "GET", subscriptionPath(org, id), nil)
}

// SubscriptionHistory lists what happened to a subscription, oldest first;
// the partner and the provider may both read it.
func (c *Client) SubscriptionHistory(ctx context.Context, org, id string) ([]SubscriptionEvent, error) {
	return listAll[SubscriptionEvent](ctx, c, subscriptionPath(org, id, "history"), nil)
}

// ChangeSubscriptionPlan moves a subscription to another plan of the same
// API, keeping its app and keys: an upgrade applies now, a downgrade at the
// end of the period (NextPlan).
func (c *Client) ChangeSubscriptionPlan(ctx context.Context, org, id, plan string) (*Subscription, error) {
	body := struct {
		Plan string `json:"plan"`
	}{plan}
	return c.subscription(ctx, "PATCH", subscriptionPath(org, id), body)
}

// CancelSubscription cancels a subscription: a free plan ends at once, a
// paid one at the end of the period (CancelAtPeriodEnd).
func (c *Client) CancelSubscription(ctx context.Context, org, id string) (*Subscription, error) {
	return c.subscription(ctx, "DELETE", subscriptionPath(org, id), nil)
}

// ListApprovals lists the subscription requests waiting for the
// organisation's decision as a provider, oldest first.
func (c *Client) ListApprovals(ctx context.Context, org string, opts ListOptions) (*Page[Subscription], error) {
	return listPage[Subscription](ctx, c, path("orgs", org, "approvals"), nil, opts)
}

// ListSubscribers lists the subscriptions to one of the organisation's
// APIs (as a provider): partner organisation and app, never keys.
func (c *Client) ListSubscribers(ctx context.Context, org, api string, q SubscriberQuery) (*Page[Subscription], error) {
	return listPage[Subscription](ctx, c, subscriberPath(org, api), filters("status", string(q.Status), "plan", q.Plan, "q", q.Q), q.ListOptions)
}

// ListSubscribersAll is ListSubscribers as a ListFunc, for All and Collect.
func (c *Client) ListSubscribersAll(org, api string, q SubscriberQuery) ListFunc[Subscription] {
	return func(ctx context.Context, o ListOptions) (*Page[Subscription], error) {
		q.ListOptions = o
		return c.ListSubscribers(ctx, org, api, q)
	}
}

// GetSubscriber returns one subscription to the API.
func (c *Client) GetSubscriber(ctx context.Context, org, api, id string) (*Subscription, error) {
	return c.subscription(ctx, "GET", subscriberPath(org, api, id), nil)
}

// ApproveSubscriber approves a pending request (owners and admins).
func (c *Client) ApproveSubscriber(ctx context.Context, org, api, id string) (*Subscription, error) {
	return c.subscription(ctx, "POST", subscriberPath(org, api, id, "approve"), nil)
}

// RejectSubscriber rejects a pending request; the partner sees the reason.
func (c *Client) RejectSubscriber(ctx context.Context, org, api, id, reason string) (*Subscription, error) {
	return c.subscription(ctx, "POST", subscriberPath(org, api, id, "reject"), reasonBody{reason})
}

// SuspendSubscriber suspends a subscription until ResumeSubscriber; the
// gateway refuses its calls meanwhile.
func (c *Client) SuspendSubscriber(ctx context.Context, org, api, id, reason string) (*Subscription, error) {
	return c.subscription(ctx, "POST", subscriberPath(org, api, id, "suspend"), reasonBody{reason})
}

// ResumeSubscriber lifts a suspension.
func (c *Client) ResumeSubscriber(ctx context.Context, org, api, id string) (*Subscription, error) {
	return c.subscription(ctx, "POST", subscriberPath(org, api, id, "resume"), nil)
}

// TerminateSubscriber ends a subscription for good.
func (c *Client) TerminateSubscriber(ctx context.Context, org, api, id, reason string) (*Subscription, error) {
	return c.subscription(ctx, "POST", subscriberPath(org, api, id, "terminate"), reasonBody{reason})
}

type reasonBody struct {
	Reason string `json:"reason"`
}

func (c *Client) subscription(ctx context.Context, method, route string, body any) (*Subscription, error) {
	var out Subscription
	if err := c.do(ctx, request{method: method, path: route, body: body, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}
