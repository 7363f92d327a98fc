// Package members renders an organisation's members and invitations.
package members

import "github.com/portico-dev/portico/templates/layout"

// ListProps drive GET /orgs/{org}/members.
//
// Forms on the page (all POST, all with the CSRF field):
//   - invite: /orgs/{org}/invitations, fields email, role (only when CanManage)
//   - change role: /orgs/{org}/members/{user_id}/role, field role
//   - remove: /orgs/{org}/members/{user_id}/remove (confirm first; for
//     oneself it reads "Leave organisation")
//   - revoke invitation: /orgs/{org}/invitations/{id}/revoke
type ListProps struct {
	Page        layout.Page
	Members     []MemberRow
	NextURL     string // "" when this is the last page
	FirstURL    string // "" when this is the first page
	CanManage   bool   // owner or admin
	IsOwner     bool   // only owners may grant/remove the owner role
	Roles       []string
	Invitations []InvitationRow // pending ones first
	InviteEmail string
	InviteRole  string
	Message     string            // form-level error of the invite form
	Errors      map[string]string // invite form: "email", "role"
}

// MemberRow is one member, formatted.
type MemberRow struct {
	UserID   string
	Name     string
	Email    string
	Role     string
	Joined   string
	Verified bool
	IsSelf   bool
}

// InvitationRow is one invitation, formatted. Status is pending, accepted,
// revoked or expired; only pending ones can be revoked.
type InvitationRow struct {
	ID      string
	Email   string
	Role    string
	Status  string
	Expires string
	Created string
}
