package manifest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	yaml "go.yaml.in/yaml/v3"

	"github.com/portico-dev/portico/portal/client"
)

// Export reads an API with its versions and plans from the server and
// returns it as a Document that Apply, against the same server, finds
// nothing to change in. Each version's OpenAPI document is kept in Raw
// (indented JSON) under the path "./<api>-<version>.openapi.json". Notes
// say what the format cannot carry.
func Export(ctx context.Context, c *client.Client, org, apiSlug string) (*Document, []string, error) {
	api, err := c.GetAPI(ctx, org, apiSlug)
	if err != nil {
		return nil, nil, fmt.Errorf("read API %s: %w", apiSlug, err)
	}
	var notes []string
	d := &Document{Org: org, Slug: api.Slug, Name: client.Ptr(api.Name), Visibility: client.Ptr(api.Visibility), Dir: "."}
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	d.Summary, d.Description, d.Category = opt(api.Summary), opt(api.Description), opt(api.Category)
	d.LogoURL, d.ContactURL, d.TermsURL = opt(api.LogoURL), opt(api.ContactURL), opt(api.TermsURL)
	if len(api.Tags) > 0 {
		tags := append([]string(nil), api.Tags...)
		d.Tags = &tags
	}

	versions, err := c.ListVersions(ctx, org, apiSlug)
	if err != nil {
		return nil, nil, fmt.Errorf("list versions: %w", err)
	}
	for _, lv := range versions {
		v, err := c.GetVersion(ctx, org, apiSlug, lv.Version)
		if err != nil {
			return nil, nil, fmt.Errorf("read version %s: %w", lv.Version, err)
		}
		out := Version{Version: v.Version, Offline: v.State == client.VersionOffline}
		if v.HasOpenAPI {
			raw, err := c.VersionOpenAPI(ctx, org, apiSlug, v.Version)
			if err != nil {
				return nil, nil, fmt.Errorf("read the OpenAPI document of %s: %w", v.Version, err)
			}
			var buf bytes.Buffer
			if err := json.Indent(&buf, raw, "", "  "); err != nil {
				return nil, nil, fmt.Errorf("the OpenAPI document of %s: %w", v.Version, err)
			}
			buf.WriteByte('\n')
			var val any
			if err := json.Unmarshal(raw, &val); err != nil {
				return nil, nil, fmt.Errorf("the OpenAPI document of %s: %w", v.Version, err)
			}
			name := fmt.Sprintf("%s-%s.openapi.json", api.Slug, v.Version)
			out.OpenAPI = &Spec{Path: "./" + name, File: name, Raw: buf.Bytes(), Value: val}
		} else if len(v.Operations) > 0 {
			notes = append(notes, fmt.Sprintf("version %s has hand-made operations, which the file format does not carry; apply keeps them but cannot create them elsewhere", v.Version))
		}
		if v.Mock {
			out.Mock = client.Ptr(true)
		} else if v.Upstream != nil && len(v.Upstream.Targets) > 0 {
			up := *v.Upstream
			out.Upstream = &up
		}
		set := v.Settings
		out.Settings = &set
		for _, env := range []string{client.EnvTest, client.EnvProduction} {
			live := v.Environments[env]
			switch {
			case live == nil:
			case !live.UpToDate() && v.State != client.VersionOffline:
				notes = append(notes, fmt.Sprintf("version %s: %s runs an older definition than the draft, so it is left out of deploy (apply would deploy the draft)", v.Version, env))
			default:
				out.Deploy = append(out.Deploy, env)
			}
		}
		if v.SunsetAt != nil && (v.State == client.VersionDeprecated || v.State == client.VersionOffline) {
			out.Deprecate = &Deprecation{SunsetAt: fmtSunset(v.SunsetAt), Sunset: v.SunsetAt.UTC()}
		}
		d.Versions = append(d.Versions, out)
	}

	plans, err := client.Collect(ctx, func(ctx context.Context, o client.ListOptions) (*client.Page[client.Plan], error) {
		o.Limit = 100
		return c.ListPlans(ctx, org, apiSlug, o)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list plans: %w", err)
	}
	for _, p := range plans {
		pp := PricePlan{Slug: p.Slug, Name: client.Ptr(p.Name), PriceCents: client.Ptr(p.PriceCents), Currency: client.Ptr(p.Currency),
			IncludedCalls: client.Ptr(p.IncludedCalls), OverageCentsPer1000: client.Nullable[int64]{Set: true, Value: p.OverageCentsPer1000},
			RateLimit: client.Nullable[client.RateLimit]{Set: true, Value: p.RateLimit},
			Quota:     &client.Quota{Day: p.Quota.Day, Month: p.Quota.Month}, Approval: client.Ptr(p.Approval),
			Versions: client.Ptr(append([]string{}, p.Versions...)), TrialDays: client.Ptr(p.TrialDays)}
		if p.Description != "" {
			pp.Description = client.Ptr(p.Description)
		}
		switch p.State {
		case client.PlanDraft:
			if p.SupersedesID != nil {
				notes = append(notes, fmt.Sprintf("plan %s has unpublished changes: the file holds the draft, with publish: false", p.Slug))
			}
		case client.PlanPublished:
			pp.Publish = true
		case client.PlanDeprecated:
			pp.Publish, pp.Deprecate = true, true
		case client.PlanClosed:
			pp.Publish, pp.Close = true, true
		}
		d.Plans = append(d.Plans, pp)
	}
	return d, notes, nil
}

// Marshal writes doc in the manifest format. With specs false the openapi
// keys are left out (for output that cannot carry the documents' files).
func Marshal(doc *Document, specs bool) ([]byte, error) {
	r := rawDoc{APIVersion: APIVersion, Kind: KindAPI, Org: doc.Org, Slug: doc.Slug, Name: doc.Name, Summary: doc.Summary,
		Description: doc.Description, Category: doc.Category, Tags: doc.Tags, LogoURL: doc.LogoURL, ContactURL: doc.ContactURL, TermsURL: doc.TermsURL}
	if doc.Visibility != nil {
		r.Visibility = client.Ptr(string(*doc.Visibility))
	}
	for _, v := range doc.Versions {
		rv := rawVersion{Version: v.Version, Mock: v.Mock, Deploy: v.Deploy}
		if specs && v.OpenAPI != nil {
			rv.OpenAPI = v.OpenAPI.Path
		}
		if u := v.Upstream; u != nil {
			ru := &rawUpstream{ConnectTimeoutMS: u.ConnectTimeoutMS, TimeoutMS: u.TimeoutMS, Retries: u.Retries, HealthCheckPath: u.HealthCheckPath}
			for _, t := range u.Targets {
				ru.Targets = append(ru.Targets, rawTarget{URL: t.URL, Weight: t.Weight})
			}
			rv.Upstream = ru
		}
		if s := v.Settings; s != nil {
			rv.Settings = &rawSettings{MaxBodyBytes: s.MaxBodyBytes, RequireNonce: s.RequireNonce, AllowAppCode: s.AllowAppCode, Public: s.Public,
				CORSOrigins: s.CORSOrigins, CORSMaxAge: s.CORSMaxAge}
		}
		if v.Deprecate != nil {
			rv.Deprecate = &rawDeprecate{SunsetAt: v.Deprecate.SunsetAt}
		}
		if v.Offline {
			rv.Offline = client.Ptr(true)
		}
		r.Versions = append(r.Versions, rv)
	}
	for _, p := range doc.Plans {
		rp := rawPlan{Slug: p.Slug, Name: p.Name, Description: p.Description, PriceCents: p.PriceCents, Currency: p.Currency,
			IncludedCalls: p.IncludedCalls, OverageCentsPer1000: p.OverageCentsPer1000.Value, Versions: p.Versions, TrialDays: p.TrialDays}
		if rl := p.RateLimit.Value; rl != nil {
			rp.RateLimit = &rawRateLimit{RequestsPerSecond: rl.RequestsPerSecond, Burst: rl.Burst}
		}
		if p.Quota != nil {
			rp.Quota = &rawQuota{Day: p.Quota.Day, Month: p.Quota.Month}
		}
		if p.Approval != nil {
			rp.Approval = client.Ptr(string(*p.Approval))
		}
		if p.Publish {
			rp.Publish = client.Ptr(true)
		}
		if p.Deprecate {
			rp.Deprecate = client.Ptr(true)
		}
		if p.Close {
			rp.Close = client.Ptr(true)
		}
		r.Plans = append(r.Plans, rp)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return buf.Bytes(), nil
}

// WriteFiles writes doc to path and each version's OpenAPI document beside
// it, under the name its Spec.Path gives. It returns the paths written.
func WriteFiles(doc *Document, path string) ([]string, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("write manifest: %w", err)
	}
	var written []string
	for _, v := range doc.Versions {
		if v.OpenAPI == nil {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(v.OpenAPI.Path))
		if err := os.WriteFile(p, v.OpenAPI.Raw, 0o644); err != nil {
			return written, fmt.Errorf("write OpenAPI document: %w", err)
		}
		written = append(written, p)
	}
	b, err := Marshal(doc, true)
	if err != nil {
		return written, err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return written, fmt.Errorf("write manifest: %w", err)
	}
	return append(written, path), nil
}
