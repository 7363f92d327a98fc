package orgs

import (
	"strconv"
	"strings"

	"github.com/portico-dev/portico/templates/components"
	"github.com/portico-dev/portico/templates/layout"
)

// org is the page's organisation, or an empty one when the handler set
// none, so the templates never dereference nil.
func org(p layout.Page) layout.Org {
	if p.Org != nil {
		return *p.Org
	}
	return layout.Org{}
}

// roleDescription explains a role in one sentence.
func roleDescription(role string) string {
	switch role {
	case "owner":
		return "Full control, including owners, members and settings."
	case "admin":
		return "Manages members, invitations, settings and the audit log."
	case "developer":
		return "Builds with the organisation's APIs and keys."
	case "viewer":
		return "Read-only access to the organisation."
	case "billing":
		return "Manages plans, invoices and payment details."
	}
	return ""
}

// needsOnboarding reports whether the dashboard shows the getting-started
// checklist: until the email is confirmed and, for those who may invite,
// someone else has joined.
func (p DashboardProps) needsOnboarding() bool {
	return p.emailUnverified() || (p.canManage() && p.MemberCount <= 1)
}

// canManage reports whether the user may invite members: owners and admins.
func (p DashboardProps) canManage() bool {
	r := org(p.Page).Role
	return r == "owner" || r == "admin"
}

func (p DashboardProps) emailUnverified() bool {
	return p.Page.User != nil && !p.Page.User.Verified
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// defaultPickerColor is what the colour picker shows when no valid brand
// colour is set (the console's primary colour).
const defaultPickerColor = "#4338ca"

// pickerColor is the colour picker's value: the brand colour when it is
// one the picker can show, else the default.
func (p SettingsProps) pickerColor() string {
	c := strings.ToLower(p.BrandColor)
	if len(c) != 7 || c[0] != '#' {
		return defaultPickerColor
	}
	for _, r := range c[1:] {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return defaultPickerColor
		}
	}
	return c
}

// providerURL is the organisation's public provider page.
func providerURL(slug string) string { return components.Path("o", slug) }

// count shows a dashboard count; -1 is "100+".
func count(n int) string {
	if n < 0 {
		return "100+"
	}
	return strconv.Itoa(n)
}
