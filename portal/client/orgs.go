package client

import (
	"context"
	"encoding/json"
	"time"
)

// CreateOrgRequest creates an organisation; the caller becomes its owner.
type CreateOrgRequest struct {
	Name string `json:"name"`
	Slug string `json:"slug"`
}

// Member is a user's membership of an organisation.
type Member struct {
	User     MemberUser `json:"user"`
	Role     Role       `json:"role"`
	JoinedAt time.Time  `json:"joined_at"`
}

// MemberUser is the user behind a membership.
type MemberUser struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	Name          string `json:"name"`
	EmailVerified bool   `json:"email_verified"`
}

// InvitationRequest invites an email address; Role defaults to developer.
type InvitationRequest struct {
	Email string `json:"email"`
	Role  Role   `json:"role,omitempty"`
}

// Invitation is an invitation to join an organisation. Its link goes to
// the invited address by email and is never returned by the API.
type Invitation struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Role  Role   `json:"role"`
	// Status is pending, accepted, revoked or expired.
	Status    string    `json:"status"`
	ExpiresAt time.Time `json:"expires_at"`
	CreatedAt time.Time `json:"created_at"`
}

// AuditEvent is one entry of an organisation's audit log.
type AuditEvent struct {
	ID         string          `json:"id"`
	Actor      AuditActor      `json:"actor"`
	Action     string          `json:"action"`
	ObjectType string          `json:"object_type"`
	ObjectID   string          `json:"object_id"`
	IP         string          `json:"ip"`
	Details    json.RawMessage `json:"details"`
	CreatedAt  time.Time       `json:"created_at"`
}

// AuditActor is who did it; ID is nil once the user is deleted.
type AuditActor struct {
	ID    *string `json:"id"`
	Email string  `json:"email"`
}

// ListOrgs lists the organisations the caller belongs to.
func (c *Client) ListOrgs(ctx context.Context) ([]OrganizationWithRole, error) {
	return listAll[OrganizationWithRole](ctx, c, path("orgs"), nil)
}

// CreateOrg creates an organisation owned by the caller.
func (c *Client) CreateOrg(ctx context.Context, req CreateOrgRequest) (*OrganizationWithRole, error) {
	var out OrganizationWithRole
	if err := c.do(ctx, request{method: "POST", path: path("orgs"), body: req, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetOrg returns an organisation the caller belongs to and their role.
func (c *Client) GetOrg(ctx context.Context, org string) (*OrganizationWithRole, error) {
	var out OrganizationWithRole
	if err := c.do(ctx, request{method: "GET", path: path("orgs", org), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// OrgPatch changes an organisation's name and public branding; nil fields
// stay as they are. The slug is permanent.
type OrgPatch struct {
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
	WebsiteURL  *string `json:"website_url,omitempty"`
	LogoURL     *string `json:"logo_url,omitempty"`
	// BrandColor is a hex colour like #3355ff.
	BrandColor *string `json:"brand_color,omitempty"`
}

// UpdateOrg changes the fields of p that are set (owners and admins).
func (c *Client) UpdateOrg(ctx context.Context, org string, p OrgPatch) (*OrganizationWithRole, error) {
	var out OrganizationWithRole
	if err := c.do(ctx, request{method: "PATCH", path: path("orgs", org), body: p, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListMembers lists an organisation's members.
func (c *Client) ListMembers(ctx context.Context, org string, opts ListOptions) (*Page[Member], error) {
	return listPage[Member](ctx, c, path("orgs", org, "members"), nil, opts)
}

// GetMember returns one member by user id.
func (c *Client) GetMember(ctx context.Context, org, userID string) (*Member, error) {
	var out Member
	if err := c.do(ctx, request{method: "GET", path: path("orgs", org, "members", userID), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// AddMember invites an email address to the organisation; it is the same
// as CreateInvitation.
func (c *Client) AddMember(ctx context.Context, org string, req InvitationRequest) (*Invitation, error) {
	var out Invitation
	if err := c.do(ctx, request{method: "POST", path: path("orgs", org, "members"), body: req, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetMemberRole changes a member's role.
func (c *Client) SetMemberRole(ctx context.Context, org, userID string, role Role) (*Member, error) {
	var out Member
	body := struct {
		Role Role `json:"role"`
	}{role}
	if err := c.do(ctx, request{method: "PATCH", path: path("orgs", org, "members", userID), body: body, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// RemoveMember removes a member, or lets the caller leave.
func (c *Client) RemoveMember(ctx context.Context, org, userID string) error {
	return c.do(ctx, request{method: "DELETE", path: path("orgs", org, "members", userID)})
}

// ListInvitations lists an organisation's invitations, newest first.
func (c *Client) ListInvitations(ctx context.Context, org string, opts ListOptions) (*Page[Invitation], error) {
	return listPage[Invitation](ctx, c, path("orgs", org, "invitations"), nil, opts)
}

// CreateInvitation invites an email address to the organisation.
func (c *Client) CreateInvitation(ctx context.Context, org string, req InvitationRequest) (*Invitation, error) {
	var out Invitation
	if err := c.do(ctx, request{method: "POST", path: path("orgs", org, "invitations"), body: req, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeInvitation withdraws a pending invitation.
func (c *Client) RevokeInvitation(ctx context.Context, org, id string) error {
	return c.do(ctx, request{method: "DELETE", path: path("orgs", org, "invitations", id)})
}

// AcceptInvitation makes the caller a member of the organisation that
// invited their email address; token comes from the invitation link.
func (c *Client) AcceptInvitation(ctx context.Context, token string) (*Membership, error) {
	var out Membership
	body := struct {
		Token string `json:"token"`
	}{token}
	if err := c.do(ctx, request{method: "POST", path: path("invitations", "accept"), body: body, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListAudit lists an organisation's audit log, newest first.
func (c *Client) ListAudit(ctx context.Context, org string, opts ListOptions) (*Page[AuditEvent], error) {
	return listPage[AuditEvent](ctx, c, path("orgs", org, "audit"), nil, opts)
}

// OpenAPI returns the management API's own OpenAPI document as JSON.
func (c *Client) OpenAPI(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	if err := c.do(ctx, request{method: "GET", path: path("openapi.json"), out: &out}); err != nil {
		return nil, err
	}
	return out, nil
}
