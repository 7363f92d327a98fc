package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/tenants"
)

// requireRole stops the chain unless the caller's role passes allowed.
func (a *API) requireRole(allowed func(tenants.Role) bool, msg string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !allowed(c.MustGet(ctxRole).(tenants.Role)) {
			a.fail(c, tenants.Errorf(tenants.EForbidden, "%s", msg))
			return
		}
		c.Next()
	}
}

func (a *API) registerCatalog(org *gin.RouterGroup) {
	w := a.requireRole(tenants.Role.CanManageCatalog, "Only owners, admins and developers can change APIs.")
	org.GET("/apis", a.listAPIs)
	org.POST("/apis", w, a.createAPI)
	org.GET("/apis/:api", a.showAPI)
	org.PATCH("/apis/:api", w, a.updateAPI)
	org.GET("/apis/:api/versions", a.listVersions)
	org.POST("/apis/:api/versions", w, a.createVersion)
	v := "/apis/:api/versions/:version"
	org.GET(v, a.showVersion)
	org.PATCH(v, w, a.updateVersion)
	org.GET(v+"/openapi", a.showVersionSpec)
	org.GET(v+"/operations", a.listOperations)
	org.PATCH(v+"/operations/:operation", w, a.updateOperation)
	org.GET(v+"/deployments", a.listDeployments)
	org.POST(v+"/deployments", w, a.createDeployment)
	org.POST(v+"/environments/:env/rollback", w, a.rollback)
	org.POST(v+"/deprecate", w, a.deprecateVersion)
	org.POST(v+"/offline", w, a.takeVersionOffline)
	org.GET(v+"/backend-keys", a.listBackendKeys)
	org.POST(v+"/backend-keys", w, a.rotateBackendKey)
	org.DELETE(v+"/backend-keys/:key", w, a.retireBackendKey)
}

type apiView struct {
	ID          string             `json:"id"`
	Slug        string             `json:"slug"`
	Name        string             `json:"name"`
	Summary     string             `json:"summary"`
	Description string             `json:"description"`
	Category    string             `json:"category"`
	Tags        []string           `json:"tags"`
	LogoURL     string             `json:"logo_url"`
	Visibility  catalog.Visibility `json:"visibility"`
	ContactURL  string             `json:"contact_url"`
	TermsURL    string             `json:"terms_url"`
	CreatedAt   time.Time          `json:"created_at"`
	UpdatedAt   time.Time          `json:"updated_at"`
}

func viewAPI(x catalog.API) apiView {
	tags := []string(x.Tags)
	if tags == nil {
		tags = []string{}
	}
	return apiView{ID: x.ID, Slug: x.Slug, Name: x.Name, Summary: x.Summary, Description: x.Description, Category: x.Category,
		Tags: tags, LogoURL: x.LogoURL, Visibility: x.Visibility, ContactURL: x.ContactURL, TermsURL: x.TermsURL,
		CreatedAt: x.CreatedAt, UpdatedAt: x.UpdatedAt}
}

type apiRequest struct {
	Slug        *string             `json:"slug"`
	Name        *string             `json:"name"`
	Summary     *string             `json:"summary"`
	Description *string             `json:"description"`
	Category    *string             `json:"category"`
	Tags        *[]string           `json:"tags"`
	LogoURL     *string             `json:"logo_url"`
	Visibility  *catalog.Visibility `json:"visibility"`
	ContactURL  *string             `json:"contact_url"`
	TermsURL    *string             `json:"terms_url"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// listAPIs lists the organisation's APIs.
func (a *API) listAPIs(c *gin.Context) {
	p, err := page(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	l, err := a.Catalog.ListAPIs(c.Request.Context(), currentOrg(c).ID, p)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, listOf(l, viewAPI))
}

// createAPI creates an API.
func (a *API) createAPI(c *gin.Context) {
	var req apiRequest
	if err := decode(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	in := catalog.APIInput{Slug: str(req.Slug), Name: str(req.Name), Summary: str(req.Summary), Description: str(req.Description),
		Category: str(req.Category), LogoURL: str(req.LogoURL), ContactURL: str(req.ContactURL), TermsURL: str(req.TermsURL)}
	if req.Tags != nil {
		in.Tags = *req.Tags
	}
	if req.Visibility != nil {
		in.Visibility = *req.Visibility
	}
	x, err := a.Catalog.CreateAPI(c.Request.Context(), currentOrg(c).ID, a.actor(c), in)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusCreated, viewAPI(x))
}

// showAPI returns one API.
func (a *API) showAPI(c *gin.Context) {
	x, err := a.Catalog.API(c.Request.Context(), currentOrg(c).ID, c.Param("api"))
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, viewAPI(x))
}

// updateAPI edits an API's metadata.
func (a *API) updateAPI(c *gin.Context) {
	var req apiRequest
	if err := decode(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	if req.Slug != nil && *req.Slug != c.Param("api") {
		a.fail(c, tenants.FieldError("slug", "The slug is permanent: it is part of every URL and gateway route."))
		return
	}
	x, err := a.Catalog.UpdateAPI(c.Request.Context(), currentOrg(c).ID, c.Param("api"), a.actor(c), catalog.APIPatch{
		Name: req.Name, Summary: req.Summary, Description: req.Description, Category: req.Category, Tags: req.Tags,
		LogoURL: req.LogoURL, ContactURL: req.ContactURL, TermsURL: req.TermsURL, Visibility: req.Visibility,
	})
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, viewAPI(x))
}

type versionView struct {
	ID           string                     `json:"id"`
	Version      string                     `json:"version"`
	State        catalog.State              `json:"state"`
	Mock         bool                       `json:"mock"`
	Upstream     *catalog.Upstream          `json:"upstream"`
	Settings     catalog.Settings           `json:"settings"`
	HasOpenAPI   bool                       `json:"has_openapi"`
	SunsetAt     *time.Time                 `json:"sunset_at"`
	DeprecatedAt *time.Time                 `json:"deprecated_at"`
	OfflineAt    *time.Time                 `json:"offline_at"`
	CreatedAt    time.Time                  `json:"created_at"`
	UpdatedAt    time.Time                  `json:"updated_at"`
	Environments map[string]*deploymentView `json:"environments,omitempty"`
	Operations   []operationView            `json:"operations,omitempty"`
	BackendKey   *backendKeyView            `json:"backend_key,omitempty"`
}

func viewVersion(v catalog.Version) versionView {
	out := versionView{ID: v.ID, Version: v.Version, State: v.State, Mock: v.Mock, Settings: v.Settings, HasOpenAPI: v.OpenAPI != "",
		SunsetAt: v.SunsetAt, DeprecatedAt: v.DeprecatedAt, OfflineAt: v.OfflineAt, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
	if !v.Mock {
		up := v.Upstream
		if up.Targets == nil {
			up.Targets = []catalog.Target{}
		}
		out.Upstream = &up
	}
	return out
}

type operationView struct {
	OperationID  string                `json:"operation_id"`
	Method       string                `json:"method"`
	Path         string                `json:"path"`
	Summary      string                `json:"summary"`
	Parameters   []catalog.Parameter   `json:"parameters"`
	Source       string                `json:"source"`
	TimeoutMS    *int                  `json:"timeout_ms"`
	MaxBodyBytes *int64                `json:"max_body_bytes"`
	Billable     bool                  `json:"billable"`
	Mock         *catalog.MockResponse `json:"mock,omitempty"`
}

func viewOperation(o catalog.Operation) operationView {
	v := operationView{OperationID: o.OperationID, Method: o.Method, Path: o.Path, Summary: o.Summary, Parameters: o.Parameters,
		Source: o.Source, TimeoutMS: o.TimeoutMS, MaxBodyBytes: o.MaxBodyBytes, Billable: o.Billable}
	if v.Parameters == nil {
		v.Parameters = []catalog.Parameter{}
	}
	if o.Mock.Status != 0 {
		m := o.Mock
		v.Mock = &m
	}
	return v
}

type deploymentView struct {
	Environment  string    `json:"environment"`
	Revision     int       `json:"revision"`
	Kind         string    `json:"kind"`
	RolledBackTo *int      `json:"rolled_back_to"`
	Live         bool      `json:"live"`
	Note         string    `json:"note"`
	CreatedBy    string    `json:"created_by"`
	CreatedAt    time.Time `json:"created_at"`
	SHA256       string    `json:"snapshot_sha256"`
	Operations   int       `json:"operations"`
	Changes      []string  `json:"changes"`
	// PendingChanges, on a version's live deployments only, lists what
	// deploying the current draft would change (empty: up to date).
	PendingChanges []string `json:"pending_changes,omitempty"`
}

func viewDeployment(r catalog.RevisionDetail) deploymentView {
	ch := r.Changes
	if ch == nil {
		ch = []string{}
	}
	return deploymentView{Environment: r.Environment, Revision: r.Number, Kind: r.Kind, RolledBackTo: r.SourceNumber, Live: r.Live,
		Note: r.Note, CreatedBy: r.CreatedByEmail, CreatedAt: r.CreatedAt, SHA256: r.SnapshotSHA256, Operations: len(r.Snapshot.Operations), Changes: ch}
}

type backendKeyView struct {
	KeyID     string     `json:"key_id"`
	Status    string     `json:"status"`
	Secret    string     `json:"secret,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at"`
}

func viewBackendKey(k catalog.BackendKey) backendKeyView {
	return backendKeyView{KeyID: k.KeyID, Status: k.Status, CreatedAt: k.CreatedAt, RetiredAt: k.RetiredAt}
}

// specBytes accepts an OpenAPI document given as a JSON object or as a
// string holding JSON or YAML.
func specBytes(raw json.RawMessage) ([]byte, error) {
	t := strings.TrimSpace(string(raw))
	switch {
	case t == "" || t == "null":
		return nil, nil
	case strings.HasPrefix(t, `"`):
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, tenants.FieldError("openapi", "openapi must be an object or a string.")
		}
		if strings.TrimSpace(s) == "" {
			return nil, tenants.FieldError("openapi", "The OpenAPI document is empty.")
		}
		return []byte(s), nil
	case strings.HasPrefix(t, "{"):
		return raw, nil
	}
	return nil, tenants.FieldError("openapi", "openapi must be an object or a string holding JSON or YAML.")
}

type operationRequest struct {
	OperationID  string `json:"operation_id"`
	Method       string `json:"method"`
	Path         string `json:"path"`
	Summary      string `json:"summary"`
	TimeoutMS    *int   `json:"timeout_ms"`
	MaxBodyBytes *int64 `json:"max_body_bytes"`
	Billable     *bool  `json:"billable"`
}

type versionRequest struct {
	Version    string             `json:"version"`
	OpenAPI    json.RawMessage    `json:"openapi"`
	Upstream   *catalog.Upstream  `json:"upstream"`
	Mock       *bool              `json:"mock"`
	Settings   *catalog.Settings  `json:"settings"`
	Operations []operationRequest `json:"operations"`
}

// listVersions lists an API's versions.
func (a *API) listVersions(c *gin.Context) {
	vs, err := a.Catalog.ListVersions(c.Request.Context(), currentOrg(c).ID, c.Param("api"))
	if err != nil {
		a.fail(c, err)
		return
	}
	out := listBody[versionView]{Items: make([]versionView, len(vs))}
	for i, v := range vs {
		out.Items[i] = viewVersion(v)
	}
	a.ok(c, http.StatusOK, out)
}

// createVersion adds a version from an OpenAPI document and/or operations.
func (a *API) createVersion(c *gin.Context) {
	var req versionRequest
	if err := decode(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	spec, err := specBytes(req.OpenAPI)
	if err != nil {
		a.fail(c, err)
		return
	}
	in := catalog.VersionInput{Version: req.Version, OpenAPI: spec, Upstream: req.Upstream, Settings: req.Settings}
	if req.Mock != nil {
		in.Mock = *req.Mock
	}
	for _, o := range req.Operations {
		in.Operations = append(in.Operations, catalog.OperationInput{OperationID: o.OperationID, Method: o.Method, Path: o.Path,
			Summary: o.Summary, TimeoutMS: o.TimeoutMS, MaxBodyBytes: o.MaxBodyBytes, Billable: o.Billable})
	}
	v, key, err := a.Catalog.CreateVersion(c.Request.Context(), currentOrg(c).ID, c.Param("api"), a.actor(c), in)
	if err != nil {
		a.fail(c, err)
		return
	}
	out := viewVersion(v)
	k := viewBackendKey(key.BackendKey)
	k.Secret = key.Secret
	out.BackendKey = &k
	a.ok(c, http.StatusCreated, out)
}

// versionDetail is a version with its operations and live deployments.
func (a *API) versionDetail(c *gin.Context, v catalog.Version) (versionView, error) {
	out := viewVersion(v)
	ops, err := a.Catalog.Operations(c.Request.Context(), currentOrg(c).ID, v.ID)
	if err != nil {
		return out, err
	}
	out.Operations = make([]operationView, len(ops))
	for i, o := range ops {
		out.Operations[i] = viewOperation(o)
	}
	revs, err := a.Catalog.Revisions(c.Request.Context(), currentOrg(c).ID, c.Param("api"), v.Version, "")
	if err != nil {
		return out, err
	}
	out.Environments = map[string]*deploymentView{catalog.EnvTest: nil, catalog.EnvProduction: nil}
	for _, r := range revs {
		if r.Live {
			d := viewDeployment(r)
			pending, _, err := a.Catalog.PendingChanges(c.Request.Context(), currentOrg(c).ID, c.Param("api"), v.Version, r.Environment)
			if err != nil {
				return out, err
			}
			d.PendingChanges = pending
			if d.PendingChanges == nil {
				d.PendingChanges = []string{}
			}
			out.Environments[r.Environment] = &d
		}
	}
	return out, nil
}

// showVersion returns a version with its operations and live deployments.
func (a *API) showVersion(c *gin.Context) {
	_, v, err := a.Catalog.Version(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"))
	if err != nil {
		a.fail(c, err)
		return
	}
	out, err := a.versionDetail(c, v)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, out)
}

// updateVersion edits a version's draft; nothing live changes until the
// next deployment.
func (a *API) updateVersion(c *gin.Context) {
	var req versionRequest
	if err := decode(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	if req.Version != "" && req.Version != c.Param("version") {
		a.fail(c, tenants.FieldError("version", "A version's name cannot change; create a new version."))
		return
	}
	if req.Operations != nil {
		a.fail(c, tenants.FieldError("operations", "Change operations through the OpenAPI document or PATCH …/operations/{operation_id}."))
		return
	}
	spec, err := specBytes(req.OpenAPI)
	if err != nil {
		a.fail(c, err)
		return
	}
	v, err := a.Catalog.UpdateVersion(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"), a.actor(c), catalog.VersionPatch{
		OpenAPI: spec, Upstream: req.Upstream, Mock: req.Mock, Settings: req.Settings,
	})
	if err != nil {
		a.fail(c, err)
		return
	}
	out, err := a.versionDetail(c, v)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, out)
}

// showVersionSpec returns the version's OpenAPI document.
func (a *API) showVersionSpec(c *gin.Context) {
	_, v, err := a.Catalog.Version(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"))
	if err != nil {
		a.fail(c, err)
		return
	}
	if v.OpenAPI == "" {
		a.fail(c, tenants.Errorf(tenants.ENotFound, "Version %s has no OpenAPI document; its operations were defined by hand.", v.Version))
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", []byte(v.OpenAPI))
}

// listOperations lists a version's operations.
func (a *API) listOperations(c *gin.Context) {
	_, v, err := a.Catalog.Version(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"))
	if err != nil {
		a.fail(c, err)
		return
	}
	ops, err := a.Catalog.Operations(c.Request.Context(), currentOrg(c).ID, v.ID)
	if err != nil {
		a.fail(c, err)
		return
	}
	out := listBody[operationView]{Items: make([]operationView, len(ops))}
	for i, o := range ops {
		out.Items[i] = viewOperation(o)
	}
	a.ok(c, http.StatusOK, out)
}

type operationPatchRequest struct {
	TimeoutMS    json.RawMessage `json:"timeout_ms"`
	MaxBodyBytes json.RawMessage `json:"max_body_bytes"`
	Billable     *bool           `json:"billable"`
}

// updateOperation changes an operation's gateway overrides; null resets a
// value to the version's default.
func (a *API) updateOperation(c *gin.Context) {
	var req operationPatchRequest
	if err := decode(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	var p catalog.OperationPatch
	if req.TimeoutMS != nil {
		var v *int
		if err := json.Unmarshal(req.TimeoutMS, &v); err != nil {
			a.fail(c, tenants.FieldError("timeout_ms", "timeout_ms must be a whole number of milliseconds or null."))
			return
		}
		p.TimeoutMS = &v
	}
	if req.MaxBodyBytes != nil {
		var v *int64
		if err := json.Unmarshal(req.MaxBodyBytes, &v); err != nil {
			a.fail(c, tenants.FieldError("max_body_bytes", "max_body_bytes must be a whole number of bytes or null."))
			return
		}
		p.MaxBodyBytes = &v
	}
	p.Billable = req.Billable
	o, err := a.Catalog.UpdateOperation(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"), c.Param("operation"), a.actor(c), p)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, viewOperation(o))
}

// listDeployments lists the version's revisions in every environment (or
// ?environment=), newest first.
func (a *API) listDeployments(c *gin.Context) {
	revs, err := a.Catalog.Revisions(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"), c.Query("environment"))
	if err != nil {
		a.fail(c, err)
		return
	}
	out := listBody[deploymentView]{Items: make([]deploymentView, len(revs))}
	for i, r := range revs {
		out.Items[i] = viewDeployment(r)
	}
	a.ok(c, http.StatusOK, out)
}

type deploymentRequest struct {
	Environment string `json:"environment"`
	Note        string `json:"note"`
}

// createDeployment publishes the version's draft to an environment.
func (a *API) createDeployment(c *gin.Context) {
	var req deploymentRequest
	if err := decode(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	r, err := a.Catalog.Deploy(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"), req.Environment, a.actor(c), req.Note)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusCreated, viewDeployment(r))
}

type rollbackRequest struct {
	Revision int `json:"revision"`
}

// rollback makes an earlier revision live again.
func (a *API) rollback(c *gin.Context) {
	var req rollbackRequest
	if err := decode(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	if req.Revision < 1 {
		a.fail(c, tenants.FieldError("revision", "Name the revision number to roll back to."))
		return
	}
	r, err := a.Catalog.Rollback(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"), c.Param("env"), req.Revision, a.actor(c))
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusCreated, viewDeployment(r))
}

type deprecateRequest struct {
	SunsetAt string `json:"sunset_at"`
}

// deprecateVersion deprecates a published version with a sunset date.
func (a *API) deprecateVersion(c *gin.Context) {
	var req deprecateRequest
	if err := decode(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	sunset, err := parseDate(req.SunsetAt)
	if err != nil {
		a.fail(c, err)
		return
	}
	v, err := a.Catalog.Deprecate(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"), sunset, a.actor(c))
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, viewVersion(v))
}

// parseDate accepts RFC 3339 or a plain date (midnight UTC).
func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, tenants.FieldError("sunset_at", "Give the sunset as a date (2027-01-31) or an RFC 3339 time.")
}

// takeVersionOffline ends a version.
func (a *API) takeVersionOffline(c *gin.Context) {
	if c.Request.ContentLength > 0 {
		var req struct{}
		if err := decode(c, &req); err != nil {
			a.fail(c, err)
			return
		}
	}
	ctx := c.Request.Context()
	v, err := a.Catalog.TakeOffline(ctx, currentOrg(c).ID, c.Param("api"), c.Param("version"), a.actor(c))
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, viewVersion(v))
}

// listBackendKeys lists a version's backend signing keys (no secrets).
func (a *API) listBackendKeys(c *gin.Context) {
	_, v, err := a.Catalog.Version(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"))
	if err != nil {
		a.fail(c, err)
		return
	}
	ks, err := a.Catalog.BackendKeys(c.Request.Context(), currentOrg(c).ID, v.ID)
	if err != nil {
		a.fail(c, err)
		return
	}
	out := listBody[backendKeyView]{Items: make([]backendKeyView, len(ks))}
	for i, k := range ks {
		out.Items[i] = viewBackendKey(k)
	}
	a.ok(c, http.StatusOK, out)
}

// rotateBackendKey creates a new backend key and returns its secret once.
func (a *API) rotateBackendKey(c *gin.Context) {
	k, err := a.Catalog.RotateBackendKey(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"), a.actor(c))
	if err != nil {
		a.fail(c, err)
		return
	}
	v := viewBackendKey(k.BackendKey)
	v.Secret = k.Secret
	a.ok(c, http.StatusCreated, v)
}

// retireBackendKey retires a backend key.
func (a *API) retireBackendKey(c *gin.Context) {
	if err := a.Catalog.RetireBackendKey(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"), c.Param("key"), a.actor(c)); err != nil {
		a.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
