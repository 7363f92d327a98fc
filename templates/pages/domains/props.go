// Package domains renders a provider's custom domains: the list with each
// certificate's expiry and the form to add one, a domain's page with its
// certificate and the form to replace it, and the confirmation before
// deleting one. Private keys are typed into the forms and never shown.
package domains

import (
	"github.com/a-h/templ"

	"github.com/portico-dev/portico/templates/components"
	"github.com/portico-dev/portico/templates/layout"
)

// ListProps drive GET /orgs/{org}/domains and a failed POST
// /orgs/{org}/domains (fields hostname, certificate, private_key).
// CanManage (owners, admins, developers) shows the add form.
type ListProps struct {
	Page      layout.Page
	Domains   []Row
	CanManage bool
	// GatewayDomain is the platform's own domain ("" when none), named in
	// the help text.
	GatewayDomain string
	Form          Form
	Message       string
	Errors        map[string]string
	FirstURL      string
	NextURL       string
}

// Row is one domain in the list, formatted.
type Row struct {
	ID       string
	Hostname string
	// Status is valid, expiring or expired.
	Status  string
	Expires string
	Issuer  string
}

// Form is the add or replace form as typed. The private key is never
// echoed back into a re-rendered form.
type Form struct {
	Hostname    string
	Certificate string
}

// DetailProps drive GET /orgs/{org}/domains/{id} and a failed POST
// …/{id}/certificate (fields certificate, private_key).
type DetailProps struct {
	Page        layout.Page
	ID          string
	Hostname    string
	Status      string
	Subject     string
	DNSNames    string
	Issuer      string
	NotBefore   string
	NotAfter    string
	Fingerprint string
	Added       string
	Updated     string
	CanManage   bool
	Form        Form
	Message     string
	Errors      map[string]string
}

// DeleteProps drive GET /orgs/{org}/domains/{id}/delete.
type DeleteProps struct {
	Page     layout.Page
	ID       string
	Hostname string
}

// StatusLabel names a certificate status.
func StatusLabel(s string) string {
	switch s {
	case "expired":
		return "Expired"
	case "expiring":
		return "Expires soon"
	}
	return "Valid"
}

func statusKind(s string) string {
	switch s {
	case "expired":
		return "danger"
	case "expiring":
		return "warning"
	}
	return "success"
}

func domainsPath(p layout.Page, segments ...string) string {
	return components.Path(append([]string{"orgs", p.Org.Slug, "domains"}, segments...)...)
}

// pemAttrs keep browsers from checking, completing or capitalising PEM text.
var pemAttrs = templ.Attributes{"spellcheck": "false", "autocomplete": "off"}
