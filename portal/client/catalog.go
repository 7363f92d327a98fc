package client

import (
	"context"
	"encoding/json"
	"net/url"
	"time"
)

// Visibility says who sees an API: public APIs are listed in the market,
// unlisted ones are reachable by link, private ones only by members.
type Visibility string

// Visibilities.
const (
	Public   Visibility = "public"
	Unlisted Visibility = "unlisted"
	Private  Visibility = "private"
)

// API is a provider's product: one or more versions under one slug.
type API struct {
	ID          string     `json:"id"`
	Slug        string     `json:"slug"`
	Name        string     `json:"name"`
	Summary     string     `json:"summary"`
	Description string     `json:"description"`
	Category    string     `json:"category"`
	Tags        []string   `json:"tags"`
	LogoURL     string     `json:"logo_url"`
	Visibility  Visibility `json:"visibility"`
	ContactURL  string     `json:"contact_url"`
	TermsURL    string     `json:"terms_url"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// APIRequest creates an API or changes some of its metadata: nil fields are
// not sent, so an update leaves them alone. The slug is permanent.
type APIRequest struct {
	Slug        *string     `json:"slug,omitempty"`
	Name        *string     `json:"name,omitempty"`
	Summary     *string     `json:"summary,omitempty"`
	Description *string     `json:"description,omitempty"`
	Category    *string     `json:"category,omitempty"`
	Tags        *[]string   `json:"tags,omitempty"`
	LogoURL     *string     `json:"logo_url,omitempty"`
	Visibility  *Visibility `json:"visibility,omitempty"`
	ContactURL  *string     `json:"contact_url,omitempty"`
	TermsURL    *string     `json:"terms_url,omitempty"`
}

// VersionState is where a version is in its life.
type VersionState string

// Version states: draft → published (first production deployment) →
// deprecated → offline (final).
const (
	VersionDraft      VersionState = "draft"
	VersionPublished  VersionState = "published"
	VersionDeprecated VersionState = "deprecated"
	VersionOffline    VersionState = "offline"
)

// Environments a version deploys to.
const (
	EnvTest       = "test"
	EnvProduction = "production"
)

// Upstream is where the gateway forwards a version's calls. Zero numbers
// in a request take the server's defaults.
type Upstream struct {
	Targets []Target `json:"targets"`
	// ConnectTimeoutMS bounds connecting to a target (server default 2000).
	ConnectTimeoutMS int `json:"connect_timeout_ms,omitempty"`
	// TimeoutMS bounds the whole upstream response (server default 30000).
	TimeoutMS int `json:"timeout_ms,omitempty"`
	// Retries is how often an idempotent call is retried on another target.
	Retries         int    `json:"retries,omitempty"`
	HealthCheckPath string `json:"health_check_path,omitempty"`
}

// Target is one upstream URL with a load-balancing weight (default 1).
type Target struct {
	URL    string `json:"url"`
	Weight int    `json:"weight,omitempty"`
}

// Settings are version-wide gateway settings.
type Settings struct {
	// MaxBodyBytes caps request bodies (server default 10 MiB).
	MaxBodyBytes int64 `json:"max_body_bytes,omitempty"`
	RequireNonce bool  `json:"require_nonce,omitempty"`
	AllowAppCode bool  `json:"allow_app_code,omitempty"`
	// Public versions need no key: no signature, subscription, limits or
	// metering.
	Public bool `json:"public,omitempty"`
	// CORSOrigins are the web origins whose pages may call the version
	// from a browser: "*" alone, or scheme://host[:port] origins (at most
	// 50). Empty turns CORS off.
	CORSOrigins []string `json:"cors_origins,omitempty"`
	// CORSMaxAge is how long, in seconds (0–86400), browsers may keep a
	// preflight's answer; nil means the server's default (600).
	CORSMaxAge *int `json:"cors_max_age,omitempty"`
}

// Version is one version of an API as its draft stands. GetVersion and
// UpdateVersion also fill Operations and Environments; CreateVersion fills
// BackendKey with the first signing key's secret, shown only then.
type Version struct {
	ID      string       `json:"id"`
	Version string       `json:"version"`
	State   VersionState `json:"state"`
	Mock    bool         `json:"mock"`
	// Upstream is nil for a mock backend.
	Upstream     *Upstream  `json:"upstream"`
	Settings     Settings   `json:"settings"`
	HasOpenAPI   bool       `json:"has_openapi"`
	SunsetAt     *time.Time `json:"sunset_at"`
	DeprecatedAt *time.Time `json:"deprecated_at"`
	OfflineAt    *time.Time `json:"offline_at"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	// Environments maps test and production to the live deployment, nil
	// where the version was never deployed.
	Environments map[string]*Deployment `json:"environments,omitempty"`
	Operations   []Operation            `json:"operations,omitempty"`
	BackendKey   *BackendKey            `json:"backend_key,omitempty"`
}

// VersionRequest creates a version or edits its draft; unset fields are not
// sent. OpenAPI is the document as an object (a map or json.RawMessage) or
// as a string holding JSON or YAML.
type VersionRequest struct {
	Version  string    `json:"version,omitempty"`
	OpenAPI  any       `json:"openapi,omitempty"`
	Upstream *Upstream `json:"upstream,omitempty"`
	Mock     *bool     `json:"mock,omitempty"`
	Settings *Settings `json:"settings,omitempty"`
	// Operations are hand-made operations (create only); method "*" and
	// path "/*" make a catch-all.
	Operations []OperationRequest `json:"operations,omitempty"`
}

// OperationRequest defines an operation by hand.
type OperationRequest struct {
	OperationID  string `json:"operation_id,omitempty"`
	Method       string `json:"method"`
	Path         string `json:"path"`
	Summary      string `json:"summary,omitempty"`
	TimeoutMS    *int   `json:"timeout_ms,omitempty"`
	MaxBodyBytes *int64 `json:"max_body_bytes,omitempty"`
	Billable     *bool  `json:"billable,omitempty"`
}

// Operation is one method and path a version serves.
type Operation struct {
	OperationID string      `json:"operation_id"`
	Method      string      `json:"method"`
	Path        string      `json:"path"`
	Summary     string      `json:"summary"`
	Parameters  []Parameter `json:"parameters"`
	// Source is openapi or manual.
	Source string `json:"source"`
	// TimeoutMS and MaxBodyBytes override the version's defaults when set.
	TimeoutMS    *int          `json:"timeout_ms"`
	MaxBodyBytes *int64        `json:"max_body_bytes"`
	Billable     bool          `json:"billable"`
	Mock         *MockResponse `json:"mock,omitempty"`
}

// Parameter is one parameter of an operation.
type Parameter struct {
	Name        string `json:"name"`
	In          string `json:"in"`
	Required    bool   `json:"required"`
	Type        string `json:"type,omitempty"`
	Description string `json:"description,omitempty"`
}

// MockResponse is what a mock backend answers for an operation.
type MockResponse struct {
	Status      int             `json:"status"`
	ContentType string          `json:"content_type,omitempty"`
	Body        json.RawMessage `json:"body,omitempty"`
}

// OperationPatch overrides an operation's gateway settings; a field set to
// Null resets it to the version's default, an unset one is left alone.
type OperationPatch struct {
	TimeoutMS    Nullable[int]   `json:"timeout_ms,omitzero"`
	MaxBodyBytes Nullable[int64] `json:"max_body_bytes,omitzero"`
	Billable     *bool           `json:"billable,omitempty"`
}

// Deployment is one immutable revision of a version in an environment.
type Deployment struct {
	Environment string `json:"environment"`
	Revision    int    `json:"revision"`
	// Kind is deploy, rollback or lifecycle.
	Kind         string    `json:"kind"`
	RolledBackTo *int      `json:"rolled_back_to"`
	Live         bool      `json:"live"`
	Note         string    `json:"note"`
	CreatedBy    string    `json:"created_by"`
	CreatedAt    time.Time `json:"created_at"`
	SHA256       string    `json:"snapshot_sha256"`
	Operations   int       `json:"operations"`
	// Changes lists what this revision changed from the one before.
	Changes []string `json:"changes"`
	// PendingChanges, on a version's live deployments, lists what deploying
	// the current draft would change; empty means up to date.
	PendingChanges []string `json:"pending_changes,omitempty"`
}

// UpToDate reports whether deploying the version's draft would change
// nothing in this deployment's environment.
func (d *Deployment) UpToDate() bool {
	if d == nil {
		return false
	}
	return len(d.PendingChanges) == 0
}

// DeployRequest publishes a version's draft to an environment.
type DeployRequest struct {
	Environment string `json:"environment"`
	Note        string `json:"note,omitempty"`
}

// BackendKey is a key the gateway signs forwarded requests with; Secret is
// only present in the answer that creates the key.
type BackendKey struct {
	KeyID string `json:"key_id"`
	// Status is active or retired.
	Status    string     `json:"status"`
	Secret    string     `json:"secret,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at"`
}

// ListAPIs lists an organisation's APIs by slug.
func (c *Client) ListAPIs(ctx context.Context, org string, opts ListOptions) (*Page[API], error) {
	return listPage[API](ctx, c, path("orgs", org, "apis"), nil, opts)
}

// CreateAPI creates an API.
func (c *Client) CreateAPI(ctx context.Context, org string, req APIRequest) (*API, error) {
	var out API
	if err := c.do(ctx, request{method: "POST", path: path("orgs", org, "apis"), body: req, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetAPI returns one API.
func (c *Client) GetAPI(ctx context.Context, org, api string) (*API, error) {
	var out API
	if err := c.do(ctx, request{method: "GET", path: path("orgs", org, "apis", api), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateAPI changes the fields of req that are set.
func (c *Client) UpdateAPI(ctx context.Context, org, api string, req APIRequest) (*API, error) {
	var out API
	if err := c.do(ctx, request{method: "PATCH", path: path("orgs", org, "apis", api), body: req, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListVersions lists an API's versions, oldest first.
func (c *Client) ListVersions(ctx context.Context, org, api string) ([]Version, error) {
	return listAll[Version](ctx, c, path("orgs", org, "apis", api, "versions"), nil)
}

// CreateVersion adds a draft version; the answer carries the first backend
// signing key's secret, shown only here.
func (c *Client) CreateVersion(ctx context.Context, org, api string, req VersionRequest) (*Version, error) {
	var out Version
	if err := c.do(ctx, request{method: "POST", path: path("orgs", org, "apis", api, "versions"), body: req, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetVersion returns a version with its operations and, per environment,
// the live deployment and its pending changes.
func (c *Client) GetVersion(ctx context.Context, org, api, version string) (*Version, error) {
	var out Version
	if err := c.do(ctx, request{method: "GET", path: path("orgs", org, "apis", api, "versions", version), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateVersion edits a version's draft; nothing live changes until the
// next deployment.
func (c *Client) UpdateVersion(ctx context.Context, org, api, version string, req VersionRequest) (*Version, error) {
	var out Version
	if err := c.do(ctx, request{method: "PATCH", path: path("orgs", org, "apis", api, "versions", version), body: req, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// VersionOpenAPI returns the OpenAPI document of a version's draft as JSON.
// A version whose operations were made by hand has none: that is a 404.
func (c *Client) VersionOpenAPI(ctx context.Context, org, api, version string) (json.RawMessage, error) {
	var out json.RawMessage
	if err := c.do(ctx, request{method: "GET", path: path("orgs", org, "apis", api, "versions", version, "openapi"), out: &out}); err != nil {
		return nil, err
	}
	return out, nil
}

// ListOperations lists a version's operations.
func (c *Client) ListOperations(ctx context.Context, org, api, version string) ([]Operation, error) {
	return listAll[Operation](ctx, c, path("orgs", org, "apis", api, "versions", version, "operations"), nil)
}

// UpdateOperation changes an operation's gateway overrides.
func (c *Client) UpdateOperation(ctx context.Context, org, api, version, operationID string, p OperationPatch) (*Operation, error) {
	var out Operation
	if err := c.do(ctx, request{method: "PATCH", path: path("orgs", org, "apis", api, "versions", version, "operations", operationID), body: p, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListDeployments lists a version's revisions, newest first, in env or in
// every environment when env is "".
func (c *Client) ListDeployments(ctx context.Context, org, api, version, env string) ([]Deployment, error) {
	var q url.Values
	if env != "" {
		q = url.Values{"environment": {env}}
	}
	return listAll[Deployment](ctx, c, path("orgs", org, "apis", api, "versions", version, "deployments"), q)
}

// Deploy publishes the version's draft to an environment as a new
// immutable revision; the first production deployment publishes the
// version.
func (c *Client) Deploy(ctx context.Context, org, api, version string, req DeployRequest) (*Deployment, error) {
	var out Deployment
	if err := c.do(ctx, request{method: "POST", path: path("orgs", org, "apis", api, "versions", version, "deployments"), body: req, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// Rollback makes an earlier revision live again in env, recorded as a new
// revision.
func (c *Client) Rollback(ctx context.Context, org, api, version, env string, revision int) (*Deployment, error) {
	var out Deployment
	body := struct {
		Revision int `json:"revision"`
	}{revision}
	if err := c.do(ctx, request{method: "POST", path: path("orgs", org, "apis", api, "versions", version, "environments", env, "rollback"), body: body, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeprecateVersion deprecates a published version; sunsetAt is a future
// date (2027-01-31) or RFC 3339 time.
func (c *Client) DeprecateVersion(ctx context.Context, org, api, version, sunsetAt string) (*Version, error) {
	var out Version
	body := struct {
		SunsetAt string `json:"sunset_at"`
	}{sunsetAt}
	if err := c.do(ctx, request{method: "POST", path: path("orgs", org, "apis", api, "versions", version, "deprecate"), body: body, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// TakeVersionOffline ends a version for good: the gateway answers 410 and
// the market drops it.
func (c *Client) TakeVersionOffline(ctx context.Context, org, api, version string) (*Version, error) {
	var out Version
	if err := c.do(ctx, request{method: "POST", path: path("orgs", org, "apis", api, "versions", version, "offline"), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListBackendKeys lists a version's backend signing keys, newest first,
// without secrets.
func (c *Client) ListBackendKeys(ctx context.Context, org, api, version string) ([]BackendKey, error) {
	return listAll[BackendKey](ctx, c, path("orgs", org, "apis", api, "versions", version, "backend-keys"), nil)
}

// RotateBackendKey creates a new backend signing key and returns it with
// its secret, shown only here. At most two keys stay active.
func (c *Client) RotateBackendKey(ctx context.Context, org, api, version string) (*BackendKey, error) {
	var out BackendKey
	if err := c.do(ctx, request{method: "POST", path: path("orgs", org, "apis", api, "versions", version, "backend-keys"), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// RetireBackendKey retires a backend key; the last active key stays.
func (c *Client) RetireBackendKey(ctx context.Context, org, api, version, keyID string) error {
	return c.do(ctx, request{method: "DELETE", path: path("orgs", org, "apis", api, "versions", version, "backend-keys", keyID)})
}
