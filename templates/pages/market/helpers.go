package market

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/portico-dev/portico/templates/components"
)

// APIPath is the market page of an API: /market/{org}/{api}.
func APIPath(org, api string) string { return components.Path("market", org, api) }

// ProviderPath is a provider's public page: /o/{org}.
func ProviderPath(org string) string { return components.Path("o", org) }

// sortOptions are the orders the market offers.
var sortOptions = []components.Option{
	{Value: "name", Label: "Name (A–Z)"},
	{Value: "newest", Label: "Newest first"},
}

func sortOr(s string) string {
	if s == "" {
		return "name"
	}
	return s
}

// searchTitle is the document title of a search page.
func searchTitle(p SearchProps) string {
	switch {
	case p.Q != "":
		return "“" + p.Q + "” in the API market"
	case p.Category != "":
		return components.Capitalize(p.Category) + " APIs"
	}
	return "API market"
}

// emptyTitle says what matched nothing.
func emptyTitle(p SearchProps) string {
	switch {
	case p.Q != "" && p.Category != "":
		return "No APIs match “" + p.Q + "” in " + p.Category
	case p.Q != "":
		return "No APIs match “" + p.Q + "”"
	case p.Category != "":
		return "No APIs match the category " + p.Category
	}
	return "No APIs in the market yet"
}

// tagURL searches the market for a tag.
func tagURL(tag string) string { return "/market?q=" + url.QueryEscape(tag) }

// categoryURL lists a category.
func categoryURL(c string) string { return "/market?category=" + url.QueryEscape(c) }

// stateKind is the Badge kind of a version state.
func stateKind(state string) string {
	if state == "deprecated" {
		return "warning"
	}
	return "success"
}

// methodClass colours an HTTP method badge.
func methodClass(m string) string {
	switch m {
	case "GET", "POST", "PUT", "PATCH", "DELETE":
		return "method method-" + strings.ToLower(m)
	}
	return "method"
}

// displayURL shows a URL without its scheme and trailing slash.
func displayURL(u string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	return strings.TrimSuffix(s, "/")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// anyDescription reports whether a plan has a description, so the table
// shows that row only when it says something.
func anyDescription(ps []PlanTerms) bool {
	for _, p := range ps {
		if p.Description != "" {
			return true
		}
	}
	return false
}

func anySubscribe(ps []PlanTerms) bool {
	for _, p := range ps {
		if p.SubscribeURL != "" {
			return true
		}
	}
	return false
}

// contactURL and termsURL are the provider's links when they are safe to
// follow, else "".
func (p APIProps) contactURL() string { return safeOr(p.ContactURL) }
func (p APIProps) termsURL() string   { return safeOr(p.TermsURL) }

func safeOr(u string) string {
	if components.SafeLink(u) {
		return u
	}
	return ""
}
