package web

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/templates/layout"
	"github.com/portico-dev/portico/templates/pages/apis"
	"github.com/portico-dev/portico/tenants"
)

// versionPage loads the version editor: the version's draft, what each
// environment serves and what deploying would change there, operations
// and backend keys.
func (w *Console) versionPage(c *gin.Context, apiSlug, version string) (apis.VersionProps, error) {
	ctx := c.Request.Context()
	org := currentOrg(c)
	a, ver, err := w.Catalog.Version(ctx, org.ID, apiSlug, version)
	if err != nil {
		return apis.VersionProps{}, err
	}
	p := apis.VersionProps{
		APISlug: a.Slug, APIName: a.Name, Version: ver.Version, State: string(ver.State), Updated: formatTime(ver.UpdatedAt),
		CanManage: currentRole(c).CanManageCatalog(), Mock: ver.Mock, HasOpenAPI: ver.OpenAPI != "",
		Upstream:  upstreamFormOf(ver.Upstream),
		Settings:  settingsFormOf(ver.Settings),
		MinSunset: formatDate(w.Tenants.Now().AddDate(0, 0, 1)),
	}
	if ver.SunsetAt != nil {
		p.Sunset = formatDate(*ver.SunsetAt)
	}
	p.Deprecated = formatTimePtr(ver.DeprecatedAt, "")
	p.Offline = formatTimePtr(ver.OfflineAt, "")

	revs, err := w.Catalog.Revisions(ctx, org.ID, a.Slug, ver.Version, "")
	if err != nil {
		return apis.VersionProps{}, err
	}
	for _, env := range []string{catalog.EnvTest, catalog.EnvProduction} {
		st := apis.EnvStatus{Env: env, Label: envLabel(env)}
		for _, r := range revs {
			if r.Environment == env && r.Live {
				st.Live = liveRevision(r)
			}
		}
		if st.Live != nil {
			if st.Pending, _, err = w.Catalog.PendingChanges(ctx, org.ID, a.Slug, ver.Version, env); err != nil {
				return apis.VersionProps{}, err
			}
		}
		p.Environments = append(p.Environments, st)
	}

	ops, err := w.Catalog.Operations(ctx, org.ID, ver.ID)
	if err != nil {
		return apis.VersionProps{}, err
	}
	for _, o := range ops {
		p.Operations = append(p.Operations, operationRow(o))
	}
	keys, err := w.Catalog.BackendKeys(ctx, org.ID, ver.ID)
	if err != nil {
		return apis.VersionProps{}, err
	}
	for _, k := range keys {
		p.Keys = append(p.Keys, apis.KeyRow{KeyID: k.KeyID, Status: k.Status, Created: formatTime(k.CreatedAt), Retired: formatTimePtr(k.RetiredAt, "")})
	}
	p.Page = w.page(c, a.Name+" "+ver.Version, "apis")
	return p, nil
}

func operationRow(o catalog.Operation) apis.OperationRow {
	r := apis.OperationRow{OperationID: o.OperationID, Method: o.Method, Path: o.Path, Summary: o.Summary, Source: o.Source, Billable: o.Billable}
	if o.TimeoutMS != nil {
		r.TimeoutMS = strconv.Itoa(*o.TimeoutMS)
	}
	if o.MaxBodyBytes != nil {
		r.MaxBodyBytes = strconv.FormatInt(*o.MaxBodyBytes, 10)
	}
	return r
}

func envLabel(env string) string {
	if env == catalog.EnvProduction {
		return "Production"
	}
	return "Test"
}

// showVersion shows the version editor.
func (w *Console) showVersion(c *gin.Context) {
	p, err := w.versionPage(c, c.Param("api"), c.Param("version"))
	if err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, http.StatusOK, apis.Version(p))
}

// versionFormFailed re-renders the version editor with one form's errors
// and, through keep, the values the person typed; errors no form can show
// render the error page.
func (w *Console) versionFormFailed(c *gin.Context, err error, form string, keep func(*apis.VersionProps)) {
	if !isFormError(err) {
		w.fail(c, err)
		return
	}
	p, lerr := w.versionPage(c, c.Param("api"), c.Param("version"))
	if lerr != nil {
		w.fail(c, lerr)
		return
	}
	p.Failed = apis.FormFailure{Form: form}
	p.Failed.Message, p.Failed.Errors = formErrors(err, nil)
	if keep != nil {
		keep(&p)
	}
	w.render(c, httpStatusForForm(err), apis.Version(p))
}

// versionSaved redirects back to a section of the version editor with a
// success message.
func (w *Console) versionSaved(c *gin.Context, section, msg string) {
	setFlash(c, "success", msg)
	redirect(c, versionURL(c, c.Param("api"), c.Param("version"))+"#"+section)
}

// replaceSpec imports a new OpenAPI document into the version's draft.
func (w *Console) replaceSpec(c *gin.Context) {
	doc, file, err := readSpec(c)
	if err == nil && len(bytes.TrimSpace(doc)) == 0 {
		err = tenants.FieldError("openapi", "Choose a file or paste the OpenAPI document.")
	}
	if err == nil {
		_, err = w.Catalog.UpdateVersion(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"), w.actor(c),
			catalog.VersionPatch{OpenAPI: doc})
	}
	if err != nil {
		w.versionFormFailed(c, err, "openapi", func(p *apis.VersionProps) {
			p.SpecText, p.SpecFile = string(doc), file
			if hasSpecProblem(p.Failed.Errors) {
				p.Failed.Message = "The OpenAPI document has problems; they are listed next to it."
			}
		})
		return
	}
	w.versionSaved(c, "operations", "OpenAPI document imported into the draft. Deploy to make it live.")
}

// updateUpstream saves the upstream into the draft, leaving a mock backend
// if there was one.
func (w *Console) updateUpstream(c *gin.Context) {
	f, up, err := parseUpstreamForm(c)
	if err == nil {
		_, err = w.Catalog.UpdateVersion(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"), w.actor(c),
			catalog.VersionPatch{Upstream: &up})
	}
	if err != nil {
		w.versionFormFailed(c, err, "upstream", func(p *apis.VersionProps) { p.Upstream = f })
		return
	}
	w.versionSaved(c, "backend", "Upstream saved in the draft. Deploy to make it live.")
}

// testConnection tries each target of the upstream form as typed (saved or
// not) and shows status and latency per target.
func (w *Console) testConnection(c *gin.Context) {
	f, up, err := parseUpstreamForm(c)
	if err != nil {
		w.versionFormFailed(c, err, "upstream", func(p *apis.VersionProps) { p.Upstream = f })
		return
	}
	p, err := w.versionPage(c, c.Param("api"), c.Param("version"))
	if err != nil {
		w.fail(c, err)
		return
	}
	p.Upstream = f
	p.Probes = probeUpstream(c.Request.Context(), up.Targets, up.HealthCheckPath, w.AllowPrivateUpstreams)
	w.render(c, http.StatusOK, apis.Version(p))
}

// switchBackend turns the draft's mock backend on (mock=true) or off.
func (w *Console) switchBackend(c *gin.Context) {
	mock := c.PostForm("mock") == "true"
	_, err := w.Catalog.UpdateVersion(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"), w.actor(c),
		catalog.VersionPatch{Mock: &mock})
	if err != nil {
		w.versionFormFailed(c, err, "upstream", nil)
		return
	}
	if mock {
		w.versionSaved(c, "backend", "The draft now uses the mock backend. Deploy to make it live.")
		return
	}
	w.versionSaved(c, "backend", "The draft now uses its upstream. Deploy to make it live.")
}

// updateVersionSettings saves the draft's gateway settings.
func (w *Console) updateVersionSettings(c *gin.Context) {
	f := apis.SettingsForm{MaxBodyBytes: c.PostForm("max_body_bytes"), RequireNonce: c.PostForm("require_nonce") != "", AllowAppCode: c.PostForm("allow_app_code") != "",
		Public: c.PostForm("public") != "", CORSOrigins: c.PostForm("cors_origins"), CORSMaxAge: strings.TrimSpace(c.PostForm("cors_max_age"))}
	v := tenants.Validation{}
	s := catalog.Settings{RequireNonce: f.RequireNonce, AllowAppCode: f.AllowAppCode, Public: f.Public,
		CORSOrigins: strings.FieldsFunc(f.CORSOrigins, func(r rune) bool { return r == '\n' || r == '\r' })}
	if f.CORSMaxAge != "" {
		n, err := strconv.Atoi(f.CORSMaxAge)
		if err != nil {
			v.Add("settings.cors_max_age", "Use a whole number of seconds, from 0 to 86400, or leave it empty for 600.")
		}
		s.CORSMaxAge = &n
	}
	if f.MaxBodyBytes != "" {
		n, err := strconv.ParseInt(f.MaxBodyBytes, 10, 64)
		if err != nil {
			v.Add("settings.max_body_bytes", "Use a whole number of bytes, from 1 to 1073741824 (1 GiB).")
		}
		s.MaxBodyBytes = n
	}
	err := v.Err()
	if err == nil {
		_, err = w.Catalog.UpdateVersion(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"), w.actor(c),
			catalog.VersionPatch{Settings: &s})
	}
	if err != nil {
		w.versionFormFailed(c, err, "settings", func(p *apis.VersionProps) { p.Settings = f })
		return
	}
	w.versionSaved(c, "settings", "Gateway settings saved in the draft. Deploy to make them live.")
}

// updateOperation saves one operation's gateway overrides; an empty number
// goes back to the version's default.
func (w *Console) updateOperation(c *gin.Context) {
	id := c.Param("operation")
	row := apis.OperationRow{TimeoutMS: c.PostForm("timeout_ms"), MaxBodyBytes: c.PostForm("max_body_bytes"), Billable: c.PostForm("billable") != ""}
	v := tenants.Validation{}
	var timeout *int
	if row.TimeoutMS != "" {
		n, err := strconv.Atoi(row.TimeoutMS)
		if err != nil {
			v.Add("operation.timeout_ms", "Use a whole number of milliseconds, or leave it empty.")
		}
		timeout = &n
	}
	var maxBody *int64
	if row.MaxBodyBytes != "" {
		n, err := strconv.ParseInt(row.MaxBodyBytes, 10, 64)
		if err != nil {
			v.Add("operation.max_body_bytes", "Use a whole number of bytes, or leave it empty.")
		}
		maxBody = &n
	}
	err := v.Err()
	var op catalog.Operation
	if err == nil {
		op, err = w.Catalog.UpdateOperation(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"), id, w.actor(c),
			catalog.OperationPatch{TimeoutMS: &timeout, MaxBodyBytes: &maxBody, Billable: &row.Billable})
	}
	if err != nil {
		w.versionFormFailed(c, err, "operation", func(p *apis.VersionProps) {
			p.Failed.Operation = id
			for i := range p.Operations {
				if p.Operations[i].OperationID == id {
					p.Operations[i].TimeoutMS, p.Operations[i].MaxBodyBytes, p.Operations[i].Billable = row.TimeoutMS, row.MaxBodyBytes, row.Billable
				}
			}
		})
		return
	}
	w.versionSaved(c, "operations", op.Method+" "+op.Path+" saved in the draft. Deploy to make it live.")
}

// rotateBackendKey creates a new backend signing key and shows its secret
// once, in this response only.
func (w *Console) rotateBackendKey(c *gin.Context) {
	k, err := w.Catalog.RotateBackendKey(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"), w.actor(c))
	if err != nil {
		w.versionFormFailed(c, err, "keys", nil)
		return
	}
	p, err := w.versionPage(c, c.Param("api"), c.Param("version"))
	if err != nil {
		w.fail(c, err)
		return
	}
	p.Created = &apis.CreatedKey{KeyID: k.KeyID, Secret: k.Secret, Heading: "Your new backend signing secret"}
	p.Page.Flashes = append(p.Page.Flashes, layout.Flash{Kind: "success", Text: "Signing key " + k.KeyID + " created. Deploy to start signing with it."})
	w.render(c, http.StatusCreated, apis.Version(p))
}

// retireBackendKey retires one backend signing key.
func (w *Console) retireBackendKey(c *gin.Context) {
	err := w.Catalog.RetireBackendKey(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"), c.Param("key"), w.actor(c))
	w.flashResult(c, err, "Signing key "+c.Param("key")+" retired. Deploy to stop signing with it.")
	if c.IsAborted() {
		return
	}
	redirect(c, versionURL(c, c.Param("api"), c.Param("version"))+"#keys")
}

// deprecateVersion deprecates a published version with a sunset date.
func (w *Console) deprecateVersion(c *gin.Context) {
	day := c.PostForm("sunset_at")
	sunset, err := time.Parse("2006-01-02", day)
	if err != nil {
		err = tenants.FieldError("sunset_at", "Enter the sunset as a date, like 2027-01-31.")
	} else {
		_, err = w.Catalog.Deprecate(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"), sunset, w.actor(c))
	}
	if err != nil {
		w.versionFormFailed(c, err, "lifecycle", func(p *apis.VersionProps) { p.SunsetAt = day })
		return
	}
	w.versionSaved(c, "lifecycle", c.Param("version")+" is deprecated, with its sunset on "+formatDate(sunset)+".")
}

// takeVersionOffline ends a version for good.
func (w *Console) takeVersionOffline(c *gin.Context) {
	_, err := w.Catalog.TakeOffline(c.Request.Context(), currentOrg(c).ID, c.Param("api"), c.Param("version"), w.actor(c))
	w.flashResult(c, err, c.Param("version")+" is offline: the gateway answers 410 Gone, and its subscriptions ended or moved to another version.")
	if c.IsAborted() {
		return
	}
	redirect(c, versionURL(c, c.Param("api"), c.Param("version"))+"#lifecycle")
}

// settingsFormOf fills the settings form from the draft's settings.
func settingsFormOf(s catalog.Settings) apis.SettingsForm {
	f := apis.SettingsForm{MaxBodyBytes: strconv.FormatInt(s.MaxBodyBytes, 10), RequireNonce: s.RequireNonce, AllowAppCode: s.AllowAppCode,
		Public: s.Public, CORSOrigins: strings.Join(s.CORSOrigins, "\n")}
	if a := s.MaxAge(); a >= 0 {
		f.CORSMaxAge = strconv.Itoa(a)
	}
	return f
}
