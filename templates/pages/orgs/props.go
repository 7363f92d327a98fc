// Package orgs renders an organisation's dashboard, settings and the form to
// create another organisation.
package orgs

import "github.com/portico-dev/portico/templates/layout"

// DashboardProps drive GET /orgs/{org}: a summary of the organisation —
// member count, pending invitations, the user's role, its apps and
// subscriptions, for providers the requests waiting for approval, a nudge
// to verify the email address when unverified, and (for owners/admins)
// recent activity with a link to the audit log.
type DashboardProps struct {
	Page               layout.Page
	MemberCount        int
	PendingInvitations int
	CanReadAudit       bool
	RecentActivity     []ActivityRow

	// The partner summary: apps, active subscriptions and subscriptions
	// pending (approval or payment). -1 stands for "100 or more".
	Apps                 int
	ActiveSubscriptions  int
	PendingSubscriptions int
	// Provider is set when the organisation has APIs; PendingApprovals
	// then counts the requests waiting for its decision (-1: 100 or more).
	Provider         bool
	PendingApprovals int
}

// ActivityRow is one recent audit event, already formatted.
type ActivityRow struct {
	When   string // e.g. "2026-11-26 14:03 UTC"
	Actor  string
	Action string // e.g. "member.role_change"
	Object string // e.g. "user 0193…"
}

// NewProps drive GET/POST /orgs/new (fields name, slug).
type NewProps struct {
	Page    layout.Page
	Name    string
	Slug    string
	Message string
	Errors  map[string]string
}

// SettingsProps drive GET/POST /orgs/{org}/settings: the name and the
// public profile shown on the provider page /o/{org} (fields name,
// description, website_url, logo_url, brand_color). The slug is shown
// read-only: it is part of every URL.
//
// The brand colour has a colour picker (brand_color_picker) next to its
// text field; without JavaScript the two cannot follow each other, so the
// form also sends the values they started with (brand_color_was,
// brand_color_picker_was) and the handler takes whichever was changed.
type SettingsProps struct {
	Page        layout.Page
	Name        string
	Slug        string
	Description string
	WebsiteURL  string
	LogoURL     string
	// BrandColor is "" or a colour like "#3355ff".
	BrandColor string
	CanEdit    bool
	Message    string
	Errors     map[string]string
}
