package auth

import (
	"strings"

	"github.com/portico-dev/portico/templates/components"
)

// invitationPath is the invitation's own page.
func invitationPath(token string) string {
	return components.Path("invitations", token)
}

// loginURL is the log-in link of the sign-up page: back to the invitation
// or to next after logging in.
func (p SignUpProps) loginURL() string {
	switch {
	case p.Invitation != nil:
		return components.WithQuery("/login", "next", invitationPath(p.Invitation.Token))
	case p.Next != "":
		return components.WithQuery("/login", "next", p.Next)
	}
	return "/login"
}

// email is the address the form shows: the invited one, fixed, when joining
// by invitation.
func (p SignUpProps) email() string {
	if p.Invitation != nil {
		return p.Invitation.Email
	}
	return p.Email
}

func (p SignUpProps) focus() string {
	fields := []string{"name", "email", "password"}
	if p.Invitation == nil {
		fields = append(fields, "org_name", "org_slug")
	}
	return components.Focus(p.Errors, "name", fields...)
}

// signUpURL is the sign-up link of the log-in page, keeping next.
func (p LoginProps) signUpURL() string {
	return components.WithQuery("/signup", "next", p.Next)
}

func (p ResetProps) focus() string {
	return components.Focus(p.Errors, "password", "password", "password_confirm")
}

// signedInAsInvitee reports whether the signed-in user is the invited
// address (addresses compare case-insensitively).
func (p InvitationProps) signedInAsInvitee() bool {
	return p.SignedInAs != "" && strings.EqualFold(strings.TrimSpace(p.SignedInAs), strings.TrimSpace(p.Invitation.Email))
}

func inviterName(inv Invitation) string {
	if strings.TrimSpace(inv.InviterName) == "" {
		return "Someone"
	}
	return inv.InviterName
}

func roleWithArticle(role string) string {
	if role == "" {
		return "a member"
	}
	switch role[0] {
	case 'a', 'e', 'i', 'o', 'u':
		return "an " + role
	}
	return "a " + role
}
