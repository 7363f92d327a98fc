// Package apps renders a partner organisation's apps: the list, the
// new-app form, an app's page with its AK/SK keys (and a new key's secret,
// shown once) and subscriptions, and the confirmation before deleting an
// app.
package apps

import "github.com/portico-dev/portico/templates/layout"

// ListProps drive GET /orgs/{org}/apps: every app with its environment,
// active keys and live subscriptions. CanManage (owners, admins,
// developers) shows the "New app" button.
type ListProps struct {
	Page      layout.Page
	Apps      []AppRow
	CanManage bool
	FirstURL  string
	NextURL   string
}

// AppRow is one app in the list, formatted.
type AppRow struct {
	ID          string
	Name        string
	Description string
	// Environment is "Test" or "Production".
	Environment   string
	ActiveKeys    int
	Subscriptions int
	Created       string
}

// AppForm is the app form as typed: name, description and, when creating,
// environment ("test" or "production").
type AppForm struct {
	Name        string
	Description string
	Environment string
}

// NewProps drive GET /orgs/{org}/apps/new and a failed POST
// /orgs/{org}/apps (fields name, description, environment).
type NewProps struct {
	Page    layout.Page
	Form    AppForm
	Message string
	Errors  map[string]string
}

// DetailProps drive GET /orgs/{org}/apps/{app}: the app's keys (revoke:
// POST …/keys/{access key}/revoke), the new-key form (POST …/keys, fields
// name and expires_on, a date), its subscriptions, and for those who
// manage apps the edit form (POST /orgs/{org}/apps/{app}, fields name and
// description) and a link to the delete confirmation.
//
// Created, set only in the response to the POST that created a key, shows
// the new access key, its secret and a ready-to-paste example request,
// each with a copy button, and warns that the secret is not shown again.
//
// The app codes section lists the app's codes (revoke: POST
// …/codes/{id}/revoke) with the new-code form (POST …/codes, field name);
// NewAppCode, set only in the response that created one, shows the code once.
type DetailProps struct {
	Page        layout.Page
	ID          string
	Name        string
	Description string
	Environment string
	Created     string
	CanManage   bool

	Keys       []KeyRow
	ActiveKeys int
	// MinExpiry and MaxExpiry bound the expiry date picker (yyyy-mm-dd).
	MinExpiry  string
	MaxExpiry  string
	KeyForm    KeyForm
	KeyMessage string
	KeyErrors  map[string]string
	NewKey     *CreatedKey

	// AppCodes are the app's app codes (weaker than keys; see appcodes.templ).
	AppCodes       []AppCodeRow
	ActiveAppCodes int
	AppCodeForm    AppCodeForm
	AppCodeMessage string
	AppCodeErrors  map[string]string
	NewAppCode     *CreatedAppCode

	Subscriptions []SubscriptionRow
	// MarketURL is where subscribing starts.
	MarketURL string

	Form        AppForm
	FormMessage string
	FormErrors  map[string]string
}

// MaxActiveKeys is how many active keys an app may hold (tenants'
// MaxActiveKeys): with that many, the page asks to revoke one first.
const MaxActiveKeys = 2

// KeyRow is one key, formatted. Status is active, expired or revoked.
type KeyRow struct {
	AccessKey string
	Name      string
	Status    string
	Created   string
	Expires   string // "never" when the key does not expire
	LastUsed  string // "never" when unused
}

// KeyForm is the new-key form as typed.
type KeyForm struct {
	Name string
	// ExpiresOn is the last day the key works (yyyy-mm-dd), or "".
	ExpiresOn string
}

// CreatedKey is a key just created, with its secret: shown once.
type CreatedKey struct {
	Name      string
	AccessKey string
	SecretKey string
	// Expires is when the key stops working, or "" for never.
	Expires string
	// Curl is an example request signed with the key.
	Curl string
}

// AppCodeRow is one app code, formatted. Status is active or revoked.
type AppCodeRow struct {
	ID       string
	Prefix   string
	Name     string
	Status   string
	Created  string
	LastUsed string // "never" when unused
}

// AppCodeForm is the new-app-code form as typed.
type AppCodeForm struct {
	Name string
}

// CreatedAppCode is an app code just created: shown once.
type CreatedAppCode struct {
	Name string
	Code string
	// Curl is an example request carrying the code.
	Curl string
}

// SubscriptionRow is one of the app's subscriptions.
type SubscriptionRow struct {
	URL         string
	API         string
	Provider    string
	Version     string
	Plan        string
	Status      string
	StatusLabel string
}

// DeleteProps drive GET /orgs/{org}/apps/{app}/delete: what deleting the
// app does (its active keys revoked, its live subscriptions cancelled) and
// the button that does it (POST …/delete).
type DeleteProps struct {
	Page          layout.Page
	ID            string
	Name          string
	ActiveKeys    int
	Subscriptions int
}
