package client

import (
	"context"
	"encoding/base64"
	"net/http"
	"time"
)

// Role is a member's role in an organisation.
type Role string

// Roles, from most to least powerful; billing sees invoices only.
const (
	RoleOwner     Role = "owner"
	RoleAdmin     Role = "admin"
	RoleDeveloper Role = "developer"
	RoleViewer    Role = "viewer"
	RoleBilling   Role = "billing"
)

// User is a person with an account.
type User struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	EmailVerified bool      `json:"email_verified"`
	CreatedAt     time.Time `json:"created_at"`
}

// Organization is a tenant: a provider, a partner or both. The branding
// fields show on its public market pages.
type Organization struct {
	ID          string    `json:"id"`
	Slug        string    `json:"slug"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	WebsiteURL  string    `json:"website_url,omitempty"`
	LogoURL     string    `json:"logo_url,omitempty"`
	BrandColor  string    `json:"brand_color,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// OrganizationWithRole is an organisation and the caller's role in it.
type OrganizationWithRole struct {
	Organization
	Role Role `json:"role"`
}

// Membership is one organisation the caller belongs to.
type Membership struct {
	Organization Organization `json:"organization"`
	Role         Role         `json:"role"`
}

// Me is the authenticated user and their memberships.
type Me struct {
	User        User         `json:"user"`
	Memberships []Membership `json:"memberships"`
}

// SignupRequest creates a user and the organisation they own.
type SignupRequest struct {
	Name         string             `json:"name"`
	Email        string             `json:"email"`
	Password     string             `json:"password"`
	Organization SignupOrganization `json:"organization"`
}

// SignupOrganization names the organisation created at sign-up.
type SignupOrganization struct {
	Name string `json:"name"`
	Slug string `json:"slug"`
}

// SignupResult is the new user, their organisation and a first token.
type SignupResult struct {
	User         User         `json:"user"`
	Organization Organization `json:"organization"`
	// Token is a personal access token, shown only here.
	Token     string     `json:"token"`
	TokenID   string     `json:"token_id"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// CreateTokenRequest names a new token and its lifetime.
type CreateTokenRequest struct {
	Name string `json:"name,omitempty"`
	// ExpiresInDays is 1–366, or 0 for a token that never expires; nil
	// takes the server's default lifetime.
	ExpiresInDays *int `json:"expires_in_days,omitempty"`
}

// NewToken is a freshly created personal access token; Token is shown once.
type NewToken struct {
	Token     string     `json:"token"`
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// Token is a personal access token as listed (never its value).
type Token struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Hint is the token's last four characters.
	Hint string `json:"hint"`
	// Status is active, expired or revoked.
	Status     string     `json:"status"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	CreatedAt  time.Time  `json:"created_at"`
}

// Signup creates a user and an organisation they own, and returns a first
// token. It needs no authentication.
func (c *Client) Signup(ctx context.Context, req SignupRequest) (*SignupResult, error) {
	var out SignupResult
	if err := c.do(ctx, request{method: "POST", path: path("signup"), body: req, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateToken exchanges an email and password (sent with HTTP Basic, never
// the client's own token) for a personal access token.
func (c *Client) CreateToken(ctx context.Context, email, password string, req CreateTokenRequest) (*NewToken, error) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(email+":"+password))
	var out NewToken
	if err := c.do(ctx, request{method: "POST", path: path("tokens"), body: req, out: &out,
		header: http.Header{"Authorization": {basic}}}); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListTokens lists the caller's personal access tokens.
func (c *Client) ListTokens(ctx context.Context, opts ListOptions) (*Page[Token], error) {
	return listPage[Token](ctx, c, path("tokens"), nil, opts)
}

// RevokeToken revokes one of the caller's tokens.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.do(ctx, request{method: "DELETE", path: path("tokens", id)})
}

// Me returns the authenticated user and their memberships.
func (c *Client) Me(ctx context.Context) (*Me, error) {
	var out Me
	if err := c.do(ctx, request{method: "GET", path: path("me"), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}
