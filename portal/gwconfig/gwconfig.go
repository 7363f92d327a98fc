// Package gwconfig is the compiler from the control plane's database to the
// gateway's self-contained configuration: the live revision snapshot of every
// deployed version, every active partner key with its secret, the hashes of
// the active app codes, and every subscription the gateway must know, with
// its plan's limits. The gateway never reads the database; it only ever sees
// the value Build returns.
package gwconfig

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/portal/domains"
	"github.com/portico-dev/portico/tenants"
)

// Sources are the services Build reads.
type Sources struct {
	Catalog *catalog.Service
	Plans   *billing.Service
	Tenants *tenants.Service
	// Domains supplies providers' custom domains and their certificates;
	// nil means none.
	Domains *domains.Service
	// Logger receives certificates the gateway had to leave out; nil
	// uses slog.Default.
	Logger *slog.Logger
	// Domain is PORTICO_GATEWAY_DOMAIN for host-based routing ("" = none).
	Domain string
	// Now stamps the configuration; nil uses time.Now.
	Now func() time.Time
}

// Build reads the live state and returns the gateway configuration,
// already checked by gateway.Compile; a deployed API version Compile
// rejects on its own is left out and logged (dropInvalidVersions). The catalog, the keys and the
// subscriptions are read at once, on three connections: with hundreds of
// thousands of keys and subscriptions the reads dominate. Each is turned
// into its part of the configuration as soon as it arrives, so its rows
// are garbage before the next part is built: a gateway rebuilds while it
// serves, and what the rebuild holds at once is what its memory must have
// room for.
func Build(ctx context.Context, src Sources, version uint64) (*gateway.Config, *gateway.Snapshot, error) {
	now := time.Now
	if src.Now != nil {
		now = src.Now
	}
	cfg := &gateway.Config{Version: version, GeneratedAt: now().UTC(), Domain: src.Domain}
	var (
		wg                     sync.WaitGroup
		catErr, keyErr, subErr error
	)
	// Each goroutine fills fields of cfg no other touches.
	wg.Go(func() {
		snaps, err := src.Catalog.LiveSnapshots(ctx)
		if err != nil {
			catErr = err
			return
		}
		var keyIDs []string
		for _, s := range snaps {
			keyIDs = append(keyIDs, s.BackendKeyIDs...)
		}
		secrets, err := src.Catalog.BackendSecrets(ctx, keyIDs)
		if err != nil {
			catErr = err
			return
		}
		cfg.APIs = make([]gateway.APIVersion, 0, len(snaps))
		for _, s := range snaps {
			cfg.APIs = append(cfg.APIs, apiVersion(s, secrets))
		}
	})
	wg.Go(func() {
		keys, err := src.Tenants.ActiveKeys(ctx)
		if err != nil {
			keyErr = err
			return
		}
		cfg.Keys = make(map[string]gateway.Key, len(keys))
		for _, k := range keys {
			if k.Kind != tenants.KindApp {
				continue
			}
			gk := gateway.Key{AccessKey: k.AccessKey, Secret: []byte(k.SecretKey), AppID: k.AppID, OrgID: k.OrgID, Stage: k.Environment}
			if k.ExpiresAt != nil {
				gk.ExpiresAt = *k.ExpiresAt
			}
			cfg.Keys[k.AccessKey] = gk
		}
		codes, err := src.Tenants.ActiveAppCodes(ctx)
		if err != nil {
			keyErr = err
			return
		}
		if len(codes) > 0 {
			cfg.AppCodes = make(map[string]gateway.AppCode, len(codes))
			for _, c := range codes {
				cfg.AppCodes[c.Hash] = gateway.AppCode{Prefix: c.Prefix, AppID: c.AppID, OrgID: c.OrgID, Stage: c.Environment}
			}
		}
	})
	wg.Go(func() {
		subs, err := src.Plans.LiveSubscriptions(ctx)
		if err != nil {
			subErr = err
			return
		}
		cfg.Subscriptions = make([]gateway.Subscription, 0, len(subs))
		for _, s := range subs {
			cfg.Subscriptions = append(cfg.Subscriptions, subscription(s))
		}
	})
	wg.Wait()
	if err := errors.Join(catErr, keyErr, subErr); err != nil {
		return nil, nil, fmt.Errorf("gateway config: %w", err)
	}
	if err := customDomains(ctx, src, cfg); err != nil {
		return nil, nil, fmt.Errorf("gateway config: %w", err)
	}
	log := src.Logger
	if log == nil {
		log = slog.Default()
	}
	snap, err := gateway.Compile(cfg)
	if err != nil && dropInvalidVersions(ctx, cfg, log) > 0 {
		snap, err = gateway.Compile(cfg)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("gateway config: %w", err)
	}
	if probs := snap.CertificateProblems(); len(probs) > 0 {
		for _, p := range probs {
			log.WarnContext(ctx, "gateway TLS: custom-domain certificate left out", "err", p)
		}
	}
	return cfg, snap, nil
}

// dropInvalidVersions removes from cfg.APIs every deployed version that
// gateway.Compile rejects on its own (an operation path the router refuses,
// an operation id used twice…), logging each, and returns how many it
// removed. A revision the catalog accepted but the gateway cannot serve is
// one provider's problem: it must not hold back every other tenant's
// changes — a revoked key, a cancelled subscription — by failing the whole
// configuration. The version is not served until a good revision replaces
// it. It runs only after a failed Compile.
func dropInvalidVersions(ctx context.Context, cfg *gateway.Config, log *slog.Logger) int {
	kept := cfg.APIs[:0:0]
	for _, v := range cfg.APIs {
		probe := v
		// Compile fills in what it parses; the probe gets its own copy.
		probe.BackendKeys = slices.Clone(v.BackendKeys)
		probe.Operations = slices.Clone(v.Operations)
		if _, err := gateway.Compile(&gateway.Config{Version: cfg.Version, GeneratedAt: cfg.GeneratedAt, APIs: []gateway.APIVersion{probe}}); err != nil {
			log.ErrorContext(ctx, "gateway configuration: deployed API version left out; it cannot be served until a valid revision is deployed",
				"org", v.OrgSlug, "api", v.APISlug, "version", v.Version, "stage", v.Stage, "version_id", v.VersionID, "err", err)
			continue
		}
		kept = append(kept, v)
	}
	n := len(cfg.APIs) - len(kept)
	cfg.APIs = kept
	return n
}

// customDomains fills the host → organisation routes and the certificates
// of providers' custom domains.
func customDomains(ctx context.Context, src Sources, cfg *gateway.Config) error {
	if src.Domains == nil {
		return nil
	}
	live, err := src.Domains.Live(ctx)
	if err != nil {
		return err
	}
	if len(live) == 0 {
		return nil
	}
	cfg.CustomDomains = make(map[string]string, len(live))
	cfg.Certificates = make(map[string]gateway.Certificate, len(live))
	for _, d := range live {
		cfg.CustomDomains[d.Hostname] = d.OrgSlug
		cfg.Certificates[d.Hostname] = gateway.Certificate{ChainPEM: d.ChainPEM, KeyPEM: d.KeyPEM}
	}
	return nil
}

func apiVersion(s catalog.Snapshot, secrets map[string][]byte) gateway.APIVersion {
	v := gateway.APIVersion{
		OrgID: s.OrgID, OrgSlug: s.OrgSlug, APIID: s.APIID, APISlug: s.APISlug, APIName: s.APIName,
		VersionID: s.VersionID, Version: s.Version, Stage: s.Environment, State: gateway.VersionState(s.State),
		SunsetAt: s.SunsetAt, DeprecatedAt: s.DeprecatedAt, Mock: s.Mock,
		Settings: gateway.Settings{MaxBodyBytes: s.Settings.MaxBodyBytes, RequireNonce: s.Settings.RequireNonce, AllowAppCode: s.Settings.AllowAppCode,
			Public: s.Settings.Public, CORSOrigins: s.Settings.CORSOrigins},
	}
	if m := s.Settings.MaxAge(); m >= 0 {
		v.Settings.CORSMaxAge = m
	}
	if s.Upstream != nil {
		for _, t := range s.Upstream.Targets {
			v.Upstream.Targets = append(v.Upstream.Targets, gateway.Target{URL: t.URL, Weight: t.Weight})
		}
		v.Upstream.ConnectTimeout = time.Duration(s.Upstream.ConnectTimeoutMS) * time.Millisecond
		v.Upstream.Timeout = time.Duration(s.Upstream.TimeoutMS) * time.Millisecond
		v.Upstream.Retries = s.Upstream.Retries
		v.Upstream.HealthCheckPath = s.Upstream.HealthCheckPath
	}
	for _, o := range s.Operations {
		op := gateway.Operation{ID: o.OperationID, Method: o.Method, Path: o.Path, Billable: o.Billable}
		if o.TimeoutMS != nil {
			op.Timeout = time.Duration(*o.TimeoutMS) * time.Millisecond
		}
		if o.MaxBodyBytes != nil {
			op.MaxBodyBytes = *o.MaxBodyBytes
		}
		if o.Mock != nil {
			op.Mock = &gateway.MockResponse{Status: o.Mock.Status, ContentType: o.Mock.ContentType, Body: []byte(o.Mock.Body)}
		}
		v.Operations = append(v.Operations, op)
	}
	for _, id := range s.BackendKeyIDs {
		if sec, ok := secrets[id]; ok {
			v.BackendKeys = append(v.BackendKeys, gateway.BackendKey{ID: id, Secret: sec})
		}
	}
	return v
}

func subscription(s billing.GatewaySubscription) gateway.Subscription {
	g := gateway.Subscription{ID: s.ID, AppID: s.AppID, OrgID: s.OrgID, ProviderOrgID: s.ProviderOrgID, APIID: s.APIID, PlanID: s.PlanID,
		Status: gateway.SubscriptionStatus(s.Status), Versions: s.Versions, PeriodStart: s.PeriodStart, PeriodEnd: s.PeriodEnd}
	g.Limits.IncludedCalls = s.IncludedCalls
	if s.OverageCentsPer1000 == nil {
		g.Limits.HardLimit = true
	} else {
		g.Limits.OverageCentsPer1000 = *s.OverageCentsPer1000
	}
	if s.RateLimit != nil {
		g.Limits.RequestsPerSecond, g.Limits.Burst = s.RateLimit.RequestsPerSecond, s.RateLimit.Burst
	}
	if s.Quota.Day != nil {
		g.Limits.DayQuota = *s.Quota.Day
	}
	if s.Quota.Month != nil {
		g.Limits.MonthQuota = *s.Quota.Month
	}
	return g
}
