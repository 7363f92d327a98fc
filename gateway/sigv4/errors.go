package sigv4

import (
	"net/http"
	"strconv"
	"time"
)

// ProblemTypeBase prefixes every problem slug to form the RFC 9457 "type" URI.
const ProblemTypeBase = "https://portico.dev/problems/"

// Problem slugs. They are part of the public contract (signing.md): clients
// branch on them, so they never change meaning.
const (
	TypeMissingSignature       = "missing-signature"       // 401: no Authorization header and no presigned query
	TypeMalformedAuthorization = "malformed-authorization" // 400: the signature's syntax is wrong; Detail names the part
	TypeInvalidAccessKey       = "invalid-access-key"      // 403: unknown, revoked or expired access key
	TypeInvalidScope           = "invalid-scope"           // 403: credential scope date, region, service or terminator wrong
	TypeRequestExpired         = "request-expired"         // 403: clock skew or presigned URL expiry
	TypeSignatureMismatch      = "signature-mismatch"      // 403: the signature (or the signed body hash) does not match
	TypeReplayedNonce          = "replayed-nonce"          // 403: (access key, nonce) already used within the window
	TypeNonceRequired          = "nonce-required"          // 403: the API or plan requires X-Portico-Nonce
	TypeNonceCapacity          = "nonce-capacity"          // 429: the access key holds its share of unexpired nonces
	TypeBodyTooLarge           = "body-too-large"          // 413: HashBody's limit exceeded (not a signing.md rejection)
)

// Error is a rejected signature. Every rejection Verify returns is an *Error;
// any other error from Verify is an infrastructure failure (the nonce store)
// that HTTP layers answer with a 5xx.
//
// HTTP layers render it as application/problem+json (RFC 9457) with
// type = ProblemTypeBase + Type and the non-empty diagnostic fields. No field
// ever holds a secret key or a derived signing key.
type Error struct {
	Status int    // HTTP status: 400, 401, 403, 429 (413 from HashBody)
	Type   string // problem slug, e.g. "signature-mismatch"
	Title  string // short, fixed per Type
	Detail string // what exactly was wrong, safe to show to the caller

	// CanonicalRequest and StringToSign are what the server computed
	// (signature-mismatch only), for the caller to diff with their own.
	CanonicalRequest string
	StringToSign     string
	// ExpectedScope is the credential scope the server expects (invalid-scope).
	ExpectedScope string
	// ServerTime is the server's clock in X-Amz-Date format (request-expired).
	ServerTime string
	// RetryAfter is when the caller may try again (nonce-capacity: when the
	// key's oldest nonce expires), for a Retry-After header; 0 when unknown.
	RetryAfter time.Duration
}

// Error implements error.
func (e *Error) Error() string {
	return "sigv4: " + e.Type + ": " + e.Detail
}

// ProblemType returns the RFC 9457 "type" URI of the problem.
func (e *Error) ProblemType() string { return ProblemTypeBase + e.Type }

// Extensions returns the diagnostic members that are set, under their
// problem+json names (canonical_request, string_to_sign, expected_scope,
// server_time), for the HTTP layers to add next to type, title, status,
// detail and the request id.
func (e *Error) Extensions() map[string]string {
	m := make(map[string]string, 2)
	for k, v := range map[string]string{
		"canonical_request": e.CanonicalRequest, "string_to_sign": e.StringToSign,
		"expected_scope": e.ExpectedScope, "server_time": e.ServerTime,
	} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

var titles = map[string]string{
	TypeMissingSignature:       "Missing signature",
	TypeMalformedAuthorization: "Malformed authorization",
	TypeInvalidAccessKey:       "Invalid access key",
	TypeInvalidScope:           "Invalid credential scope",
	TypeRequestExpired:         "Request expired",
	TypeSignatureMismatch:      "Signature mismatch",
	TypeReplayedNonce:          "Replayed nonce",
	TypeNonceRequired:          "Nonce required",
	TypeNonceCapacity:          "Too many unexpired nonces",
	TypeBodyTooLarge:           "Request body too large",
}

var statuses = map[string]int{
	TypeMissingSignature:       http.StatusUnauthorized,
	TypeMalformedAuthorization: http.StatusBadRequest,
	TypeInvalidAccessKey:       http.StatusForbidden,
	TypeInvalidScope:           http.StatusForbidden,
	TypeRequestExpired:         http.StatusForbidden,
	TypeSignatureMismatch:      http.StatusForbidden,
	TypeReplayedNonce:          http.StatusForbidden,
	TypeNonceRequired:          http.StatusForbidden,
	TypeNonceCapacity:          http.StatusTooManyRequests,
	TypeBodyTooLarge:           http.StatusRequestEntityTooLarge,
}

func newError(typ, detail string) *Error {
	return &Error{Status: statuses[typ], Type: typ, Title: titles[typ], Detail: detail}
}

// malformed names the part of the signature that is wrong.
func malformed(part, problem string) *Error {
	return newError(TypeMalformedAuthorization, part+": "+problem)
}

// quoteInput renders client input for an error detail: quoted, so control
// characters cannot forge lines, and truncated, so a hostile header cannot
// inflate the response.
func quoteInput(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}
