// Package operator renders the server operator's pages: the operator log-in
// and the development outbox where emails land when no SMTP server is
// configured.
package operator

import "github.com/portico-dev/portico/templates/layout"

// LoginProps drive GET/POST /operator/login (field token): the operator
// pastes the operator token that Portico wrote to its data directory.
type LoginProps struct {
	Page    layout.Page
	Message string
}

// OutboxProps drive GET /operator/outbox: emails newest first, each with its
// full text (links in it must be clickable), paginated. Log out: POST
// /operator/logout.
type OutboxProps struct {
	Page     layout.Page
	Emails   []EmailRow
	NextURL  string
	FirstURL string
}

// EmailRow is one email, formatted.
type EmailRow struct {
	ID      string
	To      string
	Subject string
	Body    string
	When    string
}
