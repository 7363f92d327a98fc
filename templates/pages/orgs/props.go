// Package orgs renders an organisation's dashboard, settings and the form to
// create another organisation.
package orgs

import "github.com/portico-dev/portico/templates/layout"

// DashboardProps drive GET /orgs/{org}: a summary of the organisation —
// member count, pending invitations, the user's role, a nudge to verify the
// email address when unverified, and (for owners/admins) recent activity
// with a link to the audit log.
type DashboardProps struct {
	Page               layout.Page
	MemberCount        int
	PendingInvitations int
	CanReadAudit       bool
	RecentActivity     []ActivityRow
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

// SettingsProps drive GET/POST /orgs/{org}/settings (field name). The slug
// is shown read-only: it is part of every URL.
type SettingsProps struct {
	Page    layout.Page
	Name    string
	Slug    string
	CanEdit bool
	Message string
	Errors  map[string]string
}
