package web

import (
	"context"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/templates/components"
	"github.com/portico-dev/portico/templates/pages/market"
	"github.com/portico-dev/portico/templates/pages/plans"
	"github.com/portico-dev/portico/tenants"
)

// registerPlans mounts an API's plans on o, the /orgs/:org group. Every
// member reads them; owners, admins and billing members change them.
func (w *Console) registerPlans(o *gin.RouterGroup) {
	pm := w.requirePlanManager
	p := "/apis/:api/plans"
	o.GET(p, w.showPlans)
	o.POST(p, pm, w.createPlan)
	o.POST(p+"/preview", pm, w.previewNewPlan)
	o.GET(p+"/:plan", w.showPlan)
	o.POST(p+"/:plan/edit", pm, w.updatePlan)
	o.POST(p+"/:plan/preview", pm, w.previewPlanEdit)
	o.POST(p+"/:plan/publish", pm, w.publishPlan)
	o.POST(p+"/:plan/deprecate", pm, w.deprecatePlan)
	o.POST(p+"/:plan/close", pm, w.closePlan)
}

// requirePlanManager lets owners, admins and billing members through to
// the plan forms and actions; other members read only.
func (w *Console) requirePlanManager(c *gin.Context) {
	if !currentRole(c).CanManagePlans() {
		w.fail(c, tenants.Errorf(tenants.EForbidden, "Only owners, admins and billing members can change plans."))
		return
	}
	c.Next()
}

// plansURL is the console path of an API's plans or of something under
// them, each segment escaped.
func plansURL(c *gin.Context, api string, segments ...string) string {
	return components.Path(append([]string{"orgs", currentOrg(c).Slug, "apis", api, "plans"}, segments...)...)
}

// planFieldNames maps billing's field names (JSON) to the plan form's.
var planFieldNames = map[string]string{
	"price_cents":                    "price",
	"overage_cents_per_1000":         "overage",
	"rate_limit":                     "rate_rps",
	"rate_limit.requests_per_second": "rate_rps",
	"rate_limit.burst":               "rate_burst",
	"quota":                          "quota_day",
	"quota.day":                      "quota_day",
	"quota.month":                    "quota_month",
}

// planAPI resolves :api within the organisation.
func (w *Console) planAPI(c *gin.Context) (catalog.API, bool) {
	a, err := w.Catalog.API(c.Request.Context(), currentOrg(c).ID, c.Param("api"))
	if err != nil {
		w.fail(c, err)
		return catalog.API{}, false
	}
	return a, true
}

// planVersions lists the versions a plan may grant: all but those taken
// offline.
func (w *Console) planVersions(ctx context.Context, orgID, api string) ([]plans.VersionOption, error) {
	vs, err := w.Catalog.ListVersions(ctx, orgID, api)
	if err != nil {
		return nil, err
	}
	var out []plans.VersionOption
	for _, v := range vs {
		if v.State != catalog.Offline {
			out = append(out, plans.VersionOption{Version: v.Version, State: string(v.State)})
		}
	}
	return out, nil
}

// plansPage loads the plans list; the new-plan form is filled in by the
// caller.
func (w *Console) plansPage(c *gin.Context, a catalog.API) (plans.ListProps, error) {
	ctx := c.Request.Context()
	org := currentOrg(c)
	l, err := w.Plans.ListPlans(ctx, org.ID, a.ID, pageParam(c))
	if err != nil {
		return plans.ListProps{}, err
	}
	p := plans.ListProps{APISlug: a.Slug, APIName: a.Name, CanManage: currentRole(c).CanManagePlans()}
	for _, pl := range l.Items {
		t := planTerms(pl)
		row := plans.PlanRow{Slug: pl.Slug, Name: pl.Name, Price: t.Price, Limits: planLimits(t), State: string(pl.State), Revision: pl.Revision}
		if pl.State == billing.PlanDraft && pl.SupersedesID != nil {
			row.OnSale = pl.Revision - 1 // a draft of changes supersedes the revision before it
		}
		p.Plans = append(p.Plans, row)
	}
	p.FirstURL, p.NextURL = pageURLs(c, l.NextCursor)
	if p.Versions, err = w.planVersions(ctx, org.ID, a.Slug); err != nil {
		return plans.ListProps{}, err
	}
	p.Page = w.page(c, "Plans of "+a.Name, "apis")
	return p, nil
}

// newPlanForm is the new-plan form's starting point: free, in dollars,
// automatic approval, granting the published versions.
func newPlanForm(vs []plans.VersionOption) plans.Form {
	f := plans.Form{Currency: "usd", Approval: string(billing.ApprovalAuto), TrialDays: "0"}
	for _, v := range vs {
		if v.State == string(catalog.Published) {
			f.Versions = append(f.Versions, v.Version)
		}
	}
	return f
}

// showPlans lists an API's plans with the new-plan form.
func (w *Console) showPlans(c *gin.Context) {
	a, ok := w.planAPI(c)
	if !ok {
		return
	}
	p, err := w.plansPage(c, a)
	if err != nil {
		w.fail(c, err)
		return
	}
	p.Form = newPlanForm(p.Versions)
	w.render(c, http.StatusOK, plans.List(p))
}

// createPlan creates a draft plan and continues on its page.
func (w *Console) createPlan(c *gin.Context) {
	a, ok := w.planAPI(c)
	if !ok {
		return
	}
	f, in, err := parsePlanForm(c)
	var created billing.Plan
	if err == nil {
		created, err = w.Plans.CreatePlan(c.Request.Context(), currentOrg(c).ID, a.ID, w.actor(c), in)
	}
	if err != nil {
		w.rerenderPlans(c, a, f, err, nil)
		return
	}
	setFlash(c, "success", "Draft plan "+created.Name+" created. Check its terms, then publish it to offer it in the market.")
	redirect(c, plansURL(c, a.Slug, created.Slug))
}

// previewNewPlan re-renders the new-plan form with the plan as the market
// would show it; nothing is saved.
func (w *Console) previewNewPlan(c *gin.Context) {
	a, ok := w.planAPI(c)
	if !ok {
		return
	}
	f, in, err := parsePlanForm(c)
	var pv *market.PlanTerms
	if err == nil {
		t := previewTerms(in)
		pv = &t
	}
	w.rerenderPlans(c, a, f, err, pv)
}

// rerenderPlans shows the plans page with the new-plan form as typed, its
// errors (when err is the person's to fix) or its preview.
func (w *Console) rerenderPlans(c *gin.Context, a catalog.API, f plans.Form, err error, pv *market.PlanTerms) {
	if err != nil && !isFormError(err) {
		w.fail(c, err)
		return
	}
	p, lerr := w.plansPage(c, a)
	if lerr != nil {
		w.fail(c, lerr)
		return
	}
	p.Form, p.Preview = f, pv
	status := http.StatusOK
	if err != nil {
		p.Message, p.Errors = formErrors(err, planFieldNames)
		status = httpStatusForForm(err)
	}
	w.render(c, status, plans.List(p))
}

// previewTerms are the terms of a plan not saved yet, as billing would
// store them (a burst of 0 is the rate).
func previewTerms(in billing.PlanInput) market.PlanTerms {
	p := billing.Plan{
		Slug: in.Slug, Name: strings.TrimSpace(in.Name), Description: strings.TrimSpace(in.Description),
		PriceCents: in.PriceCents, Currency: in.Currency, IncludedCalls: in.IncludedCalls,
		OverageCentsPer1000: in.OverageCentsPer1000, RateLimit: in.RateLimit, Quota: in.Quota,
		Versions: in.Versions, Approval: in.Approval, TrialDays: in.TrialDays,
	}
	if p.Name == "" {
		p.Name = "Untitled plan"
	}
	return planTerms(p)
}

// parsePlanForm reads the plan form: amounts in the currency's main unit
// become minor units; empty overage, rate limit and quotas mean none. It
// returns the form as typed, the input and an EInvalid error (with the
// form's field names) for what cannot be read.
func parsePlanForm(c *gin.Context) (plans.Form, billing.PlanInput, error) {
	trim := func(k string) string { return strings.TrimSpace(c.PostForm(k)) }
	f := plans.Form{
		Slug: trim("slug"), Name: c.PostForm("name"), Description: c.PostForm("description"),
		Price: trim("price"), Currency: strings.ToLower(trim("currency")), IncludedCalls: trim("included_calls"),
		Overage: trim("overage"), RateRPS: trim("rate_rps"), RateBurst: trim("rate_burst"),
		QuotaDay: trim("quota_day"), QuotaMonth: trim("quota_month"), Approval: trim("approval"), TrialDays: trim("trial_days"),
		Versions: c.PostFormArray("versions"),
	}
	v := tenants.Validation{}
	in := billing.PlanInput{
		Slug: f.Slug, Name: f.Name, Description: f.Description, Currency: f.Currency,
		Approval: billing.Approval(f.Approval), Versions: slices.Clone(f.Versions),
	}
	if f.Currency == "" {
		v.Add("currency", "Choose a currency.")
	}
	var msg string
	if in.PriceCents, msg = parseAmount(f.Price, f.Currency); msg != "" {
		if f.Price == "" {
			msg = "Enter a monthly price, or 0 for a free plan."
		}
		v.Add("price", msg)
	}
	count := func(field, s string, max int64, bad string) int64 {
		n, ok := parseCount(s)
		switch {
		case !ok:
			v.Add(field, bad)
		case n > max:
			v.Add(field, "Enter at most "+components.Count(max)+".")
		}
		return n
	}
	if f.IncludedCalls != "" {
		in.IncludedCalls = count("included_calls", f.IncludedCalls, math.MaxInt64/2, "Enter a whole number of calls, like 10000.")
	}
	if f.Overage != "" {
		o, msg := parseAmount(f.Overage, f.Currency)
		if msg != "" {
			v.Add("overage", msg)
		}
		in.OverageCentsPer1000 = &o
	}
	switch {
	case f.RateRPS == "" && f.RateBurst != "":
		v.Add("rate_rps", "Enter the requests per second, or leave the burst empty too.")
	case f.RateRPS != "":
		rl := billing.RateLimit{RequestsPerSecond: int(count("rate_rps", f.RateRPS, math.MaxInt32, "Enter a whole number of requests per second, like 10."))}
		if f.RateBurst != "" {
			rl.Burst = int(count("rate_burst", f.RateBurst, math.MaxInt32, "Enter a whole number of requests, like 20."))
		}
		in.RateLimit = &rl
	}
	if f.QuotaDay != "" {
		d := count("quota_day", f.QuotaDay, math.MaxInt64/2, "Enter a whole number of calls a day, like 1000.")
		in.Quota.Day = &d
	}
	if f.QuotaMonth != "" {
		m := count("quota_month", f.QuotaMonth, math.MaxInt64/2, "Enter a whole number of calls a month, like 30000.")
		in.Quota.Month = &m
	}
	if f.TrialDays != "" {
		in.TrialDays = int(count("trial_days", f.TrialDays, 10_000, "Enter a whole number of days, like 14, or 0."))
	}
	return f, in, v.Err()
}

// planFormOf fills the plan form with a revision's terms.
func planFormOf(p billing.Plan) plans.Form {
	f := plans.Form{
		Slug: p.Slug, Name: p.Name, Description: p.Description, Price: formatAmount(p.PriceCents, p.Currency), Currency: p.Currency,
		IncludedCalls: strconv.FormatInt(p.IncludedCalls, 10), Approval: string(p.Approval), TrialDays: strconv.Itoa(p.TrialDays),
		Versions: slices.Clone(p.Versions),
	}
	if p.OverageCentsPer1000 != nil {
		f.Overage = formatAmount(*p.OverageCentsPer1000, p.Currency)
	}
	if p.RateLimit != nil {
		f.RateRPS, f.RateBurst = strconv.Itoa(p.RateLimit.RequestsPerSecond), strconv.Itoa(p.RateLimit.Burst)
	}
	if p.Quota.Day != nil {
		f.QuotaDay = strconv.FormatInt(*p.Quota.Day, 10)
	}
	if p.Quota.Month != nil {
		f.QuotaMonth = strconv.FormatInt(*p.Quota.Month, 10)
	}
	return f
}

// planPage loads a plan's page; the edit form holds the latest revision's
// terms unless the caller replaces them.
func (w *Console) planPage(c *gin.Context, a catalog.API) (plans.DetailProps, error) {
	ctx := c.Request.Context()
	org := currentOrg(c)
	revs, err := w.Plans.PlanRevisions(ctx, org.ID, a.ID, c.Param("plan"))
	if err != nil {
		return plans.DetailProps{}, err
	}
	if len(revs) == 0 {
		return plans.DetailProps{}, tenants.Errorf(tenants.ENotFound, "Plan not found.")
	}
	latest := revs[0]
	p := plans.DetailProps{
		APISlug: a.Slug, APIName: a.Name, Slug: latest.Slug, Name: latest.Name, State: string(latest.State), Revision: latest.Revision,
		CanManage: currentRole(c).CanManagePlans(), Current: planTerms(latest), Form: planFormOf(latest),
	}
	for _, r := range revs {
		switch r.State {
		case billing.PlanPublished:
			p.CanDeprecate, p.CanClose = true, true
			if latest.State == billing.PlanDraft {
				p.OnSale = r.Revision
			}
		case billing.PlanDeprecated:
			p.CanClose = true
		}
		p.Revisions = append(p.Revisions, plans.RevisionRow{
			Revision: r.Revision, State: string(r.State), Terms: planTerms(r),
			Created: formatTime(r.CreatedAt), Published: formatTimePtr(r.PublishedAt, ""),
		})
	}
	p.CanPublish = latest.State == billing.PlanDraft
	p.CanEdit = latest.State == billing.PlanDraft || latest.State == billing.PlanPublished
	if p.Versions, err = w.planVersions(ctx, org.ID, a.Slug); err != nil {
		return plans.DetailProps{}, err
	}
	p.Page = w.page(c, latest.Name+" · Plans of "+a.Name, "apis")
	return p, nil
}

// showPlan shows a plan with its revisions, its actions and the edit form.
func (w *Console) showPlan(c *gin.Context) {
	a, ok := w.planAPI(c)
	if !ok {
		return
	}
	p, err := w.planPage(c, a)
	if err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, http.StatusOK, plans.Detail(p))
}

// updatePlan saves new terms: a draft changes in place, a published plan
// gets a new draft revision (its subscribers keep their terms).
func (w *Console) updatePlan(c *gin.Context) {
	a, ok := w.planAPI(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	org := currentOrg(c)
	slug := c.Param("plan")
	f, in, err := parsePlanForm(c)
	var before, after billing.Plan
	if err == nil {
		before, err = w.Plans.Plan(ctx, org.ID, a.ID, slug)
	}
	if err == nil {
		after, err = w.Plans.UpdatePlan(ctx, org.ID, a.ID, slug, w.actor(c), planPatch(in))
	}
	if err != nil {
		w.rerenderPlan(c, a, f, err, nil)
		return
	}
	switch {
	case after.Revision > before.Revision:
		setFlash(c, "success", "Saved as draft revision "+strconv.Itoa(after.Revision)+". Revision "+strconv.Itoa(before.Revision)+
			" stays on sale until you publish the draft; its subscribers keep their terms.")
	case after.ID == before.ID && after.UpdatedAt.Equal(before.UpdatedAt):
		setFlash(c, "info", "Nothing changed.")
	default:
		setFlash(c, "success", "Draft revision "+strconv.Itoa(after.Revision)+" saved.")
	}
	redirect(c, plansURL(c, a.Slug, after.Slug))
}

// planPatch sets every term from the edit form (the slug never changes).
func planPatch(in billing.PlanInput) billing.PlanPatch {
	p := billing.PlanPatch{
		Name: &in.Name, Description: &in.Description, PriceCents: &in.PriceCents, Currency: &in.Currency,
		IncludedCalls: &in.IncludedCalls, Approval: &in.Approval, Versions: &in.Versions, TrialDays: &in.TrialDays,
		OverageCentsPer1000: billing.Null[int64](), RateLimit: billing.Null[billing.RateLimit](),
		Quota: &billing.QuotaPatch{Day: billing.Null[int64](), Month: billing.Null[int64]()},
	}
	if in.Versions == nil {
		p.Versions = &[]string{}
	}
	if in.OverageCentsPer1000 != nil {
		p.OverageCentsPer1000 = billing.Some(*in.OverageCentsPer1000)
	}
	if in.RateLimit != nil {
		p.RateLimit = billing.Some(*in.RateLimit)
	}
	if in.Quota.Day != nil {
		p.Quota.Day = billing.Some(*in.Quota.Day)
	}
	if in.Quota.Month != nil {
		p.Quota.Month = billing.Some(*in.Quota.Month)
	}
	return p
}

// previewPlanEdit re-renders the plan page with the edited terms as the
// market would show them; nothing is saved.
func (w *Console) previewPlanEdit(c *gin.Context) {
	a, ok := w.planAPI(c)
	if !ok {
		return
	}
	f, in, err := parsePlanForm(c)
	var pv *market.PlanTerms
	if err == nil {
		in.Slug = c.Param("plan")
		t := previewTerms(in)
		pv = &t
	}
	w.rerenderPlan(c, a, f, err, pv)
}

// rerenderPlan shows the plan page with the edit form as typed, its errors
// or its preview.
func (w *Console) rerenderPlan(c *gin.Context, a catalog.API, f plans.Form, err error, pv *market.PlanTerms) {
	if err != nil && !isFormError(err) {
		w.fail(c, err)
		return
	}
	p, lerr := w.planPage(c, a)
	if lerr != nil {
		w.fail(c, lerr)
		return
	}
	f.Slug = p.Slug
	p.Form, p.Preview = f, pv
	status := http.StatusOK
	if err != nil {
		p.Message, p.Errors = formErrors(err, planFieldNames)
		status = httpStatusForForm(err)
	}
	w.render(c, status, plans.Detail(p))
}

// planAction runs a lifecycle action and reports it in a flash message.
func (w *Console) planAction(c *gin.Context, do func(ctx context.Context, orgID, apiID, slug string, a tenants.Actor) (billing.Plan, error),
	success func(a catalog.API, p billing.Plan) string) {
	a, ok := w.planAPI(c)
	if !ok {
		return
	}
	p, err := do(c.Request.Context(), currentOrg(c).ID, a.ID, c.Param("plan"), w.actor(c))
	msg := ""
	if err == nil {
		msg = success(a, p)
	}
	w.flashResult(c, err, msg)
	if c.IsAborted() {
		return
	}
	redirect(c, plansURL(c, a.Slug, c.Param("plan")))
}

// publishPlan puts the plan's draft revision on sale.
func (w *Console) publishPlan(c *gin.Context) {
	w.planAction(c, w.Plans.PublishPlan, func(a catalog.API, p billing.Plan) string {
		msg := p.Name + ": revision " + strconv.Itoa(p.Revision) + " is published."
		if p.SupersedesID != nil {
			msg += " Revision " + strconv.Itoa(p.Revision-1) + " is deprecated: it takes no new subscriptions, and its subscribers keep its terms."
		}
		if _, err := w.Market.API(c.Request.Context(), currentOrg(c).Slug, a.Slug); err != nil {
			msg += " It shows in the market once " + a.Name + " is public and live in production."
		}
		return msg
	})
}

// deprecatePlan stops new subscriptions to the plan.
func (w *Console) deprecatePlan(c *gin.Context) {
	w.planAction(c, w.Plans.DeprecatePlan, func(_ catalog.API, p billing.Plan) string {
		return p.Name + " is deprecated: it takes no new subscriptions, and its subscribers keep it."
	})
}

// closePlan ends the plan for good.
func (w *Console) closePlan(c *gin.Context) {
	w.planAction(c, w.Plans.ClosePlan, func(_ catalog.API, p billing.Plan) string {
		return p.Name + " is closed."
	})
}
