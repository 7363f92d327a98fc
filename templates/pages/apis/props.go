// Package apis renders a provider's catalog in the console: the list of
// APIs, the form to create one, an API's overview (metadata, versions and
// the new-version form), the version editor, the deploy dialog and the
// revision history.
//
// Every page takes already-formatted values; forms re-render with what the
// person typed and with the service's field messages, keyed by the names
// the catalog uses ("upstream.targets[0].url", "openapi#/paths/~1pets/get").
package apis

import (
	"strings"

	"github.com/portico-dev/portico/templates/layout"
)

// ListProps drive GET /orgs/{org}/apis: a paginated table of the
// organisation's APIs, and a "Create API" action for those who may manage
// the catalog.
type ListProps struct {
	Page      layout.Page
	APIs      []APIRow
	CanManage bool
	FirstURL  string // "" on the first page
	NextURL   string // "" on the last page
}

// APIRow is one API in the list.
type APIRow struct {
	Slug       string
	Name       string
	Summary    string
	Visibility string // public, unlisted or private
	Updated    string
	Versions   []VersionBadge
}

// VersionBadge is a version's name and lifecycle state (draft, published,
// deprecated or offline).
type VersionBadge struct {
	Version string
	State   string
}

// APIForm holds the values of the API metadata form, as typed. Tags are
// comma-separated.
type APIForm struct {
	Slug        string
	Name        string
	Summary     string
	Description string
	Category    string
	Tags        string
	Visibility  string
	LogoURL     string
	ContactURL  string
	TermsURL    string
}

// NewProps drive GET /orgs/{org}/apis/new and a failed POST
// /orgs/{org}/apis (fields slug, name, summary, description, category, tags,
// visibility, logo_url, contact_url, terms_url).
type NewProps struct {
	Page    layout.Page
	Form    APIForm
	Message string
	Errors  map[string]string
}

// APIProps drive GET /orgs/{org}/apis/{api}: the API's facts, its versions
// with their live revisions, and — for those who may manage the catalog —
// the metadata form (POST /orgs/{org}/apis/{api}; the slug is read-only)
// and the new-version form (POST /orgs/{org}/apis/{api}/versions,
// multipart: version, openapi_file or openapi_text, backend = upstream or
// mock, target_url/target_weight pairs, timeout_ms).
type APIProps struct {
	Page      layout.Page
	Slug      string
	Name      string
	Created   string
	Updated   string
	CanManage bool
	// Form holds the metadata as stored, or as typed after a failed save.
	Form        APIForm
	FormMessage string
	FormErrors  map[string]string
	Versions    []VersionRow
	// NewVersion holds the new-version form's values.
	NewVersion        VersionForm
	NewVersionMessage string
	NewVersionErrors  map[string]string
}

// VersionRow is one version on the API's page.
type VersionRow struct {
	Version    string
	State      string
	Sunset     string // "" unless deprecated
	Operations int
	Backend    string // "mock", "upstream" or "none"
	Test       *LiveRevision
	Production *LiveRevision
	Updated    string
}

// LiveRevision is the revision an environment serves.
type LiveRevision struct {
	Number int
	By     string
	When   string
}

// VersionForm holds the new-version form's values, as typed.
type VersionForm struct {
	Version string
	// SpecText is the pasted document, or an uploaded file's content after
	// a failed submission so nothing has to be uploaded again.
	SpecText string
	// SpecFile names the uploaded file whose content is in SpecText.
	SpecFile string
	// Backend is "upstream" or "mock".
	Backend  string
	Upstream UpstreamForm
}

// UpstreamForm holds an upstream's fields as typed (numbers as strings so a
// wrong value can be shown back).
type UpstreamForm struct {
	Targets          []TargetForm
	ConnectTimeoutMS string
	TimeoutMS        string
	Retries          string
	HealthCheckPath  string
}

// TargetForm is one upstream target row.
type TargetForm struct {
	URL    string
	Weight string
}

// SettingsForm holds a version's gateway settings as typed.
type SettingsForm struct {
	MaxBodyBytes string
	RequireNonce bool
	AllowAppCode bool
	// Public versions take no credentials (no key needed).
	Public bool
	// CORSOrigins are the web origins allowed to call from a browser, one
	// per line; CORSMaxAge is the preflight cache time in seconds.
	CORSOrigins string
	CORSMaxAge  string
}

// corsOriginList is the origins one per line, for the read-only view.
func (f SettingsForm) corsOriginList() []string {
	var out []string
	for _, l := range strings.Split(f.CORSOrigins, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// VersionProps drive GET /orgs/{org}/apis/{api}/versions/{version}, the
// version editor. For those who may manage the catalog it has these forms
// (all POST under the version's path, all with the CSRF field):
//
//   - openapi: replace the document (multipart: openapi_file or openapi_text)
//   - upstream: target_url/target_weight pairs, connect_timeout_ms,
//     timeout_ms, retries, health_check_path; its second button posts the
//     same fields to test-connection
//   - mock: switch to the mock backend (mock=true)
//   - settings: max_body_bytes, require_nonce, allow_app_code, public
//   - operations/{operation_id}: timeout_ms, max_body_bytes, billable
//   - backend-keys: rotate; backend-keys/{key_id}/retire
//   - deprecate: sunset_at (a date); offline
//
// Deploying goes through the deploy dialog (DeployProps).
type VersionProps struct {
	Page       layout.Page
	APISlug    string
	APIName    string
	Version    string
	State      string
	Sunset     string // the sunset date, when deprecated
	Deprecated string
	Offline    string
	Updated    string
	CanManage  bool
	Mock       bool
	HasOpenAPI bool
	// Environments are test and production, in that order.
	Environments []EnvStatus
	// Created, when set, shows a backend signing secret once.
	Created *CreatedKey
	// Notice is a one-time success message rendered with the page (when
	// the page answers a POST directly instead of redirecting).
	Notice     string
	Operations []OperationRow
	Keys       []KeyRow
	Upstream   UpstreamForm
	Settings   SettingsForm
	// SpecText and SpecFile keep a failed document replacement.
	SpecText string
	SpecFile string
	// SunsetAt is the deprecation form's date (yyyy-mm-dd); MinSunset is
	// the earliest date it accepts.
	SunsetAt  string
	MinSunset string
	// Probes are the results of "Test connection", nil when not run.
	Probes []ProbeResult
	// Failed names the form that failed and carries its messages.
	Failed FormFailure
}

// EnvStatus is what an environment serves and whether the draft differs.
type EnvStatus struct {
	Env   string // "test" or "production"
	Label string // "Test", "Production"
	Live  *LiveRevision
	// Pending lists what deploying the draft would change; empty when the
	// environment is up to date (or not deployed: see Live).
	Pending []string
}

// CreatedKey is a backend signing key and its secret, shown once.
type CreatedKey struct {
	KeyID  string
	Secret string
	// Heading says why it is shown: a new version or a rotation.
	Heading string
}

// OperationRow is one operation with its gateway overrides as typed.
type OperationRow struct {
	OperationID  string
	Method       string
	Path         string
	Summary      string
	Source       string // "openapi" or "manual"
	TimeoutMS    string // "" uses the upstream timeout
	MaxBodyBytes string // "" uses the version's limit
	Billable     bool
}

// KeyRow is one backend signing key.
type KeyRow struct {
	KeyID   string
	Status  string // active or retired
	Created string
	Retired string
}

// ProbeResult is the outcome of testing one upstream target: the HTTP
// status and latency, or the error.
type ProbeResult struct {
	URL     string
	Method  string
	Status  int
	Latency string
	Error   string
}

// FormFailure is the error state of one form on the version page. Form is
// "openapi", "upstream", "settings", "lifecycle", "keys" or "operation";
// Operation names the operation of a failed row.
type FormFailure struct {
	Form      string
	Operation string
	Message   string
	Errors    map[string]string
}

// DeployProps drive GET /orgs/{org}/apis/{api}/versions/{version}/
// environments/{env}/deploy: the publish dialog. It shows what deploying
// the draft would change compared with the live revision, what would be
// deployed (backend, settings, operations) and a form (POST to the same
// path, field note) whose button names the revision it creates.
type DeployProps struct {
	Page      layout.Page
	APISlug   string
	APIName   string
	Version   string
	State     string
	Env       string
	EnvLabel  string
	Next      int           // the revision number deploying creates
	Live      *LiveRevision // nil when the environment is not deployed yet
	Changes   []string      // empty with Live set: nothing changed
	Mock      bool
	Upstream  UpstreamForm
	Settings  SettingsForm
	Ops       []OperationRow
	KeyCount  int
	Note      string
	Blocked   string // why the version cannot be deployed at all ("" when it can)
	Message   string
	Problems  []string // what must be fixed first
	CanDeploy bool
}

// RevisionsProps drive GET /orgs/{org}/apis/{api}/versions/{version}/
// revisions: the history of each environment, newest first, with a
// "Roll back" form (POST …/environments/{env}/revisions/{n}/rollback) on
// revisions that are not live, for those who may manage the catalog.
type RevisionsProps struct {
	Page         layout.Page
	APISlug      string
	APIName      string
	Version      string
	State        string
	CanManage    bool
	CanRollback  bool // false when the version is offline
	Environments []EnvHistory
}

// EnvHistory is one environment's revisions.
type EnvHistory struct {
	Env       string
	Label     string
	Revisions []RevisionRow
}

// RevisionRow is one revision.
type RevisionRow struct {
	Number     int
	Kind       string // deploy, rollback or lifecycle
	RolledBack int    // the revision a rollback restored, 0 otherwise
	By         string
	When       string
	Note       string
	Live       bool
	// Current is true when this revision's configuration is what the
	// environment serves (it is live, or the live rollback restored it),
	// so rolling back to it would change nothing.
	Current    bool
	Operations int
	Changes    []string
}
