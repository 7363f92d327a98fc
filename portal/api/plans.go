package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/tenants"
)

func (a *API) registerPlans(org *gin.RouterGroup) {
	w := a.requireRole(tenants.Role.CanManagePlans, "Only owners, admins and billing members can change plans.")
	p := "/apis/:api/plans"
	org.GET(p, a.listPlans)
	org.POST(p, w, a.createPlan)
	org.GET(p+"/:plan", a.showPlan)
	org.PATCH(p+"/:plan", w, a.updatePlan)
	org.GET(p+"/:plan/revisions", a.listPlanRevisions)
	org.POST(p+"/:plan/publish", w, a.publishPlan)
	org.POST(p+"/:plan/deprecate", w, a.deprecatePlan)
	org.POST(p+"/:plan/close", w, a.closePlan)
}

// planAPI resolves :api to the API's id within the caller's organisation.
func (a *API) planAPI(c *gin.Context) (string, bool) {
	x, err := a.Catalog.API(c.Request.Context(), currentOrg(c).ID, c.Param("api"))
	if err != nil {
		a.fail(c, err)
		return "", false
	}
	return x.ID, true
}

func planView(p billing.Plan) billing.Plan {
	if p.Versions == nil {
		p.Versions = []string{}
	}
	return p
}

// listPlans lists an API's plans (the latest revision of each).
func (a *API) listPlans(c *gin.Context) {
	apiID, ok := a.planAPI(c)
	if !ok {
		return
	}
	pg, err := page(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	l, err := a.Plans.ListPlans(c.Request.Context(), currentOrg(c).ID, apiID, pg)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, listOf(l, planView))
}

// createPlan creates a draft plan.
func (a *API) createPlan(c *gin.Context) {
	apiID, ok := a.planAPI(c)
	if !ok {
		return
	}
	var in billing.PlanInput
	if err := decode(c, &in); err != nil {
		a.fail(c, err)
		return
	}
	p, err := a.Plans.CreatePlan(c.Request.Context(), currentOrg(c).ID, apiID, a.actor(c), in)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusCreated, planView(p))
}

// showPlan returns a plan's latest revision.
func (a *API) showPlan(c *gin.Context) {
	apiID, ok := a.planAPI(c)
	if !ok {
		return
	}
	p, err := a.Plans.Plan(c.Request.Context(), currentOrg(c).ID, apiID, c.Param("plan"))
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, planView(p))
}

// updatePlan changes a plan; a published plan gets a new draft revision
// and its subscribers keep the terms they signed up for.
func (a *API) updatePlan(c *gin.Context) {
	apiID, ok := a.planAPI(c)
	if !ok {
		return
	}
	var patch billing.PlanPatch
	if err := decode(c, &patch); err != nil {
		a.fail(c, err)
		return
	}
	p, err := a.Plans.UpdatePlan(c.Request.Context(), currentOrg(c).ID, apiID, c.Param("plan"), a.actor(c), patch)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, planView(p))
}

// listPlanRevisions lists a plan's revisions, newest first.
func (a *API) listPlanRevisions(c *gin.Context) {
	apiID, ok := a.planAPI(c)
	if !ok {
		return
	}
	ps, err := a.Plans.PlanRevisions(c.Request.Context(), currentOrg(c).ID, apiID, c.Param("plan"))
	if err != nil {
		a.fail(c, err)
		return
	}
	out := listBody[billing.Plan]{Items: make([]billing.Plan, len(ps))}
	for i, p := range ps {
		out.Items[i] = planView(p)
	}
	a.ok(c, http.StatusOK, out)
}

func (a *API) planAction(c *gin.Context, do func(ctx *gin.Context, orgID, apiID, slug string, actor tenants.Actor) (billing.Plan, error)) {
	apiID, ok := a.planAPI(c)
	if !ok {
		return
	}
	p, err := do(c, currentOrg(c).ID, apiID, c.Param("plan"), a.actor(c))
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, planView(p))
}

// publishPlan publishes the plan's latest draft revision.
func (a *API) publishPlan(c *gin.Context) {
	a.planAction(c, func(ctx *gin.Context, orgID, apiID, slug string, actor tenants.Actor) (billing.Plan, error) {
		return a.Plans.PublishPlan(ctx.Request.Context(), orgID, apiID, slug, actor)
	})
}

// deprecatePlan stops new subscriptions to a plan.
func (a *API) deprecatePlan(c *gin.Context) {
	a.planAction(c, func(ctx *gin.Context, orgID, apiID, slug string, actor tenants.Actor) (billing.Plan, error) {
		return a.Plans.DeprecatePlan(ctx.Request.Context(), orgID, apiID, slug, actor)
	})
}

// closePlan closes a plan for good.
func (a *API) closePlan(c *gin.Context) {
	a.planAction(c, func(ctx *gin.Context, orgID, apiID, slug string, actor tenants.Actor) (billing.Plan, error) {
		return a.Plans.ClosePlan(ctx.Request.Context(), orgID, apiID, slug, actor)
	})
}
