package gateway

import (
	"errors"
	"fmt"
	"hash/maphash"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/portico-dev/portico/gateway/backendsig"
	"github.com/portico-dev/portico/gateway/sigv4"
)

// Stages (environments) an API version can be deployed to. Requests go to
// production unless they carry StageHeader: test.
const (
	StageProduction = "production"
	StageTest       = "test"
)

// StageHeader selects the environment a request is routed to.
const StageHeader = "X-Portico-Stage"

// VersionState is an API version's lifecycle state as the gateway sees it.
type VersionState string

// Lifecycle states. Draft versions can only be deployed to test; offline
// versions answer 410 Gone on every path.
const (
	StateDraft      VersionState = "draft"
	StatePublished  VersionState = "published"
	StateDeprecated VersionState = "deprecated"
	StateOffline    VersionState = "offline"
)

// SubscriptionStatus says whether a subscription may call.
type SubscriptionStatus string

// Subscription statuses the gateway knows. Only active subscriptions may
// call; the others are present so the gateway can say why a call is refused.
const (
	SubPendingApproval SubscriptionStatus = "pending_approval"
	SubPendingPayment  SubscriptionStatus = "pending_payment"
	SubActive          SubscriptionStatus = "active"
	SubSuspended       SubscriptionStatus = "suspended"
)

// Config is the gateway's whole configuration: a self-contained value the
// control plane compiles from its database and hands over. The gateway never
// reads the database; it serves from a Snapshot compiled from a Config.
//
// A Config handed to Compile must not be changed afterwards: the resulting
// Snapshot keeps its APIs (it copies the rest, so the Config can be dropped).
type Config struct {
	// Version increases with every configuration the control plane
	// produces; nodes report it so operators can see who is behind.
	Version uint64 `json:"version"`
	// GeneratedAt is when the control plane built the configuration.
	GeneratedAt time.Time `json:"generated_at"`
	// Domain is PORTICO_GATEWAY_DOMAIN. When set, a request to
	// {org}.{Domain}/{api}/{version}/… is routed to organisation {org}.
	// Empty disables host-based routing; path-based routing
	// /{org}/{api}/{version}/… always works.
	Domain string `json:"domain,omitempty"`
	// CustomDomains maps a provider's own host name (no port) to its
	// organisation slug; requests to it are routed like {org}.{Domain}.
	CustomDomains map[string]string `json:"custom_domains,omitempty"`
	// Certificates are the custom domains' certificates by host name,
	// served by the TLS listener for a matching SNI. Key material never
	// appears in JSON or String output.
	Certificates map[string]Certificate `json:"-"`
	// APIs lists every deployed API version, one entry per environment.
	APIs []APIVersion `json:"apis"`
	// Keys holds the active partner app keys by access key id. Revoked keys
	// are left out; expired ones may be present and carry ExpiresAt.
	Keys map[string]Key `json:"keys"`
	// Subscriptions lists the live subscriptions with their plan's terms.
	Subscriptions []Subscription `json:"subscriptions"`
	// AppCodes holds the active app codes by the hex SHA-256 of the code
	// (the gateway never sees a code itself). They authenticate calls to
	// versions whose Settings.AllowAppCode is set.
	AppCodes map[string]AppCode `json:"app_codes,omitempty"`
}

// APIVersion is one version of one API as deployed to one environment: what
// the control plane stores as a revision's snapshot.
type APIVersion struct {
	OrgID     string `json:"org_id"`
	OrgSlug   string `json:"org_slug"`
	APIID     string `json:"api_id"`
	APISlug   string `json:"api_slug"`
	APIName   string `json:"api_name"`
	VersionID string `json:"version_id"`
	// Version is the path segment that names the version, such as "v1".
	Version string `json:"version"`
	// Stage is StageProduction or StageTest.
	Stage string       `json:"stage"`
	State VersionState `json:"state"`
	// SunsetAt is set on deprecated versions; the gateway sends it in the
	// Sunset header (RFC 8594).
	SunsetAt *time.Time `json:"sunset_at,omitempty"`
	// DeprecatedAt is when a deprecated version was deprecated; the
	// gateway sends it in the Deprecation header (RFC 9745), which carries
	// no other form, so without it the header is left out.
	DeprecatedAt *time.Time `json:"deprecated_at,omitempty"`
	// Mock versions answer from their operations' mock responses and have
	// no upstream.
	Mock     bool     `json:"mock"`
	Upstream Upstream `json:"upstream"`
	Settings Settings `json:"settings"`
	// Operations are matched against the path after /{org}/{api}/{version}.
	Operations []Operation `json:"operations"`
	// BackendKeys sign requests forwarded to the backend; the first one
	// signs, and up to two are active during a rotation.
	BackendKeys []BackendKey `json:"backend_keys"`

	ips    IPList      // Settings' lists, parsed by Compile
	cors   *corsPolicy // Settings' CORS, compiled by Compile; nil without
	series *apiSeries  // made by Compile
}

// Upstream is where a version's calls are forwarded.
type Upstream struct {
	Targets []Target `json:"targets"`
	// ConnectTimeout bounds connecting to a target; zero means the
	// gateway's default. When versions share a target host:port, the
	// longest of their timeouts applies to it.
	ConnectTimeout time.Duration `json:"connect_timeout"`
	// Timeout bounds the whole upstream response; zero means the gateway's
	// default. An operation's own Timeout overrides it.
	Timeout time.Duration `json:"timeout"`
	// Retries is how often an idempotent request is retried on another
	// target after a connection failure (0–5).
	Retries int `json:"retries"`
	// HealthCheckPath, when set, is probed on each target to take failing
	// ones out of rotation.
	HealthCheckPath string `json:"health_check_path,omitempty"`
}

// Target is one upstream base URL with a load-balancing weight. Weight 0
// drains the target: it receives no new calls.
type Target struct {
	URL    string `json:"url"`
	Weight int    `json:"weight"`
}

// Settings are version-wide request policies.
type Settings struct {
	// MaxBodyBytes caps request bodies; zero means the gateway's default.
	MaxBodyBytes int64 `json:"max_body_bytes"`
	// RequireNonce makes X-Portico-Nonce mandatory on every call.
	RequireNonce bool `json:"require_nonce"`
	// AllowAppCode lets clients that cannot sign authenticate with
	// X-Portico-App-Code.
	AllowAppCode bool `json:"allow_app_code"`
	// Public versions need no credentials: calls skip authentication, the
	// subscription check, plan limits and metering (per-IP protection and
	// IP lists still apply) and reach the backend signed without a
	// consumer, app or plan.
	Public bool `json:"public,omitempty"`
	// IPAllow and IPDeny are CIDRs or addresses. A denied client is refused
	// (403 ip-denied); when IPAllow is not empty, so is a client outside it.
	IPAllow []string `json:"ip_allow,omitempty"`
	IPDeny  []string `json:"ip_deny,omitempty"`
	// CORSOrigins are the web origins whose pages may call the version
	// from a browser: "*" alone for any, or up to origin.MaxOrigins origins
	// as origin.Normalize writes them. The gateway then answers CORS
	// preflights itself and marks the answers to those origins; empty
	// leaves CORS alone.
	CORSOrigins []string `json:"cors_origins,omitempty"`
	// CORSMaxAge is how long, in seconds (0–origin.MaxAge), a browser may
	// keep a preflight's answer.
	CORSMaxAge int `json:"cors_max_age,omitempty"`
}

// Operation is one (method, path template) a version serves.
type Operation struct {
	// ID is the OpenAPI operationId, unique within the version when set.
	ID string `json:"id"`
	// Method is an HTTP method in upper case, or "*" for any method.
	Method string `json:"method"`
	// Path is a template relative to the version: "/pets", "/pets/{id}",
	// "/files/*". A {name} parameter fills exactly one non-empty segment;
	// a final "/*" matches the rest of the path, including nothing.
	Path string `json:"path"`
	// Timeout overrides the upstream timeout when non-zero.
	Timeout time.Duration `json:"timeout,omitempty"`
	// MaxBodyBytes overrides the version's limit when non-zero.
	MaxBodyBytes int64 `json:"max_body_bytes,omitempty"`
	// Billable calls count against quotas and are metered for billing.
	Billable bool `json:"billable"`
	// Mock is the canned answer of a mock version's operation.
	Mock *MockResponse `json:"mock,omitempty"`
}

// MockResponse is a canned answer.
type MockResponse struct {
	Status      int    `json:"status"`
	ContentType string `json:"content_type,omitempty"`
	Body        []byte `json:"body,omitempty"`
}

// BackendKey is a backend signing key with its secret, unsealed by the
// control plane for the gateway.
type BackendKey struct {
	ID     string `json:"id"`
	Secret []byte `json:"-"`

	signer *backendsig.Signer // built by Compile
}

// String implements fmt.Stringer without the secret.
func (k BackendKey) String() string { return "backend key " + k.ID }

// GoString implements fmt.GoStringer without the secret.
func (k BackendKey) GoString() string { return "gateway.BackendKey{" + k.ID + "}" }

// Key is a partner app's access key.
type Key struct {
	AccessKey string `json:"access_key"`
	// Secret is the plain secret key; it never appears in JSON or in
	// String/GoString output.
	Secret []byte `json:"-"`
	AppID  string `json:"app_id"`
	// OrgID is the partner organisation that owns the app.
	OrgID string `json:"org_id"`
	// Stage is the app's environment when the key is limited to one; empty
	// means any.
	Stage string `json:"stage,omitempty"`
	// ExpiresAt, when non-zero, is the instant the key stops working.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Active reports whether the key may sign a request at now.
func (k *Key) Active(now time.Time) bool { return k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt) }

// String implements fmt.Stringer without the secret.
func (k Key) String() string { return "access key " + k.AccessKey }

// GoString implements fmt.GoStringer without the secret.
func (k Key) GoString() string { return "gateway.Key{" + k.AccessKey + "}" }

// Subscription lets one app call some versions of one API on a plan's terms.
type Subscription struct {
	ID    string `json:"id"`
	AppID string `json:"app_id"`
	// OrgID is the partner organisation.
	OrgID         string             `json:"org_id"`
	ProviderOrgID string             `json:"provider_org_id"`
	APIID         string             `json:"api_id"`
	PlanID        string             `json:"plan_id"`
	Status        SubscriptionStatus `json:"status"`
	// Versions are the API versions the plan grants.
	Versions []string `json:"versions"`
	Limits   Limits   `json:"limits"`
	// PeriodStart and PeriodEnd bound the period included calls and the
	// month quota count in.
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`

	// cells, on a snapshot's subscriptions, is where the enforcer keeps
	// the subscription's limiter state at hand (enforce.go).
	cells *subCells
}

// meterSlot is the subscription's MeterSlot, or nil off a snapshot.
func (s *Subscription) meterSlot() *MeterSlot {
	if s.cells == nil {
		return nil
	}
	return &s.cells.meter
}

// Grants reports whether the subscription covers the API version.
func (s *Subscription) Grants(version string) bool {
	for _, v := range s.Versions {
		if v == version {
			return true
		}
	}
	return false
}

// Limits are a plan's enforcement terms.
type Limits struct {
	// RequestsPerSecond is the sustained rate; zero means no rate limit.
	RequestsPerSecond int `json:"requests_per_second"`
	// Burst is how many requests may arrive at once; zero means
	// RequestsPerSecond.
	Burst int `json:"burst"`
	// DayQuota and MonthQuota cap calls per UTC day and per period; zero
	// means no cap.
	DayQuota   int64 `json:"day_quota"`
	MonthQuota int64 `json:"month_quota"`
	// IncludedCalls are the calls a period's price covers.
	IncludedCalls int64 `json:"included_calls"`
	// HardLimit refuses calls beyond IncludedCalls; otherwise they are
	// billed at OverageCentsPer1000.
	HardLimit           bool  `json:"hard_limit"`
	OverageCentsPer1000 int64 `json:"overage_cents_per_1000"`
}

// Snapshot is a compiled, immutable configuration: lookup tables built once
// by Compile and read concurrently by every request without locks. It does
// not keep the Config: keys and subscriptions are copied into pointer-free
// tables (table.go), so the garbage collector has next to nothing to mark
// however large the configuration, and what the Config held besides is
// free once the caller drops it.
type Snapshot struct {
	version     uint64
	generatedAt time.Time
	apis        []APIVersion // the Config's, which the router points into
	router      *Router
	tls         tlsCerts

	strs    string // the arena of the records' strings
	secrets []byte // the arena of the keys' secrets
	names   []strRef
	locs    []*time.Location
	periods [][2]instant
	limits  []Limits
	lists   [][]string

	keys     []keyRec
	keyIndex index // access key → keys
	// keySlots has one entry per keys entry: the key's derived SigV4
	// signing key, kept by the verifier.
	keySlots []sigv4.KeySlot
	// keySubs has one entry per keys entry: the index in subs plus one of
	// the subscription the key's last call found (subscriptionFor).
	keySubs []atomic.Uint32
	codes   map[[32]byte]keyRec
	// subs are grouped by (app, API), in configuration order within a
	// group; subIndex finds a group's first.
	subs     []subRec
	subIndex index
	// cells has one entry per subs entry: see Subscription.cells.
	cells []subCells
}

// Version is the configuration's version.
func (s *Snapshot) Version() uint64 { return s.version }

// GeneratedAt is when the control plane built the configuration.
func (s *Snapshot) GeneratedAt() time.Time { return s.generatedAt }

// APIs returns the deployed API versions the snapshot routes to; they must
// be treated as read-only.
func (s *Snapshot) APIs() []APIVersion { return s.apis }

// Router returns the snapshot's router.
func (s *Snapshot) Router() *Router { return s.router }

// Key returns the access key, if the configuration has it. Its Secret is
// shared: read-only.
func (s *Snapshot) Key(accessKey string) (Key, bool) {
	r := s.keyRec(accessKey)
	if r == nil {
		return Key{}, false
	}
	return s.key(r), true
}

// Subscription returns the app's subscription to the API: its active one
// when it has one, else the first live one (so the caller can say why the
// call is refused).
func (s *Snapshot) Subscription(appID, apiID string) (Subscription, bool) {
	if p := s.subscriptionRef(appID, apiID); p != nil {
		return *p, true
	}
	return Subscription{}, false
}

// subscriptionRef is Subscription for the request path: the value is built
// once per record and snapshot (on its first call) and shared, read-only.
func (s *Snapshot) subscriptionRef(appID, apiID string) *Subscription {
	return s.subscriptionAt(s.subscriptionIndex(appID, apiID))
}

// subscriptionFor is subscriptionRef for a call made with the key record
// rec of the app appID (nil, an app code's or another snapshot's: none to
// remember by). Each key of the snapshot remembers the subscription its
// last call found; a key calling the same API again, as most do, is
// answered by comparing one name rather than by hashing the (app, API)
// pair and probing for it. What a key remembers is a subscription of its
// own app, whose API the comparison checks, so a key that calls several
// APIs only misses more often.
func (s *Snapshot) subscriptionFor(rec *keyRec, appID, apiID string) *Subscription {
	if rec == nil || rec.pos == 0 || int(rec.pos) > len(s.keys) || &s.keys[rec.pos-1] != rec {
		return s.subscriptionRef(appID, apiID) // not a record of this snapshot's keys
	}
	last := &s.keySubs[rec.pos-1]
	if i := int(last.Load()) - 1; i >= 0 && s.name(s.subs[i].api) == apiID {
		return s.subscriptionAt(i)
	}
	i := s.subscriptionIndex(s.name(rec.app), apiID)
	if i >= 0 {
		last.Store(uint32(i + 1))
	}
	return s.subscriptionAt(i)
}

// subscriptionAt returns the i-th subscription's shared value, or nil
// when i is -1.
func (s *Snapshot) subscriptionAt(i int) *Subscription {
	if i < 0 {
		return nil
	}
	c := &s.cells[i]
	if p := c.sub.Load(); p != nil {
		return p
	}
	v := s.subscription(i)
	c.sub.Store(&v) // two first calls may both build it: the same value
	return &v
}

// subscriptionIndex returns the index in subs of the app's subscription to
// the API that Subscription describes, or -1.
func (s *Snapshot) subscriptionIndex(appID, apiID string) int {
	if len(s.subs) == 0 {
		return -1
	}
	p := *s.subIndex.slot(pairHash(s.subIndex.seed, appID, apiID), func(i int) bool {
		return s.name(s.subs[i].app) == appID && s.name(s.subs[i].api) == apiID
	})
	if p == 0 {
		return -1
	}
	first := &s.subs[p-1]
	if first.status != subActive {
		// The rest of the group follows.
		for i := int(p); i < len(s.subs) && s.subs[i].app == first.app && s.subs[i].api == first.api; i++ {
			if s.subs[i].status == subActive {
				return i
			}
		}
	}
	return int(p - 1)
}

// Store holds the current snapshot behind an atomic pointer: requests Load
// it without locks while a reloader Swaps in a new one.
type Store struct {
	p atomic.Pointer[Snapshot]
}

// NewStore returns a store holding s (which may be nil).
func NewStore(s *Snapshot) *Store {
	st := &Store{}
	st.p.Store(s)
	return st
}

// Load returns the current snapshot, or nil before the first Swap.
func (st *Store) Load() *Snapshot { return st.p.Load() }

// Swap installs s and returns the snapshot it replaces. Requests that already
// loaded the old snapshot finish on it.
func (st *Store) Swap(s *Snapshot) *Snapshot { return st.p.Swap(s) }

// maxErrors bounds how many problems one Compile reports.
const maxErrors = 20

// Compile validates cfg and builds its lookup structures. The error lists
// every problem found (up to a limit), each naming the entry at fault.
//
// The snapshot keeps cfg.APIs, which must not change afterwards (Compile
// itself fills in what it parses from them); of the rest it keeps copies.
func Compile(cfg *Config) (*Snapshot, error) {
	if cfg == nil {
		return nil, errors.New("compile config: no configuration")
	}
	c := &compiler{}
	s := &Snapshot{version: cfg.Version, generatedAt: cfg.GeneratedAt, apis: cfg.APIs}
	s.router = c.router(cfg)
	b := newTableBuilder(cfg)
	c.keys(cfg, s, b)
	c.subscriptions(cfg, s, b)
	c.appCodes(cfg, s, b)
	s.tls = compileCertificates(cfg)
	if b.tooBig {
		c.errorf("the keys' and subscriptions' strings exceed 4 GiB")
	}
	if len(c.errs) > 0 {
		if len(c.errs) > maxErrors {
			n := len(c.errs) - maxErrors
			c.errs = append(c.errs[:maxErrors], fmt.Errorf("and %d more problems", n))
		}
		return nil, fmt.Errorf("compile config %d: %w", cfg.Version, errors.Join(c.errs...))
	}
	b.finish(s)
	return s, nil
}

// compiler collects problems.
type compiler struct {
	errs []error
}

func (c *compiler) errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}

func (c *compiler) keys(cfg *Config, s *Snapshot, b *tableBuilder) {
	ids := sortedKeys(cfg.Keys)
	s.keys = make([]keyRec, 0, len(ids))
	s.keyIndex = newIndex(len(ids))
	for _, id := range ids {
		k := cfg.Keys[id]
		stage, stageOK := stageCode(k.Stage)
		switch {
		case id == "":
			c.errorf("key with empty access key id")
			continue
		case k.AccessKey != id:
			c.errorf("key %s: listed under %q but its access key is %q", id, id, k.AccessKey)
			continue
		case len(k.Secret) == 0:
			c.errorf("key %s: no secret", id)
		case k.AppID == "":
			c.errorf("key %s: no app id", id)
		case !stageOK:
			c.errorf("key %s: unknown stage %q", id, k.Stage)
		}
		// Map keys are distinct: the slot is always a free one.
		*s.keyIndex.slot(maphash.String(s.keyIndex.seed, id), func(int) bool { return false }) = uint32(len(s.keys) + 1)
		s.keys = append(s.keys, keyRec{access: b.add(id), secret: b.secret(k.Secret), app: b.share(k.AppID), org: b.share(k.OrgID),
			expires: b.instant(k.ExpiresAt), stage: stage, pos: uint32(len(s.keys) + 1)})
	}
	s.keySlots = make([]sigv4.KeySlot, len(s.keys))
	s.keySubs = make([]atomic.Uint32, len(s.keys))
}

func (c *compiler) subscriptions(cfg *Config, s *Snapshot, b *tableBuilder) {
	n := len(cfg.Subscriptions)
	ids := newIndex(n) // to find ids listed twice
	// First each subscription's group, one per (app, API) in order of
	// appearance, with the index mapping a pair to its group; then the
	// records are laid out group by group and the index repointed at each
	// group's first record.
	s.subIndex = newIndex(n)
	group := make([]uint32, n)
	firsts := make([]int32, 0, n) // each group's first subscription
	for i := range cfg.Subscriptions {
		sub := &cfg.Subscriptions[i]
		if sub.ID == "" {
			c.errorf("%s: no id", subAt(i, sub))
		} else if slot := ids.slot(maphash.String(ids.seed, sub.ID), func(j int) bool { return cfg.Subscriptions[j].ID == sub.ID }); *slot != 0 {
			c.errorf("%s: listed twice", subAt(i, sub))
		} else {
			*slot = uint32(i + 1)
		}
		if sub.AppID == "" || sub.APIID == "" {
			c.errorf("%s: app id and api id are required", subAt(i, sub))
		}
		if _, ok := statusCode(sub.Status); !ok {
			c.errorf("%s: unknown status %q", subAt(i, sub), sub.Status)
		}
		l := sub.Limits
		if l.RequestsPerSecond < 0 || l.Burst < 0 || l.DayQuota < 0 || l.MonthQuota < 0 || l.IncludedCalls < 0 || l.OverageCentsPer1000 < 0 {
			c.errorf("%s: limits must not be negative", subAt(i, sub))
		}
		if l.Burst > 0 && l.Burst < l.RequestsPerSecond {
			c.errorf("%s: burst %d is below the rate %d per second", subAt(i, sub), l.Burst, l.RequestsPerSecond)
		}
		if !sub.PeriodStart.IsZero() && !sub.PeriodEnd.After(sub.PeriodStart) {
			c.errorf("%s: period ends (%s) before it starts (%s)", subAt(i, sub), sub.PeriodEnd.Format(time.RFC3339), sub.PeriodStart.Format(time.RFC3339))
		}
		slot := s.subIndex.slot(pairHash(s.subIndex.seed, sub.AppID, sub.APIID), func(g int) bool {
			f := &cfg.Subscriptions[firsts[g]]
			return f.AppID == sub.AppID && f.APIID == sub.APIID
		})
		if *slot == 0 {
			firsts = append(firsts, int32(i))
			*slot = uint32(len(firsts))
		}
		group[i] = *slot - 1
	}
	start := make([]uint32, len(firsts)+1) // where each group's records begin
	for _, g := range group {
		start[g+1]++
	}
	for g := range firsts {
		start[g+1] += start[g]
	}
	s.subs = make([]subRec, n)
	s.cells = make([]subCells, n)
	next := append([]uint32(nil), start[:len(firsts)]...)
	for i := range cfg.Subscriptions {
		sub := &cfg.Subscriptions[i]
		status, _ := statusCode(sub.Status)
		g := group[i]
		s.subs[next[g]] = subRec{id: b.add(sub.ID), app: b.share(sub.AppID), org: b.share(sub.OrgID), provider: b.share(sub.ProviderOrgID),
			api: b.share(sub.APIID), plan: b.share(sub.PlanID), period: b.period(sub.PeriodStart, sub.PeriodEnd),
			limits: b.limit(sub.Limits), versions: b.list(sub.Versions), status: status}
		next[g]++
	}
	for i, v := range s.subIndex.slots {
		if v != 0 {
			s.subIndex.slots[i] = start[v-1] + 1
		}
	}
}

// subAt names the i-th subscription in a problem. It is built only for a
// problem: the checks run for every subscription.
func subAt(i int, sub *Subscription) string {
	if sub.ID == "" {
		return "subscription #" + strconv.Itoa(i)
	}
	return "subscription " + sub.ID
}

// validateVersion checks an API version entry's own fields (not its
// operations' paths, which the router checks).
func (c *compiler) validateVersion(at string, v *APIVersion) {
	switch v.State {
	case StateDraft, StatePublished, StateDeprecated, StateOffline:
	default:
		c.errorf("%s: unknown state %q", at, v.State)
	}
	if v.Settings.MaxBodyBytes < 0 {
		c.errorf("%s: max body must not be negative", at)
	}
	if ips, err := ParseIPList(v.Settings.IPAllow, v.Settings.IPDeny); err != nil {
		c.errorf("%s: %v", at, err)
	} else {
		v.ips = ips
	}
	if p, err := compileCORS(&v.Settings); err != nil {
		c.errorf("%s: %v", at, err)
	} else {
		v.cors = p
	}
	v.series = &apiSeries{}
	seenKey := map[string]bool{}
	for i := range v.BackendKeys {
		k := &v.BackendKeys[i]
		k.signer = backendsig.NewSigner(k.ID, k.Secret)
		if k.ID == "" || len(k.Secret) == 0 {
			c.errorf("%s: backend key %q needs an id and a secret", at, k.ID)
		}
		if seenKey[k.ID] {
			c.errorf("%s: backend key %q listed twice", at, k.ID)
		}
		seenKey[k.ID] = true
	}
	if v.State == StateOffline {
		return // serves nothing but 410; the rest does not matter
	}
	if !v.Mock {
		u := v.Upstream
		if len(u.Targets) == 0 {
			c.errorf("%s: no upstream targets and not a mock", at)
		}
		weight := 0
		for _, t := range u.Targets {
			pu, err := url.Parse(t.URL)
			if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
				c.errorf("%s: upstream target %q is not an absolute http(s) URL", at, t.URL)
			}
			if t.Weight < 0 {
				c.errorf("%s: upstream target %q has negative weight %d", at, t.URL, t.Weight)
			}
			weight += max(t.Weight, 0)
		}
		if len(u.Targets) > 0 && weight == 0 {
			c.errorf("%s: every upstream target has weight 0", at)
		}
		if u.Timeout < 0 || u.ConnectTimeout < 0 {
			c.errorf("%s: upstream timeouts must not be negative", at)
		}
		if u.Retries < 0 || u.Retries > 5 {
			c.errorf("%s: upstream retries %d outside 0–5", at, u.Retries)
		}
		// Pasted after each target's base path: anything but a path
		// could name another host or break the request line.
		if p := u.HealthCheckPath; p != "" && !ValidHealthCheckPath(p) {
			c.errorf("%s: upstream health check path %q is not a path starting with /", at, p)
		}
	}
	seenOp := map[string]bool{}
	for _, op := range v.Operations {
		oat := fmt.Sprintf("%s: operation %s %s", at, op.Method, op.Path)
		if op.ID != "" {
			if seenOp[op.ID] {
				c.errorf("%s: operation id %q used twice", oat, op.ID)
			}
			seenOp[op.ID] = true
		}
		if op.Timeout < 0 || op.MaxBodyBytes < 0 {
			c.errorf("%s: timeout and max body must not be negative", oat)
		}
		if op.Mock != nil && (op.Mock.Status < 100 || op.Mock.Status > 599) {
			c.errorf("%s: mock status %d is not an HTTP status", oat, op.Mock.Status)
		}
	}
}

// validSlug reports whether s can name an organisation, API or version
// in a path: one segment, and not a dot segment, which the router refuses.
func validSlug(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/?#{}* ")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ValidHealthCheckPath reports whether p can be an upstream's health check
// path: it is pasted after each target's base path, so it must start with
// "/" and hold no spaces or control characters (anything else could name
// another host or break the request line). The catalog checks paths with
// it too, so what it saves the gateway serves.
func ValidHealthCheckPath(p string) bool {
	return p != "" && p[0] == '/' && !strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' || r == 0x7f })
}
