// Package bench holds Portico's benchmarks: the configurations they load
// (a small one for throughput runs, a large one with 100,000 keys, 10,000
// routes and 100,000 subscriptions) and the deterministic credentials that
// let a load generator sign requests the benchmark gateway accepts. The
// harness is cmd/gwbench; the driver is the run script; README.md has the
// commands and the figures.
package bench

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/portico-dev/portico/gateway"
)

// Names the benchmark configurations use. Calls to /{Org}/{SignedAPI}/{Version}/…
// go through the full chain; /{Org}/{PublicAPI}/{Version}/… is a public
// version (no credentials, subscription, limits or metering).
const (
	Org       = "bench"
	SignedAPI = "echo"
	PublicAPI = "open"
	Version   = "v1"
	Region    = "local"
)

// AccessKey is the i-th benchmark access key id (20 characters, like
// Portico's own).
func AccessKey(i int) string { return fmt.Sprintf("PKBENCH%013d", i) }

// SecretKey is the i-th benchmark secret key: derived, so the harness and
// the load generator agree without sharing a file. Benchmark use only.
func SecretKey(i int) string {
	m := hmac.New(sha256.New, []byte("portico benchmark keys"))
	m.Write([]byte(strconv.Itoa(i)))
	return hex.EncodeToString(m.Sum(nil))[:40]
}

// Unlimited are limits set so a benchmark never meets them while every
// check still runs: a rate limit and a day quota that are evaluated on
// every call.
var Unlimited = gateway.Limits{RequestsPerSecond: 1_000_000, Burst: 1_000_000, DayQuota: 1_000_000_000}

// operations are the benchmark APIs' routes; the load generator calls
// GET /items/{id}.
func operations() []gateway.Operation {
	return []gateway.Operation{
		{ID: "listItems", Method: "GET", Path: "/items", Billable: true},
		{ID: "getItem", Method: "GET", Path: "/items/{id}", Billable: true},
		{ID: "putItem", Method: "PUT", Path: "/items/{id}", Billable: true},
		{ID: "deleteItem", Method: "DELETE", Path: "/items/{id}", Billable: true},
		{ID: "createItem", Method: "POST", Path: "/items", Billable: true},
		{ID: "listParts", Method: "GET", Path: "/items/{id}/parts", Billable: true},
		{ID: "getPart", Method: "GET", Path: "/items/{id}/parts/{part}", Billable: true},
		{ID: "getUser", Method: "GET", Path: "/users/{id}", Billable: true},
		{ID: "health", Method: "GET", Path: "/health", Billable: false},
		{ID: "files", Method: "GET", Path: "/files/*", Billable: true},
	}
}

// Kinds of ID, for ID.
const (
	kindOrg = iota + 1
	kindAPI
	kindVersion
	kindApp
	kindPartner
	kindSubscription
	kindPlan
	kindBackendKey
)

// ID is the i-th benchmark ID of a kind, shaped as the UUIDs the control
// plane gives every organisation, API, version, app, plan, subscription and
// backend key (36 characters, uuid.NewV7's form): the gateway hashes,
// compares and forwards IDs on every call, and short ones would flatter
// it. Deterministic, so that runs compare.
func ID(kind, i int) string {
	return fmt.Sprintf("%08x-0000-7000-8000-%012x", 0x019b0000+kind, i)
}

func apiVersion(org, orgID, slug, apiID, upstream string, public bool) gateway.APIVersion {
	return gateway.APIVersion{
		OrgID: orgID, OrgSlug: org, APIID: apiID, APISlug: slug, APIName: slug, VersionID: versionID(apiID), Version: Version,
		Stage: gateway.StageProduction, State: gateway.StatePublished,
		Upstream:    gateway.Upstream{Targets: []gateway.Target{{URL: upstream, Weight: 1}}},
		Settings:    gateway.Settings{Public: public},
		Operations:  operations(),
		BackendKeys: []gateway.BackendKey{{ID: backendKeyID(apiID), Secret: []byte("backend secret of " + apiID + " for benchmarks")}},
	}
}

// versionID and backendKeyID are an API's version and backend key IDs: the
// API's with another kind.
func versionID(apiID string) string { return fmt.Sprintf("%08x", 0x019b0000+kindVersion) + apiID[8:] }
func backendKeyID(apiID string) string {
	return fmt.Sprintf("%08x", 0x019b0000+kindBackendKey) + apiID[8:]
}

func key(i int, app, org string) gateway.Key {
	return gateway.Key{AccessKey: AccessKey(i), Secret: []byte(SecretKey(i)), AppID: app, OrgID: org}
}

func period(now time.Time) (time.Time, time.Time) {
	start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 1, 0)
}

// SmallConfig is the throughput benchmark's configuration: the signed API
// and the public API on one upstream, and keys apps with one active
// subscription each to the signed API on Unlimited terms.
func SmallConfig(upstream string, keys int, now time.Time) *gateway.Config {
	cfg := &gateway.Config{Version: 1, GeneratedAt: now, Keys: make(map[string]gateway.Key, keys)}
	cfg.APIs = []gateway.APIVersion{
		apiVersion(Org, ID(kindOrg, 0), SignedAPI, ID(kindAPI, 0), upstream, false),
		apiVersion(Org, ID(kindOrg, 0), PublicAPI, ID(kindAPI, 1), upstream, true),
	}
	ps, pe := period(now)
	for i := 0; i < keys; i++ {
		app, partner := ID(kindApp, i), ID(kindPartner, i)
		cfg.Keys[AccessKey(i)] = key(i, app, partner)
		cfg.Subscriptions = append(cfg.Subscriptions, gateway.Subscription{
			ID: ID(kindSubscription, i), AppID: app, OrgID: partner, ProviderOrgID: ID(kindOrg, 0),
			APIID: ID(kindAPI, 0), PlanID: ID(kindPlan, 0), Status: gateway.SubActive, Versions: []string{Version},
			Limits: Unlimited, PeriodStart: ps, PeriodEnd: pe,
		})
	}
	return cfg
}

// BigSizes are the large benchmark's dimensions.
type BigSizes struct {
	Keys, Routes, Subscriptions int
}

// DefaultBig is the target: 100,000 keys, 10,000 routes and
// 100,000 subscriptions.
var DefaultBig = BigSizes{Keys: 100_000, Routes: 10_000, Subscriptions: 100_000}

// SmallKeys is how many keys the throughput configurations hold and the
// load generator signs with by default.
const SmallKeys = 256

// BigConfig is SmallConfig's two APIs and SmallKeys keys and subscriptions
// plus enough other APIs, keys and subscriptions to reach the sizes. Each
// API version has 10 operations, so Routes/10 versions spread over provider
// organisations of 10 APIs each; two keys per other app (a rotation);
// subscriptions spread over the apps and APIs with ten distinct plans and
// some suspended. The load generator's requests work on both configurations.
func BigConfig(upstream string, sz BigSizes, now time.Time) *gateway.Config {
	small := min(SmallKeys, sz.Keys, sz.Subscriptions)
	cfg := SmallConfig(upstream, small, now)
	nVersions := max(sz.Routes/len(operations()), 2)
	var apiIDs, apiOrgs []string // the other versions' API and provider organisation IDs
	for i := 2; i < nVersions; i++ {
		orgN := i / 10
		id := ID(kindAPI, i)
		cfg.APIs = append(cfg.APIs, apiVersion("org"+strconv.Itoa(orgN), ID(kindOrg, orgN+1), "api"+strconv.Itoa(i), id, upstream, false))
		apiIDs, apiOrgs = append(apiIDs, id), append(apiOrgs, ID(kindOrg, orgN+1))
	}
	if len(apiIDs) == 0 {
		apiIDs, apiOrgs = []string{ID(kindAPI, 0)}, []string{ID(kindOrg, 0)}
	}
	apps := max((sz.Keys-small)/2, 1)
	for i := small; i < sz.Keys; i++ {
		a := (i - small) / 2
		cfg.Keys[AccessKey(i)] = key(i, ID(kindApp, small+a), ID(kindPartner, small+a/5))
	}
	ps, pe := period(now)
	for i := small; i < sz.Subscriptions; i++ {
		a := (i - small) % apps
		v := ((i-small)/apps + a*7) % len(apiIDs)
		plan := i % 10
		st := gateway.SubActive
		if i%50 == 0 {
			st = gateway.SubSuspended
		}
		cfg.Subscriptions = append(cfg.Subscriptions, gateway.Subscription{
			ID: ID(kindSubscription, i), AppID: ID(kindApp, small+a), OrgID: ID(kindPartner, small+a/5),
			ProviderOrgID: apiOrgs[v], APIID: apiIDs[v], PlanID: ID(kindPlan, 1+plan), Status: st, Versions: []string{Version},
			Limits:      gateway.Limits{RequestsPerSecond: 10 * (plan + 1), Burst: 20 * (plan + 1), DayQuota: int64(10_000 * (plan + 1))},
			PeriodStart: ps, PeriodEnd: pe,
		})
	}
	return cfg
}
