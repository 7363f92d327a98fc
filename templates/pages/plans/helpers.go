package plans

import (
	"slices"
	"strconv"

	"github.com/portico-dev/portico/templates/components"
	"github.com/portico-dev/portico/templates/layout"
)

func orgSlug(p layout.Page) string {
	if p.Org != nil {
		return p.Org.Slug
	}
	return ""
}

// apiPath is the console path of the API or of something under it.
func apiPath(p layout.Page, api string, segments ...string) string {
	return components.Path(append([]string{"orgs", orgSlug(p), "apis", api}, segments...)...)
}

// plansPath is the path of the API's plans or of something under them:
// plansPath(p, "weather", "pro", "publish").
func plansPath(p layout.Page, api string, segments ...string) string {
	return apiPath(p, api, append([]string{"plans"}, segments...)...)
}

// StateKind is the Badge kind of a plan state.
func StateKind(state string) string {
	switch state {
	case "published":
		return "success"
	case "deprecated":
		return "warning"
	case "closed":
		return "muted"
	}
	return "neutral"
}

// Currencies are the currencies the form offers; jpy has no minor unit.
var Currencies = []components.Option{
	{Value: "usd", Label: "USD — US dollar"},
	{Value: "eur", Label: "EUR — euro"},
	{Value: "gbp", Label: "GBP — pound sterling"},
	{Value: "cny", Label: "CNY — Chinese yuan"},
	{Value: "jpy", Label: "JPY — Japanese yen (whole yen)"},
}

// currencyOptions are Currencies plus the form's currency when it is
// another one (a plan created through the API), so editing keeps it.
func currencyOptions(current string) []components.Option {
	if current == "" || slices.ContainsFunc(Currencies, func(o components.Option) bool { return o.Value == current }) {
		return Currencies
	}
	return append(slices.Clone(Currencies), components.Option{Value: current, Label: current})
}

var approvalOptions = []components.Option{
	{Value: "auto", Label: "Automatic: starts at once"},
	{Value: "manual", Label: "Manual: you approve each"},
}

// versionChoices are the options to show: the API's versions plus any
// version the form grants that is no longer among them.
func versionChoices(opts []VersionOption, chosen []string) []VersionOption {
	out := slices.Clone(opts)
	for _, v := range chosen {
		if !slices.ContainsFunc(out, func(o VersionOption) bool { return o.Version == v }) {
			out = append(out, VersionOption{Version: v, State: "gone"})
		}
	}
	return out
}

func versionLabel(v VersionOption) string {
	switch v.State {
	case "", "published":
		return v.Version
	case "gone":
		return v.Version + " (no longer exists)"
	}
	return v.Version + " (" + v.State + ")"
}

// formFields are the form's fields in order, for the error summary and
// the autofocus.
var formFields = []string{"slug", "name", "description", "currency", "price", "included_calls", "overage",
	"rate_rps", "rate_burst", "quota_day", "quota_month", "approval", "trial_days", "versions"}

func rev(n int) string { return "revision " + strconv.Itoa(n) }

// focus is the field to autofocus: the first with an error, else none
// (the form sits below the list; focusing it would scroll the page).
func focus(errs map[string]string, isNew bool) string {
	fields := formFields
	if !isNew {
		fields = fields[1:]
	}
	return components.Focus(errs, "", fields...)
}
