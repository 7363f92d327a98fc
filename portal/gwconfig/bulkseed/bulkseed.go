// Package bulkseed fills a migrated database with a large gateway
// configuration — many API versions and operations, apps, keys and
// subscriptions — for benchmarks of the configuration compiler and of the
// gateway under a big configuration. The catalog and plans go through the
// services (their snapshots are the real thing); partners, apps, keys and
// subscriptions are inserted in bulk, as no service would at this scale.
package bulkseed

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/tenants"
	"github.com/portico-dev/portico/tenants/keyring"
)

// Size is how much to seed.
type Size struct {
	// APIs × VersionsPerAPI versions are deployed to production, each with
	// OpsPerVersion operations (routes = their product).
	APIs, VersionsPerAPI, OpsPerVersion int
	// Partners organisations hold Apps apps in all; each app has KeysPerApp
	// keys (at most 2) and subscribes to SubsPerApp APIs (at most APIs).
	Partners, Apps, KeysPerApp, SubsPerApp int
}

// Large is the big configuration: 100,000 keys, 10,000 routes and
// 100,000 subscriptions.
var Large = Size{APIs: 100, VersionsPerAPI: 10, OpsPerVersion: 10, Partners: 100, Apps: 50000, KeysPerApp: 2, SubsPerApp: 2}

// Result names what was seeded, for requests against it.
type Result struct {
	ProviderSlug string
	// AccessKey and SecretKey are the first app's first key; it subscribes
	// to the first API, whose slug is APISlug, path /r0/x of version v1.
	AccessKey, SecretKey, APISlug string
}

// Services are the services the catalog and plans are made through.
type Services struct {
	Tenants *tenants.Service
	Catalog *catalog.Service
	Plans   *billing.Service
}

// Seed fills db (migrated, empty) with sz. Keys are sealed with kr, which
// the services must share.
func Seed(ctx context.Context, db *gorm.DB, kr *keyring.Keyring, s Services, sz Size) (Result, error) {
	if sz.KeysPerApp > 2 || sz.SubsPerApp > sz.APIs {
		return Result{}, fmt.Errorf("bulkseed: at most 2 keys per app and %d subscriptions per app", sz.APIs)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	prov, err := s.Tenants.SignUp(ctx, tenants.SignUpInput{Name: "Bulk Provider", Email: "bulk@provider.example", Password: "bulk-seed-password",
		OrgName: "Bulk", OrgSlug: "bulk"}, "127.0.0.1")
	if err != nil {
		return Result{}, fmt.Errorf("bulkseed: provider: %w", err)
	}
	pa := tenants.Actor{UserID: prov.User.ID, Email: prov.User.Email}
	apiIDs := make([]string, sz.APIs)
	planIDs := make([]string, sz.APIs)
	versions := make([]string, sz.VersionsPerAPI)
	for v := range versions {
		versions[v] = fmt.Sprintf("v%d", v+1)
	}
	ops := make([]catalog.OperationInput, sz.OpsPerVersion)
	for o := range ops {
		ops[o] = catalog.OperationInput{Method: []string{"GET", "POST"}[o%2], Path: fmt.Sprintf("/r%d/{id}", o)}
	}
	for a := range sz.APIs {
		slug := fmt.Sprintf("api%04d", a)
		api, err := s.Catalog.CreateAPI(ctx, prov.Org.ID, pa, catalog.APIInput{Slug: slug, Name: "API " + slug, Visibility: catalog.Public})
		if err != nil {
			return Result{}, fmt.Errorf("bulkseed: api: %w", err)
		}
		apiIDs[a] = api.ID
		for _, v := range versions {
			if _, _, err := s.Catalog.CreateVersion(ctx, prov.Org.ID, slug, pa, catalog.VersionInput{Version: v, Mock: true, Operations: ops}); err != nil {
				return Result{}, fmt.Errorf("bulkseed: version: %w", err)
			}
			if _, err := s.Catalog.Deploy(ctx, prov.Org.ID, slug, v, catalog.EnvProduction, pa, ""); err != nil {
				return Result{}, fmt.Errorf("bulkseed: deploy: %w", err)
			}
		}
		day := int64(100000)
		if _, err := s.Plans.CreatePlan(ctx, prov.Org.ID, api.ID, pa, billing.PlanInput{Slug: "std", Name: "Standard", Currency: "usd",
			IncludedCalls: 1000000, RateLimit: &billing.RateLimit{RequestsPerSecond: 100, Burst: 200}, Quota: billing.Quota{Day: &day},
			Versions: versions}); err != nil {
			return Result{}, fmt.Errorf("bulkseed: plan: %w", err)
		}
		p, err := s.Plans.PublishPlan(ctx, prov.Org.ID, api.ID, "std", pa)
		if err != nil {
			return Result{}, fmt.Errorf("bulkseed: plan: %w", err)
		}
		planIDs[a] = p.ID
	}

	res := Result{ProviderSlug: "bulk", APISlug: "api0000"}
	partners := make([]string, sz.Partners)
	var rows [][]any
	for p := range partners {
		partners[p] = fmt.Sprintf("00000000-0000-7000-8000-%012d", p)
		rows = append(rows, []any{partners[p], fmt.Sprintf("partner%05d", p), fmt.Sprintf("Partner %d", p), now, now})
	}
	if err := insert(ctx, db, "organizations (id, slug, name, created_at, updated_at)", rows); err != nil {
		return Result{}, err
	}
	var apps, keys, subs [][]any
	flush := func(force bool) error {
		if !force && len(apps) < 1000 {
			return nil
		}
		for _, b := range []struct {
			table string
			rows  *[][]any
		}{
			{"apps (id, org_id, name, description, environment, created_at, updated_at)", &apps},
			{"access_keys (id, access_key, kind, org_id, app_id, name, secret_sealed, status, created_at)", &keys},
			{"subscriptions (id, org_id, app_id, provider_org_id, api_id, version, plan_id, status, message, reason, period_start, period_end, cancel_at_period_end, created_at, updated_at)", &subs},
		} {
			if err := insert(ctx, db, b.table, *b.rows); err != nil {
				return err
			}
			*b.rows = (*b.rows)[:0]
		}
		return nil
	}
	for i := range sz.Apps {
		org := partners[i%len(partners)]
		app := fmt.Sprintf("00000000-0000-7001-8000-%012d", i)
		apps = append(apps, []any{app, org, fmt.Sprintf("App %d", i), "", "production", now, now})
		for k := range sz.KeysPerApp {
			n := i*2 + k
			ak := tenants.AppKeyPrefix + base32ish(n, 18)
			sk := fmt.Sprintf("bulk-secret-%040d", n)
			keys = append(keys, []any{fmt.Sprintf("00000000-0000-7002-8000-%012d", n), ak, tenants.KindApp, org, app, "bulk",
				tenants.SealKeySecret(kr, ak, sk), "active", now})
			if i == 0 && k == 0 {
				res.AccessKey, res.SecretKey = ak, sk
			}
		}
		for j := range sz.SubsPerApp {
			a := (i + j) % sz.APIs
			subs = append(subs, []any{fmt.Sprintf("00000000-0000-7003-8000-%012d", i*sz.SubsPerApp+j), org, app, prov.Org.ID, apiIDs[a], "v1",
				planIDs[a], string(billing.SubActive), "", "", now, now.AddDate(0, 1, 0), false, now, now})
		}
		if err := flush(false); err != nil {
			return Result{}, err
		}
	}
	if err := flush(true); err != nil {
		return Result{}, err
	}
	// Give the planner the statistics autovacuum would gather on a live
	// database; without them it plans for empty tables.
	if db.Dialector.Name() == "postgres" {
		if err := db.WithContext(ctx).Exec("ANALYZE organizations, apps, access_keys, subscriptions, plans, apis, api_versions, revisions, deployments").Error; err != nil {
			return Result{}, fmt.Errorf("bulkseed: analyze: %w", err)
		}
	}
	return res, nil
}

// insert adds rows to table ("name (columns)") in multi-row statements.
func insert(ctx context.Context, db *gorm.DB, table string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	const batch = 500
	for start := 0; start < len(rows); start += batch {
		chunk := rows[start:min(start+batch, len(rows))]
		ph := "(" + strings.TrimSuffix(strings.Repeat("?,", len(chunk[0])), ",") + ")"
		args := make([]any, 0, len(chunk)*len(chunk[0]))
		var sb strings.Builder
		sb.WriteString("INSERT INTO " + table + " VALUES ")
		for i, r := range chunk {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(ph)
			args = append(args, r...)
		}
		if err := db.WithContext(ctx).Exec(sb.String(), args...).Error; err != nil {
			return fmt.Errorf("bulkseed: insert into %s: %w", strings.Fields(table)[0], err)
		}
	}
	return nil
}

// base32ish spells n in width characters of the access key alphabet.
func base32ish(n, width int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		b[i] = alphabet[n%32]
		n /= 32
	}
	return string(b)
}
