package api

import (
	"encoding/json"
	"time"

	"github.com/portico-dev/portico/tenants"
)

// The JSON shapes of the API's resources. They are declared here, apart from
// the domain types, so the wire format changes only on purpose.

type userView struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	EmailVerified bool      `json:"email_verified"`
	CreatedAt     time.Time `json:"created_at"`
}

func viewUser(u tenants.User) userView {
	return userView{ID: u.ID, Email: u.Email, Name: u.Name, EmailVerified: u.Verified(), CreatedAt: u.CreatedAt}
}

type orgView struct {
	ID          string    `json:"id"`
	Slug        string    `json:"slug"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	WebsiteURL  string    `json:"website_url"`
	LogoURL     string    `json:"logo_url"`
	BrandColor  string    `json:"brand_color"`
	CreatedAt   time.Time `json:"created_at"`
}

func viewOrg(o tenants.Organization) orgView {
	return orgView{ID: o.ID, Slug: o.Slug, Name: o.Name, Description: o.Description, WebsiteURL: o.WebsiteURL,
		LogoURL: o.LogoURL, BrandColor: o.BrandColor, CreatedAt: o.CreatedAt}
}

type orgWithRoleView struct {
	orgView
	Role tenants.Role `json:"role"`
}

type membershipView struct {
	Organization orgView      `json:"organization"`
	Role         tenants.Role `json:"role"`
}

type memberView struct {
	User     memberUserView `json:"user"`
	Role     tenants.Role   `json:"role"`
	JoinedAt time.Time      `json:"joined_at"`
}

type memberUserView struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	Name          string `json:"name"`
	EmailVerified bool   `json:"email_verified"`
}

func viewMember(m tenants.Member) memberView {
	return memberView{
		User:     memberUserView{ID: m.User.ID, Email: m.User.Email, Name: m.User.Name, EmailVerified: m.User.Verified()},
		Role:     m.Role,
		JoinedAt: m.JoinedAt,
	}
}

type invitationView struct {
	ID        string       `json:"id"`
	Email     string       `json:"email"`
	Role      tenants.Role `json:"role"`
	Status    string       `json:"status"`
	ExpiresAt time.Time    `json:"expires_at"`
	CreatedAt time.Time    `json:"created_at"`
}

func viewInvitation(now time.Time) func(tenants.Invitation) invitationView {
	return func(i tenants.Invitation) invitationView {
		return invitationView{ID: i.ID, Email: i.Email, Role: i.Role, Status: i.Status(now), ExpiresAt: i.ExpiresAt, CreatedAt: i.CreatedAt}
	}
}

type tokenView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Hint       string     `json:"hint"`
	Status     string     `json:"status"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	CreatedAt  time.Time  `json:"created_at"`
}

func viewToken(now time.Time) func(tenants.PersonalToken) tokenView {
	return func(t tenants.PersonalToken) tokenView {
		return tokenView{ID: t.ID, Name: t.Name, Hint: t.Hint, Status: t.Status(now), ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt, CreatedAt: t.CreatedAt}
	}
}

type auditView struct {
	ID         string          `json:"id"`
	Actor      auditActorView  `json:"actor"`
	Action     string          `json:"action"`
	ObjectType string          `json:"object_type"`
	ObjectID   string          `json:"object_id"`
	IP         string          `json:"ip"`
	Details    json.RawMessage `json:"details"`
	CreatedAt  time.Time       `json:"created_at"`
}

type auditActorView struct {
	ID    *string `json:"id"`
	Email string  `json:"email"`
}

func viewAudit(e tenants.AuditEvent) auditView {
	d := json.RawMessage(e.Details)
	if !json.Valid(d) {
		d = json.RawMessage("{}")
	}
	return auditView{ID: e.ID, Actor: auditActorView{ID: e.ActorID, Email: e.ActorEmail}, Action: e.Action,
		ObjectType: e.ObjectType, ObjectID: e.ObjectID, IP: e.IP, Details: d, CreatedAt: e.CreatedAt}
}
