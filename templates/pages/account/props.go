// Package account renders the user's account settings and personal access
// tokens.
package account

import "github.com/portico-dev/portico/templates/layout"

// SettingsProps drive GET /account: profile (POST /account/profile, field
// name), password (POST /account/password, fields current_password,
// new_password, new_password_confirm), email verification status with a
// resend button when unverified (POST /account/verify/resend), and the
// user's recent account activity.
type SettingsProps struct {
	Page           layout.Page
	Name           string
	Email          string
	Verified       bool
	ProfileErrors  map[string]string
	PasswordErrors map[string]string
	Activity       []ActivityRow
}

// ActivityRow is one account event (login, password change), formatted.
type ActivityRow struct {
	When   string
	Action string
	IP     string
}

// TokensProps drive GET /account/tokens: the list of personal access tokens
// (revoke: POST /account/tokens/{id}/revoke) and the create form (POST
// /account/tokens, fields name, expires_in_days where "" means never and
// otherwise 7, 30, 90, 365 are offered). Created, when set, shows the new
// token's value once with a copy button and a warning that it will not be
// shown again.
type TokensProps struct {
	Page          layout.Page
	Tokens        []TokenRow
	NextURL       string
	FirstURL      string
	Name          string
	ExpiresInDays string
	Message       string
	Errors        map[string]string
	Created       *CreatedToken
}

// TokenRow is one token, formatted. Status is active, expired or revoked.
type TokenRow struct {
	ID       string
	Name     string
	Hint     string // last four characters
	Created  string
	Expires  string // "never" when no expiry
	LastUsed string // "never" when unused
	Status   string
}

// CreatedToken is a just-created token and its one-time value.
type CreatedToken struct {
	Name  string
	Token string
}
