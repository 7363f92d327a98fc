package portal_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/tenants"
)

// These tests drive the console's market pages (/market, /market/{org}/{api},
// /o/{org}), the plans console (/orgs/{org}/apis/{api}/plans) and the
// organisation's public profile settings through HTTP, as a browser does.

// weatherSpec is a small OpenAPI document with one documented parameter.
const weatherSpec = `openapi: 3.0.3
info: {title: Weather, version: '1'}
paths:
  /forecast:
    get:
      operationId: getForecast
      summary: Forecast for a city
      parameters:
        - {name: city, in: query, required: true, schema: {type: string}, description: The city name}
        - {name: days, in: query, schema: {type: integer}}
      responses: {'200': {description: ok}}
  /alerts/{region}:
    get:
      summary: Weather alerts
      parameters:
        - {name: region, in: path, required: true, schema: {type: string}}
      responses: {'200': {description: ok}}
`

// hostileMarkdown is an API description that tries to run script.
const hostileMarkdown = "# Weather\n\nForecasts **for every city**. <script>alert('x')</script>\n\n" +
	"[docs](https://docs.example.com/weather) [click me](javascript:alert(1)) <img src=x onerror=alert(1)>\n\n" +
	"![chart](https://img.example.com/chart.png)\n"

// marketAPI creates a public API with a version live in production, through
// the management API.
func marketAPI(t *testing.T, e *env, tok, org, slug, name, category string) {
	t.Helper()
	expectStatus(t, e.call("POST", "/api/v1/orgs/"+org+"/apis", tok, map[string]any{
		"slug": slug, "name": name, "summary": name + " as a service", "category": category, "tags": []string{"filler"}, "visibility": "public",
	}), http.StatusCreated)
	expectStatus(t, e.call("POST", "/api/v1/orgs/"+org+"/apis/"+slug+"/versions", tok, map[string]any{
		"version": "v1", "mock": true, "operations": []any{map[string]any{"method": "GET", "path": "/ping", "summary": "Ping"}},
	}), http.StatusCreated)
	expectStatus(t, e.call("POST", "/api/v1/orgs/"+org+"/apis/"+slug+"/versions/v1/deployments", tok, map[string]any{"environment": "production"}), http.StatusCreated)
}

// weatherAPI creates acme's Weather API: v1 (deprecated, sunset
// 2099-01-01) and v2 live in production, both from weatherSpec, with a
// free and a paid published plan.
func weatherAPI(t *testing.T, e *env, tok string) {
	t.Helper()
	expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis", tok, map[string]any{
		"slug": "weather", "name": "Weather", "summary": "Forecasts and alerts", "description": hostileMarkdown,
		"category": "weather", "tags": []string{"forecast", "climate"}, "visibility": "public",
	}), http.StatusCreated)
	for _, v := range []string{"v1", "v2"} {
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/versions", tok, map[string]any{"version": v, "openapi": weatherSpec, "mock": true}), http.StatusCreated)
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/versions/"+v+"/deployments", tok, map[string]any{"environment": "production"}), http.StatusCreated)
	}
	expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/versions/v1/deprecate", tok, map[string]any{"sunset_at": "2099-01-01"}), http.StatusOK)
	for _, plan := range []map[string]any{
		{"slug": "free", "name": "Free", "price_cents": 0, "currency": "usd", "included_calls": 1000, "quota": map[string]any{"day": 100},
			"approval": "auto", "versions": []string{"v2"}},
		{"slug": "pro", "name": "Pro", "description": "For production apps", "price_cents": 4900, "currency": "usd", "included_calls": 100000,
			"overage_cents_per_1000": 50, "rate_limit": map[string]any{"requests_per_second": 5, "burst": 10},
			"quota": map[string]any{"month": 500000}, "approval": "manual", "trial_days": 14, "versions": []string{"v1", "v2"}},
	} {
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/plans", tok, plan), http.StatusCreated)
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/plans/"+plan["slug"].(string)+"/publish", tok, nil), http.StatusOK)
	}
}

// join makes a user with their own organisation join acme with a role,
// through the management API, and returns their token.
func join(t *testing.T, e *env, acmeTok, name, email, ownSlug, role string) string {
	t.Helper()
	expectStatus(t, e.call("POST", "/api/v1/orgs/acme/invitations", acmeTok, map[string]any{"email": email, "role": role}), http.StatusCreated)
	tok, _ := e.signUp(name, email, ownSlug)
	expectStatus(t, e.call("POST", "/api/v1/invitations/accept", tok, map[string]any{"token": e.emailLink(email, "/invitations/")}), http.StatusCreated)
	return tok
}

// loggedIn is a browser logged in as email (password "correct horse
// battery", as signUp sets).
func loggedIn(t *testing.T, e *env, email string) *browser {
	t.Helper()
	b := e.browser()
	p := b.submit("/login", "/login", map[string]string{"email": email, "password": "correct horse battery"})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("log in as %s: %d\n%.2000s", email, p.Status, p.Body)
	}
	return b
}

// postValues posts a form with repeated fields (checkboxes).
func (b *browser) postValues(action, csrfToken string, v url.Values) page {
	b.e.t.Helper()
	v = cloneValues(v)
	if csrfToken != "" {
		v.Set("gorilla.csrf.Token", csrfToken)
	}
	req, _ := http.NewRequest("POST", b.e.srv.URL+action, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	return b.do(req)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func wantPage(t *testing.T, what string, p page, status int, want ...string) {
	t.Helper()
	if p.Status != status {
		t.Fatalf("%s: status %d, want %d (location %q)\n%.4000s", what, p.Status, status, p.Location, stripCSRF(p.Body))
	}
	for _, w := range want {
		if !strings.Contains(p.Body, w) {
			t.Fatalf("%s: page lacks %q\n%s", what, w, stripCSRF(p.Body))
		}
	}
}

func wantNot(t *testing.T, what string, p page, notWant ...string) {
	t.Helper()
	for _, w := range notWant {
		if strings.Contains(p.Body, w) {
			t.Fatalf("%s: page has %q\n%s", what, w, stripCSRF(p.Body))
		}
	}
}

func wantRedirect(t *testing.T, what string, p page, to string) {
	t.Helper()
	if p.Status != http.StatusSeeOther || p.Location != to {
		t.Fatalf("%s: %d %q, want 303 to %q\n%.4000s", what, p.Status, p.Location, to, stripCSRF(p.Body))
	}
}

// cardNames lists the API names on a market page, in order.
func cardNames(body string) []string {
	var out []string
	for _, m := range regexpMust(`class="api-card-title"[^>]*><a href="[^"]*">([^<]*)</a>`).FindAllStringSubmatch(body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

func linkAfter(t *testing.T, body, label string) string {
	t.Helper()
	m := regexpMust(`href="([^"]*)"[^>]*>(?:<span aria-hidden="true">←</span> )?` + label).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %q link in\n%s", label, stripCSRF(body))
	}
	return html.UnescapeString(m[1])
}

func TestConsoleMarketPages(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		tok, _ := e.signUp("Paula", "paula@example.com", "acme")
		weatherAPI(t, e, tok)
		marketAPI(t, e, tok, "acme", "maps", "Maps", "geo")
		for i := 1; i <= 11; i++ {
			marketAPI(t, e, tok, "acme", fmt.Sprintf("tool-%02d", i), fmt.Sprintf("Tool %02d", i), "tools")
		}
		// A private API never shows.
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis", tok, map[string]any{"slug": "secret", "name": "Secret Sauce", "visibility": "private"}), http.StatusCreated)
		visitor := e.browser()

		// The landing page leads to the market.
		wantPage(t, "landing", visitor.get("/"), http.StatusOK, `href="/market"`)

		// First page: 12 cards by name, category chips with counts, a next page.
		p := visitor.get("/market")
		wantPage(t, "market", p, http.StatusOK, `<form class="market-search" method="get" action="/market"`, `name="q"`, `name="sort"`,
			`href="/market?category=tools"`, `<span class="chip-count">11</span>`, `href="/market?category=weather"`, "Next page", `class="container main market"`)
		wantNot(t, "market", p, "Secret Sauce", "gorilla.csrf.Token", "First page")
		names := cardNames(p.Body)
		if len(names) != 12 || names[0] != "Maps" || names[1] != "Tool 01" {
			t.Fatalf("first page = %q", names)
		}
		next := linkAfter(t, p.Body, "Next page")
		p = visitor.get(next)
		wantPage(t, "second page", p, http.StatusOK, "First page")
		if names := cardNames(p.Body); len(names) != 1 || names[0] != "Weather" {
			t.Fatalf("second page = %q", names)
		}
		if first := linkAfter(t, p.Body, "First page"); first != "/market" {
			t.Fatalf("first page link = %q", first)
		}
		wantPage(t, "bad cursor", visitor.get("/market?cursor=nonsense"), http.StatusBadRequest, "not valid")
		wantPage(t, "long query", visitor.get("/market?q="+url.QueryEscape(strings.Repeat("気象", 40))), http.StatusOK, "No APIs match")

		// Search, filter, sort.
		p = visitor.get("/market?q=FORECAST")
		if names := cardNames(p.Body); len(names) != 1 || names[0] != "Weather" {
			t.Fatalf("search = %q", names)
		}
		wantPage(t, "search", p, http.StatusOK, `value="FORECAST"`, "by acme Ltd", "Forecasts and alerts", `<li class="tag">climate</li>`, "v1, v2",
			`href="/market/acme/weather"`, `href="/market?category=weather&amp;q=FORECAST"`)
		p = visitor.get("/market?category=geo")
		if names := cardNames(p.Body); len(names) != 1 || names[0] != "Maps" {
			t.Fatalf("category = %q", names)
		}
		wantPage(t, "category", p, http.StatusOK, `href="/market?category=geo" aria-current="page"`, `name="category" value="geo"`)
		p = visitor.get("/market?sort=newest&category=tools")
		if names := cardNames(p.Body); len(names) != 11 || names[0] != "Tool 11" {
			t.Fatalf("newest = %q", names)
		}
		wantPage(t, "sorted", p, http.StatusOK, `<option value="newest" selected>`)
		p = visitor.get("/market?q=nothing+like+this&category=geo")
		wantPage(t, "no match", p, http.StatusOK, "No APIs match “nothing like this” in geo", `href="/market">Clear filters`)
		if len(cardNames(p.Body)) != 0 {
			t.Fatal("cards on an empty result")
		}

		// The API page: the newest published version, its operations, the
		// plans and the description, rendered harmlessly.
		p = visitor.get("/market/acme/weather")
		wantPage(t, "API page", p, http.StatusOK,
			"<h1>Weather</h1>", `href="/o/acme"`, "Forecasts and alerts", `href="/market?category=weather"`, `href="/market?q=forecast"`,
			`href="/api/v1/market/apis/acme/weather/versions/v2/openapi"`, `href="/market/acme/weather?version=v1"`,
			`id="op-getForecast"`, `<span class="method method-get">GET</span>`, "/alerts/{region}", "Forecast for a city", "<code>city</code>", "The city name",
			"<strong>for every city</strong>", `<a href="https://docs.example.com/weather" rel="nofollow noopener">docs</a>`,
			`<a href="https://img.example.com/chart.png" rel="nofollow noopener">chart</a>`,
			"Free", "$49.00", "$0.50 per 1,000 calls", "Hard limit", "5 req/s (burst 10)", "100 calls", "500,000 calls", "14 days", "Manual", "v1, v2",
			`href="/signup?next=/market/acme/weather%3Fplan=pro"`, `href="/signup?next=/market/acme/weather%3Fplan=free"`)
		wantNot(t, "API page", p, "<script>alert", `href="javascript:`, "onerror=", "<img src=\"https://img", "is deprecated", "Subscriptions open soon")
		r := e.call("GET", "/api/v1/market/apis/acme/weather/versions/v2/openapi", "", nil)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "getForecast") {
			t.Fatalf("OpenAPI download: %d", r.Status)
		}
		p = visitor.get("/market/acme/weather?version=v1")
		wantPage(t, "deprecated version", p, http.StatusOK, "v1 is deprecated", `datetime="2099-01-01"`, `href="/market/acme/weather?version=v2"`,
			`href="/market/acme/weather?version=v1" aria-current="page"`, `href="/api/v1/market/apis/acme/weather/versions/v1/openapi"`)
		wantPage(t, "unknown version", visitor.get("/market/acme/weather?version=v9"), http.StatusNotFound, "Page not found")
		wantPage(t, "unknown API", visitor.get("/market/acme/nope"), http.StatusNotFound)
		wantPage(t, "private API", visitor.get("/market/acme/secret"), http.StatusNotFound)
		wantPage(t, "unknown org", visitor.get("/market/nobody/weather"), http.StatusNotFound)

		// Subscribing: a visitor signs up and comes back to the plan, where
		// the subscribe form waits (partner_web_test.go follows it through).
		p = visitor.submit("/signup?next=/market/acme/weather%3Fplan=pro", "/signup", map[string]string{
			"name": "Pat", "email": "pat@example.com", "password": "correct horse battery", "org_name": "Partner", "org_slug": "partner",
			"next": "/market/acme/weather?plan=pro"})
		wantRedirect(t, "sign up to subscribe", p, "/market/acme/weather?plan=pro")
		p = visitor.get("/market/acme/weather?plan=pro")
		wantPage(t, "chosen plan", p, http.StatusOK, "Subscribe to Weather on plan Pro", `action="/market/acme/weather/subscribe"`,
			`href="/market/acme/weather?plan=free#plans"`, `class="plan-head plan-chosen"`, "user-menu")
		wantNot(t, "chosen plan", p, "/signup?next=")
		wantPage(t, "signed-in market", visitor.get("/market"), http.StatusOK, "user-menu", `<div class="market">`)

		// The provider page and its brand colour, set in the settings.
		paula := loggedIn(t, e, "paula@example.com")
		settings := paula.get("/orgs/acme/settings")
		wantPage(t, "settings", settings, http.StatusOK, `name="description"`, `name="website_url"`, `name="logo_url"`,
			`type="color"`, `name="brand_color"`, `href="/o/acme"`)
		csrf := csrfOf(t, settings.Body)
		p = paula.post("/orgs/acme/settings", csrf, map[string]string{"name": "Acme", "brand_color": "blue", "website_url": "ftp://acme"})
		wantPage(t, "invalid settings", p, http.StatusUnprocessableEntity, "Use a colour like #3355ff.", "Use a full http(s) URL.", `value="blue"`)
		p = paula.post("/orgs/acme/settings", csrf, map[string]string{
			"name": "Acme", "description": "We sell weather.\nAnd maps.", "website_url": "https://acme.example", "logo_url": "https://acme.example/logo.png",
			"brand_color": "#3355FF", "brand_color_was": "", "brand_color_picker": "#4338ca", "brand_color_picker_was": "#4338ca"})
		wantRedirect(t, "settings", p, "/orgs/acme/settings")
		org, err := e.svc.OrganizationBySlug(context.Background(), "acme")
		if err != nil || org.Description != "We sell weather.\nAnd maps." || org.WebsiteURL != "https://acme.example" || org.BrandColor != "#3355ff" {
			t.Fatalf("org = %+v, %v", org, err)
		}
		// The colour picker wins when only it changed.
		p = paula.post("/orgs/acme/settings", csrf, map[string]string{"name": "Acme",
			"brand_color": "#3355ff", "brand_color_was": "#3355ff", "brand_color_picker": "#ff8800", "brand_color_picker_was": "#3355ff"})
		wantRedirect(t, "picker", p, "/orgs/acme/settings")
		if org, _ = e.svc.OrganizationBySlug(context.Background(), "acme"); org.BrandColor != "#ff8800" || org.LogoURL != "https://acme.example/logo.png" {
			t.Fatalf("after picking: %+v", org)
		}
		wantPage(t, "settings saved", paula.get("/orgs/acme/settings"), http.StatusOK, `value="#ff8800"`, "We sell weather.", `value="https://acme.example"`)

		p = visitor.get("/o/acme")
		wantPage(t, "provider page", p, http.StatusOK, "<h1>Acme</h1>", "We sell weather.\nAnd maps.", `href="https://acme.example"`,
			`src="https://acme.example/logo.png"`, `<span class="org-logo-initial">A</span>`, `<link rel="stylesheet" href="/o/acme/brand.css?v=ff8800">`,
			`href="/market/acme/maps"`, "Next page")
		wantNot(t, "provider page", p, "Only members")
		p = visitor.get(linkAfter(t, p.Body, "Next page"))
		wantPage(t, "provider page 2", p, http.StatusOK, "First page", `href="/market/acme/weather"`)
		css := visitor.get("/o/acme/brand.css?v=ff8800")
		wantPage(t, "brand.css", css, http.StatusOK, ".org-brand {", "--brand: #ff8800;", "--brand-ink: #14171c;")
		if ct, cc := css.Header.Get("Content-Type"), css.Header.Get("Cache-Control"); !strings.HasPrefix(ct, "text/css") || cc != "private, max-age=300" {
			t.Fatalf("brand.css headers: %q %q", ct, cc)
		}
		wantPage(t, "API page brand", visitor.get("/market/acme/weather"), http.StatusOK, `href="/o/acme/brand.css?v=ff8800"`)

		// Only a valid colour reaches the stylesheet, whatever the database holds.
		if err := e.db.Exec("UPDATE organizations SET brand_color = ? WHERE slug = 'acme'", "red;}*{display:none").Error; err != nil {
			t.Fatal(err)
		}
		css = visitor.get("/o/acme/brand.css")
		wantPage(t, "brand.css with a bad colour", css, http.StatusOK, "has no brand colour")
		wantNot(t, "brand.css with a bad colour", css, "--brand", "display")
		wantNot(t, "provider page without colour", visitor.get("/o/acme"), "brand.css")

		// An organisation without market APIs keeps its page to its members.
		wantPage(t, "partner page for a visitor", e.browser().get("/o/partner"), http.StatusNotFound)
		wantPage(t, "partner brand.css for a visitor", e.browser().get("/o/partner/brand.css"), http.StatusNotFound)
		wantPage(t, "partner page for its member", visitor.get("/o/partner"), http.StatusOK, "Only members of Partner see this page", "No APIs in the market yet")
		wantPage(t, "unknown provider", visitor.get("/o/nobody"), http.StatusNotFound, "Page not found")
		wantPage(t, "unknown brand.css", visitor.get("/o/nobody/brand.css"), http.StatusNotFound)
	})
}

func TestConsolePlans(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tok, acmeID := e.signUp("Paula", "paula@example.com", "acme")
		marketAPI(t, e, tok, "acme", "weather", "Weather", "weather")
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/versions", tok, map[string]any{
			"version": "v2", "mock": true, "operations": []any{map[string]any{"method": "GET", "path": "/ping"}},
		}), http.StatusCreated)
		weather, err := e.cat.API(ctx, acmeID, "weather")
		if err != nil {
			t.Fatal(err)
		}
		paula := loggedIn(t, e, "paula@example.com")
		base := "/orgs/acme/apis/weather/plans"

		list := paula.get(base)
		wantPage(t, "empty plans", list, http.StatusOK, "No plans yet", `action="/orgs/acme/apis/weather/plans#new-plan"`,
			`formaction="/orgs/acme/apis/weather/plans/preview#new-plan"`, `name="price"`, `name="versions" value="v1" checked`,
			`name="versions" value="v2">`, `<option value="jpy">`, "(draft)")
		csrf := csrfOf(t, list.Body)
		pro := url.Values{
			"slug": {"pro"}, "name": {"Pro"}, "description": {"For production apps"}, "currency": {"usd"}, "price": {"49.00"},
			"included_calls": {"100,000"}, "overage": {"0.50"}, "rate_rps": {"5"}, "rate_burst": {"10"}, "quota_day": {"10000"},
			"quota_month": {""}, "approval": {"manual"}, "trial_days": {"14"}, "versions": {"v1", "v2"},
		}
		with := func(v url.Values, kv ...string) url.Values {
			out := cloneValues(v)
			for i := 0; i < len(kv); i += 2 {
				out.Set(kv[i], kv[i+1])
			}
			return out
		}

		// Preview: the market's view of the form, nothing saved.
		p := paula.postValues(base+"/preview", csrf, pro)
		wantPage(t, "preview", p, http.StatusOK, "How partners will see this plan", `aria-label="Preview of Pro"`, "$49.00", "100,000",
			"$0.50 per 1,000 calls", "5 req/s (burst 10)", "10,000 calls", "Unlimited", "Manual", "14 days", "v1, v2", `value="100,000"`, `value="0.50"`)
		if l, _ := e.plans.ListPlans(ctx, acmeID, weather.ID, tenants.Page{Limit: 100}); len(l.Items) != 0 {
			t.Fatalf("preview saved a plan: %+v", l.Items)
		}
		p = paula.postValues(base+"/preview", csrf, with(pro, "currency", "jpy", "price", "500.5", "overage", "2"))
		wantPage(t, "preview of yen with decimals", p, http.StatusUnprocessableEntity, "no minor unit", `id="np-price-error"`, `value="500.5"`)
		p = paula.postValues(base+"/preview", csrf, with(pro, "price", "49.999", "quota_day", "lots", "rate_rps", ""))
		wantPage(t, "preview errors", p, http.StatusUnprocessableEntity, "at most 2 decimal places", "Enter a whole number of calls a day",
			"Enter the requests per second, or leave the burst empty too.", `id="np-rate-rps-error"`)
		wantNot(t, "preview errors", p, "How partners will see this plan")

		// Billing's own checks come back on the form's fields.
		p = paula.postValues(base, csrf, with(pro, "rate_burst", "2", "quota_month", "5000"))
		wantPage(t, "billing errors", p, http.StatusUnprocessableEntity, "Use a burst of at least the requests per second",
			`id="np-rate-burst-error"`, "The daily quota cannot exceed the monthly quota.", `id="np-quota-day-error"`,
			"Include no more calls than the monthly quota allows.", `id="np-included-error"`, `value="Pro"`)
		p = paula.postValues(base, csrf, with(pro, "versions", ""))
		wantPage(t, "no versions", p, http.StatusUnprocessableEntity, `id="np-versions-error"`)

		// Create, publish, change (revision 2), publish again.
		wantRedirect(t, "create", paula.postValues(base, csrf, pro), base+"/pro")
		got, err := e.plans.Plan(ctx, acmeID, weather.ID, "pro")
		if err != nil || got.State != billing.PlanDraft || got.PriceCents != 4900 || got.IncludedCalls != 100000 || *got.OverageCentsPer1000 != 50 ||
			got.RateLimit.Burst != 10 || *got.Quota.Day != 10000 || got.Quota.Month != nil || got.Approval != billing.ApprovalManual || got.TrialDays != 14 {
			t.Fatalf("created plan = %+v, %v", got, err)
		}
		detail := paula.get(base + "/pro")
		wantPage(t, "draft plan", detail, http.StatusOK, "Draft plan Pro created", "Publish revision 1", `action="/orgs/acme/apis/weather/plans/pro/publish"`,
			`action="/orgs/acme/apis/weather/plans/pro/edit#edit"`, "You are editing draft revision 1", `value="49.00"`, `value="100000"`)
		wantNot(t, "draft plan", detail, "/deprecate", "/close")
		p = paula.postValues(base, csrf, pro)
		wantPage(t, "duplicate", p, http.StatusConflict, "already has a plan")
		p = paula.post(base+"/pro/publish", csrfOf(t, detail.Body), nil)
		wantRedirect(t, "publish", p, base+"/pro")
		detail = paula.get(base + "/pro")
		wantPage(t, "published plan", detail, http.StatusOK, "Pro: revision 1 is published.", "creates draft revision 2",
			"existing subscribers keep the terms they signed up for", `data-confirm="Closing is final`, "Save as revision 2")
		wantNot(t, "published plan", detail, "/publish\"")

		edited := with(pro, "included_calls", "200000")
		edited.Del("slug")
		p = paula.postValues(base+"/pro/preview", csrf, edited)
		wantPage(t, "edit preview", p, http.StatusOK, "How partners will see this plan", "200,000")
		wantRedirect(t, "edit", paula.postValues(base+"/pro/edit", csrf, edited), base+"/pro")
		detail = paula.get(base + "/pro")
		wantPage(t, "revision 2", detail, http.StatusOK, "Saved as draft revision 2. Revision 1 stays on sale", "Revision 2 is a draft of changes",
			"Revision 1 stays on sale until you publish the draft", "Publish revision 2", "Revision 1 becomes deprecated")
		revs, _ := e.plans.PlanRevisions(ctx, acmeID, weather.ID, "pro")
		if len(revs) != 2 || revs[0].State != billing.PlanDraft || revs[0].IncludedCalls != 200000 || revs[1].State != billing.PlanPublished || revs[1].IncludedCalls != 100000 {
			t.Fatalf("revisions after edit = %+v", revs)
		}
		wantRedirect(t, "unchanged edit", paula.postValues(base+"/pro/edit", csrf, edited), base+"/pro")
		wantPage(t, "unchanged", paula.get(base+"/pro"), http.StatusOK, "Nothing changed.")
		p = paula.postValues(base+"/pro/edit", csrf, with(edited, "price", "-1"))
		wantPage(t, "invalid edit", p, http.StatusUnprocessableEntity, "Enter 0 or more.", `id="ep-price-error"`)
		wantRedirect(t, "publish revision 2", paula.post(base+"/pro/publish", csrf, nil), base+"/pro")
		wantPage(t, "revision 2 published", paula.get(base+"/pro"), http.StatusOK, "Pro: revision 2 is published. Revision 1 is deprecated")
		revs, _ = e.plans.PlanRevisions(ctx, acmeID, weather.ID, "pro")
		if revs[0].State != billing.PlanPublished || revs[1].State != billing.PlanDeprecated {
			t.Fatalf("revisions after publishing 2 = %v %v", revs[0].State, revs[1].State)
		}
		wantPage(t, "market shows revision 2", e.browser().get("/market/acme/weather"), http.StatusOK, "200,000")

		list = paula.get(base)
		wantPage(t, "plans list", list, http.StatusOK, `href="/orgs/acme/apis/weather/plans/pro"`, "$49.00", "200,000 calls/month included", "Published", ">2</td>")

		// A yen plan is in whole yen; a plan may be called "preview".
		wantRedirect(t, "yen plan", paula.postValues(base, csrf, with(pro, "slug", "preview", "name", "Yen", "currency", "jpy", "price", "500", "overage", "2")), base+"/preview")
		yen, _ := e.plans.Plan(ctx, acmeID, weather.ID, "preview")
		if yen.PriceCents != 500 || *yen.OverageCentsPer1000 != 2 {
			t.Fatalf("yen plan = %+v", yen)
		}
		wantPage(t, "yen plan page", paula.get(base+"/preview"), http.StatusOK, "¥500", `value="500"`)
		wantRedirect(t, "edit the plan called preview", paula.postValues(base+"/preview/edit", csrf, with(pro, "name", "Yen Pro", "currency", "jpy", "price", "600", "overage", "")), base+"/preview")

		// Close is final.
		wantRedirect(t, "close", paula.post(base+"/pro/close", csrf, nil), base+"/pro")
		detail = paula.get(base + "/pro")
		wantPage(t, "closed plan", detail, http.StatusOK, "Pro is closed.", "A closed plan cannot change.")
		wantNot(t, "closed plan", detail, "/edit#edit", "/close\"", "/deprecate\"")
		p = paula.post(base+"/pro/close", csrf, nil)
		wantRedirect(t, "close twice", p, base+"/pro")
		wantPage(t, "close twice", paula.get(base+"/pro"), http.StatusOK, "final")

		// A developer reads plans but may not change them.
		join(t, e, tok, "Dev", "dev@example.com", "devs", "developer")
		dev := loggedIn(t, e, "dev@example.com")
		p = dev.get(base)
		wantPage(t, "plans as developer", p, http.StatusOK, "Only owners, admins and billing members can create and change plans.", `href="/orgs/acme/apis/weather/plans/pro"`)
		wantNot(t, "plans as developer", p, `name="price"`)
		devCSRF := csrfOf(t, p.Body)
		for _, action := range []string{base, base + "/preview", base + "/pro/edit", base + "/pro/preview", base + "/preview/publish", base + "/preview/deprecate", base + "/preview/close"} {
			wantPage(t, "developer POST "+action, dev.postValues(action, devCSRF, pro), http.StatusForbidden, "Only owners, admins and billing members can change plans.")
		}
		wantNot(t, "plan as developer", dev.get(base+"/preview"), `name="price"`, "/publish\"")
		// Billing members may.
		join(t, e, tok, "Bill", "bill@example.com", "bills", "billing")
		bill := loggedIn(t, e, "bill@example.com")
		wantRedirect(t, "billing member publishes", bill.post(base+"/preview/publish", csrfOf(t, bill.get(base).Body), nil), base+"/preview")

		// Without the CSRF token nothing happens.
		wantPage(t, "no CSRF", paula.postValues(base, "", with(pro, "slug", "other")), http.StatusForbidden, "This form has expired")
		wantPage(t, "no CSRF publish", paula.post(base+"/preview/deprecate", "", nil), http.StatusForbidden)
		if p, _ := e.plans.Plan(ctx, acmeID, weather.ID, "preview"); p.State != billing.PlanPublished {
			t.Fatalf("deprecated without CSRF: %v", p.State)
		}

		// Unknown things and other organisations are not found.
		wantPage(t, "unknown API", paula.get("/orgs/acme/apis/nope/plans"), http.StatusNotFound)
		wantPage(t, "unknown plan", paula.get(base+"/nope"), http.StatusNotFound)
		wantPage(t, "publish unknown plan", paula.post(base+"/nope/publish", csrf, nil), http.StatusNotFound)
		wantPage(t, "other organisation", dev.get("/orgs/bills/apis/weather/plans"), http.StatusNotFound)
	})
}
