package catalog

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/portico-dev/portico/gateway/origin"
	"github.com/portico-dev/portico/tenants/keyring"
)

// Visibility says who sees an API.
type Visibility string

// Visibilities: public APIs are listed in the market; unlisted ones are
// reachable by link; private ones only by the provider's members.
const (
	Public   Visibility = "public"
	Unlisted Visibility = "unlisted"
	Private  Visibility = "private"
)

// API is a provider's product: one or more versions under one slug.
type API struct {
	ID          string     `json:"id"`
	OrgID       string     `json:"-"`
	Slug        string     `json:"slug"`
	Name        string     `json:"name"`
	Summary     string     `json:"summary"`
	Description string     `json:"description"`
	Category    string     `json:"category"`
	Tags        StringList `json:"tags"`
	LogoURL     string     `json:"logo_url"`
	Visibility  Visibility `json:"visibility"`
	ContactURL  string     `json:"contact_url"`
	TermsURL    string     `json:"terms_url"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// TableName implements gorm's Tabler.
func (API) TableName() string { return "apis" }

// State is a version's lifecycle state.
type State string

// The lifecycle: draft → published → deprecated → offline.
const (
	Draft      State = "draft"
	Published  State = "published"
	Deprecated State = "deprecated"
	Offline    State = "offline"
)

// Version is one version of an API, as its draft stands now.
type Version struct {
	ID           string     `json:"id"`
	OrgID        string     `json:"-"`
	APIID        string     `json:"-"`
	Version      string     `json:"version"`
	State        State      `json:"state"`
	OpenAPI      string     `json:"-" gorm:"column:openapi"`
	Upstream     Upstream   `json:"upstream"`
	Mock         bool       `json:"mock"`
	Settings     Settings   `json:"settings"`
	SunsetAt     *time.Time `json:"sunset_at"`
	DeprecatedAt *time.Time `json:"deprecated_at"`
	OfflineAt    *time.Time `json:"offline_at"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

// TableName implements gorm's Tabler.
func (Version) TableName() string { return "api_versions" }

// Upstream is where the gateway forwards a version's calls.
type Upstream struct {
	Targets []Target `json:"targets"`
	// ConnectTimeoutMS bounds connecting to a target (default 2000).
	ConnectTimeoutMS int `json:"connect_timeout_ms"`
	// TimeoutMS bounds the whole upstream response (default 30000).
	TimeoutMS int `json:"timeout_ms"`
	// Retries is how often an idempotent request is retried on another
	// target after a connection failure (0–5).
	Retries int `json:"retries"`
	// HealthCheckPath, when set, is probed on each target to take failing
	// ones out of rotation.
	HealthCheckPath string `json:"health_check_path"`
}

// Target is one upstream URL with a load-balancing weight.
type Target struct {
	URL    string `json:"url"`
	Weight int    `json:"weight"`
}

// Scan implements sql.Scanner.
func (u *Upstream) Scan(v any) error { return scanJSON(v, u) }

// Value implements driver.Valuer.
func (u Upstream) Value() (driver.Value, error) { return valueJSON(u) }

// Settings are version-wide gateway settings.
type Settings struct {
	// MaxBodyBytes caps request bodies (default 10 MiB); operations may
	// lower or raise it.
	MaxBodyBytes int64 `json:"max_body_bytes"`
	// RequireNonce makes the gateway require X-Portico-Nonce on every call.
	RequireNonce bool `json:"require_nonce"`
	// AllowAppCode lets clients that cannot sign authenticate with
	// X-Portico-App-Code — weaker, and labelled so in the console.
	AllowAppCode bool `json:"allow_app_code"`
	// Public versions need no credentials at all: anyone may call them, and
	// the gateway skips the subscription check, plan limits and metering.
	// RequireNonce and AllowAppCode mean nothing on them and are cleared.
	Public bool `json:"public"`
	// CORSOrigins are the web origins whose pages may call the version
	// from a browser (CORS): "*" alone for any, or up to 50 origins
	// scheme://host[:port] (http or https, lower case, no path). Empty
	// turns CORS off. Public versions may use it too.
	CORSOrigins []string `json:"cors_origins,omitempty"`
	// CORSMaxAge is how long, in seconds (0–86400), browsers may keep a
	// preflight's answer; nil means 600. Set only with CORSOrigins.
	CORSMaxAge *int `json:"cors_max_age,omitempty"`
}

// Equal reports whether s and o are the same settings.
func (s Settings) Equal(o Settings) bool {
	return s.MaxBodyBytes == o.MaxBodyBytes && s.RequireNonce == o.RequireNonce && s.AllowAppCode == o.AllowAppCode &&
		s.Public == o.Public && slices.Equal(s.CORSOrigins, o.CORSOrigins) && s.MaxAge() == o.MaxAge()
}

// MaxAge is the preflight cache time in seconds, or -1 without CORS.
func (s Settings) MaxAge() int {
	switch {
	case len(s.CORSOrigins) == 0:
		return -1
	case s.CORSMaxAge == nil:
		return origin.DefaultMaxAge
	}
	return *s.CORSMaxAge
}

// Scan implements sql.Scanner.
func (s *Settings) Scan(v any) error { return scanJSON(v, s) }

// Value implements driver.Valuer.
func (s Settings) Value() (driver.Value, error) { return valueJSON(s) }

// Operation is one method and path template a version serves.
type Operation struct {
	ID          string     `json:"-"`
	OrgID       string     `json:"-"`
	VersionID   string     `json:"-"`
	OperationID string     `json:"operation_id"`
	Method      string     `json:"method"`
	Path        string     `json:"path"`
	Summary     string     `json:"summary"`
	Parameters  Parameters `json:"parameters"`
	Source      string     `json:"source"`
	// TimeoutMS overrides the upstream timeout for this operation.
	TimeoutMS *int `json:"timeout_ms"`
	// MaxBodyBytes overrides the version's body limit for this operation.
	MaxBodyBytes *int64 `json:"max_body_bytes"`
	// Billable says whether calls count towards metered usage.
	Billable bool `json:"billable"`
	Position int  `json:"-"`
	// Mock is the canned answer of a mock backend, from the spec's examples.
	Mock MockResponse `json:"mock"`
}

// TableName implements gorm's Tabler.
func (Operation) TableName() string { return "operations" }

// Parameter is one documented operation parameter.
type Parameter struct {
	Name        string `json:"name"`
	In          string `json:"in"`
	Required    bool   `json:"required"`
	Type        string `json:"type,omitempty"`
	Description string `json:"description,omitempty"`
}

// Parameters is a JSON-stored list of parameters.
type Parameters []Parameter

// Scan implements sql.Scanner.
func (p *Parameters) Scan(v any) error { return scanJSON(v, p) }

// Value implements driver.Valuer.
func (p Parameters) Value() (driver.Value, error) {
	if p == nil {
		return "[]", nil
	}
	return valueJSON(p)
}

// MockResponse is what a mock backend answers for an operation. A zero
// Status means the spec gave no answer to mock (the mock then answers 200
// with an empty JSON object).
type MockResponse struct {
	Status      int             `json:"status"`
	ContentType string          `json:"content_type,omitempty"`
	Body        json.RawMessage `json:"body,omitempty"`
}

// Scan implements sql.Scanner.
func (m *MockResponse) Scan(v any) error { return scanJSON(v, m) }

// Value implements driver.Valuer.
func (m MockResponse) Value() (driver.Value, error) {
	if m.Status == 0 {
		return "", nil
	}
	return valueJSON(m)
}

// StringList is a JSON-stored list of strings.
type StringList []string

// Scan implements sql.Scanner.
func (l *StringList) Scan(v any) error { return scanJSON(v, l) }

// Value implements driver.Valuer.
func (l StringList) Value() (driver.Value, error) {
	if l == nil {
		return "[]", nil
	}
	return valueJSON(l)
}

// BackendKey signs what the gateway forwards to a version's backend. Two may
// be active at once so a provider can rotate without dropping calls.
type BackendKey struct {
	ID           string     `json:"-"`
	OrgID        string     `json:"-"`
	VersionID    string     `json:"-"`
	KeyID        string     `json:"key_id"`
	SecretSealed string     `json:"-"`
	Status       string     `json:"status"`
	CreatedAt    time.Time  `json:"created_at"`
	RetiredAt    *time.Time `json:"retired_at"`
}

// TableName implements gorm's Tabler.
func (BackendKey) TableName() string { return "backend_keys" }

// SealedBackendKeys is where backend signing keys' secrets are sealed.
var SealedBackendKeys = keyring.Column{Table: "backend_keys", Key: "id", Sealed: "secret_sealed", ContextFrom: "key_id", ContextPrefix: "backend-key:"}

// Environments a version can be deployed to.
const (
	EnvTest       = "test"
	EnvProduction = "production"
)

// Revision is an immutable snapshot of a version deployed to an environment.
type Revision struct {
	ID             string    `json:"-"`
	OrgID          string    `json:"-"`
	VersionID      string    `json:"-"`
	Environment    string    `json:"environment"`
	Number         int       `json:"revision"`
	Kind           string    `json:"kind"`
	SourceNumber   *int      `json:"rolled_back_to,omitempty"`
	Snapshot       string    `json:"-"`
	SnapshotSHA256 string    `json:"snapshot_sha256"`
	CreatedBy      *string   `json:"-"`
	CreatedByEmail string    `json:"created_by"`
	Note           string    `json:"note"`
	CreatedAt      time.Time `json:"created_at"`
}

// TableName implements gorm's Tabler.
func (Revision) TableName() string { return "revisions" }

// Deployment names the live revision of a version in an environment.
type Deployment struct {
	VersionID   string `gorm:"primaryKey"`
	Environment string `gorm:"primaryKey"`
	OrgID       string
	RevisionID  string
	UpdatedAt   time.Time
}

// TableName implements gorm's Tabler.
func (Deployment) TableName() string { return "deployments" }

func scanJSON(v any, dst any) error {
	var b []byte
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		b = []byte(x)
	case []byte:
		b = x
	default:
		return fmt.Errorf("scan json: unexpected %T", v)
	}
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, dst)
}

func valueJSON(v any) (driver.Value, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}
