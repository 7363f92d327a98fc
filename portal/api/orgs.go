package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/tenants"
)

// listOrgs lists the organisations the caller belongs to. It is one page:
// nobody belongs to more than a few, but the shape matches every list.
func (a *API) listOrgs(c *gin.Context) {
	orgs, err := a.Tenants.ListOrganizations(c.Request.Context(), a.actor(c).UserID)
	if err != nil {
		a.fail(c, err)
		return
	}
	out := listBody[orgWithRoleView]{Items: make([]orgWithRoleView, len(orgs))}
	for i, o := range orgs {
		out.Items[i] = orgWithRoleView{orgView: viewOrg(o.Org), Role: o.Role}
	}
	a.ok(c, http.StatusOK, out)
}

type createOrgRequest struct {
	Name string `json:"name"`
	Slug string `json:"slug"`
}

// createOrg creates an organisation owned by the caller.
func (a *API) createOrg(c *gin.Context) {
	var req createOrgRequest
	if err := decode(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	org, err := a.Tenants.CreateOrganization(c.Request.Context(), a.actor(c), req.Name, req.Slug)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusCreated, orgWithRoleView{orgView: viewOrg(org), Role: tenants.RoleOwner})
}

// showOrg returns the organisation and the caller's role in it.
func (a *API) showOrg(c *gin.Context) {
	a.ok(c, http.StatusOK, orgWithRoleView{orgView: viewOrg(currentOrg(c)), Role: c.MustGet(ctxRole).(tenants.Role)})
}

type updateOrgRequest struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	WebsiteURL  *string `json:"website_url"`
	LogoURL     *string `json:"logo_url"`
	BrandColor  *string `json:"brand_color"`
}

// updateOrg changes the organisation's name and public branding.
func (a *API) updateOrg(c *gin.Context) {
	var req updateOrgRequest
	if err := decode(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	org, err := a.Tenants.UpdateOrganization(c.Request.Context(), currentOrg(c).ID, a.actor(c), tenants.OrgPatch{
		Name: req.Name, Description: req.Description, WebsiteURL: req.WebsiteURL, LogoURL: req.LogoURL, BrandColor: req.BrandColor,
	})
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, orgWithRoleView{orgView: viewOrg(org), Role: c.MustGet(ctxRole).(tenants.Role)})
}

// listAudit returns the organisation's audit log, newest first.
func (a *API) listAudit(c *gin.Context) {
	p, err := page(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	l, err := a.Tenants.ListAudit(c.Request.Context(), currentOrg(c).ID, a.actor(c), p)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, listOf(l, viewAudit))
}
