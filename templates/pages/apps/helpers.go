package apps

import (
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

// appsPath is the path of the organisation's apps or of something under
// them: appsPath(p, id, "keys").
func appsPath(p layout.Page, segments ...string) string {
	return components.Path(append([]string{"orgs", orgSlug(p), "apps"}, segments...)...)
}

// crumb is one breadcrumb; the last one is the current page.
type crumb struct {
	Label, Href string
}

// countOf writes "1 key", "2 keys", "no keys".
func countOf(n int, one, many string) string {
	switch n {
	case 0:
		return "no " + many
	case 1:
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// consequence says what deleting an app does, in one sentence.
func (p DeleteProps) consequence() string {
	keys := countOf(p.ActiveKeys, "active key", "active keys")
	subs := countOf(p.Subscriptions, "subscription", "subscriptions")
	verbKeys, verbSubs := " will be revoked", " will be cancelled"
	if p.ActiveKeys == 0 {
		verbKeys = " to revoke"
	}
	if p.Subscriptions == 0 {
		verbSubs = " to cancel"
	}
	return components.Capitalize(keys) + verbKeys + " and " + subs + verbSubs + "."
}

func revokeConfirm(k KeyRow) string {
	return "Revoke the key " + k.AccessKey + " (" + k.Name + ")? Revoking is final: requests signed with it are refused at once."
}

func revokeCodeConfirm(c AppCodeRow) string {
	return "Revoke the app code " + c.Prefix + "… (" + c.Name + ")? Revoking is final: calls carrying it are refused at once."
}

// envKind is the Badge kind of an app's environment.
func envKind(env string) string {
	if env == "Test" {
		return "info"
	}
	return "primary"
}

// canCreateKey reports whether the app has room for another active key.
func (p DetailProps) canCreateKey() bool { return p.ActiveKeys < MaxActiveKeys }

// keyFocus is the new-key field to focus after a failed submission.
func (p DetailProps) keyFocus() string {
	return components.Focus(p.KeyErrors, "", "name", "expires_on")
}

// formFocus is the edit field to focus after a failed submission, unless
// the key form takes the focus.
func (p DetailProps) formFocus() string {
	if p.keyFocus() != "" {
		return ""
	}
	return components.Focus(p.FormErrors, "", "name", "description")
}

// envOptions are the environments an app can be created for.
var envOptions = []components.Option{
	{Value: "production", Label: "Production — calls the APIs' production deployments"},
	{Value: "test", Label: "Test — calls the APIs' test deployments"},
}
