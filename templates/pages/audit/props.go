// Package audit renders an organisation's audit log.
package audit

import "github.com/portico-dev/portico/templates/layout"

// ListProps drive GET /orgs/{org}/audit: a paginated table, newest first.
type ListProps struct {
	Page     layout.Page
	Events   []EventRow
	NextURL  string
	FirstURL string
}

// EventRow is one audit event, formatted.
type EventRow struct {
	When    string
	Actor   string
	Action  string
	Object  string
	IP      string
	Details string // compact JSON, may be "{}"
}
