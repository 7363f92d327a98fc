// Package market renders the public API market: the search page, an API's
// page (documentation, versions, operations and the plan comparison) and a
// provider's page. Signed-out visitors see them in the wide public frame,
// signed-in users in the console frame.
//
// Every page takes already-formatted values. The pages link
// /static/css/market.css (and a provider's /o/{org}/brand.css) from the
// body: the shared frame has no slot for page stylesheets, and the
// Content-Security-Policy forbids inline styles.
package market

import (
	"github.com/portico-dev/portico/templates/components"
	"github.com/portico-dev/portico/templates/layout"
)

// SearchProps drive GET /market?q=&category=&sort=&cursor=: a search form
// (GET, no CSRF token), category chips, the results as cards and
// pagination.
type SearchProps struct {
	Page layout.Page
	// Q, Category and Sort are the current query ("name" or "newest").
	Q        string
	Category string
	Sort     string
	// AllURL is the "All categories" chip's link (the query without a
	// category).
	AllURL     string
	Categories []CategoryChip
	Results    []Listing
	FirstURL   string // "" on the first page
	NextURL    string // "" on the last page
}

// Filtered reports whether anything narrows the results.
func (p SearchProps) Filtered() bool { return p.Q != "" || p.Category != "" }

// CategoryChip is one category filter with its number of APIs.
type CategoryChip struct {
	Name   string
	Count  int
	URL    string
	Active bool
}

// Listing is one API as a result card or in a provider's list.
type Listing struct {
	OrgSlug  string
	OrgName  string
	Slug     string
	Name     string
	Summary  string
	Category string
	Tags     []string
	Versions []string
}

// APIProps drive GET /market/{org}/{api}?version=&plan=.
type APIProps struct {
	Page     layout.Page
	Provider APIProvider
	Slug     string
	Name     string
	Summary  string
	// Description is the provider's Markdown; the page renders it safely.
	Description string
	Category    string
	Tags        []string
	ContactURL  string
	TermsURL    string
	// Versions are the live versions, oldest first, for the switcher.
	Versions []VersionTab
	// Version is the version shown.
	Version VersionDoc
	// Latest is the newest published version when the one shown is
	// deprecated and a newer one exists ("" otherwise).
	Latest VersionTab
	Plans  []PlanTerms
	// Chosen is the slug of the plan the visitor picked (?plan=), if it is
	// one of Plans.
	Chosen string
	// Subscribe is the subscribe form for the chosen plan, shown to a
	// signed-in user; nil for visitors.
	Subscribe *SubscribeForm
}

// NewApp is the app choice that creates an app with the subscription.
const NewApp = "new"

// SubscribeForm is the form that subscribes an app to the chosen plan
// (POST {Action}, fields org, plan, app — an app id or NewApp — app_name,
// app_environment, version and message). With several organisations to
// subscribe for, a GET form (SwitchURL, fields partner, plan and version)
// reloads the page with another one's apps.
type SubscribeForm struct {
	Action    string
	SwitchURL string
	Plan      string
	PlanName  string
	PlanPrice string
	// Manual plans need the provider's approval: the form offers a
	// message. Paid plans wait for payment.
	Manual bool
	Paid   bool
	// ShownVersion is the ?version= the page shows, kept by the switch.
	ShownVersion string
	// Orgs are the organisations the user may subscribe for (owner, admin
	// or developer); Org (a slug) is the one the form is for.
	Orgs    []components.Option
	Org     string
	OrgName string
	// Apps are Org's apps, then NewApp; App is the one selected.
	Apps           []components.Option
	App            string
	AppName        string
	AppEnvironment string
	// Versions are the published versions the plan grants.
	Versions []components.Option
	Version  string
	Message  string
	// FormMessage and Errors report a failed subscription.
	FormMessage string
	Errors      map[string]string
	// NoOrg is set when the user may subscribe for none of their
	// organisations; NewOrgURL creates one.
	NoOrg     bool
	NewOrgURL string
}

// APIProvider is the organisation behind an API, as the API page shows it.
type APIProvider struct {
	Slug string
	Name string
	// Linked is false when the provider page is not public (an API that is
	// only unlisted): the name then links nowhere.
	Linked bool
	// BrandCSS is the URL of the provider's brand stylesheet, or "".
	BrandCSS string
}

// VersionTab is one entry of the version switcher.
type VersionTab struct {
	Version string
	State   string // published or deprecated
	URL     string
	Current bool
}

// VersionDoc is the documentation of one live version.
type VersionDoc struct {
	Version string
	State   string
	// Sunset is the day a deprecated version stops working, or "".
	Sunset     string
	Operations []Operation
	// SpecURL downloads the OpenAPI document; "" when there is none.
	SpecURL string
	// Public versions need no key or subscription: the page says so
	// instead of asking for a plan.
	Public bool
}

// Operation is one documented operation.
type Operation struct {
	// Anchor is the element id of the operation's section.
	Anchor     string
	Method     string
	Path       string
	Summary    string
	Parameters []Parameter
}

// Parameter is one documented parameter of an operation.
type Parameter struct {
	Name        string
	In          string // path, query, header or cookie
	Type        string
	Required    bool
	Description string
}

// PlanTerms are a plan's terms, formatted for the comparison table (and
// for the plan preview in the console).
type PlanTerms struct {
	Slug        string
	Name        string
	Description string
	// Price is "Free" or the monthly price with its currency ("$49.00").
	Price string
	Free  bool
	// Included is the calls a month the price covers ("10,000").
	Included string
	// Overage prices calls beyond Included ("$0.50 per 1,000 calls") or
	// reads "Hard limit".
	Overage string
	// RateLimit is "5 req/s (burst 10)" or "None".
	RateLimit  string
	DayQuota   string
	MonthQuota string
	Approval   string // "Automatic" or "Manual"
	Trial      string // "14 days" or "None"
	Versions   string // "v1, v2"
	// SubscribeURL is the call to action's link; "" renders none (the
	// console's preview).
	SubscribeURL string
}

// ProviderProps drive GET /o/{org}: the organisation's public profile and
// its market APIs.
type ProviderProps struct {
	Page        layout.Page
	Slug        string
	Name        string
	Description string
	WebsiteURL  string
	// LogoURL is shown over the initial; when the browser cannot load it,
	// the initial shows through.
	LogoURL string
	Initial string
	// BrandCSS is the URL of /o/{org}/brand.css, or "" without a brand
	// colour.
	BrandCSS string
	// Preview is set for a member of an organisation whose page is not
	// public yet (no API in the market).
	Preview  bool
	APIs     []Listing
	FirstURL string
	NextURL  string
}
