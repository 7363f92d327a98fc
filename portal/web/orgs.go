package web

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/templates/pages/orgs"
	"github.com/portico-dev/portico/tenants"
)

// showDashboard shows an organisation's overview.
func (w *Console) showDashboard(c *gin.Context) {
	ctx := c.Request.Context()
	org, role := currentOrg(c), currentRole(c)
	p := orgs.DashboardProps{CanReadAudit: role.CanReadAudit()}
	members, err := w.Tenants.ListMembers(ctx, org.ID, w.actor(c), tenants.Page{Limit: 100})
	if err != nil {
		w.fail(c, err)
		return
	}
	p.MemberCount = len(members.Items)
	invs, err := w.Tenants.ListInvitations(ctx, org.ID, w.actor(c), tenants.Page{Limit: 100})
	if err != nil {
		w.fail(c, err)
		return
	}
	now := w.Tenants.Now()
	for _, i := range invs.Items {
		if i.Status(now) == "pending" {
			p.PendingInvitations++
		}
	}
	if p.CanReadAudit {
		evs, err := w.Tenants.ListAudit(ctx, org.ID, w.actor(c), tenants.Page{Limit: 8})
		if err != nil {
			w.fail(c, err)
			return
		}
		for _, e := range evs.Items {
			p.RecentActivity = append(p.RecentActivity, orgs.ActivityRow{When: formatTime(e.CreatedAt), Actor: e.ActorEmail, Action: e.Action, Object: e.ObjectType + " " + e.ObjectID})
		}
	}
	if err := w.partnerSummary(c, &p); err != nil {
		w.fail(c, err)
		return
	}
	p.Page = w.page(c, org.Name, "dashboard")
	w.render(c, http.StatusOK, orgs.Dashboard(p))
}

// summaryLimit is how far the dashboard counts; beyond it, it shows
// "100+".
const summaryLimit = 100

// countList counts a list fetched with limit summaryLimit: n, or -1 when
// there are more.
func countList[T any](l tenants.List[T]) int {
	if l.NextCursor != "" {
		return -1
	}
	return len(l.Items)
}

// partnerSummary adds the organisation's apps and subscriptions to the
// dashboard and, when it provides APIs, the requests waiting for its
// decision.
func (w *Console) partnerSummary(c *gin.Context, p *orgs.DashboardProps) error {
	ctx := c.Request.Context()
	org := currentOrg(c)
	page := tenants.Page{Limit: summaryLimit}
	as, err := w.Tenants.ListApps(ctx, org.ID, page)
	if err != nil {
		return err
	}
	p.Apps = countList(as)
	if w.Plans == nil {
		return nil
	}
	active, err := w.Plans.ListSubscriptions(ctx, org.ID, billing.SubscriptionFilter{Status: billing.SubActive}, page)
	if err != nil {
		return err
	}
	p.ActiveSubscriptions = countList(active)
	for _, st := range []billing.SubscriptionStatus{billing.SubPendingApproval, billing.SubPendingPayment} {
		l, err := w.Plans.ListSubscriptions(ctx, org.ID, billing.SubscriptionFilter{Status: st}, page)
		if err != nil {
			return err
		}
		if n := countList(l); n < 0 || p.PendingSubscriptions < 0 {
			p.PendingSubscriptions = -1
		} else {
			p.PendingSubscriptions += n
		}
	}
	apis, err := w.Catalog.ListAPIs(ctx, org.ID, tenants.Page{Limit: 1})
	if err != nil {
		return err
	}
	if p.Provider = len(apis.Items) > 0; p.Provider {
		q, err := w.Plans.ApprovalQueue(ctx, org.ID, page)
		if err != nil {
			return err
		}
		p.PendingApprovals = countList(q)
	}
	return nil
}

// showNewOrg shows the form to create another organisation.
func (w *Console) showNewOrg(c *gin.Context) {
	w.render(c, http.StatusOK, orgs.New(orgs.NewProps{Page: w.page(c, "New organisation", "")}))
}

// createOrg creates an organisation owned by the user.
func (w *Console) createOrg(c *gin.Context) {
	p := orgs.NewProps{Name: c.PostForm("name"), Slug: c.PostForm("slug")}
	org, err := w.Tenants.CreateOrganization(c.Request.Context(), w.actor(c), p.Name, p.Slug)
	if err != nil {
		if tenants.ErrorCode(err) == tenants.EInternal {
			w.fail(c, err)
			return
		}
		p.Page = w.page(c, "New organisation", "")
		p.Message, p.Errors = formErrors(err, nil)
		w.render(c, httpStatusForForm(err), orgs.New(p))
		return
	}
	setFlash(c, "success", "Organisation "+org.Name+" created.")
	redirect(c, "/orgs/"+org.Slug)
}

// showOrgSettings shows the organisation's settings.
func (w *Console) showOrgSettings(c *gin.Context) {
	org := currentOrg(c)
	w.render(c, http.StatusOK, orgs.Settings(orgs.SettingsProps{
		Page: w.page(c, "Settings", "settings"), Name: org.Name, Slug: org.Slug, CanEdit: currentRole(c).CanManageMembers(),
		Description: org.Description, WebsiteURL: org.WebsiteURL, LogoURL: org.LogoURL, BrandColor: org.BrandColor,
	}))
}

// updateOrgSettings saves the organisation's name and public profile. A
// profile field the form did not send stays as it is.
func (w *Console) updateOrgSettings(c *gin.Context) {
	org := currentOrg(c)
	p := orgs.SettingsProps{
		Name: c.PostForm("name"), Slug: org.Slug, CanEdit: currentRole(c).CanManageMembers(),
		Description: org.Description, WebsiteURL: org.WebsiteURL, LogoURL: org.LogoURL, BrandColor: org.BrandColor,
	}
	// sent sets *v to the form's field and returns v, or nil when the form
	// has no such field.
	sent := func(field string, v *string) *string {
		s, ok := c.GetPostForm(field)
		if !ok {
			return nil
		}
		*v = s
		return v
	}
	patch := tenants.OrgPatch{
		Name: &p.Name, Description: sent("description", &p.Description),
		WebsiteURL: sent("website_url", &p.WebsiteURL), LogoURL: sent("logo_url", &p.LogoURL),
	}
	if color, ok := brandColorOf(c); ok {
		p.BrandColor = color
		patch.BrandColor = &p.BrandColor
	}
	updated, err := w.Tenants.UpdateOrganization(c.Request.Context(), org.ID, w.actor(c), patch)
	if err != nil {
		if tenants.ErrorCode(err) == tenants.EInternal {
			w.fail(c, err)
			return
		}
		p.Page = w.page(c, "Settings", "settings")
		p.Message, p.Errors = formErrors(err, nil)
		w.render(c, httpStatusForForm(err), orgs.Settings(p))
		return
	}
	setFlash(c, "success", "Settings saved.")
	redirect(c, "/orgs/"+updated.Slug+"/settings")
}

// brandColorOf reads the brand colour from the settings form, which has a
// text field (brand_color) and a colour picker (brand_color_picker) that
// cannot follow each other without JavaScript: whichever of them differs
// from the value it started with (brand_color_was,
// brand_color_picker_was) wins, the text field first. ok is false when
// the form has no brand colour field.
func brandColorOf(c *gin.Context) (color string, ok bool) {
	text, ok := c.GetPostForm("brand_color")
	if !ok {
		return "", false
	}
	text = strings.TrimSpace(text)
	picker, hasPicker := c.GetPostForm("brand_color_picker")
	switch {
	case text != strings.TrimSpace(c.PostForm("brand_color_was")):
		return text, true
	case hasPicker && !strings.EqualFold(strings.TrimSpace(picker), strings.TrimSpace(c.PostForm("brand_color_picker_was"))):
		return strings.TrimSpace(picker), true
	}
	return text, true
}
