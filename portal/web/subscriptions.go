package web

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/templates/components"
	"github.com/portico-dev/portico/templates/pages/market"
	"github.com/portico-dev/portico/templates/pages/subscriptions"
	"github.com/portico-dev/portico/tenants"
)

// subscriptionURL is the partner's page of one of its subscriptions.
func subscriptionURL(c *gin.Context, id string, segments ...string) string {
	return components.Path(append([]string{"orgs", currentOrg(c).Slug, "subscriptions", id}, segments...)...)
}

// statusOptions are the status filter's choices, "" for all.
func statusOptions() []components.Option {
	opts := []components.Option{{Value: "", Label: "All statuses"}}
	for _, s := range billing.SubscriptionStatuses {
		opts = append(opts, components.Option{Value: string(s), Label: components.Capitalize(s.Label())})
	}
	return opts
}

// statusFilter reads ?status=, refusing a status that does not exist.
func statusFilter(c *gin.Context) (billing.SubscriptionStatus, error) {
	st := billing.SubscriptionStatus(c.Query("status"))
	if st != "" && !st.Valid() {
		return "", tenants.Errorf(tenants.EMalformed, "There is no subscription status %q.", st)
	}
	return st, nil
}

// showSubscriptions lists the organisation's subscriptions, filtered by
// ?app= and ?status=.
func (w *Console) showSubscriptions(c *gin.Context) {
	ctx := c.Request.Context()
	org := currentOrg(c)
	st, err := statusFilter(c)
	if err != nil {
		w.fail(c, err)
		return
	}
	p := subscriptions.ListProps{App: c.Query("app"), Status: string(st), Statuses: statusOptions(), CanManage: currentRole(c).CanManageApps()}
	as, err := w.Tenants.ListApps(ctx, org.ID, tenants.Page{Limit: 100})
	if err != nil {
		w.fail(c, err)
		return
	}
	p.Apps = []components.Option{{Value: "", Label: "All apps"}}
	for _, a := range as.Items {
		p.Apps = append(p.Apps, components.Option{Value: a.ID, Label: a.Name})
	}
	l, err := w.Plans.ListSubscriptions(ctx, org.ID, billing.SubscriptionFilter{AppID: p.App, Status: st}, pageParam(c))
	if err != nil {
		w.fail(c, err)
		return
	}
	for _, s := range l.Items {
		p.Rows = append(p.Rows, subscriptions.Row{
			URL: subscriptionURL(c, s.ID), App: s.AppName, AppURL: appsURL(c, s.AppID), API: s.APIName, Provider: s.ProviderOrgName,
			Version: s.Version, Plan: s.Plan.Name, Status: string(s.Status), StatusLabel: s.Status.Label(), Notice: s.Notice,
			Created: formatTime(s.CreatedAt),
		})
	}
	p.FirstURL, p.NextURL = listURLs(c, l.NextCursor, "app", "status")
	p.Page = w.page(c, "Subscriptions", "subscriptions")
	w.render(c, http.StatusOK, subscriptions.List(p))
}

// partnerSub loads the subscription :id of the organisation; another
// organisation's renders the 404 page.
func (w *Console) partnerSub(c *gin.Context) (billing.Subscription, bool) {
	s, err := w.Plans.Subscription(c.Request.Context(), currentOrg(c).ID, c.Param("id"))
	if err != nil {
		w.fail(c, err)
		return billing.Subscription{}, false
	}
	return s, true
}

// planOptionLabel sums up a plan for a select: "Gold — $49.00 a month,
// 100,000 calls included".
func planOptionLabel(p billing.Plan) string {
	t := planTerms(p)
	label := p.Name + " — " + t.Price
	if !t.Free {
		label += " a month"
	}
	if t.Included != "None" {
		label += ", " + t.Included + " calls included"
	}
	if p.Approval == billing.ApprovalManual {
		label += " (needs approval)"
	}
	return label
}

// subscriptionPage loads a subscription's page for the partner: terms,
// status, period, quota use and usage (?from=&to=), history and what the
// member may do with it.
func (w *Console) subscriptionPage(c *gin.Context, s billing.Subscription) (subscriptions.DetailProps, error) {
	ctx := c.Request.Context()
	org := currentOrg(c)
	canManage := currentRole(c).CanManageApps()
	p := subscriptions.DetailProps{
		ID: s.ID, AppName: s.AppName, AppURL: appsURL(c, s.AppID), APIName: s.APIName, Provider: s.ProviderOrgName,
		MarketURL: market.APIPath(s.ProviderOrgSlug, s.APISlug), Version: s.Version,
		Status: string(s.Status), StatusLabel: s.Status.Label(), Notice: s.Notice, Message: s.Message,
		Plan: planTerms(s.Plan), PeriodStart: formatTime(s.PeriodStart), PeriodEnd: formatTime(s.PeriodEnd),
		Created: formatTime(s.CreatedAt), Ended: formatTimePtr(s.EndedAt, ""), CancelAtPeriodEnd: s.CancelAtPeriodEnd,
		Paid: s.Plan.PriceCents > 0, Live: s.Status.Live(), CanManage: canManage,
		Action: subscriptionURL(c, s.ID),
	}
	if s.NextPlan != nil {
		p.NextPlan = s.NextPlan.Name
	}
	names := map[string]string{s.PlanID: s.Plan.Name}
	if s.NextPlan != nil {
		names[s.NextPlan.ID] = s.NextPlan.Name
	}
	if s.Status == billing.SubActive && !s.CancelAtPeriodEnd {
		pls, err := w.Plans.PublishedPlans(ctx, s.APIID)
		if err != nil {
			return p, err
		}
		for _, pl := range pls {
			names[pl.ID] = pl.Name
			p.PlanOptions = append(p.PlanOptions, components.Option{Value: pl.Slug, Label: planOptionLabel(pl)})
			if pl.Slug == s.Plan.Slug {
				p.ChosenPlan = pl.Slug
			}
		}
		if p.ChosenPlan == "" {
			// The subscriber's revision is no longer on sale: offer it
			// first, so choosing nothing changes nothing.
			p.PlanOptions = append([]components.Option{{Value: s.Plan.Slug, Label: s.Plan.Name + " (your current terms)"}}, p.PlanOptions...)
			p.ChosenPlan = s.Plan.Slug
		}
		p.CanChangePlan = canManage
	}
	p.CanCancel = canManage && s.Status.CanBecome(billing.SubCancelled) && !s.CancelAtPeriodEnd
	evs, err := w.Plans.SubscriptionHistory(ctx, org.ID, s.ID)
	if err != nil {
		return p, err
	}
	p.History = historyRows(evs, names, "Your organisation", s.ProviderOrgName)
	if p.Live && canManage {
		ks, err := w.Tenants.ListAppKeys(ctx, org.ID, s.AppID)
		if err != nil && tenants.ErrorCode(err) != tenants.ENotFound {
			return p, err
		}
		if err == nil && activeKeys(ks) == 0 {
			p.KeyAction = appsURL(c, s.AppID, "keys")
		}
	}
	if showsUsage(s) {
		if p.Usage, err = w.usageView(c, org.ID, s, subscriptionURL(c, s.ID)); err != nil {
			return p, err
		}
	}
	p.Page = w.page(c, s.APIName+" · "+s.AppName, "subscriptions")
	return p, nil
}

// eventWords names each kind of event.
var eventWords = map[billing.EventKind]string{
	billing.EventCreated:             "Subscribed",
	billing.EventApproved:            "Approved",
	billing.EventRejected:            "Rejected",
	billing.EventPlanChanged:         "Plan changed",
	billing.EventPlanChangeScheduled: "Plan change scheduled",
	billing.EventPlanChangeCancelled: "Scheduled plan change withdrawn",
	billing.EventCancelScheduled:     "Cancellation scheduled",
	billing.EventCancelled:           "Cancelled",
	billing.EventSuspended:           "Suspended",
	billing.EventResumed:             "Resumed",
	billing.EventTerminated:          "Terminated",
	billing.EventEnded:               "Ended",
	billing.EventVersionMoved:        "Moved to another version",
	billing.EventRenewed:             "New period",
}

// historyRows formats a subscription's events for one side: partner and
// provider name who acted on the partner's and provider's side.
func historyRows(evs []billing.SubscriptionEvent, plans map[string]string, partner, provider string) []subscriptions.EventRow {
	out := make([]subscriptions.EventRow, 0, len(evs))
	for _, e := range evs {
		r := subscriptions.EventRow{When: formatTime(e.CreatedAt), What: eventWords[e.Kind], Note: e.Note}
		if r.What == "" {
			r.What = components.Capitalize(strings.ReplaceAll(string(e.Kind), "_", " "))
		}
		switch e.By {
		case billing.ByPartner:
			r.By = partner
		case billing.ByProvider:
			r.By = provider
		default:
			r.By = "Portico"
		}
		if e.ActorEmail != "" && e.ActorEmail != "system" {
			r.By += " (" + e.ActorEmail + ")"
		}
		switch {
		case e.FromStatus == "":
			r.Status = e.ToStatus.Label()
		case e.FromStatus != e.ToStatus:
			r.Status = e.FromStatus.Label() + " → " + e.ToStatus.Label()
		}
		if e.FromPlanID != nil && e.ToPlanID != nil && *e.FromPlanID != *e.ToPlanID {
			if from, to := plans[*e.FromPlanID], plans[*e.ToPlanID]; from != "" && to != "" {
				r.Plan = from + " → " + to
			}
		}
		out = append(out, r)
	}
	return out
}

// showSubscription shows one of the organisation's subscriptions.
func (w *Console) showSubscription(c *gin.Context) {
	s, ok := w.partnerSub(c)
	if !ok {
		return
	}
	p, err := w.subscriptionPage(c, s)
	if err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, http.StatusOK, subscriptions.Detail(p))
}

// changeSubscriptionPlan moves a subscription to another plan of the same
// API: an upgrade at once, anything else at the end of the period.
func (w *Console) changeSubscriptionPlan(c *gin.Context) {
	ctx := c.Request.Context()
	before, ok := w.partnerSub(c)
	if !ok {
		return
	}
	slug := c.PostForm("plan")
	after, err := w.Plans.ChangePlan(ctx, currentOrg(c).ID, before.ID, w.actor(c), slug)
	if err != nil {
		if !isFormError(err) {
			w.fail(c, err)
			return
		}
		p, lerr := w.subscriptionPage(c, before)
		if lerr != nil {
			w.fail(c, lerr)
			return
		}
		if slug != "" {
			p.ChosenPlan = slug
		}
		p.PlanMessage = tenants.ErrorMessage(err)
		w.render(c, httpStatusForForm(err), subscriptions.Detail(p))
		return
	}
	switch {
	case after.PlanID != before.PlanID:
		setFlash(c, "success", "Upgraded to plan "+after.Plan.Name+", effective now. The app keeps its keys.")
	case after.NextPlan != nil:
		setFlash(c, "success", "Plan "+after.NextPlan.Name+" starts on "+formatTime(after.PeriodEnd)+", at the end of the current period. Until then nothing changes.")
	default:
		setFlash(c, "success", "The scheduled plan change was withdrawn: the subscription stays on plan "+after.Plan.Name+".")
	}
	redirect(c, subscriptionURL(c, after.ID))
}

// cancelSubscription cancels a subscription: a pending request or a free
// plan at once, a paid plan at the end of the period it was paid for.
func (w *Console) cancelSubscription(c *gin.Context) {
	ctx := c.Request.Context()
	s, ok := w.partnerSub(c)
	if !ok {
		return
	}
	after, err := w.Plans.Cancel(ctx, currentOrg(c).ID, s.ID, w.actor(c))
	msg := ""
	if err == nil {
		msg = "Subscription cancelled: the app can no longer call " + after.APIName + "."
		switch {
		case s.Status == billing.SubPendingApproval:
			msg = "Request withdrawn."
		case after.Status == billing.SubActive && after.CancelAtPeriodEnd:
			msg = "Subscription cancelled: it stays active until " + formatTime(after.PeriodEnd) + ", the end of the paid period."
		}
	}
	w.flashResult(c, err, msg)
	if c.IsAborted() {
		return
	}
	redirect(c, subscriptionURL(c, s.ID))
}
