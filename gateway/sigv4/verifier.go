package sigv4

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Service is the SigV4 service name of every Portico credential scope.
const Service = "apigw"

// Defaults and limits of Config.
const (
	DefaultRegion       = "local"
	DefaultMaxSkew      = 15 * time.Minute
	MaxPresignExpiry    = 604800 * time.Second // seven days, the SigV4 maximum
	DefaultMaxBodyBytes = 1 << 20
	DefaultKeyCacheSize = 16384
)

// Config configures a Verifier. Field comments are the user documentation.
type Config struct {
	// Region is the deployment's region name (PORTICO_REGION); default "local".
	// The credential scope must be <date>/<Region>/apigw/aws4_request.
	Region string
	// MaxSkew is the largest accepted difference between X-Amz-Date and the
	// server clock, in either direction; default 15 minutes.
	MaxSkew time.Duration
	// Keys finds credentials by access key id. Required.
	Keys KeyStore
	// Nonces remembers X-Portico-Nonce values. Required: NewMemoryNonces on a
	// single node, NewRedisNonces when several nodes share the traffic. Each
	// access key, or each Credential.NonceShare of keys, may hold only a
	// share of it (MaxNoncesPerKey); a request over its share is refused
	// with 429 nonce-capacity.
	Nonces NonceStore
	// Now is the clock; default time.Now.
	Now func() time.Time
	// RequireNonce makes X-Portico-Nonce mandatory on every request. When
	// false, a request may still be made to require one with
	// VerifyOptions.RequireNonce (an API or plan that asks for it).
	RequireNonce bool
	// MaxPresignExpiry caps X-Amz-Expires of presigned URLs; default and
	// maximum 604800 s (seven days).
	MaxPresignExpiry time.Duration
	// MaxBodyBytes caps how much body Verify buffers when it has to hash the
	// body itself (payloadHash "" and X-Amz-Content-Sha256 not signed);
	// default 1 MiB.
	MaxBodyBytes int64
	// KeyCacheSize bounds the cache of derived signing keys, one per
	// (access key, day); default 16384.
	KeyCacheSize int
}

// VerifyOptions are the per-request settings of Verify, typically from the
// matched route, API or plan.
type VerifyOptions struct {
	// RequireNonce requires X-Portico-Nonce on this request. It can only add
	// to Config.RequireNonce, never lift it.
	RequireNonce bool
	// DisallowUnsignedPayload refuses X-Amz-Content-Sha256: UNSIGNED-PAYLOAD,
	// for routes whose body must always be covered by the signature.
	DisallowUnsignedPayload bool
	// Keys, when set, finds this request's key instead of Config.Keys: a
	// caller serving from configuration snapshots passes the one the
	// request is served with, so a reload between its steps cannot mix two.
	Keys KeyStore
	// CanonicalHeaders says r.Header keys every field by its canonical
	// name, as an HTTP server's parser does: a header absent under that
	// name is absent, and is not searched for under other spellings (as
	// it must be in a request built by hand).
	CanonicalHeaders bool
}

// Verifier checks AWS Signature Version 4 signatures as signing.md defines
// them. It is safe for concurrent use; build one per region and key store.
type Verifier struct {
	region, service string
	maxSkew         time.Duration
	maxPresign      time.Duration
	maxBody         int64
	requireNonce    bool
	keys            KeyStore
	nonces          NonceStore
	shares          NonceShareStore // nonces, when it counts shares; else nil
	now             func() time.Time
	cache           *keyCache
}

// New validates cfg, fills in its defaults and returns a Verifier.
func New(cfg Config) (*Verifier, error) {
	return newVerifier(cfg, Service)
}

// newVerifier lets tests use another service name (the AWS test suite signs
// for "service").
func newVerifier(cfg Config, service string) (*Verifier, error) {
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if !validRegion(cfg.Region) {
		return nil, fmt.Errorf("sigv4: region %q: use letters, digits, - and _ (at most 63)", cfg.Region)
	}
	switch {
	case cfg.MaxSkew == 0:
		cfg.MaxSkew = DefaultMaxSkew
	case cfg.MaxSkew < time.Second:
		return nil, fmt.Errorf("sigv4: max skew %v: must be at least 1s", cfg.MaxSkew)
	}
	switch {
	case cfg.MaxPresignExpiry == 0:
		cfg.MaxPresignExpiry = MaxPresignExpiry
	case cfg.MaxPresignExpiry < time.Second || cfg.MaxPresignExpiry > MaxPresignExpiry:
		return nil, fmt.Errorf("sigv4: max presign expiry %v: must be from 1s to %v", cfg.MaxPresignExpiry, MaxPresignExpiry)
	}
	switch {
	case cfg.MaxBodyBytes == 0:
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	case cfg.MaxBodyBytes < 0:
		return nil, fmt.Errorf("sigv4: max body bytes %d: must not be negative", cfg.MaxBodyBytes)
	}
	switch {
	case cfg.KeyCacheSize == 0:
		cfg.KeyCacheSize = DefaultKeyCacheSize
	case cfg.KeyCacheSize < 0:
		return nil, fmt.Errorf("sigv4: key cache size %d: must not be negative", cfg.KeyCacheSize)
	}
	if cfg.Keys == nil {
		return nil, errors.New("sigv4: Config.Keys is required")
	}
	if cfg.Nonces == nil {
		return nil, errors.New("sigv4: Config.Nonces is required (NewMemoryNonces or NewRedisNonces)")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	shares, _ := cfg.Nonces.(NonceShareStore)
	return &Verifier{
		region: cfg.Region, service: service,
		maxSkew: cfg.MaxSkew, maxPresign: cfg.MaxPresignExpiry, maxBody: cfg.MaxBodyBytes,
		requireNonce: cfg.RequireNonce,
		keys:         cfg.Keys, nonces: cfg.Nonces, now: cfg.Now,
		shares: shares,
		cache:  newKeyCache(cfg.Region, service, cfg.KeyCacheSize),
	}, nil
}

func validRegion(s string) bool {
	if len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return s != ""
}

// Region returns the region of the verifier's credential scope.
func (v *Verifier) Region() string { return v.region }

// Verify checks the signature of r in the order of signing.md ("What the
// gateway verifies") and returns the credential that signed it.
//
// payloadHash is the hex SHA-256 of the body when the caller has it, or "":
//
//   - If X-Amz-Content-Sha256 is among the signed headers, its value is the
//     payload hash of the canonical request, and the body is not read. With
//     payloadHash "" Verify then replaces r.Body with a reader that hashes the
//     body as it streams and, at its end, fails with a signature-mismatch
//     *Error instead of io.EOF if the digest differs, so a proxy forwarding
//     the body aborts the upstream request. With a non-empty payloadHash the
//     two digests are compared at once. The value UNSIGNED-PAYLOAD leaves the
//     body unsigned, as AWS allows, unless opts.DisallowUnsignedPayload.
//   - Otherwise payloadHash "" makes Verify hash the body itself with HashBody
//     (buffered, at most Config.MaxBodyBytes). A caller with large bodies
//     hashes them itself, bounded by the route's limit, and passes the digest.
//   - payloadHash UnsignedPayload puts UNSIGNED-PAYLOAD in the canonical
//     request: the caller deliberately leaves the body unsigned.
//
// Every rejection is an *Error with the status and problem type of
// signing.md. Any other error is an infrastructure failure (nonce store,
// reading the body) to be answered with a 5xx.
func (v *Verifier) Verify(ctx context.Context, r *http.Request, payloadHash string, opts VerifyOptions) (Credential, error) {
	if payloadHash != "" && payloadHash != UnsignedPayload && !isHexSHA256(payloadHash) {
		return Credential{}, errors.New("sigv4: payloadHash must be empty, UNSIGNED-PAYLOAD or a lower-case hex SHA-256")
	}

	// 1. Authorization header or presigned query, well formed.
	var a authRequest
	if err := parseRequest(r, v.maxPresign, &a); err != nil {
		return Credential{}, err
	}
	now := v.now()

	// 2. The access key exists and is active.
	keys := v.keys
	if opts.Keys != nil {
		keys = opts.Keys
	}
	cred, ok := keys.Lookup(ctx, a.accessKey)
	if !ok || !cred.Active || (!cred.ExpiresAt.IsZero() && !now.Before(cred.ExpiresAt)) {
		return Credential{}, newError(TypeInvalidAccessKey, "The access key id is unknown, revoked or expired.")
	}

	// 3. Scope: the date of X-Amz-Date, our region and service.
	if a.scopeDate != a.amzDate[:8] || a.region != v.region || a.service != v.service || a.terminator != "aws4_request" {
		want := a.amzDate[:8] + "/" + v.region + "/" + v.service + "/aws4_request"
		e := newError(TypeInvalidScope, "The credential scope "+quoteInput(a.scope)+" does not match; expected "+want+".")
		e.ExpectedScope = want
		return Credential{}, e
	}

	// 4. Time.
	if err := v.checkTime(&a, now); err != nil {
		return Credential{}, err
	}

	// 5. host (and x-amz-date in the header form) signed; signed headers
	// present. The pass that checks their presence builds the header lines
	// of the canonical request (step 6), which both of its forms share.
	if a.signs&signsHost == 0 {
		return Credential{}, malformed("SignedHeaders", "must include host")
	}
	if !a.presigned && a.signs&signsAmzDate == 0 {
		return Credential{}, malformed("SignedHeaders", "must include x-amz-date")
	}
	sc := getScratch()
	defer putScratch(sc)
	var seen signedValues
	var missing string
	sc.hdr, missing = appendCanonicalHeaders(sc.hdr[:0], r, a.signedHeaders, &seen, !opts.CanonicalHeaders)
	if missing != "" {
		return Credential{}, malformed("SignedHeaders", "lists "+missing+", which the request does not carry")
	}

	// 6. Signature over the canonical request.
	payload, streamCheck, err := v.payloadHash(r, &a, payloadHash, opts, seen.contentSHA256)
	if err != nil {
		return Credential{}, err
	}
	sk := v.cache.get(&cred, a.scopeDate)
	in := canonInput{
		method: r.Method, path: a.path, query: a.query, presigned: a.presigned,
		signedHeaders: a.signedHeaders, headers: sc.hdr, payload: payload,
	}
	var mac [sha256.Size]byte
	sc.cr, sc.sts, mac = signParts(sc.cr[:0], sc.sts[:0], r, &in, a.amzDate, a.scope, sk, sc)
	if !hmac.Equal(mac[:], a.signature[:]) {
		// Once more with the path and query exactly as sent (curl before
		// 8.3 signs the raw query, before 8.14 the once-encoded path). It is
		// skipped when it would be the same canonical request, and when the
		// path contains "%25": a strict canonical path re-encodes '%' as
		// %25, so accepting it raw would let a path differing from the
		// signed one by an extra level of encoding pass.
		matched := false
		if !strings.Contains(a.path, "%25") {
			in.raw = true
			var alt, altSTS []byte
			alt, altSTS, mac = signParts(sc.alt[:0], sc.altSTS[:0], r, &in, a.amzDate, a.scope, sk, sc)
			sc.alt, sc.altSTS = alt, altSTS
			matched = !bytes.Equal(alt, sc.cr) && hmac.Equal(mac[:], a.signature[:])
		}
		if !matched {
			e := newError(TypeSignatureMismatch, "The signature does not match the request. Compare the canonical request and string to sign below with your own; check the secret key, the region ("+v.region+") and the service ("+v.service+").")
			e.CanonicalRequest, e.StringToSign = string(sc.cr), string(sc.sts)
			return Credential{}, e
		}
	}
	// The signed digest binds the body: compare it now when the body's
	// digest is known, else check it while the body streams (below).
	wrapBody := false
	if streamCheck != "" {
		switch {
		case payloadHash != "" && payloadHash != UnsignedPayload:
			if payloadHash != streamCheck {
				return Credential{}, bodyMismatch()
			}
		case r.Body == nil || r.Body == http.NoBody:
			if streamCheck != EmptySHA256 {
				return Credential{}, bodyMismatch()
			}
		default:
			wrapBody = true
		}
	}

	// 7. Replay.
	if err := v.checkNonce(ctx, r, &a, now, opts, seen.nonce, cred.NonceShare); err != nil {
		return Credential{}, err
	}
	if wrapBody {
		r.Body = newVerifyingBody(r.Body, streamCheck)
	}
	return cred, nil
}

func (v *Verifier) checkTime(a *authRequest, now time.Time) *Error {
	var detail string
	switch {
	case a.presigned && now.After(a.date.Add(a.expires)):
		detail = "The presigned URL expired at " + a.date.Add(a.expires).Format(amzDateFormat) + "."
	case now.Before(a.date.Add(-v.maxSkew)):
		detail = "X-Amz-Date " + a.amzDate + " is more than " + v.maxSkew.String() + " ahead of the server time."
	case !a.presigned && now.After(a.date.Add(v.maxSkew)):
		detail = "X-Amz-Date " + a.amzDate + " is more than " + v.maxSkew.String() + " behind the server time."
	default:
		return nil
	}
	e := newError(TypeRequestExpired, detail+" Server time: "+now.UTC().Format(amzDateFormat)+".")
	e.ServerTime = now.UTC().Format(amzDateFormat)
	return e
}

// payloadHash decides the payload line of the canonical request (step 6) and
// returns the signed digest the body must still be checked against, if any.
// vals are the values of X-Amz-Content-Sha256 when it is signed.
func (v *Verifier) payloadHash(r *http.Request, a *authRequest, given string, opts VerifyOptions, vals []string) (payload, check string, err error) {
	if a.signs&signsContentSHA256 != 0 {
		if len(vals) != 1 {
			return "", "", malformed("X-Amz-Content-Sha256", "must appear exactly once")
		}
		h := strings.TrimSpace(vals[0])
		switch {
		case h == UnsignedPayload:
			if opts.DisallowUnsignedPayload {
				return "", "", malformed("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD is not accepted here; sign the SHA-256 of the body")
			}
			return h, "", nil
		case isHexSHA256(h):
			return h, h, nil
		default:
			return "", "", malformed("X-Amz-Content-Sha256", "must be the lower-case hex SHA-256 of the body or UNSIGNED-PAYLOAD")
		}
	}
	if given != "" {
		return given, "", nil
	}
	h, err := HashBody(r, v.maxBody)
	return h, "", err
}

// checkNonce is step 7. signedVals are the values of X-Portico-Nonce when it
// is signed (and so known to be present); share is the credential's
// NonceShare.
func (v *Verifier) checkNonce(ctx context.Context, r *http.Request, a *authRequest, now time.Time, opts VerifyOptions, signedVals []string, share string) error {
	signed := a.signs&signsNonce != 0
	vals, present := signedVals, signed
	if !signed {
		vals, _, _, present = headerValues(r, "x-portico-nonce", !opts.CanonicalHeaders)
	}
	if !present {
		if v.requireNonce || opts.RequireNonce {
			return newError(TypeNonceRequired, "This API requires a unique X-Portico-Nonce header on every request, included in SignedHeaders.")
		}
		return nil
	}
	if len(vals) != 1 {
		return malformed("X-Portico-Nonce", "must appear exactly once")
	}
	if !signed {
		return malformed("SignedHeaders", "must include x-portico-nonce when the request carries X-Portico-Nonce")
	}
	nonce := strings.TrimSpace(vals[0])
	if !validNonce(nonce) {
		return malformed("X-Portico-Nonce", "must be 1 to 128 visible ASCII characters")
	}
	until := a.date.Add(v.maxSkew)
	if a.presigned {
		until = a.date.Add(a.expires)
	}
	var fresh bool
	var err error
	if v.shares != nil {
		fresh, err = v.shares.ClaimShare(ctx, share, a.accessKey, nonce, until.Sub(now)+time.Second)
	} else {
		fresh, err = v.nonces.Claim(ctx, a.accessKey, nonce, until.Sub(now)+time.Second)
	}
	if errors.Is(err, ErrNonceKeyLimit) {
		// The key's own traffic, not the store, is the cause: the caller
		// can act on it, and other keys are unaffected.
		e := newError(TypeNonceCapacity, "This access key (with its organisation's other keys) holds as many unexpired X-Portico-Nonce values as the gateway keeps for one. A nonce is remembered until its request expires: X-Amz-Date + "+v.maxSkew.String()+" for a signed request, X-Amz-Date + X-Amz-Expires for a presigned URL. Send fewer nonce-bearing requests, or presign URLs with a shorter X-Amz-Expires, and retry later.")
		if le := (*NonceKeyLimitError)(nil); errors.As(err, &le) {
			e.RetryAfter = le.RetryAfter
		}
		return e
	}
	if err != nil {
		return fmt.Errorf("sigv4: claim nonce: %w", err)
	}
	if !fresh {
		return newError(TypeReplayedNonce, "This X-Portico-Nonce was already used with this access key; send a new nonce with every request.")
	}
	return nil
}

func validNonce(s string) bool {
	if s == "" || len(s) > maxNonceLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// canonInput is what a canonical request is built from, besides the headers
// read from the request.
type canonInput struct {
	method        string
	path, query   string // exactly as sent
	presigned     bool   // leave X-Amz-Signature out of the query
	raw           bool   // path and query as sent, not normalised and encoded
	signedHeaders string
	headers       []byte // the canonical header lines, or nil to read them from the request
	payload       string
}

// appendCanonicalRequest appends the SigV4 canonical request:
// method, URI, query, headers, signed header list and payload hash, one per
// line. Signer and Verifier share it, so they cannot drift apart.
func appendCanonicalRequest(dst []byte, r *http.Request, in *canonInput, sc *scratch) []byte {
	method := in.method
	if method == "" {
		method = http.MethodGet
	}
	dst = append(dst, method...)
	dst = append(dst, '\n')
	if in.raw {
		dst = append(dst, in.path...)
		dst = append(dst, '\n')
		dst = appendRawQuery(dst, in.query, in.presigned)
	} else {
		dst = appendCanonicalPath(dst, in.path)
		dst = append(dst, '\n')
		dst = appendCanonicalQuery(dst, in.query, in.presigned, sc)
	}
	dst = append(dst, '\n')
	if in.headers != nil {
		dst = append(dst, in.headers...)
	} else {
		dst, _ = appendCanonicalHeaders(dst, r, in.signedHeaders, nil, true)
	}
	dst = append(dst, '\n')
	dst = append(dst, in.signedHeaders...)
	dst = append(dst, '\n')
	return append(dst, in.payload...)
}

// appendStringToSign appends "AWS4-HMAC-SHA256\n<date>\n<scope>\n<hex sha256(cr)>".
func appendStringToSign(dst []byte, amzDate, scope string, cr []byte) []byte {
	sum := sha256.Sum256(cr)
	dst = append(dst, Algorithm+"\n"...)
	dst = append(dst, amzDate...)
	dst = append(dst, '\n')
	dst = append(dst, scope...)
	dst = append(dst, '\n')
	return hex.AppendEncode(dst, sum[:])
}

// signParts builds the canonical request into cr, the string to sign into
// sts, and returns both with the signature.
func signParts(cr, sts []byte, r *http.Request, in *canonInput, amzDate, scope string, sk *signingKey, sc *scratch) ([]byte, []byte, [sha256.Size]byte) {
	cr = appendCanonicalRequest(cr, r, in, sc)
	sts = appendStringToSign(sts, amzDate, scope, cr)
	return cr, sts, sk.mac(sts, sc.mac)
}

// scratch holds the buffers of one verification, reused through a pool so
// the hot path does not allocate them.
type scratch struct {
	cr, sts     []byte
	hdr         []byte // canonical header lines
	alt, altSTS []byte
	q           []byte
	pairs       []qpair
	mac         *macScratch
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{
		cr: make([]byte, 0, 1024), sts: make([]byte, 0, 256), hdr: make([]byte, 0, 512),
		q: make([]byte, 0, 256), pairs: make([]qpair, 0, 16), mac: newMACScratch(),
	}
}}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

// putScratch returns sc to the pool unless a huge request grew its buffers.
func putScratch(sc *scratch) {
	const keep = 64 << 10
	if cap(sc.cr) > keep || cap(sc.hdr) > keep || cap(sc.alt) > keep || cap(sc.q) > keep || cap(sc.pairs) > 4096 {
		return
	}
	scratchPool.Put(sc)
}
