// Package httpx is the HTTP plumbing shared by the console and the
// management API: the one table from error codes to statuses, RFC 9457
// problem responses, request ids, security headers, body limits, access logs
// and panic recovery.
package httpx
