// Package layout holds the page frames every console page renders inside.
package layout

// Page is what every page's frame needs: the title, the signed-in user (nil
// when signed out), the organisation switcher, the active navigation item and
// flash messages.
type Page struct {
	// Title is the page's own title; the frame appends " · Portico".
	Title string
	// CSRF is the request's CSRF token, for every form on the page
	// (including the log-out button in the header).
	CSRF string
	// User is the signed-in user, or nil.
	User *User
	// Orgs are the organisations the user belongs to, for the switcher.
	Orgs []Org
	// Org is the organisation the page belongs to, or nil for pages outside
	// an organisation (account, tokens).
	Org *Org
	// Active names the navigation item to highlight: "dashboard", "apis",
	// "subscribers", "apps", "subscriptions", "members", "audit",
	// "settings", "account", "tokens" or "market".
	Active string
	// Flashes are one-time messages carried over a redirect.
	Flashes []Flash
}

// User is the signed-in user as the frame shows them.
type User struct {
	Name     string
	Email    string
	Verified bool
}

// Org is one organisation in the switcher.
type Org struct {
	Slug string
	Name string
	Role string
}

// Flash is a one-time message. Kind is "success", "error" or "info".
type Flash struct {
	Kind string
	Text string
}
