package web

import (
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/portal/catalog"
	portalmarket "github.com/portico-dev/portico/portal/market"
	"github.com/portico-dev/portico/templates/components"
	"github.com/portico-dev/portico/templates/pages/market"
	"github.com/portico-dev/portico/tenants"
)

// subscribeFields maps the services' field names to the subscribe form's.
var subscribeFields = map[string]string{
	"app_id": "app", "name": "app_name", "environment": "app_environment",
}

// chosenPlan returns the market plan with the slug.
func chosenPlan(d portalmarket.Detail, slug string) (billing.Plan, bool) {
	for _, pl := range d.Plans {
		if pl.Slug == slug {
			return pl, true
		}
	}
	return billing.Plan{}, false
}

// subscribeForm builds the subscribe form for the plan p.Chosen: the
// organisations the user may subscribe for (owner, admin or developer),
// the apps of the one chosen (partner, a slug; the first by default), the
// versions the plan grants that take new subscriptions and, for a plan
// that needs approval, a message to the provider.
func (w *Console) subscribeForm(c *gin.Context, d portalmarket.Detail, p market.APIProps, partner string) (*market.SubscribeForm, error) {
	ctx := c.Request.Context()
	pl, _ := chosenPlan(d, p.Chosen)
	t := planTerms(pl)
	f := &market.SubscribeForm{
		Action: components.Path("market", d.Org.Slug, d.API.Slug, "subscribe"), SwitchURL: market.APIPath(d.Org.Slug, d.API.Slug) + "#plans",
		Plan: pl.Slug, PlanName: pl.Name, PlanPrice: t.Price, Manual: pl.Approval == billing.ApprovalManual, Paid: pl.PriceCents > 0,
		ShownVersion: c.Query("version"), NewOrgURL: "/orgs/new", AppEnvironment: tenants.EnvProduction,
	}
	orgs, err := w.Tenants.ListOrganizations(ctx, w.user(c).ID)
	if err != nil {
		return nil, err
	}
	var chosen *tenants.Organization
	for _, o := range orgs {
		if !o.Role.CanManageApps() {
			continue
		}
		f.Orgs = append(f.Orgs, components.Option{Value: o.Org.Slug, Label: o.Org.Name})
		if chosen == nil || o.Org.Slug == partner {
			chosen = &o.Org
		}
	}
	if chosen == nil {
		f.NoOrg = true
		return f, nil
	}
	f.Org, f.OrgName = chosen.Slug, chosen.Name
	as, err := w.Tenants.ListApps(ctx, chosen.ID, tenants.Page{Limit: 100})
	if err != nil {
		return nil, err
	}
	for _, a := range as.Items {
		label := a.Name
		if a.Environment == tenants.EnvTest {
			label += " (test)"
		}
		f.Apps = append(f.Apps, components.Option{Value: a.ID, Label: label})
	}
	f.Apps = append(f.Apps, components.Option{Value: market.NewApp, Label: "Create a new app"})
	f.App = f.Apps[0].Value
	for _, v := range d.Versions {
		if v.State == catalog.Published && slices.Contains(pl.Versions, v.Version) {
			f.Versions = append(f.Versions, components.Option{Value: v.Version, Label: v.Version})
			if v.Version == p.Version.Version || f.Version == "" {
				f.Version = v.Version
			}
		}
	}
	return f, nil
}

// subscribe subscribes an app of one of the user's organisations (form
// field org) to the plan chosen on an API's market page, creating the app
// first when asked to, and continues on the new subscription's page.
func (w *Console) subscribe(c *gin.Context) {
	ctx := c.Request.Context()
	d, err := w.Market.API(ctx, c.Param("org"), c.Param("api"))
	if err != nil {
		w.fail(c, err)
		return
	}
	planSlug := c.PostForm("plan")
	if _, ok := chosenPlan(d, planSlug); !ok {
		w.fail(c, tenants.Errorf(tenants.ENotFound, "No plan %q on offer for %s.", planSlug, d.API.Name))
		return
	}
	in := market.SubscribeForm{
		Org: c.PostForm("org"), App: c.PostForm("app"), AppName: c.PostForm("app_name"), AppEnvironment: c.PostForm("app_environment"),
		Version: c.PostForm("version"), Message: c.PostForm("message"),
	}
	var sub billing.Subscription
	org, role, err := w.Tenants.OrganizationForMember(ctx, w.user(c).ID, in.Org)
	switch {
	case tenants.ErrorCode(err) == tenants.ENotFound || tenants.ErrorCode(err) == tenants.EForbidden:
		err = tenants.FieldError("org", "Choose one of your organisations.")
	case err == nil && !role.CanManageApps():
		err = tenants.Errorf(tenants.EForbidden, "Only owners, admins and developers of %s can subscribe its apps.", org.Name)
	case err == nil && in.App == market.NewApp:
		var a tenants.App
		a, err = w.Tenants.CreateApp(ctx, org.ID, w.actor(c), tenants.AppInput{Name: in.AppName, Environment: in.AppEnvironment})
		if err == nil {
			in.App, in.AppName = a.ID, ""
		}
	case err == nil && in.App == "":
		err = tenants.FieldError("app", "Choose an app, or create a new one.")
	}
	if err == nil {
		sub, err = w.Plans.Subscribe(ctx, org.ID, w.actor(c), billing.SubscribeInput{
			AppID: in.App, ProviderOrg: d.Org.Slug, API: d.API.Slug, Version: in.Version, Plan: planSlug, Message: in.Message,
		})
	}
	if err != nil {
		if tenants.ErrorCode(err) == tenants.EInternal {
			w.fail(c, err)
			return
		}
		w.rerenderSubscribe(c, d, planSlug, in, err)
		return
	}
	switch sub.Status {
	case billing.SubActive:
		setFlash(c, "success", "Subscribed: "+sub.AppName+" can call "+sub.APIName+" "+sub.Version+" on plan "+sub.Plan.Name+".")
	case billing.SubPendingApproval:
		setFlash(c, "info", "Request sent to "+sub.ProviderOrgName+". We will email you when they decide.")
	default:
		setFlash(c, "info", "Subscription created: "+sub.Status.Label()+".")
	}
	redirect(c, components.Path("orgs", org.Slug, "subscriptions", sub.ID))
}

// rerenderSubscribe shows the API page again with the subscribe form as
// it was sent and what is wrong with it.
func (w *Console) rerenderSubscribe(c *gin.Context, d portalmarket.Detail, planSlug string, in market.SubscribeForm, err error) {
	version := ""
	for _, v := range d.Versions {
		if v.Version == in.Version {
			version = v.Version
		}
	}
	p, perr := w.marketAPIPage(c, d, version, planSlug)
	if perr != nil {
		w.fail(c, perr)
		return
	}
	f, ferr := w.subscribeForm(c, d, p, in.Org)
	if ferr != nil {
		w.fail(c, ferr)
		return
	}
	if !f.NoOrg && (in.App == market.NewApp || slices.ContainsFunc(f.Apps, func(o components.Option) bool { return o.Value == in.App })) {
		f.App = in.App
	}
	f.AppName, f.Message = in.AppName, in.Message
	if in.AppEnvironment != "" {
		f.AppEnvironment = in.AppEnvironment
	}
	if slices.ContainsFunc(f.Versions, func(o components.Option) bool { return o.Value == in.Version }) {
		f.Version = in.Version
	}
	f.FormMessage, f.Errors = formErrors(err, subscribeFields)
	if strings.TrimSpace(f.FormMessage) == "" {
		f.FormMessage = "The subscription could not be created."
	}
	p.Subscribe = f
	w.render(c, httpStatusForForm(err), market.API(p))
}
