package manifest

import (
	"time"

	"github.com/portico-dev/portico/portal/client"
)

// APIVersion and Kind are the only header values this package reads.
const (
	APIVersion = "portico/v1"
	KindAPI    = "API"
)

// Document is a parsed and validated manifest. Pointer fields that are nil
// were not in the file: Apply leaves them as they are on the server (and
// the server's defaults apply when it creates the object).
type Document struct {
	// Org is the organisation slug; empty lets the caller choose (the CLI
	// uses --org or the user's first organisation).
	Org  string
	Slug string

	Name        *string
	Summary     *string
	Description *string
	Category    *string
	Tags        *[]string
	LogoURL     *string
	Visibility  *client.Visibility
	ContactURL  *string
	TermsURL    *string

	Versions []Version
	Plans    []PricePlan

	// Dir is the directory relative OpenAPI paths were resolved against.
	Dir string
}

// Version is one version of the API in a manifest.
type Version struct {
	Version string
	// OpenAPI is the version's document; nil leaves the server's alone.
	OpenAPI *Spec
	// Upstream and Mock choose the backend: an upstream, or mock: true.
	// Both nil leaves the backend alone.
	Upstream *client.Upstream
	Mock     *bool
	Settings *client.Settings
	// Deploy lists the environments that must run the current definition.
	Deploy []string
	// Deprecate, when set, deprecates the version with a sunset date.
	Deprecate *Deprecation
	// Offline takes the version offline (final).
	Offline bool
}

// Deprecation is a version's deprecation with its sunset.
type Deprecation struct {
	// SunsetAt is the value as written: a date (2027-06-30) or RFC 3339.
	SunsetAt string
	// Sunset is SunsetAt parsed, in UTC.
	Sunset time.Time
}

// Spec is an OpenAPI document a version refers to.
type Spec struct {
	// Path is the path as written in the manifest.
	Path string
	// File is Path resolved against the manifest's directory.
	File string
	// Raw is the file's content, sent to the server as is.
	Raw []byte
	// Value is the document parsed to a JSON value (maps, slices, float64,
	// strings, bools and nil), for comparison.
	Value any

	norm    any // Value as the server's OpenAPI loader re-encodes it
	normErr bool
}

// PricePlan is one plan of the API in a manifest (Plan is what Apply
// changes). Nil fields are left alone on
// update; on create the server's defaults apply.
type PricePlan struct {
	Slug          string
	Name          *string
	Description   *string
	PriceCents    *int64
	Currency      *string
	IncludedCalls *int64
	// OverageCentsPer1000 set to Null is a hard limit.
	OverageCentsPer1000 client.Nullable[int64]
	// RateLimit set to Null removes the rate limit.
	RateLimit client.Nullable[client.RateLimit]
	// Quota, when set, is the whole quota: a nil day or month is no cap.
	Quota    *client.Quota
	Approval *client.Approval
	// Versions nil grants, on create, every version of the manifest that
	// is not taken offline.
	Versions  *[]string
	TrialDays *int
	// Publish puts the plan's terms on sale; Deprecate stops new
	// subscriptions; Close ends the plan for good.
	Publish   bool
	Deprecate bool
	Close     bool
}

// version returns the manifest's version named v, or nil.
func (d *Document) version(v string) *Version {
	for i := range d.Versions {
		if d.Versions[i].Version == v {
			return &d.Versions[i]
		}
	}
	return nil
}
