// Package errorpage renders the friendly error page of the console.
package errorpage

import "github.com/portico-dev/portico/templates/layout"

// Props drive the error page: 403, 404, 413, 429, 500 and so on. Detail is
// safe to show; RequestID lets support find the log line.
type Props struct {
	Page      layout.Page
	Status    int
	Title     string
	Detail    string
	RequestID string
}
