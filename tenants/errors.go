package tenants

import (
	"errors"
	"fmt"
)

// Error codes. The HTTP layers map each to one status in one table.
const (
	EInvalid      = "invalid"
	EMalformed    = "malformed"
	ENotFound     = "not_found"
	EConflict     = "conflict"
	EUnauthorized = "unauthorized"
	EForbidden    = "forbidden"
	ERateLimited  = "rate_limited"
	ETooLarge     = "too_large"
	EInternal     = "internal"
)

// Error is the application error: a code the transport maps to a status, a
// message safe to show to the caller, and optional per-field messages.
type Error struct {
	Code    string
	Message string
	// Fields maps an input field name (JSON name, as the caller sent it) to
	// what is wrong with it.
	Fields map[string]string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an invalid-input error about one field.
func FieldError(field, msg string) *Error {
	return &Error{Code: EInvalid, Message: msg, Fields: map[string]string{field: msg}}
}

// ErrorCode returns the code of the *Error in err's chain, EInternal for any
// other non-nil error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the caller-safe message of err: the *Error's message,
// or "Internal error" for anything else.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error"
}

// ErrorFields returns the per-field messages of err, if any.
func ErrorFields(err error) map[string]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// Validation collects field errors and turns them into one *Error.
type Validation map[string]string

// Add records msg for field unless the field already has a message.
func (v Validation) Add(field, msg string) {
	if _, ok := v[field]; !ok {
		v[field] = msg
	}
}

// Err returns nil when nothing was recorded, else an EInvalid *Error.
func (v Validation) Err() error {
	if len(v) == 0 {
		return nil
	}
	msg := "Please correct the highlighted fields."
	if len(v) == 1 {
		for _, m := range v {
			msg = m
		}
	}
	return &Error{Code: EInvalid, Message: msg, Fields: map[string]string(v)}
}

// ConflictError returns a conflict about one field, such as a taken name.
func ConflictError(field, msg string) *Error {
	return &Error{Code: EConflict, Message: msg, Fields: map[string]string{field: msg}}
}
