package tenants

import (
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

var slugRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`)

// reservedSlugs cannot name an organisation: they collide with routes of the
// console, the market and the gateway.
var reservedSlugs = []string{
	"admin", "api", "app", "apps", "account", "assets", "auth", "console", "docs", "healthz", "help",
	"login", "logout", "market", "metrics", "o", "oauth", "operator", "org", "orgs", "portico", "readyz",
	"signup", "static", "status", "support", "www", "well-known",
}

// NormalizeEmail trims and lower-cases an email address. Addresses are unique
// case-insensitively, so they are stored in this form.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func validateEmail(v Validation, field, email string) {
	if email == "" {
		v.Add(field, "Enter an email address.")
		return
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || len(email) > 254 || !strings.Contains(email[strings.IndexByte(email, '@'):], ".") {
		v.Add(field, "Enter a valid email address, like name@example.com.")
	}
}

func validateName(v Validation, field, name, what string) {
	n := utf8.RuneCountInString(name)
	switch {
	case n == 0:
		v.Add(field, "Enter "+what+".")
	case n > 100:
		v.Add(field, "Use at most 100 characters.")
	case strings.ContainsAny(name, "\x00\r\n"):
		v.Add(field, "Use a single line of text.")
	}
}

// ValidateSlug reports what is wrong with an organisation slug, or "".
func ValidateSlug(slug string) string {
	switch {
	case len(slug) < 2 || len(slug) > 40:
		return "Use 2 to 40 characters."
	case !slugRE.MatchString(slug):
		return "Use lower-case letters, digits and dashes, starting and ending with a letter or digit."
	case slices.Contains(reservedSlugs, slug):
		return "This name is reserved; choose another."
	}
	return ""
}
