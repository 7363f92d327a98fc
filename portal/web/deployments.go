package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/templates/pages/apis"
)

// envParam is the :env of the path: test or production. Anything else is
// a page that does not exist.
func envParam(c *gin.Context) (string, bool) {
	env := c.Param("env")
	return env, env == catalog.EnvTest || env == catalog.EnvProduction
}

// deployPage loads the publish dialog: what deploying the draft to env
// would change and what would go live.
func (w *Console) deployPage(c *gin.Context, env string) (apis.DeployProps, error) {
	ctx := c.Request.Context()
	org := currentOrg(c)
	a, ver, err := w.Catalog.Version(ctx, org.ID, c.Param("api"), c.Param("version"))
	if err != nil {
		return apis.DeployProps{}, err
	}
	p := apis.DeployProps{
		APISlug: a.Slug, APIName: a.Name, Version: ver.Version, State: string(ver.State), Env: env, EnvLabel: envLabel(env),
		Mock: ver.Mock, Upstream: upstreamFormOf(ver.Upstream), CanDeploy: ver.State != catalog.Offline,
		Settings: settingsFormOf(ver.Settings),
	}
	if ver.State == catalog.Offline {
		p.Blocked = "Version " + ver.Version + " is offline, which is final. Create a new version instead."
	}
	revs, err := w.Catalog.Revisions(ctx, org.ID, a.Slug, ver.Version, env)
	if err != nil {
		return apis.DeployProps{}, err
	}
	p.Next = 1
	for _, r := range revs {
		p.Next = max(p.Next, r.Number+1)
		if r.Live {
			p.Live = liveRevision(r)
		}
	}
	if p.Live != nil {
		if p.Changes, _, err = w.Catalog.PendingChanges(ctx, org.ID, a.Slug, ver.Version, env); err != nil {
			return apis.DeployProps{}, err
		}
	}
	ops, err := w.Catalog.Operations(ctx, org.ID, ver.ID)
	if err != nil {
		return apis.DeployProps{}, err
	}
	for _, o := range ops {
		p.Ops = append(p.Ops, operationRow(o))
	}
	keys, err := w.Catalog.BackendKeys(ctx, org.ID, ver.ID)
	if err != nil {
		return apis.DeployProps{}, err
	}
	for _, k := range keys {
		if k.Status == "active" {
			p.KeyCount++
		}
	}
	p.Page = w.page(c, "Deploy "+ver.Version+" to "+env, "apis")
	return p, nil
}

// showDeploy shows the publish dialog for an environment.
func (w *Console) showDeploy(c *gin.Context) {
	env, ok := envParam(c)
	if !ok {
		w.NotFound(c)
		return
	}
	p, err := w.deployPage(c, env)
	if err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, http.StatusOK, apis.Deploy(p))
}

// deploy publishes the draft to an environment as a new revision.
func (w *Console) deploy(c *gin.Context) {
	env, ok := envParam(c)
	if !ok {
		w.NotFound(c)
		return
	}
	note := c.PostForm("note")
	r, err := w.Catalog.Deploy(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"), env, w.actor(c), note)
	if err != nil {
		if !isFormError(err) {
			w.fail(c, err)
			return
		}
		p, lerr := w.deployPage(c, env)
		if lerr != nil {
			w.fail(c, lerr)
			return
		}
		p.Note = note
		msg, fields := formErrors(err, nil)
		p.Message = msg
		for _, m := range fields {
			p.Problems = append(p.Problems, m)
		}
		slices.Sort(p.Problems)
		w.render(c, httpStatusForForm(err), apis.Deploy(p))
		return
	}
	setFlash(c, "success", fmt.Sprintf("Deployed %s to %s as revision #%d.", c.Param("version"), env, r.Number))
	redirect(c, versionURL(c, c.Param("api"), c.Param("version"))+"#environments")
}

// showRevisions shows each environment's revisions, newest first.
func (w *Console) showRevisions(c *gin.Context) {
	ctx := c.Request.Context()
	org := currentOrg(c)
	a, ver, err := w.Catalog.Version(ctx, org.ID, c.Param("api"), c.Param("version"))
	if err != nil {
		w.fail(c, err)
		return
	}
	revs, err := w.Catalog.Revisions(ctx, org.ID, a.Slug, ver.Version, "")
	if err != nil {
		w.fail(c, err)
		return
	}
	p := apis.RevisionsProps{
		APISlug: a.Slug, APIName: a.Name, Version: ver.Version, State: string(ver.State),
		CanManage: currentRole(c).CanManageCatalog(), CanRollback: ver.State != catalog.Offline,
	}
	for _, env := range []string{catalog.EnvProduction, catalog.EnvTest} {
		h := apis.EnvHistory{Env: env, Label: envLabel(env)}
		// What the environment serves: the live revision, or the one a
		// live rollback restored.
		current := map[int]bool{}
		for _, r := range revs {
			if r.Environment == env && r.Live {
				current[r.Number] = true
				if r.SourceNumber != nil {
					current[*r.SourceNumber] = true
				}
			}
		}
		for _, r := range revs {
			if r.Environment != env {
				continue
			}
			row := apis.RevisionRow{
				Number: r.Number, Kind: r.Kind, By: r.CreatedByEmail, When: formatTime(r.CreatedAt), Note: r.Note,
				Live: r.Live, Current: current[r.Number], Operations: len(r.Snapshot.Operations), Changes: r.Changes,
			}
			if r.SourceNumber != nil {
				row.RolledBack = *r.SourceNumber
			}
			h.Revisions = append(h.Revisions, row)
		}
		p.Environments = append(p.Environments, h)
	}
	p.Page = w.page(c, "Revisions of "+a.Name+" "+ver.Version, "apis")
	w.render(c, http.StatusOK, apis.Revisions(p))
}

// rollback makes an earlier revision live again, as a new revision.
func (w *Console) rollback(c *gin.Context) {
	env, ok := envParam(c)
	n, err := strconv.Atoi(c.Param("rev"))
	if !ok || err != nil || n < 1 {
		w.NotFound(c)
		return
	}
	r, err := w.Catalog.Rollback(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"), env, n, w.actor(c))
	if err != nil {
		w.flashResult(c, err, "")
		if c.IsAborted() {
			return
		}
	} else {
		setFlash(c, "success", fmt.Sprintf("Rolled %s back to revision #%d: it is live again as revision #%d.", env, n, r.Number))
	}
	redirect(c, versionURL(c, c.Param("api"), c.Param("version"), "revisions"))
}
