package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/portico-dev/portico/gateway/limits"
	"github.com/portico-dev/portico/gateway/sigv4"
)

// RequestIDHeader is echoed on every gateway response.
const RequestIDHeader = "X-Portico-Request-Id"

// Defaults when a version or operation sets none.
const (
	DefaultMaxBodyBytes   = 10 << 20
	DefaultTimeout        = 30 * time.Second
	DefaultConnectTimeout = 2 * time.Second
)

// Options configure a Handler.
type Options struct {
	// Region is the SigV4 region of credential scopes.
	Region string
	// Nonces remembers X-Portico-Nonce values; nil keeps them in memory.
	Nonces sigv4.NonceStore
	// Transport forwards to upstreams; nil uses a tuned http.Transport
	// whose dialer applies ConnectTimeout and AllowPrivateUpstreams. A
	// Transport given here does neither.
	Transport http.RoundTripper
	// AllowPrivateUpstreams lets the gateway connect to loopback, private,
	// link-local and other internal addresses. Leave it false when tenants
	// define upstreams (multi-tenant production): the check runs at
	// connect time, after DNS resolution, so DNS rebinding cannot bypass it.
	AllowPrivateUpstreams bool
	// HealthCheckInterval is how often RunHealthChecks probes upstreams
	// that set a HealthCheckPath; zero means DefaultHealthCheckInterval.
	HealthCheckInterval time.Duration
	// BreakerFailures consecutive failures (connection failures, timeouts,
	// 502/503/504 answers) open a target's circuit breaker; zero means
	// DefaultBreakerFailures.
	BreakerFailures int
	// BreakerCooldown is how long an open breaker keeps its target out of
	// rotation before a probe request; zero means DefaultBreakerCooldown.
	BreakerCooldown time.Duration
	// Logger receives access and error logs.
	Logger *slog.Logger
	// Now returns the current time; tests override it.
	Now func() time.Time
	// Meter receives a usage event for every call that passed the
	// subscription check; nil meters nothing.
	Meter Meter
	// Registry receives the gateway's Prometheus metrics; nil records none.
	Registry prometheus.Registerer
	// Protection is the per-client-IP defence; nil uses DefaultProtection.
	Protection *Protection
	// Redis, when set, shares rate limits and quotas across every node that
	// uses it: budget is leased from Redis in blocks (see gateway/limits).
	// A *redis.Client must have ContextTimeoutEnabled.
	Redis redis.UniversalClient
	// RedisFailClosed refuses calls beyond the budget already leased while
	// Redis fails; by default (fail open) each node then enforces the
	// limits on its own.
	RedisFailClosed bool
	// RedisTimeout bounds each lease round trip (default 100ms).
	RedisTimeout time.Duration
	// RedisPrefix prefixes the Redis keys (default "portico:").
	RedisPrefix string
	// TokenSeed is the 32-byte seed of the Ed25519 key that signs OAuth2
	// access tokens; every node must share it (derive it from the master
	// key). Nil generates one, so tokens then work on this node only.
	TokenSeed []byte
	// PreviousTokenSeeds are the seeds of a master-key rotation's previous
	// keys: tokens they signed still verify (until they expire, within
	// TokenTTL) and the JWKS still publishes their keys; new tokens are
	// signed with TokenSeed's.
	PreviousTokenSeeds [][]byte
}

// Handler is the gateway's HTTP entry point: route, authenticate, check
// the subscription, then answer from a mock or forward with the backend
// signature. Everything it needs is in the Store's current snapshot; it
// never reads a database.
type Handler struct {
	store    *Store
	verifier *sigv4.Verifier
	proxy    *httputil.ReverseProxy
	ups      *upstreams
	log      *slog.Logger
	now      func() time.Time
	limits   *enforcer
	meter    Meter
	metrics  *metrics
	protect  *protector
	// tokens signs access tokens; prevTokens are a master-key rotation's
	// previous keys, which still verify; jwks publishes them all (built
	// once: it never changes while the handler lives).
	tokens     *tokenIssuerKeys
	prevTokens []*tokenIssuerKeys
	jwks       []byte

	// h1: the upstream transport is h1Transport, which ends a call at its
	// fwdCall's deadline without a timer context.
	h1 bool

	healthInterval time.Duration
	// idle closes upstream connections idle past their timeout for hosts
	// no longer called (the pool itself only looks when a host is used).
	idle         interface{ closeIdle(time.Time) }
	healthClient *http.Client

	// quotaLedger is the ledger RestoreQuotas last read, for restoring
	// again when Redis loses its counters; lostRestore is when that last
	// began (unix nanoseconds).
	quotaLedger atomic.Pointer[QuotaLedger]
	lostRestore atomic.Int64
}

// snapshotKeys serves the verifier's key lookups from one snapshot: the
// handler passes the snapshot it routed the request with, so the whole
// request sees one configuration. A credential's Owner is the key's record
// (no allocation), which Snapshot.key turns into the Key.
type snapshotKeys Snapshot

// Lookup implements sigv4.KeyStore.
func (k *snapshotKeys) Lookup(_ context.Context, accessKey string) (sigv4.Credential, bool) {
	s := (*Snapshot)(k)
	i := s.keyIndexOf(accessKey)
	if i < 0 {
		return sigv4.Credential{}, false
	}
	r := &s.keys[i]
	// An organisation's keys share one share of the nonce store. Org ids
	// never look like access keys. A record's secret is the snapshot's:
	// its signing-key slot lives as long.
	return sigv4.Credential{AccessKey: s.str(r.access), Secret: s.secret(r.secret), Owner: r, Active: true, ExpiresAt: s.time(r.expires),
		NonceShare: s.name(r.org), Slot: &s.keySlots[i]}, true
}

// storeKeys is the verifier's default key store, the store's current
// snapshot; requests name their own (snapshotKeys).
type storeKeys struct{ store *Store }

// Lookup implements sigv4.KeyStore.
func (k storeKeys) Lookup(ctx context.Context, accessKey string) (sigv4.Credential, bool) {
	s := k.store.Load()
	if s == nil {
		return sigv4.Credential{}, false
	}
	return (*snapshotKeys)(s).Lookup(ctx, accessKey)
}

// NewHandler returns a gateway handler serving the store's snapshots.
func NewHandler(store *Store, opts Options) (*Handler, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Nonces == nil {
		opts.Nonces = sigv4.NewMemoryNonces(1 << 20)
	}
	v, err := sigv4.New(sigv4.Config{Region: opts.Region, Keys: storeKeys{store}, Nonces: opts.Nonces, Now: opts.Now, MaxBodyBytes: DefaultMaxBodyBytes})
	if err != nil {
		return nil, err
	}
	var rates *limits.RateLeaser
	var quotas *limits.Leaser
	var rstate *redisState
	if opts.Redis != nil {
		rstate = &redisState{log: opts.Logger}
		if rates, quotas, err = newSharedLimits(opts, rstate); err != nil {
			return nil, err
		}
	}
	enf, err := newEnforcer(rates, quotas)
	if err != nil {
		return nil, err
	}
	h := &Handler{store: store, verifier: v, log: opts.Logger, now: opts.Now, limits: enf, meter: opts.Meter}
	seed := opts.TokenSeed
	if seed == nil {
		seed = make([]byte, 32)
		rand.Read(seed)
	}
	if h.tokens, err = newTokenKeys(seed); err != nil {
		return nil, err
	}
	for _, s := range opts.PreviousTokenSeeds {
		k, err := newTokenKeys(s)
		if err != nil {
			return nil, err
		}
		h.prevTokens = append(h.prevTokens, k)
	}
	h.jwks = jwksDocument(append([]*tokenIssuerKeys{h.tokens}, h.prevTokens...))
	prot := DefaultProtection
	if opts.Protection != nil {
		prot = *opts.Protection
	}
	if h.protect, err = newProtector(prot); err != nil {
		return nil, err
	}
	if opts.Registry != nil {
		if h.metrics, err = newMetrics(opts.Registry, store, opts.Now); err != nil {
			return nil, err
		}
		if rstate != nil {
			if err := rstate.register(opts.Registry, rates, quotas); err != nil {
				return nil, err
			}
		}
	}
	if rstate != nil {
		restore := h.restoreLostQuotas
		rstate.restore.Store(&restore)
	}
	h.ups = newUpstreams(store, opts.Logger, opts.BreakerFailures, opts.BreakerCooldown)
	h.healthInterval = opts.HealthCheckInterval
	if h.healthInterval <= 0 {
		h.healthInterval = DefaultHealthCheckInterval
	}
	tr := opts.Transport
	if tr == nil {
		tr = h.newTransport(opts.AllowPrivateUpstreams)
	}
	h.idle, _ = tr.(interface{ closeIdle(time.Time) })
	_, h.h1 = tr.(*h1Transport)
	h.healthClient = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	h.proxy = h.newProxy(tr)
	if opts.Registry != nil {
		if err := opts.Registry.Register(newHealthCollector(h.ups)); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// client returns the caller's address (behind trusted proxies, from
// X-Forwarded-For), whose network keys per-IP protection (protector.key),
// and its text, noted whole for the access log.
func (h *Handler) client(r *http.Request) (netip.Addr, string) {
	if len(h.protect.cfg.TrustedProxies) == 0 {
		ip := clientIP(r)
		a, _ := netip.ParseAddr(ip)
		return a.Unmap(), ip
	}
	a := clientAddr(r, h.protect.cfg.TrustedProxies)
	return a, a.String()
}

// Shutdown hands budget leased from Redis back so that other nodes can use
// it; call it after the servers stopped taking requests.
func (h *Handler) Shutdown(ctx context.Context) {
	h.limits.release(ctx)
}

func newRequestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// problem writes a rejection and notes its reason for the metrics.
func (h *Handler) problem(w http.ResponseWriter, status int, code, detail, id string, ext map[string]string) {
	if mw, ok := w.(*meteredWriter); ok {
		mw.reason = code
	}
	writeProblem(w, status, code, detail, id, ext)
}

func writeProblem(w http.ResponseWriter, status int, code, detail, id string, ext map[string]string) {
	body := map[string]any{
		"type": "https://portico.dev/problems/" + code, "title": http.StatusText(status), "status": status,
		"detail": detail, "request_id": id,
	}
	for k, v := range ext {
		body[k] = v
	}
	w.Header().Set("Content-Type", "application/problem+json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// noConfiguration answers 503 before the node has loaded a configuration,
// which it does within seconds of starting.
func (h *Handler) noConfiguration(w http.ResponseWriter, id string) {
	w.Header().Set("Retry-After", "1")
	h.problem(w, http.StatusServiceUnavailable, "no-configuration", "The gateway has no configuration yet.", id, nil)
}

// authChallenges are the WWW-Authenticate challenges of a 401 that is not
// about a bearer token (RFC 9110 §11.6.1 asks one of every 401): the two
// Authorization schemes the gateway takes. The slice is shared, never
// written.
var authChallenges = []string{`AWS4-HMAC-SHA256 realm="portico"`, `Bearer realm="portico"`}

// authenticate accepts an app code (appcode.go), an OAuth2 bearer token or
// an AK/SK signature (the body hashed within maxBody) and returns the
// caller's key, with its record when it is one of snap's access keys; on
// failure it has written the problem (and counted it against ck, the
// client's per-IP key, when it was a bad credential).
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request, snap *Snapshot, api *APIVersion, ck clientKey, id string, maxBody int64) (Key, *keyRec, string, bool) {
	appCode := field(r.Header, AppCodeHeader) != ""
	bearer := false
	if a := field(r.Header, "Authorization"); len(a) >= len("Bearer ") && strings.EqualFold(a[:len("Bearer ")], "Bearer ") {
		bearer = true // the scheme is case-insensitive (RFC 9110 §11.1)
	}
	if api.Settings.RequireNonce && (appCode || bearer) {
		// Neither an app code nor a token can carry a signed nonce, so
		// neither can make a call unreplayable, which the version asks
		// for. Not a bad credential: not counted against the client.
		h.problem(w, http.StatusForbidden, sigv4.TypeNonceRequired,
			"This API version requires every call to be signed with the app's access key (AWS SigV4) and to carry "+sigv4.NonceHeader+"; app codes and access tokens cannot carry a nonce.", id, nil)
		return Key{}, nil, "", false
	}
	if appCode {
		k, bodyHash, ok := h.appCodeKey(w, r, snap, api, ck, id, maxBody)
		return k, nil, bodyHash, ok
	}
	if bearer {
		k, rec, err := h.bearerKey(r, snap)
		if err != nil {
			h.protect.failed(ck, h.now())
			w.Header().Set("WWW-Authenticate", `Bearer realm="portico", error="invalid_token"`)
			h.problem(w, http.StatusUnauthorized, "invalid-token", "The access token is invalid or expired, or its key was revoked.", id, nil)
			return Key{}, nil, "", false
		}
		// The body still binds the backend signature: hash it (bounded).
		bodyHash, ok := h.hashBody(w, r, maxBody, id)
		return k, rec, bodyHash, ok
	}
	// A body that cannot be read (the client broke it off) is the
	// client's error, as for the other methods: not the 503 below, which
	// is for a verifier that cannot work.
	bodyHash, ok := h.hashBody(w, r, maxBody, id)
	if !ok {
		return Key{}, nil, "", false
	}
	// The servers in front of the handler key every field by its
	// canonical name (the tests' requests are built as a client's).
	cred, err := h.verifier.Verify(r.Context(), r, bodyHash, sigv4.VerifyOptions{RequireNonce: api.Settings.RequireNonce,
		Keys: (*snapshotKeys)(snap), CanonicalHeaders: true})
	if err != nil {
		var se *sigv4.Error
		if errors.As(err, &se) {
			// A bad credential counts against the client; a good
			// signature without the nonce the version requires is a
			// client's mistake, not a guess.
			if (se.Status == http.StatusForbidden || se.Status == http.StatusUnauthorized) && se.Type != sigv4.TypeNonceRequired {
				h.protect.failed(ck, h.now())
			}
			if se.Status == http.StatusUnauthorized {
				w.Header()["Www-Authenticate"] = authChallenges
			}
			if se.RetryAfter > 0 {
				limits.WriteRetryAfter(w.Header(), se.RetryAfter)
			}
			h.problem(w, se.Status, se.Type, se.Detail, id, se.Extensions())
			return Key{}, nil, "", false
		}
		h.log.ErrorContext(r.Context(), "gateway auth failed", "request_id", id, "err", err)
		w.Header().Set("Retry-After", "1") // the nonce store (Redis) failing: usually brief
		h.problem(w, http.StatusServiceUnavailable, "unavailable", "The gateway cannot verify requests right now.", id, nil)
		return Key{}, nil, "", false
	}
	rec := cred.Owner.(*keyRec)
	return snap.key(rec), rec, bodyHash, true
}

// field is h.Get(name) for a canonical name, without canonicalising it
// again on every call (the gateway's own header names are constants in
// canonical form, and servers key fields by that form).
func field(h http.Header, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := newRequestID()
	// Every request gets one structured access-log line (never the query
	// string or headers: they may carry credentials) and its metrics.
	// start is also the "now" of the per-IP and limit checks and the
	// backend signature's timestamp: one clock read serves them all.
	start := h.now()
	mw := &meteredWriter{ResponseWriter: w, requestID: id}
	mw.idValue[0] = id
	w.Header()[RequestIDHeader] = mw.idValue[:] // canonical name; no slice allocated
	w = mw
	defer func() {
		st := mw.finalStatus()
		d := mw.ended(h.now).Sub(start)
		if h.metrics != nil {
			// An answer that broke off has a reason for the log, but
			// was admitted and answered: no rejection (the upstream's
			// share counts in upstream_errors_total).
			if mw.reason != "" && !mw.broken() {
				h.metrics.reject(mw.reason)
			}
			h.metrics.observe(mw.route, st, d)
		}
		if !h.log.Enabled(r.Context(), slog.LevelInfo) {
			return
		}
		provider, api := mw.labels()
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "gateway",
			slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("provider", provider), slog.String("api", api), slog.Int("status", st),
			slog.String("reason", mw.reason), slog.Int64("bytes_out", mw.bytesOut()), slog.Duration("duration", d),
			slog.String("client_ip", mw.clientIP))
	}()
	if r.URL.Path == "/healthz" {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}` + "\n"))
		return
	}
	addr, ip := h.client(r)
	mw.clientIP = ip
	if !h.protect.cfg.IPs.Empty() && !h.protect.cfg.IPs.Admits(addr) {
		h.problem(w, http.StatusForbidden, "ip-denied", "Your address may not use this gateway.", id, nil)
		return
	}
	ck := h.protect.key(addr)
	if code := h.protect.enter(w, ck, start, id); code != "" {
		mw.reason = code
		return
	}
	defer h.protect.leave(ck)
	switch r.URL.Path {
	case "/oauth/token":
		h.serveToken(w, r, id, ck)
		return
	case "/.well-known/jwks.json":
		h.serveJWKS(w, r, id)
		return
	}
	snap := h.store.Load()
	if snap == nil {
		h.noConfiguration(w, id)
		return
	}
	if r.TLS != nil && snap.misdirected(r) {
		h.problem(w, http.StatusMisdirectedRequest, "misdirected-request",
			"This connection was opened for another host name than the request's Host; open one for "+clip(r.Host)+".", id, nil)
		return
	}
	// A CORS preflight carries no credentials: a version with CORS
	// settings answers it here, before authentication.
	if isPreflight(r) && h.servePreflight(w, r, snap, addr, id) {
		return
	}
	m, err := snap.Router().LookupRequest(r)
	if err != nil {
		var re *RouteError
		if errors.As(err, &re) {
			if re.Allow != "" {
				w.Header().Set("Allow", re.Allow)
			}
			if re.API != nil {
				mw.route = re.API
				setDeprecation(w.Header(), re.API)
				setCORS(w.Header(), re.API, r.Header)
			}
			h.problem(w, re.Status, re.Code, re.Detail, id, nil)
			return
		}
		h.problem(w, http.StatusInternalServerError, "internal", "Internal error.", id, nil)
		return
	}
	api, op := m.API, m.Operation
	mw.route = api
	// From here every answer, the gateway's refusals too, is one a web
	// app on an allowed origin may read.
	setCORS(w.Header(), api, r.Header)
	if !api.ips.Empty() && !api.ips.Admits(addr) {
		h.problem(w, http.StatusForbidden, "ip-denied", "Your address may not call "+api.OrgSlug+"/"+api.APISlug+".", id, nil)
		return
	}

	// Authentication: the body is hashed within the route's limit first.
	maxBody := api.Settings.MaxBodyBytes
	if op.MaxBodyBytes > 0 {
		maxBody = op.MaxBodyBytes
	}
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	if r.ContentLength > maxBody {
		h.problem(w, http.StatusRequestEntityTooLarge, "body-too-large", "The request body is larger than "+strconv.FormatInt(maxBody, 10)+" bytes.", id, nil)
		return
	}
	setDeprecation(w.Header(), api)
	if api.Settings.Public {
		h.servePublic(w, r, m, id, maxBody, start)
		return
	}
	key, rec, bodyHash, ok := h.authenticate(w, r, snap, api, ck, id, maxBody)
	if !ok {
		return
	}
	if key.Stage != "" && key.Stage != m.Stage {
		h.problem(w, http.StatusForbidden, "wrong-stage", "This key belongs to a "+key.Stage+" app; it cannot call the "+m.Stage+" environment.", id, nil)
		return
	}

	// Subscription.
	sub := snap.subscriptionFor(rec, key.AppID, api.APIID)
	switch {
	case sub == nil:
		h.problem(w, http.StatusForbidden, "no-subscription", "The app has no subscription to "+api.OrgSlug+"/"+api.APISlug+".", id, nil)
		return
	case sub.Status == SubPendingApproval || sub.Status == SubPendingPayment:
		h.problem(w, http.StatusForbidden, "subscription-pending", "The app's subscription is "+strings.ReplaceAll(string(sub.Status), "_", " ")+".", id, nil)
		return
	case sub.Status == SubSuspended:
		h.problem(w, http.StatusForbidden, "subscription-suspended", "The provider suspended this subscription.", id, nil)
		return
	case !sub.Grants(api.Version):
		h.problem(w, http.StatusForbidden, "no-subscription", "The app's plan does not include "+api.Version+".", id, nil)
		return
	}

	if ok, reason := h.limits.admit(r.Context(), mw, sub, op.Billable, start, id); !ok {
		mw.reason = reason
		return
	}
	// From here on the call counts: it is metered whatever the answer.
	if h.meter != nil {
		defer func() {
			h.meter.Record(UsageEvent{Time: start, ProviderOrgID: api.OrgID, APIID: api.APIID, Version: api.Version, OperationID: op.ID,
				PartnerOrgID: key.OrgID, AppID: key.AppID, SubscriptionID: sub.ID, AccessKey: key.AccessKey, Status: mw.finalStatus(),
				Latency: mw.ended(h.now).Sub(start), BytesIn: mw.bytesIn(r), BytesOut: mw.bytesOut(), Billable: op.Billable, Broken: mw.broken(), Slot: sub.meterSlot()})
		}()
	}
	if api.Mock {
		h.serveMock(w, op)
		return
	}
	h.forward(w, r, m, &key, sub, id, bodyHash, start)
}

// setDeprecation marks every answer for a deprecated version, public or
// not, whatever its status: RFC 9745's Deprecation (the date as @<unix
// seconds>) and RFC 8594's Sunset (an HTTP-date).
func setDeprecation(h http.Header, api *APIVersion) {
	if api.State != StateDeprecated {
		return
	}
	if api.DeprecatedAt != nil {
		h.Set("Deprecation", "@"+strconv.FormatInt(api.DeprecatedAt.Unix(), 10))
	}
	if api.SunsetAt != nil {
		h.Set("Sunset", api.SunsetAt.UTC().Format(http.TimeFormat))
	}
}

// anonymous and noSubscription stand for the caller of a public version:
// the backend signature then names no consumer, app or plan. Read only.
var (
	anonymous      Key
	noSubscription Subscription
)

// servePublic answers a call to a public version: no credentials, no
// subscription, no plan limits, no metering.
func (h *Handler) servePublic(w http.ResponseWriter, r *http.Request, m Match, id string, maxBody int64, now time.Time) {
	if m.API.Mock {
		h.serveMock(w, m.Operation)
		return
	}
	if bodyHash, ok := h.hashBody(w, r, maxBody, id); ok {
		h.forward(w, r, m, &anonymous, &noSubscription, id, bodyHash, now)
	}
}

// hashBody reads the body (bounded by maxBody) and returns its SHA-256, which
// binds the backend signature; on failure it has written the problem.
func (h *Handler) hashBody(w http.ResponseWriter, r *http.Request, maxBody int64, id string) (string, bool) {
	bodyHash, err := sigv4.HashBody(r, maxBody)
	if err != nil {
		var se *sigv4.Error
		if errors.As(err, &se) {
			h.problem(w, se.Status, se.Type, se.Detail, id, nil)
		} else {
			h.problem(w, http.StatusBadRequest, "unreadable-body", "The request body could not be read.", id, nil)
		}
		return "", false
	}
	return bodyHash, true
}

func (h *Handler) serveMock(w http.ResponseWriter, op *Operation) {
	if op.Mock == nil || op.Mock.Status == 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("{}\n"))
		return
	}
	if op.Mock.ContentType != "" {
		w.Header().Set("Content-Type", op.Mock.ContentType)
	}
	w.WriteHeader(op.Mock.Status)
	w.Write(op.Mock.Body)
}
