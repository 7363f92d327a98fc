package web

import (
	"context"
	"crypto/rand"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/portal/mail"
	"github.com/portico-dev/portico/portal/market"
	"github.com/portico-dev/portico/portal/session"
	"github.com/portico-dev/portico/portal/throttle"
	"github.com/portico-dev/portico/tenants"
	"github.com/portico-dev/portico/tenants/keyring"
)

// TestConsoleChangesAreAnnounced: every change the console makes to keys
// and subscriptions reaches the gateway through the services' OnChange
// (which portico wires to gwconfig.Notifier), once per committed change
// and not for refused ones; and a new key's example request uses the
// configured region and gateway URL.
func TestConsoleChangesAreAnnounced(t *testing.T) {
	db := testdb.Open(t, migrations.SQLite)
	ctx := context.Background()
	key := make([]byte, 32)
	rand.Read(key)
	kr, err := keyring.New(key)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	outbox := mail.NewOutbox(db.DB, log, func() string { return uuid.Must(uuid.NewV7()).String() })
	pp := tenants.FastPasswordParams
	var keys, subs atomic.Int32
	svc := tenants.NewService(db.DB, tenants.Options{BaseURL: "http://console.test", Mailer: outbox, Logger: log, PasswordParams: &pp, Keyring: kr,
		OnChange: func(context.Context) { keys.Add(1) }})
	cat := catalog.NewService(db.DB, catalog.Options{Keyring: kr, Guard: catalog.UpstreamGuard{AllowPrivate: true}, Logger: log})
	plans := billing.NewService(db.DB, billing.Options{Versions: cat, Logger: log,
		OnChange: func(context.Context) { subs.Add(1) }})

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	Register(r, Deps{
		Tenants: svc, Catalog: cat, Market: market.NewService(db.DB, plans), Plans: plans,
		Sessions: session.NewManager(session.CookieName, kr.Derive("session"), false, time.Hour), Logger: log, CSRFKey: kr.Derive("csrf"),
		LoginIPThrottle: throttle.New(time.Second, 100), LoginAccountThrottle: throttle.New(time.Second, 100),
		SignupThrottle: throttle.New(time.Second, 100), ResetThrottle: throttle.New(time.Second, 100),
		Region: "eu-west-7", GatewayURL: "https://gw.example.com/",
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	// The provider: a public API live in production with a free plan.
	prov, err := svc.SignUp(ctx, tenants.SignUpInput{Name: "Paula", Email: "paula@example.com", Password: "correct horse battery", OrgName: "Acme", OrgSlug: "acme"}, "")
	if err != nil {
		t.Fatal(err)
	}
	pa := tenants.Actor{UserID: prov.User.ID, Email: prov.User.Email}
	api, err := cat.CreateAPI(ctx, prov.Org.ID, pa, catalog.APIInput{Slug: "weather", Name: "Weather", Visibility: catalog.Public})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cat.CreateVersion(ctx, prov.Org.ID, "weather", pa, catalog.VersionInput{Version: "v1", Mock: true,
		Operations: []catalog.OperationInput{{Method: "GET", Path: "/forecast"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.Deploy(ctx, prov.Org.ID, "weather", "v1", catalog.EnvProduction, pa, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := plans.CreatePlan(ctx, prov.Org.ID, api.ID, pa, billing.PlanInput{Slug: "free", Name: "Free", Currency: "usd", IncludedCalls: 100, Versions: []string{"v1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := plans.PublishPlan(ctx, prov.Org.ID, api.ID, "free", pa); err != nil {
		t.Fatal(err)
	}
	part, err := svc.SignUp(ctx, tenants.SignUpInput{Name: "Pat", Email: "pat@example.com", Password: "correct horse battery", OrgName: "Partner", OrgSlug: "partner"}, "")
	if err != nil {
		t.Fatal(err)
	}

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	csrfRE := regexp.MustCompile(`name="gorilla\.csrf\.Token" value="([^"]+)"`)
	var token string
	get := func(path string) string {
		t.Helper()
		res, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if m := csrfRE.FindStringSubmatch(string(b)); m != nil {
			token = html.UnescapeString(m[1])
		}
		return string(b)
	}
	post := func(path string, fields map[string]string, want int) (string, string) {
		t.Helper()
		v := url.Values{"gorilla.csrf.Token": {token}}
		for k, f := range fields {
			v.Set(k, f)
		}
		res, err := client.PostForm(srv.URL+path, v)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			t.Fatalf("POST %s: %d, want %d\n%.2000s", path, res.StatusCode, want, b)
		}
		return res.Header.Get("Location"), string(b)
	}
	counts := func(what string, wantKeys, wantSubs int32) {
		t.Helper()
		if keys.Load() != wantKeys || subs.Load() != wantSubs {
			t.Fatalf("after %s: tenants OnChange ×%d, billing OnChange ×%d; want ×%d and ×%d", what, keys.Load(), subs.Load(), wantKeys, wantSubs)
		}
	}

	get("/login")
	post("/login", map[string]string{"email": "pat@example.com", "password": "correct horse battery"}, http.StatusSeeOther)
	get("/market/acme/weather?plan=free")
	loc, _ := post("/market/acme/weather/subscribe", map[string]string{"org": "partner", "plan": "free", "app": "new", "app_name": "Widget", "version": "v1"}, http.StatusSeeOther)
	counts("subscribing", 0, 1)
	subID := loc[strings.LastIndex(loc, "/")+1:]
	apps, err := svc.ListApps(ctx, part.Org.ID, tenants.Page{})
	if err != nil || len(apps.Items) != 1 {
		t.Fatalf("apps = %v, %v", apps.Items, err)
	}
	app := apps.Items[0].ID

	get("/orgs/partner/apps/" + app)
	_, body := post("/orgs/partner/apps/"+app+"/keys", map[string]string{"name": "servers"}, http.StatusCreated)
	counts("creating a key", 1, 1)
	ak := regexp.MustCompile(`id="new-access-key">([A-Z0-9]+)<`).FindStringSubmatch(body)
	if ak == nil || !strings.Contains(body, `aws:amz:eu-west-7:apigw`) || !strings.Contains(body, `https://gw.example.com/acme/weather/v1/forecast`) {
		t.Fatalf("the example request does not use the region and gateway:\n%s", body)
	}
	post("/orgs/partner/apps/"+app+"/keys", map[string]string{"expires_on": "1999-01-01"}, http.StatusUnprocessableEntity)
	counts("a refused key", 1, 1)
	post("/orgs/partner/apps/"+app+"/keys/"+ak[1]+"/revoke", nil, http.StatusSeeOther)
	counts("revoking the key", 2, 1)

	get("/orgs/partner/apps/" + app)
	post("/orgs/partner/apps/"+app+"/codes", map[string]string{"name": "browser"}, http.StatusCreated)
	counts("creating an app code", 3, 1)
	codes, err := svc.ListAppCodes(ctx, part.Org.ID, app)
	if err != nil || len(codes) != 1 {
		t.Fatalf("app codes = %v, %v", codes, err)
	}
	post("/orgs/partner/apps/"+app+"/codes/"+codes[0].ID+"/revoke", nil, http.StatusSeeOther)
	counts("revoking the app code", 4, 1)

	post("/orgs/partner/subscriptions/"+subID+"/cancel", nil, http.StatusSeeOther)
	counts("cancelling", 4, 2)
	if _, err := plans.Subscribe(ctx, part.Org.ID, tenants.Actor{UserID: part.User.ID, Email: part.User.Email},
		billing.SubscribeInput{AppID: app, ProviderOrg: "acme", API: "weather", Version: "v1", Plan: "free"}); err != nil {
		t.Fatal(err)
	}
	counts("subscribing again", 4, 3)
	post("/orgs/partner/apps/"+app+"/delete", nil, http.StatusSeeOther)
	counts("deleting the app", 5, 4)
}
