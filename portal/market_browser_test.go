package portal_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
)

// TestBrowserMarketJourney is what a partner does in the market in a real
// browser: find an API from the landing page, search, read its page in the
// provider's colours, look at the deprecated version, pick a plan, sign up
// and come back to it, where the subscribe form waits; then the provider
// previews a new plan. With PORTICO_TEST_SCREENSHOTS set to a directory it
// saves a screenshot of each page, including a phone-sized one.
func TestBrowserMarketJourney(t *testing.T) {
	db := testdb.Open(t, migrations.SQLite)
	e := newEnv(t, db)
	tok, _ := e.signUp("Paula", "paula@example.com", "acme")
	weatherAPI(t, e, tok)
	marketAPI(t, e, tok, "acme", "maps", "Maps", "geo")
	marketAPI(t, e, tok, "acme", "geocode", "Geocoder", "geo")
	expectStatus(t, e.call("PATCH", "/api/v1/orgs/acme", tok, map[string]any{
		"name": "Acme Weather Co.", "description": "Forecasts, alerts and maps for developers since 2026.",
		"website_url": "https://acme.example", "logo_url": "https://acme.example/logo.png", "brand_color": "#0e7c66",
	}), http.StatusOK)

	ctx := newBrowser(t)
	base := e.srv.URL
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	shot := screenshot("market-")
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	location := func() string {
		t.Helper()
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	const brand = "rgb(14, 124, 102)"

	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.Click(css(`.hero a[href="/market"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(css(`.api-grid`)),
		shot("search"),
		chromedp.SendKeys(css(`#market-q`), "forecast"),
		chromedp.Click(css(`.market-search button[type=submit]`)),
		chromedp.WaitVisible(css(`#market-q[value="forecast"]`)),
	)
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	if n := eval(`String(document.querySelectorAll(".api-card").length)`); n != "1" {
		t.Fatalf("search found %s cards", n)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(css(`.api-card-title a`)),
		chromedp.WaitVisible(css(`.api-hero`)),
		shot("api"),
	)
	if err != nil {
		t.Fatalf("open the API: %v", err)
	}
	// The provider's colour arrives through brand.css; the description's
	// script never ran.
	if c := eval(`getComputedStyle(document.querySelector(".api-hero")).borderTopColor`); c != brand {
		t.Fatalf("API page accent = %s, want the brand colour %s", c, brand)
	}
	if s := eval(`String(document.querySelectorAll(".markdown script, .markdown img").length)`); s != "0" {
		t.Fatalf("the description has %s script or image elements", s)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(css(`.version-switch a[href$="version=v1"]`)),
		chromedp.WaitVisible(css(`.callout-warning`)),
		shot("api-deprecated"),
		chromedp.Click(css(`#plans tfoot td:nth-of-type(2) a`)),
		chromedp.WaitVisible(css(`#org_slug`)),
	)
	if err != nil {
		t.Fatalf("deprecated version and subscribe: %v", err)
	}
	if loc := location(); !strings.Contains(loc, "/signup?next=/market/acme/weather%3Fplan=pro") {
		t.Fatalf("subscribe led to %s", loc)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(css(`#name`), "Pat Partner"),
		chromedp.SendKeys(css(`#email`), "pat@example.com"),
		chromedp.SendKeys(css(`#password`), "correct horse battery"),
		chromedp.SendKeys(css(`#org_name`), "Partner"),
		chromedp.SendKeys(css(`#org_slug`), "partner"),
		chromedp.Click(css(`form[action="/signup"] button[type=submit]`)),
		chromedp.WaitVisible(css(`#plans form.subscribe-form`)),
		shot("api-chosen"),
	)
	if err != nil {
		t.Fatalf("sign up from the market: %v", err)
	}
	if loc := location(); !strings.HasSuffix(loc, "/market/acme/weather?plan=pro") {
		t.Fatalf("after sign-up at %s", loc)
	}

	// The provider page: the logo is another origin, which the CSP
	// blocks, so the initial shows in the brand colour.
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/o/acme"),
		chromedp.WaitVisible(css(`.provider-hero`)),
		shot("provider"),
	)
	if err != nil {
		t.Fatalf("provider page: %v", err)
	}
	if c := eval(`getComputedStyle(document.querySelector(".org-logo")).backgroundColor`); c != brand {
		t.Fatalf("logo background = %s, want %s", c, brand)
	}
	if ink := eval(`getComputedStyle(document.querySelector(".org-logo")).color`); ink != "rgb(255, 255, 255)" {
		t.Fatalf("initial colour = %s, want white on the dark brand colour", ink)
	}

	// The provider previews a new plan.
	err = chromedp.Do(ctx,
		chromedp.Click(css(`.user-menu summary`)),
		chromedp.Click(css(`form[action="/logout"] button`), chromedp.NodeVisible),
		chromedp.WaitVisible(css(`form[action="/login"]`)),
		chromedp.SendKeys(css(`form[action="/login"] input[name=email]`), "paula@example.com"),
		chromedp.SendKeys(css(`form[action="/login"] input[name=password]`), "correct horse battery"),
		chromedp.Click(css(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(css(`.user-menu summary`)),
		chromedp.Navigate(base+"/orgs/acme/apis/weather/plans"),
		chromedp.WaitVisible(css(`#np-slug`)),
		chromedp.SendKeys(css(`#np-slug`), "team"),
		chromedp.SendKeys(css(`#np-name`), "Team"),
		chromedp.SendKeys(css(`#np-price`), "199"),
		chromedp.SetValue(css(`#np-currency`), "eur"),
		chromedp.SendKeys(css(`#np-included`), "1,000,000"),
		chromedp.SendKeys(css(`#np-overage`), "0,40"),
		chromedp.SendKeys(css(`#np-rate-rps`), "50"),
		chromedp.Click(css(`button[formaction$="/plans/preview#new-plan"]`)),
		chromedp.WaitVisible(css(`.plan-preview .plan-table`)),
		shot("plans-preview"),
	)
	if err != nil {
		t.Fatalf("plan preview: %v", err)
	}
	if p := eval(`document.querySelector(".plan-preview .plan-price").textContent`); p != "€199.00" {
		t.Fatalf("preview price = %q", p)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(css(`form[action$="/plans#new-plan"] button.btn-primary`)),
		chromedp.WaitVisible(css(`form[action$="/team/publish"]`)),
		shot("plan"),
	)
	if err != nil {
		t.Fatalf("create the plan: %v", err)
	}

	// The market fits a phone: only tables scroll sideways.
	err = chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(base+"/market/acme/weather"),
		chromedp.WaitVisible(css(`#plans`)),
		shot("api-phone"),
	)
	if err != nil {
		t.Fatalf("phone: %v", err)
	}
	for _, path := range []string{"/market/acme/weather", "/market", "/o/acme"} {
		if _, err := chromedp.Run(ctx, chromedp.Navigate(base+path)); err != nil {
			t.Fatal(err)
		}
		if wide := eval(`Array.from(document.querySelectorAll("body *")).filter(function (el) { return !el.closest(".table-wrap") && el.getBoundingClientRect().right > window.innerWidth + 1; }).slice(0, 8).map(function (el) { return el.tagName + "." + el.className; }).join(", ")`); wide != "" {
			t.Fatalf("%s is wider than a phone: %s", path, wide)
		}
	}
}
