package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/tenants"
)

// demoFile is what --demo writes to the data dir: everything needed to make
// a first signed call.
type demoFile struct {
	PortalURL  string       `json:"portal_url"`
	GatewayURL string       `json:"gateway_url"`
	Region     string       `json:"region"`
	Service    string       `json:"service"`
	Provider   demoProvider `json:"provider"`
	Partner    demoPartner  `json:"partner"`
	API        demoAPI      `json:"api"`
	Plan       demoPlan     `json:"plan"`
}

type demoProvider struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Org      string `json:"org"`
	Token    string `json:"token"`
}

type demoPartner struct {
	Email     string `json:"email"`
	Password  string `json:"password"`
	Org       string `json:"org"`
	App       string `json:"app"`
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
}

type demoAPI struct {
	Org         string `json:"org"`
	Slug        string `json:"slug"`
	Version     string `json:"version"`
	BaseURL     string `json:"base_url"`
	ExamplePath string `json:"example_path"`
}

type demoPlan struct {
	RequestsPerSecond int   `json:"requests_per_second"`
	Burst             int   `json:"burst"`
	DayQuota          int64 `json:"day_quota"`
}

func demoPassword() string {
	b := make([]byte, 12)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// seedDemo fills an empty database with a provider, a published echo API, a
// free plan and a subscribed partner app, and writes demo.json. On a
// database that already has organisations it only reads demo.json back.
func seedDemo(ctx context.Context, cfg *Config, svc *tenants.Service, cat *catalog.Service, plans *billing.Service, portalURL, gatewayURL string) (*demoFile, error) {
	path := filepath.Join(cfg.DataDir, "demo.json")
	orgs, err := svc.CountOrganizations(ctx)
	if err != nil {
		return nil, err
	}
	if orgs > 0 {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--demo seeds an empty database only, and %s is missing: %w", path, err)
		}
		var d demoFile
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		// This run may listen elsewhere: the URLs follow it.
		d.PortalURL, d.GatewayURL = portalURL, gatewayURL
		d.API.BaseURL = gatewayURL + "/" + d.API.Org + "/" + d.API.Slug + "/" + d.API.Version
		return &d, writeDemo(path, &d)
	}
	d := &demoFile{PortalURL: portalURL, GatewayURL: gatewayURL, Region: cfg.Region, Service: "apigw",
		Plan: demoPlan{RequestsPerSecond: 5, Burst: 10, DayQuota: 1000}}
	d.Provider = demoProvider{Email: "provider@acme.example", Password: demoPassword(), Org: "acme"}
	d.Partner = demoPartner{Email: "partner@globex.example", Password: demoPassword(), Org: "globex"}
	prov, err := svc.SignUp(ctx, tenants.SignUpInput{Name: "Acme Provider", Email: d.Provider.Email, Password: d.Provider.Password, OrgName: "Acme", OrgSlug: "acme"}, "127.0.0.1")
	if err != nil {
		return nil, fmt.Errorf("demo provider: %w", err)
	}
	pa := tenants.Actor{UserID: prov.User.ID, Email: prov.User.Email, IP: "127.0.0.1"}
	tok, err := svc.CreateToken(ctx, pa, "demo", 0)
	if err != nil {
		return nil, err
	}
	d.Provider.Token = tok.Token
	api, err := cat.CreateAPI(ctx, prov.Org.ID, pa, catalog.APIInput{Slug: "echo", Name: "Echo", Summary: "Echoes the request it receives, as JSON.",
		Description: "A demo API: every method on every path answers with the request the backend received — method, path, query, headers and body — so you can see exactly what the gateway forwards, including its backend signature.",
		Category:    "tools", Tags: []string{"demo", "echo"}, Visibility: catalog.Public})
	if err != nil {
		return nil, fmt.Errorf("demo api: %w", err)
	}
	if _, _, err := cat.CreateVersion(ctx, prov.Org.ID, "echo", pa, catalog.VersionInput{
		Version:    "v1",
		Operations: []catalog.OperationInput{{OperationID: "echo", Method: "*", Path: "/*", Summary: "Echo the request"}},
		Upstream:   &catalog.Upstream{Targets: []catalog.Target{{URL: portalURL + "/_demo/echo", Weight: 1}}},
	}); err != nil {
		return nil, fmt.Errorf("demo version: %w", err)
	}
	if _, err := cat.Deploy(ctx, prov.Org.ID, "echo", "v1", catalog.EnvProduction, pa, "demo"); err != nil {
		return nil, fmt.Errorf("demo deploy: %w", err)
	}
	day := d.Plan.DayQuota
	if _, err := plans.CreatePlan(ctx, prov.Org.ID, api.ID, pa, billing.PlanInput{Slug: "free", Name: "Free", Currency: "usd", IncludedCalls: 30000,
		RateLimit: &billing.RateLimit{RequestsPerSecond: d.Plan.RequestsPerSecond, Burst: d.Plan.Burst}, Quota: billing.Quota{Day: &day},
		Approval: billing.ApprovalAuto, Versions: []string{"v1"}}); err != nil {
		return nil, fmt.Errorf("demo plan: %w", err)
	}
	if _, err := plans.PublishPlan(ctx, prov.Org.ID, api.ID, "free", pa); err != nil {
		return nil, err
	}
	part, err := svc.SignUp(ctx, tenants.SignUpInput{Name: "Globex Partner", Email: d.Partner.Email, Password: d.Partner.Password, OrgName: "Globex", OrgSlug: "globex"}, "127.0.0.1")
	if err != nil {
		return nil, fmt.Errorf("demo partner: %w", err)
	}
	ca := tenants.Actor{UserID: part.User.ID, Email: part.User.Email, IP: "127.0.0.1"}
	app, err := svc.CreateApp(ctx, part.Org.ID, ca, tenants.AppInput{Name: "Demo app"})
	if err != nil {
		return nil, err
	}
	key, err := svc.CreateAppKey(ctx, part.Org.ID, app.ID, ca, tenants.KeyInput{Name: "demo"})
	if err != nil {
		return nil, err
	}
	if _, err := plans.Subscribe(ctx, part.Org.ID, ca, billing.SubscribeInput{AppID: app.ID, ProviderOrg: "acme", API: "echo", Version: "v1", Plan: "free"}); err != nil {
		return nil, fmt.Errorf("demo subscription: %w", err)
	}
	d.Partner.App, d.Partner.AccessKey, d.Partner.SecretKey = app.ID, key.AccessKey, key.SecretKey
	d.API = demoAPI{Org: "acme", Slug: "echo", Version: "v1", BaseURL: gatewayURL + "/acme/echo/v1", ExamplePath: "/hello?name=world"}
	return d, writeDemo(path, d)
}

// writeDemo writes demo.json, readable by its owner only: it holds
// passwords and a secret key.
func writeDemo(path string, d *demoFile) error {
	b, _ := json.MarshalIndent(d, "", "  ")
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
