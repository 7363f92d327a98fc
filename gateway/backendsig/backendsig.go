// Package backendsig is the backend signature of signing.md: on every
// request it forwards, the gateway tells the provider's backend who is
// calling (consumer organisation, app, plan, request id) and proves it with
// an HMAC-SHA256 over those facts, the method, the path as forwarded, the
// canonical query and the body's digest, under one of the version's backend
// signing keys. Backends verify with Verify (or the snippets in the docs) and
// reject timestamps older than five minutes.
package backendsig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-dev/portico/gateway/sigv4"
)

// The headers the gateway adds to every forwarded request.
const (
	HeaderRequestID = "X-Portico-Request-Id"
	HeaderConsumer  = "X-Portico-Consumer"
	HeaderApp       = "X-Portico-App"
	HeaderPlan      = "X-Portico-Plan"
	HeaderTimestamp = "X-Portico-Timestamp"
	HeaderSignature = "X-Portico-Signature"
)

// MaxAge is how old a signed timestamp a backend should accept.
const MaxAge = 5 * time.Minute

// Facts are what the signature binds besides the request itself.
type Facts struct {
	Consumer  string // partner organisation id
	App       string // app id
	Plan      string // plan (revision) id
	RequestID string
	// BodySHA256 is the hex SHA-256 of the forwarded body.
	BodySHA256 string
	Timestamp  time.Time
}

// StringToSign returns the lines timestamp, METHOD, path, canonical query,
// consumer, app, plan, request-id and body digest joined by "\n".
func StringToSign(method, path, rawQuery string, f Facts) []byte {
	return AppendStringToSign(make([]byte, 0, 256+len(path)+len(rawQuery)), method, path, rawQuery, f)
}

// AppendStringToSign appends the string to sign to dst.
func AppendStringToSign(b []byte, method, path, rawQuery string, f Facts) []byte {
	b = strconv.AppendInt(b, f.Timestamp.Unix(), 10)
	b = append(b, '\n')
	b = append(b, strings.ToUpper(method)...)
	b = append(b, '\n')
	b = append(b, path...)
	b = append(b, '\n')
	b = sigv4.AppendCanonicalQuery(b, rawQuery)
	for _, s := range [...]string{f.Consumer, f.App, f.Plan, f.RequestID, f.BodySHA256} {
		b = append(b, '\n')
		b = append(b, s...)
	}
	return b
}

// Sign computes the v1 signature value (lower-case hex).
func Sign(secret []byte, sts []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(sts)
	return hex.EncodeToString(m.Sum(nil))
}

// Apply sets the backend-signature headers on a request about to be
// forwarded (r.URL.Path and RawQuery as the backend will see them).
func Apply(r *http.Request, keyID string, secret []byte, f Facts) {
	var vals Values
	SetHeaders(r.Header, f, "keyId="+keyID+", v1="+Sign(secret, StringToSign(r.Method, r.URL.EscapedPath(), r.URL.RawQuery, f)), &vals)
}

// Signer signs with one backend key and keeps its keyed HMAC states and
// buffers for reuse, so a signature costs one allocation (its value). It
// is safe for concurrent use.
type Signer struct {
	keyID string
	state sync.Pool // *signState
}

type signState struct {
	mac hash.Hash
	sts []byte
	sum [sha256.Size]byte // the MAC: on the stack it would escape through the interface
}

// NewSigner returns a Signer for the key.
func NewSigner(keyID string, secret []byte) *Signer {
	sec := append([]byte(nil), secret...)
	s := &Signer{keyID: keyID}
	s.state.New = func() any { return &signState{mac: hmac.New(sha256.New, sec), sts: make([]byte, 0, 512)} }
	return s
}

// KeyID is the key the Signer signs with.
func (s *Signer) KeyID() string { return s.keyID }

// Apply is Apply with the Signer's key.
func (s *Signer) Apply(r *http.Request, f Facts) {
	var vals Values
	SetHeaders(r.Header, f, s.Value(r.Method, r.URL.EscapedPath(), r.URL.RawQuery, f), &vals)
}

// Value returns the X-Portico-Signature value for a request with this
// method, escaped path and raw query as the backend will see them.
func (s *Signer) Value(method, path, rawQuery string, f Facts) string {
	st := s.state.Get().(*signState)
	st.sts = AppendStringToSign(st.sts[:0], method, path, rawQuery, f)
	st.mac.Reset()
	st.mac.Write(st.sts)
	var hx [2 * sha256.Size]byte
	hex.Encode(hx[:], st.mac.Sum(st.sum[:0]))
	if cap(st.sts) <= 4096 { // keep no buffer a huge query grew
		s.state.Put(st)
	}
	var b strings.Builder
	b.Grow(len("keyId=, v1=") + len(s.keyID) + len(hx))
	b.WriteString("keyId=")
	b.WriteString(s.keyID)
	b.WriteString(", v1=")
	b.Write(hx[:])
	return b.String()
}

// Values backs the six header values SetHeaders sets, so a caller that
// keeps one per request saves an allocation per header.
type Values [6]string

// Names are the headers Values holds, in its order (canonical forms).
var Names = [6]string{HeaderRequestID, HeaderConsumer, HeaderApp, HeaderPlan, HeaderTimestamp, HeaderSignature}

// SetHeaders sets the backend-signature headers: the facts, the timestamp
// and sig, X-Portico-Signature's value. Their values live in vals.
func SetHeaders(h http.Header, f Facts, sig string, vals *Values) {
	vals.Fill(f, sig)
	vals.Set(h)
}

// Fill puts the values of the backend-signature headers in vals, for a
// caller that writes them itself (Names gives their names).
func (vals *Values) Fill(f Facts, sig string) {
	vals[0], vals[1], vals[2], vals[3], vals[4], vals[5] = f.RequestID, f.Consumer, f.App, f.Plan, unixString(f.Timestamp.Unix()), sig
}

// lastSecond is the decimal form of the latest timestamp Fill wrote:
// every call within a second shares it instead of formatting its own.
var lastSecond atomic.Pointer[second]

type second struct {
	unix int64
	s    string
}

func unixString(unix int64) string {
	if p := lastSecond.Load(); p != nil && p.unix == unix {
		return p.s
	}
	s := strconv.FormatInt(unix, 10)
	lastSecond.Store(&second{unix, s})
	return s
}

// Set sets vals' headers on h; the names are canonical: plain map writes.
func (vals *Values) Set(h http.Header) {
	for i, name := range Names {
		h[name] = vals[i : i+1 : i+1]
	}
}

// Errors Verify returns.
var (
	ErrMissing  = errors.New("backendsig: missing or malformed X-Portico-Signature or X-Portico-Timestamp")
	ErrStale    = errors.New("backendsig: timestamp outside the allowed window")
	ErrUnknown  = errors.New("backendsig: unknown key id")
	ErrMismatch = errors.New("backendsig: signature mismatch")
)

// Verify checks a received request's backend signature, as a provider's
// backend would: secrets maps key ids to secrets (both active keys during a
// rotation), bodySHA256 is the hex digest of the received body, now the
// backend's clock.
func Verify(r *http.Request, secrets map[string][]byte, bodySHA256 string, now time.Time) (keyID string, err error) {
	ts, err := strconv.ParseInt(r.Header.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return "", ErrMissing
	}
	t := time.Unix(ts, 0)
	if d := now.Sub(t); d > MaxAge || d < -MaxAge {
		return "", ErrStale
	}
	var v1 string
	for _, part := range strings.Split(r.Header.Get(HeaderSignature), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return "", ErrMissing
		}
		switch k {
		case "keyId":
			keyID = v
		case "v1":
			v1 = v
		}
	}
	if keyID == "" || v1 == "" {
		return "", ErrMissing
	}
	secret, ok := secrets[keyID]
	if !ok {
		return keyID, ErrUnknown
	}
	f := Facts{Consumer: r.Header.Get(HeaderConsumer), App: r.Header.Get(HeaderApp), Plan: r.Header.Get(HeaderPlan),
		RequestID: r.Header.Get(HeaderRequestID), BodySHA256: bodySHA256, Timestamp: t}
	want := Sign(secret, StringToSign(r.Method, r.URL.EscapedPath(), r.URL.RawQuery, f))
	if !hmac.Equal([]byte(want), []byte(v1)) {
		return keyID, ErrMismatch
	}
	return keyID, nil
}
