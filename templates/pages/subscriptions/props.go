// Package subscriptions renders subscriptions from both sides: the
// partner's list and subscription page (terms, status, history, plan
// change, cancellation), and the provider's subscribers, approval queue and
// subscriber page (approve, reject, suspend, resume, terminate). Providers
// see who subscribes with which app, never the partner's keys.
package subscriptions

import (
	"github.com/portico-dev/portico/templates/components"
	"github.com/portico-dev/portico/templates/layout"
	"github.com/portico-dev/portico/templates/pages/market"
)

// ListProps drive GET /orgs/{org}/subscriptions?app=&status=: the
// partner's subscriptions with a GET filter form (no CSRF token).
type ListProps struct {
	Page layout.Page
	Rows []Row
	// Apps and Statuses are the filter's options, the first one "all".
	Apps      []components.Option
	Statuses  []components.Option
	App       string
	Status    string
	CanManage bool
	FirstURL  string
	NextURL   string
}

// Filtered reports whether a filter narrows the list.
func (p ListProps) Filtered() bool { return p.App != "" || p.Status != "" }

// Row is one of the partner's subscriptions, formatted.
type Row struct {
	URL      string
	App      string
	AppURL   string
	API      string
	Provider string
	Version  string
	Plan     string
	// Status is the status value (like "pending_approval"), StatusLabel
	// its words.
	Status      string
	StatusLabel string
	Notice      string
	Created     string
}

// DetailProps drive GET /orgs/{org}/subscriptions/{id}?from=&to=: the
// plan's terms and limits, the status with its notice, the period, the
// quota use and usage (Usage, left out while Usage.Action is ""), the
// history and, for those who manage apps, the plan change (POST
// {Action}/plan, field plan) and cancellation (POST {Action}/cancel).
// KeyAction, when set, offers to create the app's first key (POST, field
// name).
type DetailProps struct {
	Page        layout.Page
	ID          string
	Action      string
	AppName     string
	AppURL      string
	APIName     string
	Provider    string
	MarketURL   string
	Version     string
	Status      string
	StatusLabel string
	Notice      string
	// Message is what the partner wrote to the provider.
	Message     string
	Plan        market.PlanTerms
	NextPlan    string
	PeriodStart string
	PeriodEnd   string
	Created     string
	Ended       string
	// CancelAtPeriodEnd: a paid subscription cancelled, ending at
	// PeriodEnd.
	CancelAtPeriodEnd bool
	Paid              bool
	Live              bool
	CanManage         bool
	History           []EventRow

	// CanChangePlan shows the plan change form with PlanOptions (the API's
	// plans on sale), ChosenPlan selected; PlanMessage is why the last
	// change was refused.
	CanChangePlan bool
	PlanOptions   []components.Option
	ChosenPlan    string
	PlanMessage   string
	CanCancel     bool
	KeyAction     string

	// Usage is the quota use now and the usage over time.
	Usage UsageProps
}

// EventRow is one entry of a subscription's history, formatted.
type EventRow struct {
	When string
	What string
	// By is who acted, with their email when they belong to the reader's
	// organisation.
	By string
	// Status is "active", "pending approval → active" or "" when the
	// status stayed.
	Status string
	// Plan is "Free → Gold" when the plan changed.
	Plan string
	Note string
}

// SubscribersProps drive GET
// /orgs/{org}/subscribers?api=&status=&plan=&q=: every subscription to the
// provider's APIs with a GET filter form.
type SubscribersProps struct {
	Page layout.Page
	Rows []SubscriberRow
	// APIs, Plans and Statuses are the filter's options, the first one
	// "all".
	APIs     []components.Option
	Plans    []components.Option
	Statuses []components.Option
	API      string
	Plan     string
	Status   string
	Q        string
	// Message reports a filter the list could not use.
	Message          string
	CanDecide        bool
	PendingApprovals int
	ApprovalsURL     string
	FirstURL         string
	NextURL          string
}

// Filtered reports whether a filter narrows the list.
func (p SubscribersProps) Filtered() bool {
	return p.API != "" || p.Plan != "" || p.Status != "" || p.Q != ""
}

// SubscriberRow is one subscription to the provider's APIs.
type SubscriberRow struct {
	URL         string
	Partner     string
	App         string
	API         string
	Version     string
	Plan        string
	Status      string
	StatusLabel string
	Since       string
}

// ApprovalsProps drive GET /orgs/{org}/approvals: the requests waiting for
// the provider, oldest first. Owners and admins approve (POST
// {ApproveAction}) or reject with a reason (POST {RejectAction}, field
// reason); both forms send from=approvals to come back here.
type ApprovalsProps struct {
	Page           layout.Page
	Requests       []RequestRow
	CanDecide      bool
	SubscribersURL string
	FirstURL       string
	NextURL        string
}

// RequestRow is one request for approval. Error and Reason carry a failed
// rejection back to its row.
type RequestRow struct {
	ID            string
	URL           string
	Partner       string
	App           string
	API           string
	Version       string
	Plan          string
	Price         string
	Message       string
	Requested     string
	ApproveAction string
	RejectAction  string
	Error         string
	Reason        string
}

// SubscriberProps drive GET /orgs/{org}/subscribers/{id}?from=&to=: who
// subscribes (partner organisation and app), the plan, status, period,
// quota use and usage (Usage, left out while Usage.Action is "") and
// history, and for owners and admins the decisions the status allows
// (POST {Action}/approve, /reject, /suspend, /resume, /terminate; reject,
// suspend and terminate need a reason). Failed names the form whose reason
// was missing.
type SubscriberProps struct {
	Page              layout.Page
	ID                string
	Action            string
	Partner           string
	App               string
	APIName           string
	APIURL            string
	Version           string
	Status            string
	StatusLabel       string
	Message           string
	Reason            string
	Plan              market.PlanTerms
	PlanURL           string
	NextPlan          string
	PeriodStart       string
	PeriodEnd         string
	Created           string
	Ended             string
	CancelAtPeriodEnd bool
	History           []EventRow
	ApprovalsURL      string

	CanDecide    bool
	CanApprove   bool
	CanReject    bool
	CanSuspend   bool
	CanResume    bool
	CanTerminate bool
	Failed       string
	ReasonError  string
	ReasonValue  string

	// Usage is the quota use now and the usage over time.
	Usage UsageProps
}

// UsageProps drive the usage cards of both sides' subscription pages, from
// the gateway's metering (the usage ledger): the quota use now, and a
// by-day chart of a range of days chosen with a GET form (fields from and
// to, UTC dates, both included) sent to Action, so a range is a link.
type UsageProps struct {
	Action string
	// Quotas are the plan's quotas with what the current windows spent;
	// when there are none, QuotaNote says why (no quota, not active).
	Quotas    []QuotaMeter
	QuotaNote string
	// From and To fill the range form: the dates shown, or what was typed
	// when it was refused (Message, FromError and ToError say why; the
	// chart then shows the default range).
	From      string
	To        string
	FromError string
	ToError   string
	Message   string
	// Custom is set when the range is not the default one, to offer it
	// back (DefaultURL).
	Custom     bool
	DefaultURL string
	// Range describes the days charted: "30 days, 2026-10-22 to
	// 2026-11-20 (UTC)".
	Range string
	Chart components.Chart
	// The range's totals, formatted.
	Calls     string
	Billable  string
	Errors    string
	ErrorRate string
}

// QuotaMeter is one of the plan's quotas in its current window: Used of
// Limit billable calls, Text in words ("850 of 1,000 used (85%)"), Level
// "ok", "warning" (80% or more) or "danger" (all used).
type QuotaMeter struct {
	// ID is the <meter>'s id; its label, text and window ids derive from
	// it.
	ID    string
	Label string
	// Window is what the quota counts over: "Today so far (UTC) …".
	Window string
	Used   int64
	Limit  int64
	Text   string
	Level  string
	// Note says what happens beyond the limit.
	Note string
}
