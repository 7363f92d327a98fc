package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/templates/components"
	"github.com/portico-dev/portico/templates/layout"
	"github.com/portico-dev/portico/templates/pages/apis"
	"github.com/portico-dev/portico/tenants"
)

// requireCatalogWriter lets owners, admins and developers through to the
// catalog's forms and actions; other members read only.
func (w *Console) requireCatalogWriter(c *gin.Context) {
	if !currentRole(c).CanManageCatalog() {
		w.fail(c, tenants.Errorf(tenants.EForbidden, "Only owners, admins and developers can change APIs."))
		return
	}
	c.Next()
}

// apisURL is the path of the organisation's APIs or of something under
// them, each segment escaped.
func apisURL(c *gin.Context, segments ...string) string {
	return components.Path(append([]string{"orgs", currentOrg(c).Slug, "apis"}, segments...)...)
}

func versionURL(c *gin.Context, api, version string, segments ...string) string {
	return apisURL(c, append([]string{api, "versions", version}, segments...)...)
}

// isFormError reports whether err is the person's to fix in the form that
// caused it; internal errors and unknown objects render the error page.
func isFormError(err error) bool {
	switch tenants.ErrorCode(err) {
	case "", tenants.EInternal, tenants.ENotFound:
		return false
	}
	return true
}

// showAPIs lists the organisation's APIs with their versions.
func (w *Console) showAPIs(c *gin.Context) {
	ctx := c.Request.Context()
	org := currentOrg(c)
	l, err := w.Catalog.ListAPIs(ctx, org.ID, pageParam(c))
	if err != nil {
		w.fail(c, err)
		return
	}
	p := apis.ListProps{CanManage: currentRole(c).CanManageCatalog()}
	for _, a := range l.Items {
		vs, err := w.Catalog.ListVersions(ctx, org.ID, a.Slug)
		if err != nil {
			w.fail(c, err)
			return
		}
		row := apis.APIRow{Slug: a.Slug, Name: a.Name, Summary: a.Summary, Visibility: string(a.Visibility), Updated: formatTime(a.UpdatedAt)}
		for _, v := range vs {
			row.Versions = append(row.Versions, apis.VersionBadge{Version: v.Version, State: string(v.State)})
		}
		p.APIs = append(p.APIs, row)
	}
	p.FirstURL, p.NextURL = pageURLs(c, l.NextCursor)
	p.Page = w.page(c, "APIs", "apis")
	w.render(c, http.StatusOK, apis.List(p))
}

// showNewAPI shows the form to create an API.
func (w *Console) showNewAPI(c *gin.Context) {
	w.render(c, http.StatusOK, apis.New(apis.NewProps{Page: w.page(c, "New API", "apis"), Form: apis.APIForm{Visibility: string(catalog.Private)}}))
}

// apiFormOf reads the API metadata form as typed.
func apiFormOf(c *gin.Context) apis.APIForm {
	return apis.APIForm{
		Slug: c.PostForm("slug"), Name: c.PostForm("name"), Summary: c.PostForm("summary"), Description: c.PostForm("description"),
		Category: c.PostForm("category"), Tags: c.PostForm("tags"), Visibility: c.PostForm("visibility"),
		LogoURL: c.PostForm("logo_url"), ContactURL: c.PostForm("contact_url"), TermsURL: c.PostForm("terms_url"),
	}
}

func apiFormFrom(a catalog.API) apis.APIForm {
	return apis.APIForm{
		Slug: a.Slug, Name: a.Name, Summary: a.Summary, Description: a.Description, Category: a.Category,
		Tags: strings.Join(a.Tags, ", "), Visibility: string(a.Visibility), LogoURL: a.LogoURL, ContactURL: a.ContactURL, TermsURL: a.TermsURL,
	}
}

// splitTags splits comma-separated tags; the catalog normalises them.
func splitTags(s string) []string {
	var out []string
	for t := range strings.SplitSeq(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// createAPI creates an API and continues on its page, at the new-version
// form.
func (w *Console) createAPI(c *gin.Context) {
	f := apiFormOf(c)
	a, err := w.Catalog.CreateAPI(c.Request.Context(), currentOrg(c).ID, w.actor(c), catalog.APIInput{
		Slug: f.Slug, Name: f.Name, Summary: f.Summary, Description: f.Description, Category: f.Category, Tags: splitTags(f.Tags),
		LogoURL: f.LogoURL, ContactURL: f.ContactURL, TermsURL: f.TermsURL, Visibility: catalog.Visibility(f.Visibility),
	})
	if err != nil {
		if !isFormError(err) {
			w.fail(c, err)
			return
		}
		p := apis.NewProps{Page: w.page(c, "New API", "apis"), Form: f}
		p.Message, p.Errors = formErrors(err, nil)
		w.render(c, httpStatusForForm(err), apis.New(p))
		return
	}
	setFlash(c, "success", "API "+a.Name+" created. Add its first version: its OpenAPI document and its backend.")
	redirect(c, apisURL(c, a.Slug)+"#new-version")
}

// apiPage loads an API's page: details, versions and what each
// environment serves.
func (w *Console) apiPage(c *gin.Context, slug string) (apis.APIProps, error) {
	ctx := c.Request.Context()
	org := currentOrg(c)
	a, err := w.Catalog.API(ctx, org.ID, slug)
	if err != nil {
		return apis.APIProps{}, err
	}
	vs, err := w.Catalog.ListVersions(ctx, org.ID, a.Slug)
	if err != nil {
		return apis.APIProps{}, err
	}
	p := apis.APIProps{
		Slug: a.Slug, Name: a.Name, Created: formatTime(a.CreatedAt), Updated: formatTime(a.UpdatedAt),
		CanManage: currentRole(c).CanManageCatalog(), Form: apiFormFrom(a),
		NewVersion: apis.VersionForm{Version: nextVersionName(vs), Backend: "upstream"},
	}
	for _, v := range vs {
		row := apis.VersionRow{Version: v.Version, State: string(v.State), Updated: formatTime(v.UpdatedAt), Backend: backendOf(v)}
		if v.State == catalog.Deprecated && v.SunsetAt != nil {
			row.Sunset = formatDate(*v.SunsetAt)
		}
		ops, err := w.Catalog.Operations(ctx, org.ID, v.ID)
		if err != nil {
			return apis.APIProps{}, err
		}
		row.Operations = len(ops)
		revs, err := w.Catalog.Revisions(ctx, org.ID, a.Slug, v.Version, "")
		if err != nil {
			return apis.APIProps{}, err
		}
		for _, r := range revs {
			if !r.Live {
				continue
			}
			lr := liveRevision(r)
			if r.Environment == catalog.EnvProduction {
				row.Production = lr
			} else {
				row.Test = lr
			}
		}
		p.Versions = append(p.Versions, row)
	}
	p.Page = w.page(c, a.Name, "apis")
	return p, nil
}

func liveRevision(r catalog.RevisionDetail) *apis.LiveRevision {
	return &apis.LiveRevision{Number: r.Number, By: r.CreatedByEmail, When: formatTime(r.CreatedAt)}
}

func backendOf(v catalog.Version) string {
	switch {
	case v.Mock:
		return "mock"
	case len(v.Upstream.Targets) > 0:
		return "upstream"
	}
	return "none"
}

// nextVersionName suggests the new-version form's name: v1 for the first
// version, else one more than the highest major version.
func nextVersionName(vs []catalog.Version) string {
	highest := 0
	for _, v := range vs {
		major, _, _ := strings.Cut(strings.TrimPrefix(v.Version, "v"), ".")
		major, _, _ = strings.Cut(major, "-")
		if n, err := strconv.Atoi(major); err == nil && n > highest {
			highest = n
		}
	}
	return "v" + strconv.Itoa(highest+1)
}

// showAPI shows an API's overview.
func (w *Console) showAPI(c *gin.Context) {
	p, err := w.apiPage(c, c.Param("api"))
	if err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, http.StatusOK, apis.Overview(p))
}

// updateAPI saves an API's details; the slug never changes.
func (w *Console) updateAPI(c *gin.Context) {
	f := apiFormOf(c)
	tags := splitTags(f.Tags)
	if tags == nil {
		tags = []string{}
	}
	vis := catalog.Visibility(f.Visibility)
	a, err := w.Catalog.UpdateAPI(c.Request.Context(), currentOrg(c).ID, c.Param("api"), w.actor(c), catalog.APIPatch{
		Name: &f.Name, Summary: &f.Summary, Description: &f.Description, Category: &f.Category, Tags: &tags,
		LogoURL: &f.LogoURL, ContactURL: &f.ContactURL, TermsURL: &f.TermsURL, Visibility: &vis,
	})
	if err != nil {
		if !isFormError(err) {
			w.fail(c, err)
			return
		}
		p, lerr := w.apiPage(c, c.Param("api"))
		if lerr != nil {
			w.fail(c, lerr)
			return
		}
		f.Slug = p.Slug
		p.Form = f
		p.FormMessage, p.FormErrors = formErrors(err, nil)
		w.render(c, httpStatusForForm(err), apis.Overview(p))
		return
	}
	setFlash(c, "success", "Details of "+a.Name+" saved.")
	redirect(c, apisURL(c, a.Slug)+"#details")
}

// readSpec returns a form's OpenAPI document: the uploaded file
// (openapi_file) when one was chosen, else the pasted text (openapi_text).
// file names the uploaded file.
func readSpec(c *gin.Context) (doc []byte, file string, err error) {
	fh, ferr := c.FormFile("openapi_file")
	switch {
	case ferr == nil:
		f, err := fh.Open()
		if err != nil {
			return nil, "", fmt.Errorf("read upload: %w", err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, catalog.MaxSpecBytes+1))
		if err != nil {
			return nil, "", fmt.Errorf("read upload: %w", err)
		}
		name := path.Base(strings.ReplaceAll(fh.Filename, "\\", "/"))
		if !utf8.Valid(b) {
			return nil, name, tenants.FieldError("openapi", "The file "+name+" is not a text file: choose the JSON or YAML file of the OpenAPI document.")
		}
		return b, name, nil
	case errors.Is(ferr, http.ErrMissingFile) || errors.Is(ferr, http.ErrNotMultipart):
		return []byte(c.PostForm("openapi_text")), "", nil
	}
	return nil, "", tenants.Errorf(tenants.EMalformed, "The form could not be read; reload the page and try again.")
}

// parseUpstreamForm reads an upstream form: target_url/target_weight rows
// (rows without a URL are dropped, so the remaining rows are numbered as
// the catalog numbers its errors), connect_timeout_ms, timeout_ms, retries
// and health_check_path. It returns the values as typed, the upstream and
// an EInvalid error for numbers that are not numbers.
func parseUpstreamForm(c *gin.Context) (apis.UpstreamForm, catalog.Upstream, error) {
	v := tenants.Validation{}
	var f apis.UpstreamForm
	var up catalog.Upstream
	urls, weights := c.PostFormArray("target_url"), c.PostFormArray("target_weight")
	for i, u := range urls {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		wt := ""
		if i < len(weights) {
			wt = strings.TrimSpace(weights[i])
		}
		n := len(up.Targets)
		f.Targets = append(f.Targets, apis.TargetForm{URL: u, Weight: wt})
		up.Targets = append(up.Targets, catalog.Target{URL: u, Weight: intField(v, wt, fmt.Sprintf("upstream.targets[%d].weight", n), "Use a weight from 1 to 1000.")})
	}
	f.ConnectTimeoutMS = strings.TrimSpace(c.PostForm("connect_timeout_ms"))
	f.TimeoutMS = strings.TrimSpace(c.PostForm("timeout_ms"))
	f.Retries = strings.TrimSpace(c.PostForm("retries"))
	f.HealthCheckPath = strings.TrimSpace(c.PostForm("health_check_path"))
	up.ConnectTimeoutMS = intField(v, f.ConnectTimeoutMS, "upstream.connect_timeout_ms", "Use 1 to 60000 milliseconds.")
	up.TimeoutMS = intField(v, f.TimeoutMS, "upstream.timeout_ms", "Use 1 to 300000 milliseconds.")
	up.Retries = intField(v, f.Retries, "upstream.retries", "Use 0 to 5 retries.")
	up.HealthCheckPath = f.HealthCheckPath
	return f, up, v.Err()
}

// intField parses an optional whole number; "" is 0 (the default).
func intField(v tenants.Validation, s, field, msg string) int {
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		v.Add(field, msg)
	}
	return n
}

// upstreamFormOf shows a stored upstream in the form; unset numbers stay
// empty so the defaults read as defaults.
func upstreamFormOf(u catalog.Upstream) apis.UpstreamForm {
	f := apis.UpstreamForm{HealthCheckPath: u.HealthCheckPath}
	for _, t := range u.Targets {
		f.Targets = append(f.Targets, apis.TargetForm{URL: t.URL, Weight: strconv.Itoa(t.Weight)})
	}
	if u.ConnectTimeoutMS != 0 {
		f.ConnectTimeoutMS = strconv.Itoa(u.ConnectTimeoutMS)
	}
	if u.TimeoutMS != 0 {
		f.TimeoutMS = strconv.Itoa(u.TimeoutMS)
	}
	if len(u.Targets) > 0 || u.Retries != 0 {
		f.Retries = strconv.Itoa(u.Retries)
	}
	return f
}

// createVersion adds a version to an API from an uploaded or pasted OpenAPI
// document and a backend, then shows the version with its backend signing
// secret — once, in this response only.
func (w *Console) createVersion(c *gin.Context) {
	ctx := c.Request.Context()
	org := currentOrg(c)
	form := apis.VersionForm{Version: strings.TrimSpace(c.PostForm("version")), Backend: "upstream"}
	doc, file, err := readSpec(c)
	if utf8.Valid(doc) {
		form.SpecText, form.SpecFile = string(doc), file
	}
	in := catalog.VersionInput{Version: form.Version}
	if len(bytes.TrimSpace(doc)) > 0 {
		in.OpenAPI = doc
	}
	if c.PostForm("backend") == "mock" {
		form.Backend, in.Mock = "mock", true
	} else {
		uf, up, uerr := parseUpstreamForm(c)
		form.Upstream = uf
		if len(up.Targets) > 0 || up.TimeoutMS != 0 {
			in.Upstream = &up
		}
		if err == nil {
			err = uerr
		}
	}
	var ver catalog.Version
	var key catalog.NewBackendKey
	if err == nil {
		ver, key, err = w.Catalog.CreateVersion(ctx, org.ID, c.Param("api"), w.actor(c), in)
	}
	if err != nil {
		if !isFormError(err) {
			w.fail(c, err)
			return
		}
		p, lerr := w.apiPage(c, c.Param("api"))
		if lerr != nil {
			w.fail(c, lerr)
			return
		}
		p.NewVersion = form
		p.NewVersionMessage, p.NewVersionErrors = formErrors(err, nil)
		if hasSpecProblem(p.NewVersionErrors) {
			p.NewVersionMessage = "The OpenAPI document has problems; they are listed next to it."
		}
		w.render(c, httpStatusForForm(err), apis.Overview(p))
		return
	}
	p, err := w.versionPage(c, c.Param("api"), ver.Version)
	if err != nil {
		w.fail(c, err)
		return
	}
	p.Created = &apis.CreatedKey{KeyID: key.KeyID, Secret: key.Secret, Heading: "The backend signing secret of " + ver.Version}
	p.Page.Flashes = append(p.Page.Flashes, layout.Flash{Kind: "success",
		Text: fmt.Sprintf("Version %s created as a draft with %d operations.", ver.Version, len(p.Operations))})
	w.render(c, http.StatusCreated, apis.Version(p))
}

// hasSpecProblem reports whether errs hold a problem of the OpenAPI
// document.
func hasSpecProblem(errs map[string]string) bool {
	for k := range errs {
		if k == "openapi" || strings.HasPrefix(k, "openapi#") {
			return true
		}
	}
	return false
}

// formatDate shows a day, as the date inputs take it.
func formatDate(t time.Time) string { return t.UTC().Format("2006-01-02") }
