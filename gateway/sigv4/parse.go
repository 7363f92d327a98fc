package sigv4

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Algorithm is the only signing algorithm Portico accepts.
const Algorithm = "AWS4-HMAC-SHA256"

// Header and query names of the signature.
const (
	headerAuthorization = "Authorization"
	headerAmzDate       = "X-Amz-Date"
	headerContentSHA256 = "X-Amz-Content-Sha256"

	// NonceHeader carries the optional replay-protection nonce. When present
	// it must be among the signed headers.
	NonceHeader = "X-Portico-Nonce"

	queryAlgorithm     = "X-Amz-Algorithm"
	queryCredential    = "X-Amz-Credential"
	queryDate          = "X-Amz-Date"
	queryExpires       = "X-Amz-Expires"
	querySignedHeaders = "X-Amz-SignedHeaders"
	querySignature     = "X-Amz-Signature"
)

// amzDateFormat is the layout of X-Amz-Date ("ISO 8601 basic").
const amzDateFormat = "20060102T150405Z"

const (
	maxSignedHeaders = 64
	maxNonceLen      = 128
)

// signedFlags records which of the headers Verify looks for are signed.
type signedFlags uint8

const (
	signsHost signedFlags = 1 << iota
	signsAmzDate
	signsContentSHA256
	signsNonce
)

// signedFlag returns the flag of a signed header name, or 0.
func signedFlag(name string) signedFlags {
	switch name {
	case "host":
		return signsHost
	case "x-amz-date":
		return signsAmzDate
	case "x-amz-content-sha256":
		return signsContentSHA256
	case "x-portico-nonce":
		return signsNonce
	}
	return 0
}

// authRequest is the parsed signature of one request. Its strings point into
// the request; nothing here is allocated on the header-form path.
type authRequest struct {
	presigned bool

	accessKey  string
	scope      string // "<date>/<region>/<service>/aws4_request" as sent
	scopeDate  string
	region     string
	service    string
	terminator string

	signedHeaders string
	signs         signedFlags // which of the headers Verify checks are in signedHeaders
	signature     [32]byte

	amzDate string
	date    time.Time
	expires time.Duration // presigned only

	path, query string // exactly as sent
}

// parseRequest is step 1 of signing.md: find the Authorization header or the
// presigned query, and check its syntax.
func parseRequest(r *http.Request, maxExpiry time.Duration, a *authRequest) *Error {
	a.path, a.query = requestTarget(r)
	presign := hasPresignParams(a.query)
	authz := r.Header[headerAuthorization]
	aws := len(authz) > 0 && hasPrefixFold(authz[0], "AWS4-")
	if len(authz) == 0 || authz[0] == "" || (len(authz) == 1 && !aws) {
		if presign {
			return parsePresigned(a.query, maxExpiry, a)
		}
		if len(authz) == 0 || authz[0] == "" {
			return newError(TypeMissingSignature, "The request has neither an Authorization header nor a presigned query (X-Amz-Signature); sign it with AWS Signature Version 4 (AWS4-HMAC-SHA256).")
		}
		scheme, _, _ := strings.Cut(authz[0], " ")
		return newError(TypeMissingSignature, "The Authorization scheme "+quoteInput(scheme)+" is not AWS4-HMAC-SHA256.")
	}
	if len(authz) > 1 {
		return malformed("Authorization", "the header appears more than once")
	}
	if presign {
		return malformed("Authorization", "the request carries both an Authorization header and a presigned query; use one")
	}
	return parseHeaderForm(r, authz[0], a)
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// hasPresignParams reports whether the raw query names one of the
// parameters that only a presigned request carries.
func hasPresignParams(q string) bool {
	if !strings.Contains(q, "X-Amz-") {
		return false
	}
	for rest := q; rest != ""; {
		pair := rest
		i := strings.IndexByte(rest, '&')
		if i >= 0 {
			pair, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		name, _, _ := strings.Cut(pair, "=")
		switch name {
		case queryAlgorithm, queryCredential, querySignature, querySignedHeaders:
			return true
		}
	}
	return false
}

func parseHeaderForm(r *http.Request, h string, a *authRequest) *Error {
	if !strings.HasPrefix(h, Algorithm) || len(h) == len(Algorithm) || h[len(Algorithm)] != ' ' {
		alg, _, _ := strings.Cut(h, " ")
		return malformed("Algorithm", quoteInput(alg)+" is not supported; use AWS4-HMAC-SHA256")
	}
	var credential, signature string
	var haveCred, haveSH, haveSig bool
	for rest := h[len(Algorithm)+1:]; ; {
		comp := rest
		i := strings.IndexByte(rest, ',')
		if i >= 0 {
			comp, rest = rest[:i], rest[i+1:]
		}
		comp = strings.TrimSpace(comp)
		name, value, ok := strings.Cut(comp, "=")
		if !ok {
			return malformed("Authorization", "component "+quoteInput(comp)+" is not Name=Value; expected Credential=…, SignedHeaders=…, Signature=…")
		}
		var seen *bool
		switch name {
		case "Credential":
			credential, seen = value, &haveCred
		case "SignedHeaders":
			a.signedHeaders, seen = value, &haveSH
		case "Signature":
			signature, seen = value, &haveSig
		default:
			return malformed("Authorization", "unknown component "+quoteInput(name)+"; expected Credential, SignedHeaders and Signature")
		}
		if *seen {
			return malformed(name, "appears more than once")
		}
		*seen = true
		if i < 0 {
			break
		}
	}
	switch {
	case !haveCred:
		return malformed("Credential", "missing from the Authorization header")
	case !haveSH:
		return malformed("SignedHeaders", "missing from the Authorization header")
	case !haveSig:
		return malformed("Signature", "missing from the Authorization header")
	}
	if err := a.parseCredential(credential); err != nil {
		return err
	}
	if err := a.checkSignedHeaders(); err != nil {
		return err
	}
	if !decodeSignature(signature, &a.signature) {
		return malformed("Signature", "must be 64 hexadecimal digits")
	}
	dates := r.Header[headerAmzDate]
	switch len(dates) {
	case 0:
		return malformed("X-Amz-Date", "header missing; the header form needs X-Amz-Date (yyyymmddThhmmssZ)")
	case 1:
	default:
		return malformed("X-Amz-Date", "header appears more than once")
	}
	return a.parseDate(strings.TrimSpace(dates[0]), "X-Amz-Date")
}

func parsePresigned(q string, maxExpiry time.Duration, a *authRequest) *Error {
	a.presigned = true
	var alg, credential, date, expires, signature string
	var have [6]bool
	for rest := q; rest != ""; {
		pair := rest
		i := strings.IndexByte(rest, '&')
		if i >= 0 {
			pair, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		rawName, rawValue, _ := strings.Cut(pair, "=")
		name := rawName
		encoded := false
		if strings.ContainsAny(name, "%+") {
			n, err := url.QueryUnescape(name)
			if err != nil {
				continue // not one of ours; it is bound by the canonical query like any other
			}
			name, encoded = n, true
		}
		var dst *string
		var k int
		switch name {
		case queryAlgorithm:
			dst, k = &alg, 0
		case queryCredential:
			dst, k = &credential, 1
		case queryDate:
			dst, k = &date, 2
		case queryExpires:
			dst, k = &expires, 3
		case querySignedHeaders:
			dst, k = &a.signedHeaders, 4
		case querySignature:
			dst, k = &signature, 5
		default:
			continue
		}
		if encoded {
			// No signer encodes these names (their characters are all
			// unreserved, which RFC 3986 §2.3 says not to encode), and
			// whatever removes the presigned parameters before the request
			// is forwarded looks for them as they are: an encoded one would
			// carry the signature on to the backend.
			return malformed(name, "is percent-encoded in the query; send the parameter names of a presigned URL as they are")
		}
		if have[k] {
			return malformed(name, "appears more than once in the query")
		}
		have[k] = true
		v, err := url.QueryUnescape(rawValue)
		if err != nil {
			return malformed(name, "is not validly percent-encoded")
		}
		*dst = v
	}
	for k, name := range [...]string{queryAlgorithm, queryCredential, queryDate, queryExpires, querySignedHeaders, querySignature} {
		if !have[k] {
			return malformed(name, "missing from the presigned query")
		}
	}
	if alg != Algorithm {
		return malformed("X-Amz-Algorithm", quoteInput(alg)+" is not supported; use AWS4-HMAC-SHA256")
	}
	if err := a.parseCredential(credential); err != nil {
		return err
	}
	if err := a.checkSignedHeaders(); err != nil {
		return err
	}
	if !decodeSignature(signature, &a.signature) {
		return malformed("X-Amz-Signature", "must be 64 hexadecimal digits")
	}
	if err := a.parseDate(date, "X-Amz-Date"); err != nil {
		return err
	}
	secs, ok := atoiPositive(expires)
	maxSecs := int64(maxExpiry / time.Second)
	if !ok || secs < 1 || secs > maxSecs {
		return malformed("X-Amz-Expires", "must be a whole number of seconds from 1 to "+itoa(maxSecs))
	}
	a.expires = time.Duration(secs) * time.Second
	return nil
}

// parseCredential splits "<access key>/<yyyymmdd>/<region>/<service>/aws4_request".
// Only the shape is checked here; the values are checked against the
// expected scope in step 3, after the key lookup.
func (a *authRequest) parseCredential(c string) *Error {
	const want = "must be <access key id>/<yyyymmdd>/<region>/<service>/aws4_request"
	ak, scope, ok := strings.Cut(c, "/")
	if !ok || ak == "" {
		return malformed("Credential", want)
	}
	parts := [4]string{}
	rest := scope
	for i := range parts {
		if i == len(parts)-1 {
			parts[i] = rest
			break
		}
		var found bool
		parts[i], rest, found = strings.Cut(rest, "/")
		if !found {
			return malformed("Credential", want)
		}
	}
	if strings.IndexByte(parts[3], '/') >= 0 {
		return malformed("Credential", want)
	}
	a.accessKey, a.scope = ak, scope
	a.scopeDate, a.region, a.service, a.terminator = parts[0], parts[1], parts[2], parts[3]
	return nil
}

// checkSignedHeaders validates the SignedHeaders list: lower-case header
// names (RFC 9110 tokens) separated by ';', no duplicates, not Authorization.
// The order is not enforced: the canonical request lists the headers in the
// order given, which is sorted for every conforming client. It sets a.signs.
func (a *authRequest) checkSignedHeaders() *Error {
	s := a.signedHeaders
	if s == "" {
		return malformed("SignedHeaders", "is empty; it must list at least host")
	}
	sorted := true // so far: then a name after the last one cannot repeat any
	prev := ""
	for start, n := 0, 1; start <= len(s); n++ {
		end := strings.IndexByte(s[start:], ';')
		if end < 0 {
			end = len(s)
		} else {
			end += start
		}
		name := s[start:end]
		if n > maxSignedHeaders {
			return malformed("SignedHeaders", "lists more than "+itoa(maxSignedHeaders)+" headers")
		}
		if name == "" {
			return malformed("SignedHeaders", "contains an empty header name")
		}
		for j := 0; j < len(name); j++ {
			if !lowerTokenChar[name[j]] {
				return malformed("SignedHeaders", "header name "+quoteInput(name)+" is not a lower-case header name")
			}
		}
		if name == "authorization" {
			return malformed("SignedHeaders", "must not include authorization")
		}
		sorted = sorted && name > prev
		if !sorted && hasSignedHeader(s[:start-1], name) {
			return malformed("SignedHeaders", "lists "+quoteInput(name)+" more than once")
		}
		a.signs |= signedFlag(name)
		prev, start = name, end+1
	}
	return nil
}

// lowerTokenChar marks the bytes of a lower-case header name: the RFC 9110
// token characters without A-Z.
var lowerTokenChar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range []byte("!#$%&'*+-.^_`|~") {
		t[c] = true
	}
	return t
}()

// hasSignedHeader reports whether name is in the SignedHeaders list.
func hasSignedHeader(list, name string) bool {
	for rest := list; ; {
		n := rest
		i := strings.IndexByte(rest, ';')
		if i >= 0 {
			n, rest = rest[:i], rest[i+1:]
		}
		if n == name {
			return true
		}
		if i < 0 {
			return false
		}
	}
}

// hexDigit maps a hexadecimal digit to its value and any other byte to 0xff.
var hexDigit = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := byte(0); c < 16; c++ {
		t["0123456789abcdef"[c]] = c
		t["0123456789ABCDEF"[c]] = c
	}
	return t
}()

// decodeSignature decodes 64 hexadecimal digits into dst (which holds garbage
// when it reports false).
func decodeSignature(s string, dst *[32]byte) bool {
	if len(s) != 64 {
		return false
	}
	var bad byte
	for i := range dst {
		hi, lo := hexDigit[s[2*i]], hexDigit[s[2*i+1]]
		bad |= hi | lo
		dst[i] = hi<<4 | lo
	}
	return bad < 16
}

// parseDate parses an X-Amz-Date value (yyyymmddThhmmssZ, UTC); only a
// date other than the last one parsed allocates (to be remembered).
func (a *authRequest) parseDate(s, part string) *Error {
	if d := lastDate.Load(); d != nil && d.s == s {
		a.amzDate, a.date = s, d.t
		return nil
	}
	t, ok := parseAmzDate(s)
	if !ok {
		return malformed(part, quoteInput(s)+" is not a date in the form yyyymmddThhmmssZ")
	}
	lastDate.Store(&parsedDate{s: strings.Clone(s), t: t})
	a.amzDate, a.date = s, t
	return nil
}

// lastDate is the last request date parsed: under load most requests
// carry the current second's, so most dates are parsed once.
var lastDate atomic.Pointer[parsedDate]

type parsedDate struct {
	s string
	t time.Time
}

func parseAmzDate(s string) (time.Time, bool) {
	if len(s) != len(amzDateFormat) || s[8] != 'T' || s[15] != 'Z' {
		return time.Time{}, false
	}
	num := func(s string) (int, bool) {
		n := 0
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			n = n*10 + int(s[i]-'0')
		}
		return n, true
	}
	y, ok1 := num(s[0:4])
	mo, ok2 := num(s[4:6])
	d, ok3 := num(s[6:8])
	h, ok4 := num(s[9:11])
	mi, ok5 := num(s[11:13])
	se, ok6 := num(s[13:15])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, y) || h > 23 || mi > 59 || se > 59 {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(mo), d, h, mi, se, 0, time.UTC), true
}

// daysIn returns the number of days of month m (1-12) of year y, proleptic
// Gregorian as package time counts.
func daysIn(m, y int) int {
	if m == 2 && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		return 29
	}
	return [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m-1]
}

// atoiPositive parses a decimal integer of at most 10 digits.
func atoiPositive(s string) (int64, bool) {
	if s == "" || len(s) > 10 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
