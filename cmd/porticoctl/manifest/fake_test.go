package manifest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/portico-dev/portico/portal/client"
)

// fake is an in-memory stand-in for the management API, enough of it for
// Apply and Export: APIs, versions with drafts, deployments with pending
// changes, lifecycle, and plans with revisions. It is deliberately not the
// real portal package, which changes under other hands.
type fake struct {
	mu       sync.Mutex
	apis     map[string]*client.API
	versions map[string][]*fakeVersion
	plans    map[string]map[string][]*client.Plan // api → slug → revisions, oldest first
	writes   []string
	n        int
	// specInvisible leaves the OpenAPI document out of what a deployment
	// runs, as the real server does for text that changes no operation.
	specInvisible bool
	// failPlans answers plan creation with a validation problem.
	failPlans bool
}

type fakeVersion struct {
	v    client.Version
	spec string
	live map[string]*fakeLive
}

type fakeLive struct {
	d        client.Deployment
	snapshot string
	state    client.VersionState
}

func newFake(t *testing.T) (*fake, *client.Client) {
	f := &fake{apis: map[string]*client.API{}, versions: map[string][]*fakeVersion{}, plans: map[string]map[string][]*client.Plan{}}
	srv := httptest.NewServer(f.routes())
	t.Cleanup(srv.Close)
	return f, client.New(srv.URL, client.WithToken("pat_test"))
}

func (f *fake) writeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.writes)
}

func (f *fake) id(prefix string) string { f.n++; return fmt.Sprintf("%s_%d", prefix, f.n) }

func problem(w http.ResponseWriter, status int, detail string, fields ...client.FieldError) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	code := map[int]string{404: "not-found", 409: "conflict", 422: "invalid", 400: "malformed"}[status]
	json.NewEncoder(w).Encode(map[string]any{"type": "https://portico.dev/problems/" + code, "title": http.StatusText(status),
		"status": status, "detail": detail, "errors": fields})
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func list[T any](items []T) map[string]any {
	if items == nil {
		items = []T{}
	}
	return map[string]any{"items": items, "next_cursor": nil}
}

func (f *fake) routes() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, fn func(w http.ResponseWriter, r *http.Request)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if r.Header.Get("Authorization") != "Bearer pat_test" {
				problem(w, 401, "Send a personal access token.")
				return
			}
			if r.Method != "GET" {
				f.writes = append(f.writes, r.Method+" "+r.URL.Path)
			}
			fn(w, r)
		})
	}
	const base = "/api/v1/orgs/acme/apis"
	h("GET "+base+"/{api}", func(w http.ResponseWriter, r *http.Request) {
		if a := f.apis[r.PathValue("api")]; a != nil {
			reply(w, 200, a)
			return
		}
		problem(w, 404, "No such API.")
	})
	h("POST "+base, func(w http.ResponseWriter, r *http.Request) {
		var req client.APIRequest
		json.NewDecoder(r.Body).Decode(&req)
		a := &client.API{ID: f.id("api"), Slug: *req.Slug, Visibility: client.Private, Tags: []string{}}
		patchAPI(a, req)
		f.apis[a.Slug] = a
		reply(w, 201, a)
	})
	h("PATCH "+base+"/{api}", func(w http.ResponseWriter, r *http.Request) {
		var req client.APIRequest
		json.NewDecoder(r.Body).Decode(&req)
		a := f.apis[r.PathValue("api")]
		patchAPI(a, req)
		reply(w, 200, a)
	})
	h("GET "+base+"/{api}/versions", func(w http.ResponseWriter, r *http.Request) {
		var out []client.Version
		for _, v := range f.versions[r.PathValue("api")] {
			out = append(out, v.v)
		}
		reply(w, 200, list(out))
	})
	h("POST "+base+"/{api}/versions", func(w http.ResponseWriter, r *http.Request) {
		var req client.VersionRequest
		json.NewDecoder(r.Body).Decode(&req)
		fv := &fakeVersion{v: client.Version{ID: f.id("ver"), Version: req.Version, State: client.VersionDraft,
			Settings: normalSettings(client.Settings{})}, live: map[string]*fakeLive{}}
		if err := f.edit(fv, req); err != "" {
			problem(w, 422, err, client.FieldError{Field: "openapi", Message: err})
			return
		}
		f.versions[r.PathValue("api")] = append(f.versions[r.PathValue("api")], fv)
		out := f.detail(fv)
		out.BackendKey = &client.BackendKey{KeyID: "bk_1", Status: "active", Secret: "sk_secret"}
		reply(w, 201, out)
	})
	version := func(w http.ResponseWriter, r *http.Request) *fakeVersion {
		for _, v := range f.versions[r.PathValue("api")] {
			if v.v.Version == r.PathValue("version") {
				return v
			}
		}
		problem(w, 404, "No such version.")
		return nil
	}
	h("GET "+base+"/{api}/versions/{version}", func(w http.ResponseWriter, r *http.Request) {
		if v := version(w, r); v != nil {
			reply(w, 200, f.detail(v))
		}
	})
	h("PATCH "+base+"/{api}/versions/{version}", func(w http.ResponseWriter, r *http.Request) {
		v := version(w, r)
		if v == nil {
			return
		}
		var req client.VersionRequest
		json.NewDecoder(r.Body).Decode(&req)
		if err := f.edit(v, req); err != "" {
			problem(w, 422, err)
			return
		}
		reply(w, 200, f.detail(v))
	})
	h("GET "+base+"/{api}/versions/{version}/openapi", func(w http.ResponseWriter, r *http.Request) {
		if v := version(w, r); v != nil {
			if v.spec == "" {
				problem(w, 404, "No document.")
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(v.spec))
		}
	})
	h("POST "+base+"/{api}/versions/{version}/deployments", func(w http.ResponseWriter, r *http.Request) {
		v := version(w, r)
		if v == nil {
			return
		}
		var req client.DeployRequest
		json.NewDecoder(r.Body).Decode(&req)
		if req.Environment == client.EnvProduction && v.v.State == client.VersionDraft {
			v.v.State = client.VersionPublished
		}
		rev := 1
		changes := []string{"first deployment to " + req.Environment}
		if l := v.live[req.Environment]; l != nil {
			rev, changes = l.d.Revision+1, f.pending(v, l)
		}
		v.live[req.Environment] = &fakeLive{d: client.Deployment{Environment: req.Environment, Revision: rev, Kind: "deploy", Live: true,
			Note: req.Note, Changes: changes}, snapshot: f.snapshot(v), state: v.v.State}
		reply(w, 201, v.live[req.Environment].d)
	})
	lifecycle := func(to client.VersionState) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			v := version(w, r)
			if v == nil {
				return
			}
			allowed := map[client.VersionState]client.VersionState{client.VersionDeprecated: client.VersionPublished, client.VersionOffline: client.VersionPublished}
			if v.v.State != allowed[to] && !(to == client.VersionOffline && v.v.State == client.VersionDeprecated) {
				problem(w, 409, fmt.Sprintf("A %s version cannot become %s.", v.v.State, to))
				return
			}
			if to == client.VersionDeprecated {
				var req struct {
					SunsetAt string `json:"sunset_at"`
				}
				json.NewDecoder(r.Body).Decode(&req)
				t, err := parseSunset(req.SunsetAt)
				if err != nil {
					problem(w, 422, "Bad sunset.")
					return
				}
				v.v.SunsetAt = &t
			}
			v.v.State = to
			for _, l := range v.live { // the server re-issues live revisions
				l.state = to
				l.d.Revision++
			}
			reply(w, 200, v.v)
		}
	}
	h("POST "+base+"/{api}/versions/{version}/deprecate", lifecycle(client.VersionDeprecated))
	h("POST "+base+"/{api}/versions/{version}/offline", lifecycle(client.VersionOffline))

	h("GET "+base+"/{api}/plans", func(w http.ResponseWriter, r *http.Request) {
		var out []*client.Plan
		for _, revs := range f.plans[r.PathValue("api")] {
			out = append(out, revs[len(revs)-1])
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Slug < out[j].Slug })
		reply(w, 200, list(out))
	})
	h("POST "+base+"/{api}/plans", func(w http.ResponseWriter, r *http.Request) {
		if f.failPlans {
			problem(w, 422, "The plan is not valid.", client.FieldError{Field: "currency", Message: "Enter a three-letter code."})
			return
		}
		var req client.PlanRequest
		json.NewDecoder(r.Body).Decode(&req)
		p := &client.Plan{ID: f.id("plan"), Slug: req.Slug, Revision: 1, Name: req.Name, Description: req.Description, PriceCents: req.PriceCents,
			Currency: req.Currency, IncludedCalls: req.IncludedCalls, OverageCentsPer1000: req.OverageCentsPer1000, RateLimit: normalRateLimit(req.RateLimit),
			Quota: req.Quota, Approval: req.Approval, Versions: req.Versions, TrialDays: req.TrialDays, State: client.PlanDraft}
		if p.Approval == "" {
			p.Approval = client.ApprovalAuto
		}
		if f.plans[r.PathValue("api")] == nil {
			f.plans[r.PathValue("api")] = map[string][]*client.Plan{}
		}
		f.plans[r.PathValue("api")][p.Slug] = []*client.Plan{p}
		reply(w, 201, p)
	})
	plan := func(w http.ResponseWriter, r *http.Request) []*client.Plan {
		revs := f.plans[r.PathValue("api")][r.PathValue("plan")]
		if len(revs) == 0 {
			problem(w, 404, "No such plan.")
		}
		return revs
	}
	h("PATCH "+base+"/{api}/plans/{plan}", func(w http.ResponseWriter, r *http.Request) {
		revs := plan(w, r)
		if revs == nil {
			return
		}
		var p client.PlanPatch
		json.NewDecoder(r.Body).Decode(&p)
		cur := revs[len(revs)-1]
		next := *cur
		patchPlan(&next, p)
		switch cur.State {
		case client.PlanDraft:
			*cur = next
		case client.PlanPublished:
			next.ID, next.Revision, next.State, next.SupersedesID = f.id("plan"), cur.Revision+1, client.PlanDraft, &cur.ID
			f.plans[r.PathValue("api")][cur.Slug] = append(revs, &next)
		default:
			problem(w, 409, "A "+string(cur.State)+" plan cannot be changed.")
			return
		}
		reply(w, 200, revs[len(revs)-1])
	})
	h("POST "+base+"/{api}/plans/{plan}/{action}", func(w http.ResponseWriter, r *http.Request) {
		revs := plan(w, r)
		if revs == nil {
			return
		}
		cur := revs[len(revs)-1]
		switch r.PathValue("action") {
		case "publish":
			if cur.State != client.PlanDraft {
				problem(w, 409, "Only a draft can be published.")
				return
			}
			for _, old := range revs {
				if old.State == client.PlanPublished {
					old.State = client.PlanDeprecated
				}
			}
			cur.State = client.PlanPublished
		case "deprecate", "close":
			to := client.PlanDeprecated
			if r.PathValue("action") == "close" {
				to = client.PlanClosed
			}
			if cur.State == client.PlanDraft && cur.SupersedesID != nil {
				revs = revs[:len(revs)-1]
				f.plans[r.PathValue("api")][cur.Slug] = revs
				cur = revs[len(revs)-1]
			}
			if cur.State == client.PlanDraft || cur.State == client.PlanClosed || cur.State == to {
				problem(w, 409, "A "+string(cur.State)+" plan cannot become "+string(to)+".")
				return
			}
			cur.State = to
		}
		reply(w, 200, cur)
	})
	return mux
}

func patchAPI(a *client.API, req client.APIRequest) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = strings.TrimSpace(*src)
		}
	}
	set(&a.Name, req.Name)
	set(&a.Summary, req.Summary)
	if req.Description != nil {
		a.Description = *req.Description
	}
	set(&a.Category, req.Category)
	set(&a.LogoURL, req.LogoURL)
	set(&a.ContactURL, req.ContactURL)
	set(&a.TermsURL, req.TermsURL)
	if req.Tags != nil {
		a.Tags = normalTags(*req.Tags)
	}
	if req.Visibility != nil {
		a.Visibility = *req.Visibility
	}
}

func patchPlan(p *client.Plan, x client.PlanPatch) {
	if x.Name != nil {
		p.Name = *x.Name
	}
	if x.Description != nil {
		p.Description = *x.Description
	}
	if x.PriceCents != nil {
		p.PriceCents = *x.PriceCents
	}
	if x.Currency != nil {
		p.Currency = *x.Currency
	}
	if x.IncludedCalls != nil {
		p.IncludedCalls = *x.IncludedCalls
	}
	if x.OverageCentsPer1000.Set {
		p.OverageCentsPer1000 = x.OverageCentsPer1000.Value
	}
	if x.RateLimit.Set {
		p.RateLimit = normalRateLimit(x.RateLimit.Value)
	}
	if x.Quota != nil {
		if x.Quota.Day.Set {
			p.Quota.Day = x.Quota.Day.Value
		}
		if x.Quota.Month.Set {
			p.Quota.Month = x.Quota.Month.Value
		}
	}
	if x.Approval != nil {
		p.Approval = *x.Approval
	}
	if x.Versions != nil {
		p.Versions = *x.Versions
	}
	if x.TrialDays != nil {
		p.TrialDays = *x.TrialDays
	}
}

// edit applies a draft request the way the server does: the document is
// stored as its OpenAPI loader re-encodes it, defaults are filled in.
func (f *fake) edit(v *fakeVersion, req client.VersionRequest) string {
	if req.OpenAPI != nil {
		text, _ := req.OpenAPI.(string)
		l := openapi3.NewLoader()
		doc, err := l.LoadFromData([]byte(text))
		if err != nil {
			return "The OpenAPI document cannot be read: " + err.Error()
		}
		b, _ := json.Marshal(doc)
		v.spec = string(b)
		v.v.HasOpenAPI = true
	}
	if req.Mock != nil {
		v.v.Mock = *req.Mock
		if v.v.Mock {
			v.v.Upstream = nil
		}
	}
	if req.Upstream != nil {
		up := normalUpstream(*req.Upstream)
		v.v.Upstream, v.v.Mock = &up, false
	}
	if req.Settings != nil {
		v.v.Settings = normalSettings(*req.Settings)
	}
	v.v.UpdatedAt = time.Now()
	return ""
}

// snapshot is what a deployment of the draft would run.
func (f *fake) snapshot(v *fakeVersion) string {
	spec := v.spec
	if f.specInvisible {
		spec = ""
	}
	b, _ := json.Marshal([]any{spec, v.v.Mock, v.v.Upstream, v.v.Settings})
	return string(b)
}

func (f *fake) pending(v *fakeVersion, l *fakeLive) []string {
	out := []string{}
	if l.snapshot != f.snapshot(v) {
		out = append(out, "draft changed")
	}
	if l.state != v.v.State {
		out = append(out, fmt.Sprintf("state: %s → %s", l.state, v.v.State))
	}
	return out
}

func (f *fake) detail(v *fakeVersion) client.Version {
	out := v.v
	out.Environments = map[string]*client.Deployment{client.EnvTest: nil, client.EnvProduction: nil}
	for env, l := range v.live {
		d := l.d
		d.PendingChanges = f.pending(v, l)
		out.Environments[env] = &d
	}
	return out
}
