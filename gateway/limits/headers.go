package limits

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Header names from draft-ietf-httpapi-ratelimit-headers-09.
const (
	HeaderPolicy     = "RateLimit-Policy"
	HeaderRateLimit  = "RateLimit"
	HeaderRetryAfter = "Retry-After"
)

// Policy describes one limit for the RateLimit-Policy and RateLimit headers
// of draft-ietf-httpapi-ratelimit-headers-09: both are RFC 9651 structured
// field lists whose items are the policy name (an sf-string) with parameters
// q (quota) and w (window, seconds) for the policy, and r (remaining) and t
// (seconds until the quota resets) for the current state.
type Policy struct {
	// Name identifies the policy, e.g. "burst", "day", "period".
	Name string
	// Quota is the number of units the policy allows per Window.
	Quota int64
	// Window is the policy's time window; sent rounded up to seconds.
	Window time.Duration
	// Remaining is the number of units left now; negative values send 0.
	Remaining int64
	// Reset is the time until the quota is restored; sent rounded up to
	// seconds.
	Reset time.Duration
}

// WriteHeaders sets RateLimit-Policy and RateLimit describing policies, in
// the order given, e.g.
//
//	RateLimit-Policy: "burst";q=10;w=1, "day";q=1000;w=86400
//	RateLimit: "burst";r=7;t=1, "day";r=990;t=3600
func WriteHeaders(h http.Header, policies ...Policy) {
	var vals [2]string
	WriteHeadersTo(h, &vals, policies...)
}

// WriteHeadersTo is WriteHeaders with the two header values kept in vals,
// which a caller that holds one per request provides to save allocating it.
func WriteHeadersTo(h http.Header, vals *[2]string, policies ...Policy) {
	if len(policies) == 0 {
		return
	}
	// This runs on every admitted call. RateLimit-Policy says only what the
	// plan's terms are, so it comes from a cache of the values recently
	// formatted; RateLimit, the call's own state, is formatted each time.
	vals[0] = policyValue(policies)
	vals[1] = formatItems(policies, stateParams)
	h[canonicalPolicy] = vals[0:1:1]
	h[canonicalRateLimit] = vals[1:2:2]
}

// policyTerms are what one item of RateLimit-Policy says.
type policyTerms struct {
	name          string
	quota, window int64 // as sent: the window in whole seconds
}

// policySet is a RateLimit-Policy value and the terms it was formatted
// from; published in policyCache, it is never modified.
type policySet struct {
	n     int
	terms [maxCachedPolicies]policyTerms
	value string
}

const (
	maxCachedPolicies = 4  // burst, day, month and included calls: all admit sends
	policyCacheSize   = 64 // distinct sets of terms a deployment's plans make, and to spare
)

// policyCache holds recently formatted RateLimit-Policy values, each in a
// slot picked by a hash of its terms; a new set replaces the slot's
// occupant. Reads take no lock.
var policyCache [policyCacheSize]atomic.Pointer[policySet]

// policyValue returns the RateLimit-Policy value for policies.
func policyValue(policies []Policy) string {
	if len(policies) > maxCachedPolicies {
		return formatPolicy(policies)
	}
	key := policySet{n: len(policies)}
	hash := uint64(len(policies))
	for i, p := range policies {
		t := policyTerms{name: p.Name, quota: max(0, p.Quota), window: ceilSeconds(p.Window)}
		key.terms[i] = t
		hash = (hash ^ uint64(t.quota)) * 0x100000001b3
		hash = (hash ^ uint64(t.window)) * 0x100000001b3
		hash = (hash ^ uint64(len(t.name))) * 0x100000001b3
	}
	slot := &policyCache[(hash^hash>>32)%policyCacheSize]
	if e := slot.Load(); e != nil && e.n == key.n && e.terms == key.terms {
		return e.value
	}
	e := new(policySet) // not &key: key would then live on the heap on every call
	*e = key
	e.value = formatPolicy(policies)
	slot.Store(e)
	return e.value
}

// formatPolicy formats a RateLimit-Policy value.
func formatPolicy(policies []Policy) string { return formatItems(policies, policyParams) }

// Which parameters formatItems writes: a policy's q and w, or its current
// r and t.
const (
	policyParams = iota
	stateParams
)

// formatItems formats the field's list: each policy's name with two
// integer parameters.
func formatItems(policies []Policy, params int) string {
	var buf [256]byte
	b := buf[:0]
	for i, p := range policies {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendSFString(b, p.Name)
		if params == policyParams {
			b = strconv.AppendInt(append(b, ";q="...), max(0, p.Quota), 10)
			b = strconv.AppendInt(append(b, ";w="...), ceilSeconds(p.Window), 10)
		} else {
			b = strconv.AppendInt(append(b, ";r="...), max(0, p.Remaining), 10)
			b = strconv.AppendInt(append(b, ";t="...), ceilSeconds(p.Reset), 10)
		}
	}
	return string(b)
}

// Canonical forms of the header names (as http.Header keys them), so that
// writing needs no canonicalisation per request.
const (
	canonicalPolicy    = "Ratelimit-Policy"
	canonicalRateLimit = "Ratelimit"
)

// WriteRetryAfter sets Retry-After to d in whole seconds, rounded up and at
// least 1 so that a client never retries immediately into a refusal.
func WriteRetryAfter(h http.Header, d time.Duration) {
	h.Set(HeaderRetryAfter, strconv.FormatInt(max(1, ceilSeconds(d)), 10))
}

// Reason says why a request was refused; it selects the problem type.
type Reason string

// Refusal reasons.
const (
	RateLimited   Reason = "rate-limited"
	QuotaExceeded Reason = "quota-exceeded"
)

// ProblemBase prefixes problem type URIs.
const ProblemBase = "https://portico.dev/problems/"

// WriteRefusal answers 429 Too Many Requests with Retry-After, the RateLimit
// headers for policies and an RFC 9457 problem body whose type is
// ProblemBase + reason.
func WriteRefusal(w http.ResponseWriter, reason Reason, retryAfter time.Duration, requestID string, policies ...Policy) {
	h := w.Header()
	WriteHeaders(h, policies...)
	WriteRetryAfter(h, retryAfter)
	title, detail := "Too Many Requests", "The request rate limit was exceeded; retry after the number of seconds in Retry-After."
	if reason == QuotaExceeded {
		title, detail = "Quota Exceeded", "The usage quota for this window is spent; it resets after the number of seconds in Retry-After."
	}
	h.Set("Content-Type", "application/problem+json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusTooManyRequests)
	_ = json.NewEncoder(w).Encode(struct {
		Type      string `json:"type"`
		Title     string `json:"title"`
		Status    int    `json:"status"`
		Detail    string `json:"detail"`
		RequestID string `json:"request_id,omitempty"`
	}{ProblemBase + string(reason), title, http.StatusTooManyRequests, detail, requestID})
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// appendSFString appends s as an RFC 9651 sf-string: quoted, with '"' and
// '\' escaped; characters outside printable ASCII are not allowed there and
// are replaced by '?'.
func appendSFString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c > 0x7e:
			b = append(b, '?')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
