package manifest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/portico-dev/portico/portal/client"
)

// Action is what one step of a plan does.
type Action string

// Actions, in the order Apply performs their kinds: the API, then
// versions, deployments, version lifecycle and plans.
const (
	CreateAPI        Action = "create-api"
	UpdateAPI        Action = "update-api"
	CreateVersion    Action = "create-version"
	UpdateVersion    Action = "update-version"
	Deploy           Action = "deploy"
	DeprecateVersion Action = "deprecate-version"
	OfflineVersion   Action = "offline-version"
	CreatePlan       Action = "create-plan"
	UpdatePlan       Action = "update-plan"
	PublishPlan      Action = "publish-plan"
	DeprecatePlan    Action = "deprecate-plan"
	ClosePlan        Action = "close-plan"
)

// Step is one change Apply makes.
type Step struct {
	Action Action `json:"action"`
	// Name is the API slug, version name or plan slug the step acts on.
	Name string `json:"name"`
	// Env is the environment a Deploy step deploys to.
	Env string `json:"environment,omitempty"`
	// Fields names what an update step changes.
	Fields []string `json:"fields,omitempty"`
	// Changes lists what a Deploy changes in its environment, as the
	// server reports it; empty when the draft changes first, so that only
	// the server can tell (Reason says why then).
	Changes []string `json:"changes,omitempty"`
	// Reason says why a Deploy is needed when Changes cannot.
	Reason string `json:"reason,omitempty"`
	// NewRevision marks a plan update that creates a new draft revision
	// because the plan is published.
	NewRevision bool `json:"new_revision,omitempty"`
	// SunsetAt is the sunset of a DeprecateVersion step, as written.
	SunsetAt string `json:"sunset_at,omitempty"`

	// What Execute did: Done when the change was made; Skipped says why
	// it turned out to be unneeded; Result is a short note ("revision 3").
	Done    bool   `json:"done,omitempty"`
	Skipped string `json:"skipped,omitempty"`
	Result  string `json:"result,omitempty"`
	// Deployed lists what a Deploy changed, as the server recorded it.
	Deployed []string `json:"deployed,omitempty"`
	// Secret is a backend signing key secret a created version came with;
	// the server shows it only once.
	Secret string `json:"secret,omitempty"`

	// The requests Execute sends.
	APIRequest     *client.APIRequest     `json:"-"`
	VersionRequest *client.VersionRequest `json:"-"`
	PlanRequest    *client.PlanRequest    `json:"-"`
	PlanPatch      *client.PlanPatch      `json:"-"`
}

// String is the step's line in a printed plan, like
// "~ update version v1: openapi, upstream".
func (s Step) String() string {
	fields := strings.Join(s.Fields, ", ")
	switch s.Action {
	case CreateAPI:
		return "+ create API " + s.Name
	case UpdateAPI:
		return "~ update API " + s.Name + ": " + fields
	case CreateVersion:
		return "+ create version " + s.Name
	case UpdateVersion:
		return "~ update version " + s.Name + ": " + fields
	case Deploy:
		why := s.Reason
		switch n := len(s.Changes); {
		case n == 1:
			why = "1 change"
		case n > 1:
			why = fmt.Sprintf("%d changes", n)
		}
		return fmt.Sprintf("→ deploy %s to %s (%s)", s.Name, s.Env, why)
	case DeprecateVersion:
		return fmt.Sprintf("~ deprecate version %s (sunset %s)", s.Name, s.SunsetAt)
	case OfflineVersion:
		return "- take version " + s.Name + " offline"
	case CreatePlan:
		return "+ create plan " + s.Name
	case UpdatePlan:
		line := "~ update plan " + s.Name + ": " + fields
		if s.NewRevision {
			line += " (new draft revision)"
		}
		return line
	case PublishPlan:
		return "+ publish plan " + s.Name
	case DeprecatePlan:
		return "~ deprecate plan " + s.Name
	case ClosePlan:
		return "- close plan " + s.Name
	}
	return string(s.Action) + " " + s.Name
}

// Plan is the ordered list of changes that make the server match a
// manifest.
type Plan struct {
	Org   string `json:"org"`
	API   string `json:"api"`
	Steps []Step `json:"steps"`
	// Warnings are differences Apply leaves alone, with the reason.
	Warnings []string `json:"warnings,omitempty"`
}

// Empty reports whether there is nothing to change.
func (p *Plan) Empty() bool { return len(p.Steps) == 0 }

// String prints the plan: one line per step, a deploy's known changes
// indented below it, or "No changes.".
func (p *Plan) String() string {
	var b strings.Builder
	for _, w := range p.Warnings {
		b.WriteString("! " + w + "\n")
	}
	if p.Empty() {
		b.WriteString("No changes.\n")
		return b.String()
	}
	for _, s := range p.Steps {
		b.WriteString(s.String() + "\n")
		for _, c := range s.Changes {
			b.WriteString("    " + c + "\n")
		}
	}
	return b.String()
}

func (p *Plan) add(s Step) { p.Steps = append(p.Steps, s) }

// ConflictError says why the server cannot be brought to match the
// manifest, such as a plan that is closed for good. Diff returns it before
// anything changes.
type ConflictError struct {
	Problems []string
}

// Error lists the problems, one per line when there are several.
func (e *ConflictError) Error() string {
	if len(e.Problems) == 1 {
		return "cannot apply: " + e.Problems[0]
	}
	return "cannot apply:\n  " + strings.Join(e.Problems, "\n  ")
}

// versionPlan is what Diff decided for one version, for the later phases.
type versionPlan struct {
	want    *Version
	have    *VersionState
	state   client.VersionState // before this apply
	created bool
	updated bool
}

// Diff computes the steps that make the server (st) match the manifest
// (doc). It is a pure function of its arguments.
func Diff(doc *Document, st *State) (*Plan, error) {
	if st == nil {
		st = &State{}
	}
	p := &Plan{Org: doc.Org, API: doc.Slug, Steps: []Step{}}
	var problems []string

	// The API.
	if st.API == nil {
		p.add(Step{Action: CreateAPI, Name: doc.Slug, APIRequest: createAPIRequest(doc)})
	} else if req, fields := apiChanges(doc, st.API); len(fields) > 0 {
		p.add(Step{Action: UpdateAPI, Name: doc.Slug, Fields: fields, APIRequest: req})
	}

	// Versions.
	vps := make([]versionPlan, 0, len(doc.Versions))
	for i := range doc.Versions {
		want := &doc.Versions[i]
		vp := versionPlan{want: want, have: st.Versions[want.Version]}
		switch {
		case vp.have == nil || vp.have.Version == nil:
			vp.have, vp.created, vp.state = nil, true, client.VersionDraft
			p.add(Step{Action: CreateVersion, Name: want.Version, VersionRequest: createVersionRequest(want)})
		case vp.have.Version.State == client.VersionOffline:
			vp.state = client.VersionOffline
			if !want.Offline {
				problems = append(problems, fmt.Sprintf("version %s is offline, which is final; write offline: true, or remove the version from the file", want.Version))
			} else if _, fields := versionChanges(want, vp.have); len(fields) > 0 {
				p.Warnings = append(p.Warnings, fmt.Sprintf("version %s is offline and can no longer change; not updating %s", want.Version, strings.Join(fields, ", ")))
			}
		default:
			vp.state = vp.have.Version.State
			if req, fields := versionChanges(want, vp.have); len(fields) > 0 {
				vp.updated = true
				p.add(Step{Action: UpdateVersion, Name: want.Version, Fields: fields, VersionRequest: req})
			}
		}
		vps = append(vps, vp)
	}

	// Deployments. A version's first production deployment publishes it,
	// which changes what the test environment would run too; so such a
	// version goes to production first and to test after.
	for _, vp := range vps {
		if vp.state == client.VersionOffline {
			continue
		}
		publishes := vp.state == client.VersionDraft && slices.Contains(vp.want.Deploy, client.EnvProduction)
		order := []string{client.EnvTest, client.EnvProduction}
		if publishes {
			order = []string{client.EnvProduction, client.EnvTest}
		}
		for _, env := range order {
			if !slices.Contains(vp.want.Deploy, env) {
				continue
			}
			var live *client.Deployment
			if vp.have != nil {
				live = vp.have.Version.Environments[env]
			}
			s := Step{Action: Deploy, Name: vp.want.Version, Env: env}
			switch {
			case vp.created:
				s.Reason = "new version"
			case live == nil:
				s.Reason = "first deployment"
			case vp.updated:
				s.Reason = "updated draft"
			case !live.UpToDate():
				s.Changes = live.PendingChanges
			case publishes && env == client.EnvTest:
				s.Reason = "state: draft → published"
			default:
				continue
			}
			p.add(s)
		}
	}

	// Version lifecycle.
	for _, vp := range vps {
		want := vp.want
		published := vp.state == client.VersionPublished || vp.state == client.VersionDeprecated ||
			slices.Contains(want.Deploy, client.EnvProduction)
		var sunset *time.Time
		if vp.have != nil {
			sunset = vp.have.Version.SunsetAt
		}
		switch {
		case want.Deprecate != nil && vp.state == client.VersionDeprecated:
			if sunset == nil || !sunset.Equal(want.Deprecate.Sunset) {
				problems = append(problems, fmt.Sprintf("version %s is already deprecated with sunset %s; a sunset cannot change (the file says %s)",
					want.Version, fmtSunset(sunset), want.Deprecate.SunsetAt))
			}
		case want.Deprecate != nil && vp.state == client.VersionOffline:
			// Offline is final; the deprecation no longer matters.
		case want.Deprecate != nil && !published:
			problems = append(problems, fmt.Sprintf("version %s must be published before it is deprecated: add production to its deploy list", want.Version))
		case want.Deprecate != nil:
			p.add(Step{Action: DeprecateVersion, Name: want.Version, SunsetAt: want.Deprecate.SunsetAt})
		case vp.state == client.VersionDeprecated:
			problems = append(problems, fmt.Sprintf("version %s is deprecated (sunset %s), which cannot be undone; add deprecate: {sunset_at: %s} to it",
				want.Version, fmtSunset(sunset), fmtSunset(sunset)))
		}
		if want.Offline && vp.state != client.VersionOffline {
			if !published {
				problems = append(problems, fmt.Sprintf("version %s must be published before it goes offline: add production to its deploy list", want.Version))
			} else {
				p.add(Step{Action: OfflineVersion, Name: want.Version})
			}
		}
	}

	// Plans.
	var grants []string
	for _, v := range doc.Versions {
		if !v.Offline {
			grants = append(grants, v.Version)
		}
	}
	for i := range doc.Plans {
		steps, probs := planSteps(&doc.Plans[i], st.Plans[doc.Plans[i].Slug], grants)
		p.Steps = append(p.Steps, steps...)
		problems = append(problems, probs...)
	}

	if len(problems) > 0 {
		return p, &ConflictError{Problems: problems}
	}
	return p, nil
}

// fmtSunset writes a sunset as a date when it is midnight UTC, else as
// RFC 3339: the form Export writes.
func fmtSunset(t *time.Time) string {
	if t == nil {
		return "none"
	}
	u := t.UTC()
	if u.Hour() == 0 && u.Minute() == 0 && u.Second() == 0 && u.Nanosecond() == 0 {
		return u.Format("2006-01-02")
	}
	return u.Format(time.RFC3339)
}

func createAPIRequest(d *Document) *client.APIRequest {
	return &client.APIRequest{Slug: client.Ptr(d.Slug), Name: d.Name, Summary: d.Summary, Description: d.Description,
		Category: d.Category, Tags: d.Tags, LogoURL: d.LogoURL, Visibility: d.Visibility, ContactURL: d.ContactURL, TermsURL: d.TermsURL}
}

// apiChanges returns a patch of the API fields the manifest sets that
// differ from the server's, compared the way the server stores them.
func apiChanges(d *Document, have *client.API) (*client.APIRequest, []string) {
	req := &client.APIRequest{}
	var fields []string
	trim := strings.TrimSpace
	lower := func(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
	same := func(s string) string { return s }
	set := func(field string, want *string, have string, norm func(string) string, dst **string) {
		if want != nil && norm(*want) != norm(have) {
			v := norm(*want)
			*dst = &v
			fields = append(fields, field)
		}
	}
	set("name", d.Name, have.Name, trim, &req.Name)
	set("summary", d.Summary, have.Summary, trim, &req.Summary)
	set("description", d.Description, have.Description, same, &req.Description)
	set("category", d.Category, have.Category, lower, &req.Category)
	if d.Tags != nil && !slices.Equal(normalTags(*d.Tags), normalTags(have.Tags)) {
		tags := normalTags(*d.Tags)
		req.Tags = &tags
		fields = append(fields, "tags")
	}
	set("logo_url", d.LogoURL, have.LogoURL, trim, &req.LogoURL)
	if d.Visibility != nil && *d.Visibility != have.Visibility {
		req.Visibility = d.Visibility
		fields = append(fields, "visibility")
	}
	set("contact_url", d.ContactURL, have.ContactURL, trim, &req.ContactURL)
	set("terms_url", d.TermsURL, have.TermsURL, trim, &req.TermsURL)
	return req, fields
}

func createVersionRequest(v *Version) *client.VersionRequest {
	req := &client.VersionRequest{Version: v.Version, Upstream: v.Upstream, Mock: v.Mock, Settings: v.Settings}
	if v.OpenAPI != nil {
		req.OpenAPI = string(v.OpenAPI.Raw)
	}
	return req
}

// versionChanges returns a draft patch of what the manifest sets that
// differs from the server's draft.
func versionChanges(want *Version, vs *VersionState) (*client.VersionRequest, []string) {
	have := vs.Version
	req := &client.VersionRequest{}
	var fields []string
	if want.OpenAPI != nil && (!have.HasOpenAPI || !sameSpec(want.OpenAPI, vs.OpenAPI)) {
		req.OpenAPI = string(want.OpenAPI.Raw)
		fields = append(fields, "openapi")
	}
	switch {
	case want.Mock != nil && *want.Mock:
		if !have.Mock {
			req.Mock = client.Ptr(true)
			fields = append(fields, "mock")
		}
	case want.Upstream != nil:
		if have.Mock || !sameUpstream(*want.Upstream, have.Upstream) {
			req.Upstream, req.Mock = want.Upstream, client.Ptr(false)
			fields = append(fields, "upstream")
		}
	}
	if want.Settings != nil && !reflect.DeepEqual(normalSettings(*want.Settings), normalSettings(have.Settings)) {
		req.Settings = want.Settings
		fields = append(fields, "settings")
	}
	return req, fields
}

func createPlanRequest(pl *PricePlan, grants []string) *client.PlanRequest {
	req := &client.PlanRequest{Slug: pl.Slug, Versions: grants, OverageCentsPer1000: pl.OverageCentsPer1000.Value,
		RateLimit: normalRateLimit(pl.RateLimit.Value)}
	if pl.Name != nil {
		req.Name = strings.TrimSpace(*pl.Name)
	}
	if pl.Description != nil {
		req.Description = strings.TrimSpace(*pl.Description)
	}
	if pl.PriceCents != nil {
		req.PriceCents = *pl.PriceCents
	}
	if pl.Currency != nil {
		req.Currency = *pl.Currency
	}
	if pl.IncludedCalls != nil {
		req.IncludedCalls = *pl.IncludedCalls
	}
	if pl.Quota != nil {
		req.Quota = *pl.Quota
	}
	if pl.Approval != nil {
		req.Approval = *pl.Approval
	}
	if pl.Versions != nil {
		req.Versions = *pl.Versions
	}
	if pl.TrialDays != nil {
		req.TrialDays = *pl.TrialDays
	}
	return req
}

// planChanges returns a patch of the terms the manifest sets that differ
// from the plan's latest revision.
func planChanges(want *PricePlan, have *client.Plan) (*client.PlanPatch, []string) {
	p := &client.PlanPatch{}
	var fields []string
	if want.Name != nil && strings.TrimSpace(*want.Name) != have.Name {
		p.Name = client.Ptr(strings.TrimSpace(*want.Name))
		fields = append(fields, "name")
	}
	if want.Description != nil && strings.TrimSpace(*want.Description) != have.Description {
		p.Description = client.Ptr(strings.TrimSpace(*want.Description))
		fields = append(fields, "description")
	}
	if want.PriceCents != nil && *want.PriceCents != have.PriceCents {
		p.PriceCents = want.PriceCents
		fields = append(fields, "price_cents")
	}
	if want.Currency != nil && *want.Currency != have.Currency {
		p.Currency = want.Currency
		fields = append(fields, "currency")
	}
	if want.IncludedCalls != nil && *want.IncludedCalls != have.IncludedCalls {
		p.IncludedCalls = want.IncludedCalls
		fields = append(fields, "included_calls")
	}
	if want.OverageCentsPer1000.Set && !eqPtr(want.OverageCentsPer1000.Value, have.OverageCentsPer1000) {
		p.OverageCentsPer1000 = want.OverageCentsPer1000
		fields = append(fields, "overage_cents_per_1000")
	}
	if want.RateLimit.Set && !eqPtr(normalRateLimit(want.RateLimit.Value), normalRateLimit(have.RateLimit)) {
		p.RateLimit = client.Nullable[client.RateLimit]{Set: true, Value: normalRateLimit(want.RateLimit.Value)}
		fields = append(fields, "rate_limit")
	}
	if q := want.Quota; q != nil {
		qp := &client.QuotaPatch{}
		if !eqPtr(q.Day, have.Quota.Day) {
			qp.Day = client.Nullable[int64]{Set: true, Value: q.Day}
			fields = append(fields, "quota.day")
		}
		if !eqPtr(q.Month, have.Quota.Month) {
			qp.Month = client.Nullable[int64]{Set: true, Value: q.Month}
			fields = append(fields, "quota.month")
		}
		if qp.Day.Set || qp.Month.Set {
			p.Quota = qp
		}
	}
	if want.Approval != nil && *want.Approval != have.Approval {
		p.Approval = want.Approval
		fields = append(fields, "approval")
	}
	if want.Versions != nil && !slices.Equal(*want.Versions, have.Versions) {
		p.Versions = want.Versions
		fields = append(fields, "versions")
	}
	if want.TrialDays != nil && *want.TrialDays != have.TrialDays {
		p.TrialDays = want.TrialDays
		fields = append(fields, "trial_days")
	}
	return p, fields
}

// planSteps decides what one plan needs. Plan revisions only move forward
// (draft → published → deprecated → closed), so a manifest asking for an
// earlier state is a problem, not a step.
func planSteps(want *PricePlan, have *client.Plan, grants []string) ([]Step, []string) {
	slug := want.Slug
	var steps []Step
	add := func(a Action) { steps = append(steps, Step{Action: a, Name: slug}) }
	retire := func() {
		if want.Deprecate {
			add(DeprecatePlan)
		}
		if want.Close {
			add(ClosePlan)
		}
	}
	if have == nil {
		if (want.Deprecate || want.Close) && !want.Publish {
			return nil, []string{fmt.Sprintf("plan %s must be published before it is deprecated or closed: add publish: true", slug)}
		}
		steps = append(steps, Step{Action: CreatePlan, Name: slug, PlanRequest: createPlanRequest(want, grants)})
		if want.Publish {
			add(PublishPlan)
		}
		retire()
		return steps, nil
	}
	patch, fields := planChanges(want, have)
	update := func() {
		if len(fields) > 0 {
			steps = append(steps, Step{Action: UpdatePlan, Name: slug, Fields: fields, PlanPatch: patch,
				NewRevision: have.State == client.PlanPublished})
		}
	}
	switch have.State {
	case client.PlanDraft:
		onSale := have.SupersedesID != nil // a published revision exists
		switch {
		case (want.Deprecate || want.Close) && onSale:
			// Retiring discards the pending draft with its terms.
			retire()
		case want.Deprecate || want.Close:
			if !want.Publish {
				return nil, []string{fmt.Sprintf("plan %s was never published, so it cannot be deprecated or closed: add publish: true", slug)}
			}
			update()
			add(PublishPlan)
			retire()
		default:
			update()
			if want.Publish {
				add(PublishPlan)
			}
		}
	case client.PlanPublished:
		switch {
		case want.Deprecate || want.Close:
			retire()
		default:
			update()
			if want.Publish && len(fields) > 0 {
				add(PublishPlan)
			}
		}
	case client.PlanDeprecated:
		switch {
		case want.Close:
			add(ClosePlan)
		case len(fields) > 0:
			return nil, []string{fmt.Sprintf("plan %s is deprecated, so its terms (%s) can no longer change; create a plan with a new slug", slug, strings.Join(fields, ", "))}
		case !want.Deprecate:
			return nil, []string{fmt.Sprintf("plan %s is deprecated, which cannot be undone; add deprecate: true to it", slug)}
		}
	case client.PlanClosed:
		switch {
		case !want.Close:
			return nil, []string{fmt.Sprintf("plan %s is closed, which is final; add close: true to it, or use a new slug", slug)}
		case len(fields) > 0:
			return nil, []string{fmt.Sprintf("plan %s is closed, so its terms (%s) can no longer change", slug, strings.Join(fields, ", "))}
		}
	default:
		return nil, []string{fmt.Sprintf("plan %s is in state %q, which this porticoctl does not know", slug, have.State)}
	}
	return steps, nil
}
