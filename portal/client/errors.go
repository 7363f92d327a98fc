package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Problem type codes: the last segment of Error.Type
// (https://portico.dev/problems/<code>).
const (
	CodeInvalid      = "invalid"
	CodeMalformed    = "malformed"
	CodeNotFound     = "not-found"
	CodeConflict     = "conflict"
	CodeUnauthorized = "unauthorized"
	CodeForbidden    = "forbidden"
	CodeRateLimited  = "rate-limited"
	CodeTooLarge     = "too-large"
	CodeInternal     = "internal"
)

// Problem type codes of a rejected AK/SK signature (WithAccessKey); see
// ../shared/docs/signing.md.
const (
	CodeMissingSignature       = "missing-signature"
	CodeMalformedAuthorization = "malformed-authorization"
	CodeInvalidAccessKey       = "invalid-access-key"
	CodeInvalidScope           = "invalid-scope"
	CodeRequestExpired         = "request-expired"
	CodeSignatureMismatch      = "signature-mismatch"
	CodeReplayedNonce          = "replayed-nonce"
	CodeNonceRequired          = "nonce-required"
	CodeNonceCapacity          = "nonce-capacity"
)

// Error is a failed call: the RFC 9457 problem the server answered with.
type Error struct {
	// StatusCode is the HTTP status.
	StatusCode int `json:"status"`
	// Type is the stable problem type URI, like
	// https://portico.dev/problems/invalid.
	Type string `json:"type"`
	// Title is the status text.
	Title string `json:"title"`
	// Detail says what went wrong, for a person.
	Detail string `json:"detail"`
	// Instance is the path of the request that failed.
	Instance string `json:"instance,omitempty"`
	// RequestID identifies the request in the server's logs.
	RequestID string `json:"request_id,omitempty"`
	// Fields name the input fields that were wrong and why.
	Fields []FieldError `json:"errors,omitempty"`
	// CanonicalRequest and StringToSign are what the server computed for a
	// signature it rejected (CodeSignatureMismatch), to compare with the
	// client's own. They never hold a key.
	CanonicalRequest string `json:"canonical_request,omitempty"`
	StringToSign     string `json:"string_to_sign,omitempty"`
	// ExpectedScope is the credential scope the server expects
	// (CodeInvalidScope), like 20260314/local/apigw/aws4_request.
	ExpectedScope string `json:"expected_scope,omitempty"`
	// ServerTime is the server's clock in X-Amz-Date format
	// (CodeRequestExpired).
	ServerTime string `json:"server_time,omitempty"`
	// RetryAfter is how long to wait before retrying, from Retry-After.
	RetryAfter time.Duration `json:"-"`
}

// FieldError is what is wrong with one input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Code returns the last segment of the problem type, such as "not-found",
// or "" when the server sent no type.
func (e *Error) Code() string {
	if i := strings.LastIndex(e.Type, "/"); i >= 0 {
		return e.Type[i+1:]
	}
	return e.Type
}

// Error prints the status, the detail and every field message on one line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(e.StatusCode))
	if t := e.Title; t != "" {
		b.WriteString(" " + t)
	}
	msg := e.Detail
	if msg == "" {
		msg = "request failed"
	}
	b.WriteString(": " + msg)
	if len(e.Fields) > 0 {
		parts := make([]string, 0, len(e.Fields))
		for _, f := range e.Fields {
			// A field error that only repeats the detail adds nothing.
			if len(e.Fields) == 1 && f.Message == e.Detail {
				parts = append(parts, f.Field)
				continue
			}
			parts = append(parts, f.Field+": "+f.Message)
		}
		b.WriteString(" (" + strings.Join(parts, "; ") + ")")
	}
	if e.StatusCode >= 500 && e.RequestID != "" {
		b.WriteString(" [request " + e.RequestID + "]")
	}
	return b.String()
}

// decodeError turns a non-2xx answer into an *Error, whether or not the body
// is a problem document.
func decodeError(resp *http.Response, body []byte) *Error {
	e := &Error{}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/problem+json" || mt == "application/json" || strings.HasSuffix(mt, "+json") {
		_ = json.Unmarshal(body, e) // a malformed body leaves the fallbacks below
	}
	e.StatusCode = resp.StatusCode // the status line wins over the body
	if e.Title == "" {
		e.Title = http.StatusText(resp.StatusCode)
	}
	if e.Detail == "" {
		if t := strings.TrimSpace(string(body)); t != "" && !strings.HasPrefix(t, "{") && !strings.HasPrefix(t, "<") {
			if len(t) > 200 {
				t = t[:200] + "…"
			}
			e.Detail = t
		} else {
			e.Detail = fmt.Sprintf("%s %s answered %s", resp.Request.Method, resp.Request.URL.Path, resp.Status)
		}
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	}
	return e
}

// AsError returns the *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// IsNotFound reports whether err is a 404 problem.
func IsNotFound(err error) bool {
	e := AsError(err)
	return e != nil && e.StatusCode == http.StatusNotFound
}

// IsConflict reports whether err is a 409 problem.
func IsConflict(err error) bool {
	e := AsError(err)
	return e != nil && e.StatusCode == http.StatusConflict
}

// IsUnauthorized reports whether err is a 401 problem (a missing, expired or
// revoked token, or a wrong password).
func IsUnauthorized(err error) bool {
	e := AsError(err)
	return e != nil && e.StatusCode == http.StatusUnauthorized
}
