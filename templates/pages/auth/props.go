// Package auth renders sign-up, log-in, password reset, email verification
// and invitation pages.
package auth

import "github.com/portico-dev/portico/templates/layout"

// SignUpProps drive the sign-up form (POST /signup). With Invitation set the
// person joins that organisation: the email is fixed and no organisation
// fields are shown; the form posts the invitation token as "invitation".
type SignUpProps struct {
	Page       layout.Page
	Name       string
	Email      string
	OrgName    string // form field "org_name"
	OrgSlug    string // form field "org_slug"
	Next       string // hidden field "next": where to go after sign-up
	Invitation *Invitation
	// Message is a form-level error; Errors maps form field names
	// ("name", "email", "password", "org_name", "org_slug") to messages.
	Message string
	Errors  map[string]string
}

// Invitation is a pending invitation as its recipient sees it.
type Invitation struct {
	Token       string
	OrgName     string
	InviterName string
	Email       string
	Role        string
}

// LoginProps drive the log-in form (POST /login, fields email, password,
// next).
type LoginProps struct {
	Page    layout.Page
	Email   string
	Next    string
	Message string // form-level error, e.g. wrong credentials or throttled
}

// ForgotProps drive the forgot-password form (POST /forgot-password, field
// email). Sent shows the "check your inbox" confirmation instead of the form.
type ForgotProps struct {
	Page   layout.Page
	Email  string
	Sent   bool
	Errors map[string]string
}

// ResetProps drive the reset form (POST /reset-password, fields token,
// password, password_confirm). Invalid, when set, replaces the form with the
// message and a link to ask for a new email.
type ResetProps struct {
	Page    layout.Page
	Token   string
	Invalid string
	Errors  map[string]string
}

// VerifyProps show the outcome of opening an email verification link.
type VerifyProps struct {
	Page    layout.Page
	OK      bool
	Message string
}

// InvitationProps show an invitation to its recipient (GET
// /invitations/{token}). When signed in as the invited address, an "Accept"
// form posts to /invitations/{token}/accept. When signed out, links lead to
// /signup?invitation={token} and /login?next=/invitations/{token}. When
// signed in as someone else, it says so and offers to log out. Invalid, when
// set, replaces everything with the message.
type InvitationProps struct {
	Page       layout.Page
	Invitation Invitation
	SignedInAs string // email of the signed-in user, "" when signed out
	Invalid    string
}
