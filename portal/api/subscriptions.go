package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/tenants"
)

func (a *API) registerSubscriptions(org *gin.RouterGroup) {
	partner := a.requireRole(tenants.Role.CanManageApps, "Only owners, admins and developers can manage subscriptions.")
	provider := a.requireRole(tenants.Role.CanManageMembers, "Only owners and admins can decide on subscribers.")
	org.GET("/subscriptions", a.listSubscriptions)
	org.POST("/subscriptions", partner, a.createSubscription)
	org.GET("/subscriptions/:id", a.showSubscription)
	org.GET("/subscriptions/:id/history", a.showSubscriptionHistory)
	org.GET("/subscriptions/:id/usage", a.showSubscriptionUsage)
	org.PATCH("/subscriptions/:id", partner, a.changeSubscriptionPlan)
	org.DELETE("/subscriptions/:id", partner, a.cancelSubscription)

	org.GET("/approvals", a.listApprovals)
	s := "/apis/:api/subscriptions"
	org.GET(s, a.listSubscribers)
	org.GET(s+"/:id", a.showSubscriber)
	org.POST(s+"/:id/approve", provider, a.approveSubscriber)
	org.POST(s+"/:id/reject", provider, a.rejectSubscriber)
	org.POST(s+"/:id/suspend", provider, a.suspendSubscriber)
	org.POST(s+"/:id/resume", provider, a.resumeSubscriber)
	org.POST(s+"/:id/terminate", provider, a.terminateSubscriber)
}

type subscribeRequest struct {
	App     string `json:"app"`
	API     string `json:"api"`
	Version string `json:"version"`
	Plan    string `json:"plan"`
	Message string `json:"message"`
}

// createSubscription subscribes one of the organisation's apps to a plan.
func (a *API) createSubscription(c *gin.Context) {
	var req subscribeRequest
	if err := decode(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	provider, api, ok := strings.Cut(req.API, "/")
	v := tenants.Validation{}
	if !ok || provider == "" || api == "" || strings.Contains(api, "/") {
		v.Add("api", `Name the API as "{provider-org}/{api}", as the market shows it.`)
	}
	if req.App == "" {
		v.Add("app", "Name the app (its id) that will call the API.")
	}
	if req.Plan == "" {
		v.Add("plan", "Name the plan to subscribe to.")
	}
	if req.Version == "" {
		v.Add("version", "Name the API version, like v1.")
	}
	if err := v.Err(); err != nil {
		a.fail(c, err)
		return
	}
	s, err := a.Plans.Subscribe(c.Request.Context(), currentOrg(c).ID, a.actor(c), billing.SubscribeInput{
		AppID: req.App, ProviderOrg: provider, API: api, Version: req.Version, Plan: req.Plan, Message: req.Message,
	})
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusCreated, s)
}

// listSubscriptions lists the organisation's subscriptions (?app=, ?status=).
func (a *API) listSubscriptions(c *gin.Context) {
	p, err := page(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	l, err := a.Plans.ListSubscriptions(c.Request.Context(), currentOrg(c).ID,
		billing.SubscriptionFilter{AppID: c.Query("app"), Status: billing.SubscriptionStatus(c.Query("status"))}, p)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, listOf(l, func(s billing.Subscription) billing.Subscription { return s }))
}

// showSubscription returns one of the organisation's subscriptions.
func (a *API) showSubscription(c *gin.Context) {
	s, err := a.Plans.Subscription(c.Request.Context(), currentOrg(c).ID, c.Param("id"))
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, s)
}

// showSubscriptionHistory lists a subscription's events, for its partner or
// its provider.
func (a *API) showSubscriptionHistory(c *gin.Context) {
	evs, err := a.Plans.SubscriptionHistory(c.Request.Context(), currentOrg(c).ID, c.Param("id"))
	if err != nil {
		a.fail(c, err)
		return
	}
	if evs == nil {
		evs = []billing.SubscriptionEvent{}
	}
	a.ok(c, http.StatusOK, listBody[billing.SubscriptionEvent]{Items: evs})
}

type changePlanRequest struct {
	Plan string `json:"plan"`
}

// changeSubscriptionPlan moves a subscription to another plan of the same
// API, keeping the app and its keys.
func (a *API) changeSubscriptionPlan(c *gin.Context) {
	var req changePlanRequest
	if err := decode(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	if req.Plan == "" {
		a.fail(c, tenants.FieldError("plan", "Name the plan to change to."))
		return
	}
	s, err := a.Plans.ChangePlan(c.Request.Context(), currentOrg(c).ID, c.Param("id"), a.actor(c), req.Plan)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, s)
}

// cancelSubscription cancels: free plans at once, paid ones at period end.
func (a *API) cancelSubscription(c *gin.Context) {
	s, err := a.Plans.Cancel(c.Request.Context(), currentOrg(c).ID, c.Param("id"), a.actor(c))
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, s)
}

// listApprovals is the provider's queue of requests waiting for approval.
func (a *API) listApprovals(c *gin.Context) {
	p, err := page(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	l, err := a.Plans.ApprovalQueue(c.Request.Context(), currentOrg(c).ID, p)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, listOf(l, func(s billing.Subscription) billing.Subscription { return s }))
}

// listSubscribers lists an API's subscribers (?status=, ?plan=, ?q=).
func (a *API) listSubscribers(c *gin.Context) {
	apiID, ok := a.planAPI(c)
	if !ok {
		return
	}
	p, err := page(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	l, err := a.Plans.ListSubscribers(c.Request.Context(), currentOrg(c).ID, apiID,
		billing.SubscriberFilter{Status: billing.SubscriptionStatus(c.Query("status")), PlanSlug: c.Query("plan"), Q: c.Query("q")}, p)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, listOf(l, func(s billing.Subscription) billing.Subscription { return s }))
}

// subscriber loads a subscription of the provider's :api.
func (a *API) subscriber(c *gin.Context) (billing.Subscription, bool) {
	apiID, ok := a.planAPI(c)
	if !ok {
		return billing.Subscription{}, false
	}
	s, err := a.Plans.ProviderSubscription(c.Request.Context(), currentOrg(c).ID, c.Param("id"))
	if err == nil && s.APIID != apiID {
		err = tenants.Errorf(tenants.ENotFound, "No such subscription.")
	}
	if err != nil {
		a.fail(c, err)
		return billing.Subscription{}, false
	}
	return s, true
}

// showSubscriber returns one subscriber of the API.
func (a *API) showSubscriber(c *gin.Context) {
	if s, ok := a.subscriber(c); ok {
		a.ok(c, http.StatusOK, s)
	}
}

type reasonRequest struct {
	Reason string `json:"reason"`
}

// decide runs a provider decision on a subscriber of :api.
func (a *API) decide(c *gin.Context, needReason bool, do func(orgID, id string, actor tenants.Actor, reason string) (billing.Subscription, error)) {
	var req reasonRequest
	if c.Request.ContentLength != 0 || needReason {
		if err := decode(c, &req); err != nil {
			a.fail(c, err)
			return
		}
	}
	if _, ok := a.subscriber(c); !ok {
		return
	}
	s, err := do(currentOrg(c).ID, c.Param("id"), a.actor(c), req.Reason)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, s)
}

// approveSubscriber approves a pending request.
func (a *API) approveSubscriber(c *gin.Context) {
	a.decide(c, false, func(orgID, id string, actor tenants.Actor, _ string) (billing.Subscription, error) {
		return a.Plans.Approve(c.Request.Context(), orgID, id, actor)
	})
}

// rejectSubscriber rejects a pending request with a reason.
func (a *API) rejectSubscriber(c *gin.Context) {
	a.decide(c, true, func(orgID, id string, actor tenants.Actor, reason string) (billing.Subscription, error) {
		return a.Plans.Reject(c.Request.Context(), orgID, id, actor, reason)
	})
}

// suspendSubscriber suspends a subscription with a reason (reversible).
func (a *API) suspendSubscriber(c *gin.Context) {
	a.decide(c, true, func(orgID, id string, actor tenants.Actor, reason string) (billing.Subscription, error) {
		return a.Plans.Suspend(c.Request.Context(), orgID, id, actor, reason)
	})
}

// resumeSubscriber lifts a suspension.
func (a *API) resumeSubscriber(c *gin.Context) {
	a.decide(c, false, func(orgID, id string, actor tenants.Actor, _ string) (billing.Subscription, error) {
		return a.Plans.Resume(c.Request.Context(), orgID, id, actor)
	})
}

// terminateSubscriber ends a subscription for good, with a reason.
func (a *API) terminateSubscriber(c *gin.Context) {
	a.decide(c, true, func(orgID, id string, actor tenants.Actor, reason string) (billing.Subscription, error) {
		return a.Plans.Terminate(c.Request.Context(), orgID, id, actor, reason)
	})
}

// showSubscriptionUsage sums the usage ledger for a subscription, for its
// partner or its provider: ?from= and ?to= are dates or RFC 3339 times
// (default: the last 30 days).
func (a *API) showSubscriptionUsage(c *gin.Context) {
	to := time.Now().UTC()
	var from time.Time
	for name, dst := range map[string]*time.Time{"from": &from, "to": &to} {
		if v := c.Query(name); v != "" {
			t, err := parseDate(v)
			if err != nil {
				a.fail(c, tenants.FieldError(name, name+" must be a date (2026-11-01) or an RFC 3339 time."))
				return
			}
			if name == "to" && len(v) == len(time.DateOnly) {
				// A date ends the range with that whole day (UTC):
				// from=2026-11-01&to=2026-11-01 is one day's usage.
				t = t.AddDate(0, 0, 1)
			}
			*dst = t
		}
	}
	if from.IsZero() { // the 30 days before to, as documented
		from = to.AddDate(0, 0, -30)
	}
	u, err := a.Plans.SubscriptionUsage(c.Request.Context(), currentOrg(c).ID, c.Param("id"), from, to)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, u)
}
