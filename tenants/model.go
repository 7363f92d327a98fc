package tenants

import (
	"slices"
	"time"
)

// Role is a member's role in an organisation.
type Role string

// Roles, from most to least privileged. Billing members see and manage
// billing only; viewers read everything but change nothing.
const (
	RoleOwner     Role = "owner"
	RoleAdmin     Role = "admin"
	RoleDeveloper Role = "developer"
	RoleViewer    Role = "viewer"
	RoleBilling   Role = "billing"
)

// Roles lists every role in display order.
var Roles = []Role{RoleOwner, RoleAdmin, RoleDeveloper, RoleViewer, RoleBilling}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// CanManageMembers reports whether the role may invite, re-role and remove
// members.
func (r Role) CanManageMembers() bool { return r == RoleOwner || r == RoleAdmin }

// CanReadAudit reports whether the role may read the audit log.
func (r Role) CanReadAudit() bool { return r == RoleOwner || r == RoleAdmin }

// CanManageCatalog reports whether the role may create and change APIs,
// versions and deployments.
func (r Role) CanManageCatalog() bool {
	return r == RoleOwner || r == RoleAdmin || r == RoleDeveloper
}

// CanManagePlans reports whether the role may create, price and publish
// plans.
func (r Role) CanManagePlans() bool { return r == RoleOwner || r == RoleAdmin || r == RoleBilling }

// Organization is a tenant: a provider, a partner or both.
type Organization struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
	// Branding shown on the organisation's public provider page.
	Description string    `json:"description"`
	WebsiteURL  string    `json:"website_url"`
	LogoURL     string    `json:"logo_url"`
	BrandColor  string    `json:"brand_color"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// TableName implements gorm's Tabler.
func (Organization) TableName() string { return "organizations" }

// User is a person who logs in.
type User struct {
	ID                string     `json:"id"`
	Email             string     `json:"email"`
	Name              string     `json:"name"`
	PasswordHash      string     `json:"-"`
	EmailVerifiedAt   *time.Time `json:"email_verified_at"`
	PasswordChangedAt time.Time  `json:"-"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"-"`
}

// TableName implements gorm's Tabler.
func (User) TableName() string { return "users" }

// Verified reports whether the user confirmed their email address.
func (u *User) Verified() bool { return u.EmailVerifiedAt != nil }

// Membership ties a user to an organisation with a role.
type Membership struct {
	OrgID     string    `json:"-" gorm:"primaryKey"`
	UserID    string    `json:"-" gorm:"primaryKey"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"-"`
}

// TableName implements gorm's Tabler.
func (Membership) TableName() string { return "memberships" }

// OrgMembership is an organisation seen through one user's membership.
type OrgMembership struct {
	Org  Organization
	Role Role
}

// Member is a membership with its user, as an organisation's member list
// shows it.
type Member struct {
	User     User
	Role     Role
	JoinedAt time.Time
}

// Invitation invites an email address into an organisation with a role.
type Invitation struct {
	ID         string     `json:"id"`
	OrgID      string     `json:"-"`
	Email      string     `json:"email"`
	Role       Role       `json:"role"`
	TokenHash  string     `json:"-"`
	InvitedBy  *string    `json:"-"`
	ExpiresAt  time.Time  `json:"expires_at"`
	AcceptedAt *time.Time `json:"accepted_at"`
	AcceptedBy *string    `json:"-"`
	RevokedAt  *time.Time `json:"revoked_at"`
	CreatedAt  time.Time  `json:"created_at"`
}

// TableName implements gorm's Tabler.
func (Invitation) TableName() string { return "invitations" }

// Status is pending, accepted, revoked or expired as of now.
func (i *Invitation) Status(now time.Time) string {
	switch {
	case i.AcceptedAt != nil:
		return "accepted"
	case i.RevokedAt != nil:
		return "revoked"
	case !now.Before(i.ExpiresAt):
		return "expired"
	default:
		return "pending"
	}
}

// PersonalToken is a bearer token for the management API, owned by a user.
// Only its SHA-256 hash is stored.
type PersonalToken struct {
	ID         string     `json:"id"`
	UserID     string     `json:"-"`
	Name       string     `json:"name"`
	TokenHash  string     `json:"-"`
	Hint       string     `json:"hint"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	CreatedAt  time.Time  `json:"created_at"`
}

// TableName implements gorm's Tabler.
func (PersonalToken) TableName() string { return "personal_tokens" }

// Active reports whether the token can authenticate at now.
func (p *PersonalToken) Active(now time.Time) bool {
	return p.RevokedAt == nil && (p.ExpiresAt == nil || now.Before(*p.ExpiresAt))
}

// Status is active, expired or revoked as of now.
func (p *PersonalToken) Status(now time.Time) string {
	switch {
	case p.RevokedAt != nil:
		return "revoked"
	case !p.Active(now):
		return "expired"
	default:
		return "active"
	}
}

// Session is a console login. The session cookie names it; deleting the row
// ends the session even though the cookie's JWT is still well-formed.
type Session struct {
	ID        string
	UserID    string
	IP        string
	UserAgent string
	ExpiresAt time.Time
	CreatedAt time.Time
}

// TableName implements gorm's Tabler.
func (Session) TableName() string { return "sessions" }

type emailToken struct {
	ID        string
	UserID    string
	Purpose   string
	TokenHash string
	ExpiresAt time.Time
	UsedAt    *time.Time
	CreatedAt time.Time
}

func (emailToken) TableName() string { return "email_tokens" }

// AuditEvent records who did what to which object, when and from where.
type AuditEvent struct {
	ID         string    `json:"id"`
	OrgID      *string   `json:"-"`
	ActorID    *string   `json:"actor_id"`
	ActorEmail string    `json:"actor_email"`
	Action     string    `json:"action"`
	ObjectType string    `json:"object_type"`
	ObjectID   string    `json:"object_id"`
	IP         string    `json:"ip"`
	Details    string    `json:"details"`
	CreatedAt  time.Time `json:"created_at"`
}

// TableName implements gorm's Tabler.
func (AuditEvent) TableName() string { return "audit_events" }

// Actor is who performs a change, for authorisation and the audit log.
type Actor struct {
	UserID string
	Email  string
	IP     string
}
