// Package home renders the public landing page.
package home

import "github.com/portico-dev/portico/templates/layout"

// LandingProps drive the landing page at "/": what Portico is, for providers
// and for partners, with calls to action to sign up and log in.
type LandingProps struct {
	Page layout.Page
}
