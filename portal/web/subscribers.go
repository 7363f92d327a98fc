package web

import (
	"context"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/templates/components"
	"github.com/portico-dev/portico/templates/pages/subscriptions"
	"github.com/portico-dev/portico/tenants"
)

// registerProvider mounts the provider's side of subscriptions on o, the
// /orgs/:org group: the subscribers to its APIs and the approval queue.
// Every member reads them; owners and admins decide.
func (w *Console) registerProvider(o *gin.RouterGroup) {
	dm := w.requireSubscriberManager
	o.GET("/subscribers", w.showSubscribers)
	o.GET("/subscribers/:id", w.showSubscriber)
	o.GET("/approvals", w.showApprovals)
	o.POST("/subscribers/:id/approve", dm, w.approveSubscriber)
	o.POST("/subscribers/:id/reject", dm, w.rejectSubscriber)
	o.POST("/subscribers/:id/suspend", dm, w.suspendSubscriber)
	o.POST("/subscribers/:id/resume", dm, w.resumeSubscriber)
	o.POST("/subscribers/:id/terminate", dm, w.terminateSubscriber)
}

// requireSubscriberManager lets owners and admins through to the
// decisions on subscribers; other members read only.
func (w *Console) requireSubscriberManager(c *gin.Context) {
	if !currentRole(c).CanManageMembers() {
		w.fail(c, tenants.Errorf(tenants.EForbidden, "Only owners and admins can approve, reject, suspend, resume or terminate subscriptions."))
		return
	}
	c.Next()
}

// subscriberURL is the provider's page of a subscription to its APIs.
func subscriberURL(c *gin.Context, id string, segments ...string) string {
	return components.Path(append([]string{"orgs", currentOrg(c).Slug, "subscribers", id}, segments...)...)
}

func approvalsURL(c *gin.Context) string {
	return components.Path("orgs", currentOrg(c).Slug, "approvals")
}

// providerAPIs lists the organisation's APIs (the first 100), for the
// filters.
func (w *Console) providerAPIs(ctx context.Context, orgID string) ([]catalog.API, error) {
	l, err := w.Catalog.ListAPIs(ctx, orgID, tenants.Page{Limit: 100})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// showSubscribers lists the subscribers to all the organisation's APIs,
// filtered by ?api= (slug), ?status=, ?plan= (slug) and ?q= (part of the
// partner organisation's name).
func (w *Console) showSubscribers(c *gin.Context) {
	ctx := c.Request.Context()
	org := currentOrg(c)
	st, err := statusFilter(c)
	if err != nil {
		w.fail(c, err)
		return
	}
	p := subscriptions.SubscribersProps{
		API: c.Query("api"), Status: string(st), Plan: c.Query("plan"), Q: c.Query("q"), Statuses: statusOptions(),
		CanDecide: currentRole(c).CanManageMembers(), ApprovalsURL: approvalsURL(c),
	}
	as, err := w.providerAPIs(ctx, org.ID)
	if err != nil {
		w.fail(c, err)
		return
	}
	apiID := ""
	p.APIs = []components.Option{{Value: "", Label: "All APIs"}}
	p.Plans = []components.Option{{Value: "", Label: "All plans"}}
	var slugs []string
	for _, a := range as {
		p.APIs = append(p.APIs, components.Option{Value: a.Slug, Label: a.Name})
		if a.Slug == p.API {
			apiID = a.ID
		}
		if p.API != "" && a.Slug != p.API {
			continue
		}
		pls, err := w.Plans.ListPlans(ctx, org.ID, a.ID, tenants.Page{Limit: 100})
		if err != nil {
			w.fail(c, err)
			return
		}
		for _, pl := range pls.Items {
			if !slices.Contains(slugs, pl.Slug) {
				slugs = append(slugs, pl.Slug)
				p.Plans = append(p.Plans, components.Option{Value: pl.Slug, Label: pl.Name})
			}
		}
	}
	if p.API != "" && apiID == "" {
		w.fail(c, tenants.Errorf(tenants.ENotFound, "No API %s.", p.API))
		return
	}
	l, err := w.Plans.ListSubscribers(ctx, org.ID, apiID, billing.SubscriberFilter{Status: st, PlanSlug: p.Plan, Q: p.Q}, pageParam(c))
	if err != nil {
		if isFormError(err) {
			p.Message = tenants.ErrorMessage(err)
		} else {
			w.fail(c, err)
			return
		}
	}
	for _, s := range l.Items {
		p.Rows = append(p.Rows, subscriptions.SubscriberRow{
			URL: subscriberURL(c, s.ID), Partner: s.PartnerOrgName, App: s.AppName, API: s.APIName, Version: s.Version,
			Plan: s.Plan.Name, Status: string(s.Status), StatusLabel: s.Status.Label(), Since: formatTime(s.CreatedAt),
		})
	}
	p.FirstURL, p.NextURL = listURLs(c, l.NextCursor, "api", "status", "plan", "q")
	q, err := w.Plans.ApprovalQueue(ctx, org.ID, tenants.Page{Limit: 100})
	if err != nil {
		w.fail(c, err)
		return
	}
	p.PendingApprovals = len(q.Items)
	p.Page = w.page(c, "Subscribers", "subscribers")
	w.render(c, http.StatusOK, subscriptions.Subscribers(p))
}

// approvalsPage loads the approval queue, oldest request first.
func (w *Console) approvalsPage(c *gin.Context) (subscriptions.ApprovalsProps, error) {
	l, err := w.Plans.ApprovalQueue(c.Request.Context(), currentOrg(c).ID, pageParam(c))
	if err != nil {
		return subscriptions.ApprovalsProps{}, err
	}
	p := subscriptions.ApprovalsProps{CanDecide: currentRole(c).CanManageMembers(), SubscribersURL: components.Path("orgs", currentOrg(c).Slug, "subscribers")}
	for _, s := range l.Items {
		t := planTerms(s.Plan)
		p.Requests = append(p.Requests, subscriptions.RequestRow{
			ID: s.ID, URL: subscriberURL(c, s.ID), Partner: s.PartnerOrgName, App: s.AppName, API: s.APIName, Version: s.Version,
			Plan: s.Plan.Name, Price: t.Price, Message: s.Message, Requested: formatTime(s.CreatedAt),
			ApproveAction: subscriberURL(c, s.ID, "approve"), RejectAction: subscriberURL(c, s.ID, "reject"),
		})
	}
	p.FirstURL, p.NextURL = pageURLs(c, l.NextCursor)
	p.Page = w.page(c, "Approvals", "subscribers")
	return p, nil
}

// showApprovals shows the requests waiting for the organisation's
// decision.
func (w *Console) showApprovals(c *gin.Context) {
	p, err := w.approvalsPage(c)
	if err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, http.StatusOK, subscriptions.Approvals(p))
}

// providerSub loads the subscription :id to one of the organisation's
// APIs; anything else renders the 404 page.
func (w *Console) providerSub(c *gin.Context) (billing.Subscription, bool) {
	s, err := w.Plans.ProviderSubscription(c.Request.Context(), currentOrg(c).ID, c.Param("id"))
	if err != nil {
		w.fail(c, err)
		return billing.Subscription{}, false
	}
	return s, true
}

// subscriberPage loads a subscriber's page for the provider: who, which
// app and plan, status, quota use and usage (?from=&to=) and history —
// never the partner's keys.
func (w *Console) subscriberPage(c *gin.Context, s billing.Subscription) (subscriptions.SubscriberProps, error) {
	canDecide := currentRole(c).CanManageMembers()
	p := subscriptions.SubscriberProps{
		ID: s.ID, Partner: s.PartnerOrgName, App: s.AppName, APIName: s.APIName, APIURL: apisURL(c, s.APISlug), Version: s.Version,
		Status: string(s.Status), StatusLabel: s.Status.Label(), Message: s.Message, Reason: s.Reason, Plan: planTerms(s.Plan),
		PlanURL: plansURL(c, s.APISlug, s.Plan.Slug), PeriodStart: formatTime(s.PeriodStart), PeriodEnd: formatTime(s.PeriodEnd),
		Created: formatTime(s.CreatedAt), Ended: formatTimePtr(s.EndedAt, ""), CancelAtPeriodEnd: s.CancelAtPeriodEnd,
		CanDecide: canDecide, ApprovalsURL: approvalsURL(c), Action: subscriberURL(c, s.ID),
	}
	if s.NextPlan != nil {
		p.NextPlan = s.NextPlan.Name
	}
	if canDecide {
		pending := s.Status == billing.SubPendingApproval
		p.CanApprove, p.CanReject = pending, pending
		p.CanSuspend = s.Status.CanBecome(billing.SubSuspended)
		p.CanResume = s.Status == billing.SubSuspended
		p.CanTerminate = s.Status.CanBecome(billing.SubTerminated)
	}
	evs, err := w.Plans.SubscriptionHistory(c.Request.Context(), currentOrg(c).ID, s.ID)
	if err != nil {
		return p, err
	}
	names := map[string]string{s.PlanID: s.Plan.Name}
	if s.NextPlan != nil {
		names[s.NextPlan.ID] = s.NextPlan.Name
	}
	for _, e := range evs {
		for _, id := range []*string{e.FromPlanID, e.ToPlanID} {
			if id == nil || names[*id] != "" {
				continue
			}
			if pl, err := w.Plans.PlanRevision(c.Request.Context(), currentOrg(c).ID, *id); err == nil {
				names[*id] = pl.Name
			}
		}
	}
	p.History = historyRows(evs, names, s.PartnerOrgName, "Your organisation")
	if showsUsage(s) {
		if p.Usage, err = w.usageView(c, currentOrg(c).ID, s, subscriberURL(c, s.ID)); err != nil {
			return p, err
		}
	}
	p.Page = w.page(c, s.PartnerOrgName+" · "+s.APIName, "subscribers")
	return p, nil
}

// showSubscriber shows one subscription to the organisation's APIs.
func (w *Console) showSubscriber(c *gin.Context) {
	s, ok := w.providerSub(c)
	if !ok {
		return
	}
	p, err := w.subscriberPage(c, s)
	if err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, http.StatusOK, subscriptions.Subscriber(p))
}

// decision is one of the provider's actions on a subscription.
type decision struct {
	// form names the form on the subscriber's page, for errors.
	form string
	do   func(ctx context.Context, providerOrgID, id string, a tenants.Actor, reason string) (billing.Subscription, error)
	done func(s billing.Subscription) string
}

// decide runs a decision on the subscription :id after loading it (so
// another organisation's id is a 404 before anything else), then goes back
// where the form was: the approval queue (from=approvals) or the
// subscriber's page. A missing reason re-renders that page with the error.
func (w *Console) decide(c *gin.Context, d decision) {
	ctx := c.Request.Context()
	s, ok := w.providerSub(c)
	if !ok {
		return
	}
	reason := c.PostForm("reason")
	after, err := d.do(ctx, currentOrg(c).ID, s.ID, w.actor(c), reason)
	fromQueue := c.PostForm("from") == "approvals"
	if err != nil && isFormError(err) && tenants.ErrorFields(err)["reason"] != "" {
		if fromQueue {
			p, lerr := w.approvalsPage(c)
			if lerr != nil {
				w.fail(c, lerr)
				return
			}
			shown := false
			for i := range p.Requests {
				if p.Requests[i].ID == s.ID {
					p.Requests[i].Error, p.Requests[i].Reason, shown = tenants.ErrorFields(err)["reason"], reason, true
				}
			}
			if shown {
				w.render(c, httpStatusForForm(err), subscriptions.Approvals(p))
				return
			}
			// The request is on another page of the queue: show the error
			// on the subscriber's page instead.
		}
		p, lerr := w.subscriberPage(c, s)
		if lerr != nil {
			w.fail(c, lerr)
			return
		}
		p.Failed, p.ReasonError, p.ReasonValue = d.form, tenants.ErrorFields(err)["reason"], reason
		w.render(c, httpStatusForForm(err), subscriptions.Subscriber(p))
		return
	}
	msg := ""
	if err == nil {
		msg = d.done(after)
	}
	w.flashResult(c, err, msg)
	if c.IsAborted() {
		return
	}
	if fromQueue {
		redirect(c, approvalsURL(c))
		return
	}
	redirect(c, subscriberURL(c, s.ID))
}

func withoutReason(f func(ctx context.Context, providerOrgID, id string, a tenants.Actor) (billing.Subscription, error)) func(context.Context, string, string, tenants.Actor, string) (billing.Subscription, error) {
	return func(ctx context.Context, org, id string, a tenants.Actor, _ string) (billing.Subscription, error) {
		return f(ctx, org, id, a)
	}
}

// approveSubscriber grants a request.
func (w *Console) approveSubscriber(c *gin.Context) {
	w.decide(c, decision{form: "approve", do: withoutReason(w.Plans.Approve), done: func(s billing.Subscription) string {
		if s.Status == billing.SubPendingPayment {
			return "Approved " + s.PartnerOrgName + "’s request. The plan is paid, so the subscription now waits for payment."
		}
		return "Approved " + s.PartnerOrgName + "’s request: " + s.AppName + " can call " + s.APIName + " now."
	}})
}

// rejectSubscriber refuses a request with a reason the partner sees.
func (w *Console) rejectSubscriber(c *gin.Context) {
	w.decide(c, decision{form: "reject", do: w.Plans.Reject, done: func(s billing.Subscription) string {
		return "Rejected " + s.PartnerOrgName + "’s request. They were told why."
	}})
}

// suspendSubscriber stops a subscription's calls until it is resumed.
func (w *Console) suspendSubscriber(c *gin.Context) {
	w.decide(c, decision{form: "suspend", do: w.Plans.Suspend, done: func(s billing.Subscription) string {
		return "Suspended: the gateway refuses " + s.AppName + "’s calls until you resume the subscription."
	}})
}

// resumeSubscriber lets a suspended subscription call again.
func (w *Console) resumeSubscriber(c *gin.Context) {
	w.decide(c, decision{form: "resume", do: withoutReason(w.Plans.Resume), done: func(s billing.Subscription) string {
		return "Resumed: " + s.AppName + " can call " + s.APIName + " again."
	}})
}

// terminateSubscriber ends a subscription for good.
func (w *Console) terminateSubscriber(c *gin.Context) {
	w.decide(c, decision{form: "terminate", do: w.Plans.Terminate, done: func(s billing.Subscription) string {
		return "Terminated: the subscription of " + s.AppName + " has ended for good."
	}})
}
