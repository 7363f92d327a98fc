package httpx

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/portico-dev/portico/tenants"
)

// statusOf is the one table from error code to HTTP status.
var statusOf = map[string]int{
	tenants.EInvalid:      http.StatusUnprocessableEntity,
	tenants.EMalformed:    http.StatusBadRequest,
	tenants.ENotFound:     http.StatusNotFound,
	tenants.EConflict:     http.StatusConflict,
	tenants.EUnauthorized: http.StatusUnauthorized,
	tenants.EForbidden:    http.StatusForbidden,
	tenants.ERateLimited:  http.StatusTooManyRequests,
	tenants.ETooLarge:     http.StatusRequestEntityTooLarge,
	tenants.EInternal:     http.StatusInternalServerError,
}

// Status returns the HTTP status for err.
func Status(err error) int {
	if s, ok := statusOf[tenants.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ProblemTypeBase prefixes every problem type; the suffix is the error code
// with dashes. Types are part of the API contract.
const ProblemTypeBase = "https://portico.dev/problems/"

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Status    int            `json:"status"`
	Detail    string         `json:"detail"`
	Instance  string         `json:"instance,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
	Errors    []FieldProblem `json:"errors,omitempty"`
}

// FieldProblem names one invalid input field.
type FieldProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ProblemFor builds the problem body for err. Internal errors are reduced to
// "Internal error"; the caller logs the cause.
func ProblemFor(r *http.Request, err error) Problem {
	code := tenants.ErrorCode(err)
	status := Status(err)
	detail, fields := tenants.ErrorMessage(err), tenants.ErrorFields(err)
	if status >= 500 {
		// Also for a *tenants.Error coded internal (or with an unknown
		// code): its message may carry the cause, which only the log sees.
		code, detail, fields = tenants.EInternal, "Internal error", nil
	}
	p := Problem{
		Type:   ProblemTypeBase + strings.ReplaceAll(code, "_", "-"),
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
	}
	if r != nil {
		p.RequestID = RequestID(r.Context())
		if r.URL != nil {
			p.Instance = r.URL.Path
		}
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p.Errors = append(p.Errors, FieldProblem{Field: k, Message: fields[k]})
	}
	return p
}

// WriteProblem writes err as application/problem+json, logging internal
// errors with the request id.
func WriteProblem(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	p := ProblemFor(r, err)
	if p.Status >= 500 {
		log.ErrorContext(r.Context(), "internal error", "request_id", p.RequestID, "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="portico"`)
	}
	var rl interface{ RetryAfterSeconds() int }
	if errors.As(err, &rl) {
		w.Header().Set("Retry-After", strconv.Itoa(max(rl.RetryAfterSeconds(), 1)))
	}
	WriteJSON(w, p.Status, p, "application/problem+json")
}

// WriteJSON writes v as JSON with the given status and content type
// ("" = application/json).
func WriteJSON(w http.ResponseWriter, status int, v any, contentType string) {
	if contentType == "" {
		contentType = "application/json"
	}
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"title":"Internal error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType+"; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// RateLimitError is a rate_limited error that knows when to retry.
type RateLimitError struct {
	Err        *tenants.Error
	RetryAfter int // seconds
}

func (e RateLimitError) Error() string { return e.Err.Error() }

// RetryAfterSeconds implements the Retry-After hook of WriteProblem.
func (e RateLimitError) RetryAfterSeconds() int { return e.RetryAfter }

// Unwrap exposes the *tenants.Error for ErrorCode.
func (e RateLimitError) Unwrap() error { return e.Err }
