// Package plans renders an API's plans in the provider's console: the list
// with the form to create a plan, and a plan's page with its revision
// history, the edit form and the lifecycle actions (publish, deprecate,
// close). Both forms can be previewed as the market will show the plan,
// server-side (a POST that re-renders the form), without JavaScript.
//
// Every page takes already-formatted values; the forms re-render with what
// the person typed. Field names in Errors are the form's: slug, name,
// description, price, currency, included_calls, overage, rate_rps,
// rate_burst, quota_day, quota_month, approval, trial_days, versions.
package plans

import (
	"github.com/portico-dev/portico/templates/layout"
	"github.com/portico-dev/portico/templates/pages/market"
)

// ListProps drive GET /orgs/{org}/apis/{api}/plans and the failed or
// previewed POSTs of its new-plan form (POST …/plans creates a draft, POST
// …/plans/preview shows the preview).
type ListProps struct {
	Page    layout.Page
	APISlug string
	APIName string
	// CanManage is set for owners, admins and billing members.
	CanManage bool
	Plans     []PlanRow
	FirstURL  string
	NextURL   string
	// Versions are the API's versions a plan may grant; none means a plan
	// cannot be created yet.
	Versions []VersionOption
	Form     Form
	Message  string
	Errors   map[string]string
	// Preview is the market's view of the form's plan, after a preview.
	Preview *market.PlanTerms
}

// PlanRow is the latest revision of one plan.
type PlanRow struct {
	Slug     string
	Name     string
	Price    string
	Limits   string
	State    string
	Revision int
	// OnSale is the revision still on sale while a draft of changes waits
	// (0 when none).
	OnSale int
}

// Form holds the plan form's values as typed. Amounts are decimal strings
// in the currency's main unit ("49.00"; whole yen for jpy); empty
// overage, rate limit and quotas mean none.
type Form struct {
	Slug          string
	Name          string
	Description   string
	Price         string
	Currency      string
	IncludedCalls string
	Overage       string
	RateRPS       string
	RateBurst     string
	QuotaDay      string
	QuotaMonth    string
	Approval      string
	TrialDays     string
	Versions      []string
}

// VersionOption is a version a plan may grant.
type VersionOption struct {
	Version string
	State   string
}

// DetailProps drive GET /orgs/{org}/apis/{api}/plans/{plan}: the latest
// revision's terms, the lifecycle actions the state allows (POST
// …/{plan}/publish, …/deprecate, …/close), the edit form (POST …/{plan}/edit,
// preview POST …/{plan}/preview) and the revision history.
type DetailProps struct {
	Page    layout.Page
	APISlug string
	APIName string
	Slug    string
	Name    string
	// State and Revision are the latest revision's.
	State    string
	Revision int
	// OnSale is the published revision a draft would replace (0 when
	// none).
	OnSale    int
	CanManage bool
	// CanEdit is set when the latest revision is a draft or published.
	CanEdit      bool
	CanPublish   bool
	CanDeprecate bool
	CanClose     bool
	Current      market.PlanTerms
	Revisions    []RevisionRow
	Versions     []VersionOption
	Form         Form
	Message      string
	Errors       map[string]string
	Preview      *market.PlanTerms
}

// RevisionRow is one revision of a plan with its terms.
type RevisionRow struct {
	Revision  int
	State     string
	Terms     market.PlanTerms
	Created   string
	Published string
}
