package templates_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/portico-dev/portico/templates/components"
	"github.com/portico-dev/portico/templates/layout"
	"github.com/portico-dev/portico/templates/pages/market"
	"github.com/portico-dev/portico/templates/pages/orgs"
	"github.com/portico-dev/portico/templates/pages/plans"
)

// The market pages, the plans console and the organisation's public
// profile. TestMarketPages runs the same checks as TestPages; the market's
// search form is a GET form, which must carry no CSRF token.

var billingOrg = layout.Org{Slug: "acme", Name: "Acme Inc", Role: "billing"}

const hostileDescription = "# Weather\n\nForecasts **for every city**.\n\n<script>alert('x')</script>\n\n" +
	"[docs](https://docs.example.com) [evil](javascript:alert(1)) [evil2](JaVaScRiPt:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=)\n\n" +
	"<a href=\"javascript:alert(2)\" onclick=\"alert(3)\">raw link</a> <img src=x onerror=alert(4)> <span style=\"color:red\">red</span>\n\n" +
	"![chart](https://img.example.com/chart.png) <javascript:alert(5)>\n"

var (
	freeTerms = market.PlanTerms{Slug: "free", Name: "Free", Price: "Free", Free: true, Included: "1,000", Overage: "Hard limit",
		RateLimit: "None", DayQuota: "100 calls", MonthQuota: "Unlimited", Approval: "Automatic", Trial: "None", Versions: "v2",
		SubscribeURL: "/signup?next=/market/acme/weather%3Fplan=free"}
	proTerms = market.PlanTerms{Slug: "pro", Name: "Pro <plus>", Description: "For production apps", Price: "$49.00", Included: "100,000",
		Overage: "$0.50 per 1,000 calls", RateLimit: "5 req/s (burst 10)", DayQuota: "Unlimited", MonthQuota: "500,000 calls",
		Approval: "Manual", Trial: "14 days", Versions: "v1, v2", SubscribeURL: "/signup?next=/market/acme/weather%3Fplan=pro"}
)

func weatherAPIPage(page layout.Page) market.APIProps {
	return market.APIProps{
		Page:     page,
		Provider: market.APIProvider{Slug: "acme", Name: "Acme <Inc>", Linked: true, BrandCSS: "/o/acme/brand.css?v=3355ff"},
		Slug:     "weather", Name: "Weather <beta>", Summary: "Forecasts and alerts", Description: hostileDescription,
		Category: "weather", Tags: []string{"forecast", "climate"}, ContactURL: "mailto:api@acme.test", TermsURL: "javascript:alert(6)",
		Versions: []market.VersionTab{
			{Version: "v1", State: "deprecated", URL: "/market/acme/weather?version=v1", Current: true},
			{Version: "v2", State: "published", URL: "/market/acme/weather?version=v2"},
		},
		Version: market.VersionDoc{Version: "v1", State: "deprecated", Sunset: "2099-01-01", SpecURL: "/api/v1/market/apis/acme/weather/versions/v1/openapi",
			Operations: []market.Operation{
				{Anchor: "op-getForecast", Method: "GET", Path: "/forecast", Summary: "Forecast for a city", Parameters: []market.Parameter{
					{Name: "city", In: "query", Type: "string", Required: true, Description: "The <city> name"},
					{Name: "days", In: "query"},
				}},
				{Anchor: "op-2", Method: "DELETE", Path: "/alerts/{id}"},
			}},
		Latest: market.VersionTab{Version: "v2", State: "published", URL: "/market/acme/weather?version=v2"},
		Plans:  []market.PlanTerms{freeTerms, proTerms},
	}
}

var newPlanForm = plans.Form{
	Slug: "pro", Name: "Pro", Price: "49.00", Currency: "usd", IncludedCalls: "100000", Overage: "0.50", RateRPS: "5", RateBurst: "2",
	Approval: "manual", TrialDays: "14", Versions: []string{"v1", "v9"},
}

var planVersions = []plans.VersionOption{{Version: "v1", State: "published"}, {Version: "v2", State: "draft"}}

func planDetail(state string, canManage bool) plans.DetailProps {
	org := acme
	if !canManage {
		org = viewerOrg
	}
	p := plans.DetailProps{
		Page: orgPage("Pro", "apis", verifiedUser, org), APISlug: "weather", APIName: "Weather", Slug: "pro", Name: "Pro",
		State: state, Revision: 2, CanManage: canManage, Current: consoleTerms(proTerms), Versions: planVersions,
		Form: plans.Form{Slug: "pro", Name: "Pro", Price: "49.00", Currency: "usd", Approval: "manual", TrialDays: "0", Versions: []string{"v1"}},
		Revisions: []plans.RevisionRow{
			{Revision: 2, State: state, Terms: consoleTerms(proTerms), Created: "2026-11-26 14:03 UTC"},
			{Revision: 1, State: "deprecated", Terms: consoleTerms(freeTerms), Created: "2026-11-01 09:00 UTC", Published: "2026-11-01 09:05 UTC"},
		},
	}
	switch state {
	case "draft":
		p.CanPublish, p.CanDeprecate, p.CanClose, p.CanEdit, p.OnSale = true, true, true, true, 1
		p.Revisions[1].State = "published"
	case "published":
		p.CanDeprecate, p.CanClose, p.CanEdit = true, true, true
	case "deprecated":
		p.CanClose = true
	}
	return p
}

// consoleTerms are terms as the console shows them: without a call to
// action.
func consoleTerms(t market.PlanTerms) market.PlanTerms {
	t.SubscribeURL = ""
	return t
}

const plansBase = "/orgs/acme/apis/weather/plans"

func marketCases() []pageCase {
	signedIn := orgPage("", "", verifiedUser, acme)
	signedIn.Org = nil
	chosen := weatherAPIPage(signedIn)
	chosen.Chosen = "pro"
	chosen.Subscribe = &subscribeForm
	for i := range chosen.Plans {
		chosen.Plans[i].SubscribeURL = "/market/acme/weather?plan=" + chosen.Plans[i].Slug + "#plans"
	}
	bare := market.APIProps{
		Page: publicPage(""), Provider: market.APIProvider{Slug: "solo", Name: "Solo"}, Slug: "ping", Name: "Ping",
		Versions: []market.VersionTab{{Version: "v1", State: "published", URL: "/market/solo/ping?version=v1", Current: true}},
		Version:  market.VersionDoc{Version: "v1", State: "published"},
	}
	public := weatherAPIPage(signedIn)
	public.Version.Public = true
	public.Chosen = "pro"
	public.Subscribe = &subscribeForm
	preview := proTerms
	preview.SubscribeURL = ""
	listWithPreview := plans.ListProps{
		Page: orgPage("Plans", "apis", verifiedUser, billingOrg), APISlug: "weather", APIName: "Weather", CanManage: true,
		Plans: []plans.PlanRow{
			{Slug: "free", Name: "Free", Price: "Free", Limits: "1,000 calls/month included · hard limit", State: "published", Revision: 1},
			{Slug: "pro", Name: "Pro", Price: "$49.00", Limits: "100,000 calls/month included", State: "draft", Revision: 3, OnSale: 2},
		},
		NextURL: plansBase + "?cursor=abc", Versions: planVersions, Form: newPlanForm, Preview: &preview,
	}
	listWithErrors := listWithPreview
	listWithErrors.Preview = nil
	listWithErrors.Message = "Please correct the highlighted fields."
	listWithErrors.Errors = map[string]string{
		"rate_burst": "Use a burst of at least the requests per second (or 0 for the same).",
		"versions":   "This API has no version \"v9\".",
		"price":      "Use at most 2 decimal places, like 49.00.",
		"mystery":    "A field the form does not show.",
	}
	return []pageCase{
		// market search
		{
			name: "market signed out",
			c: market.Search(market.SearchProps{
				Page: publicPage(""), Q: "fore\"cast", Category: "weather", Sort: "newest", AllURL: "/market?q=fore%22cast&sort=newest",
				Categories: []market.CategoryChip{
					{Name: "weather", Count: 3, URL: "/market?category=weather&q=fore%22cast&sort=newest", Active: true},
					{Name: "geo", Count: 1, URL: "/market?category=geo&q=fore%22cast&sort=newest"},
				},
				Results: []market.Listing{
					{OrgSlug: "acme", OrgName: "Acme <Inc>", Slug: "weather", Name: "Weather", Summary: "Forecasts", Category: "weather",
						Tags: []string{"forecast"}, Versions: []string{"v1", "v2"}},
					{OrgSlug: "globex", OrgName: "Globex", Slug: "storms", Name: "Storms"},
				},
				FirstURL: "/market?category=weather", NextURL: "/market?category=weather&cursor=MTI",
			}),
			want: []string{
				`<form class="market-search" method="get" action="/market" role="search"`, `<label for="market-q">Search APIs</label>`,
				`value="fore&#34;cast"`, `<input type="hidden" name="category" value="weather">`, `<option value="newest" selected>`, `data-autosubmit`,
				`href="/market?category=weather&amp;q=fore%22cast&amp;sort=newest" aria-current="page"`, `<span class="chip-count">3</span>`,
				`<a href="/market/acme/weather">Weather</a>`, "by Acme &lt;Inc&gt;", `<li class="tag">forecast</li>`, "v1, v2",
				`href="/market?category=weather&amp;cursor=MTI"`, "First page", `class="container main market"`,
				`<link rel="stylesheet" href="/static/css/market.css?v=`, `href="/signup"`,
				"<title>“fore&#34;cast” in the API market · Portico</title>",
			},
			notWant: []string{"gorilla.csrf.Token", "user-menu"},
		},
		{
			name: "market signed in, nothing matches",
			c: market.Search(market.SearchProps{
				Page: signedIn, Q: "zzz", AllURL: "/market?q=zzz",
				Categories: []market.CategoryChip{{Name: "weather", Count: 3, URL: "/market?category=weather&q=zzz"}},
			}),
			actions: []string{"/logout"},
			want:    []string{"No APIs match “zzz”", `<a class="btn btn-secondary" href="/market">Clear filters</a>`, "user-menu", `<div class="market">`, `href="/market?q=zzz" aria-current="page"`},
			notWant: []string{"api-card", "Next page", `class="container main market"`},
		},
		{
			name:    "market empty",
			c:       market.Search(market.SearchProps{Page: publicPage(""), AllURL: "/market"}),
			want:    []string{"No APIs in the market yet", "<title>API market · Portico</title>"},
			notWant: []string{"Clear filters", `class="chips"`},
		},

		// API page
		{
			name: "API page, deprecated version, hostile Markdown",
			c:    market.API(weatherAPIPage(publicPage(""))),
			want: []string{
				"<h1>Weather &lt;beta&gt;</h1>", `<a href="/o/acme">Acme &lt;Inc&gt;</a>`, `<link rel="stylesheet" href="/o/acme/brand.css?v=3355ff">`,
				`class="org-brand"`, `href="/market?category=weather"`, `href="/market?q=forecast"`, "#forecast",
				"<h3>Weather</h3>", "<strong>for every city</strong>", `<a href="https://docs.example.com" rel="nofollow noopener">docs</a>`,
				`<a href="https://img.example.com/chart.png" rel="nofollow noopener">chart</a>`, "evil", "raw link",
				`href="mailto:api@acme.test" rel="nofollow noopener"`,
				"v1 is deprecated", `<time datetime="2099-01-01">2099-01-01</time>`, `Move to <a href="/market/acme/weather?version=v2">v2</a>`,
				`href="/market/acme/weather?version=v1" aria-current="page"`, `href="/api/v1/market/apis/acme/weather/versions/v1/openapi"`,
				`<article class="op" id="op-getForecast"`, `href="#op-getForecast"`, `<span class="method method-get">GET</span>`,
				`<span class="method method-delete">DELETE</span>`, "/alerts/{id}", "The &lt;city&gt; name", "No parameters.",
				`aria-label="Plans of Weather &lt;beta&gt;"`, "Pro &lt;plus&gt;", "$49.00", "per month", "$0.50 per 1,000 calls", "Hard limit",
				"5 req/s (burst 10)", "500,000 calls", "14 days", "For production apps",
				`href="/signup?next=/market/acme/weather%3Fplan=pro"`, `Subscribe<span class="visually-hidden"> to Pro &lt;plus&gt;</span>`,
			},
			notWant: []string{
				"<script>alert", "alert('x')</script>", `href="javascript:`, `href="JaVaScRiPt`, "onclick", "onerror", `href="data:`, "<img src=\"https://img",
				`<span style`, "Subscriptions open soon", "Terms of use", "<h1>Weather</h1>", `href="javascript:alert(5)"`,
			},
		},
		{
			name:    "API page signed in with a chosen plan",
			c:       market.API(chosen),
			actions: []string{"/logout", "/market/acme/weather/subscribe"},
			want: []string{"Subscribe to Weather &lt;beta&gt; on plan Pro &lt;plus&gt;",
				`class="plan-head plan-chosen"`, `href="/market/acme/weather?plan=free#plans"`, "user-menu"},
			notWant: []string{"/signup?next=", "Subscriptions open soon"},
		},
		{
			name: "API page of a public version",
			c:    market.API(public),
			want: []string{`badge-success">Public — no key needed`, `id="public-version"`, "without a key or a subscription",
				"Plans apply only to the API's versions that need a key."},
			actions: []string{"/logout"},
			notWant: []string{"Compare plans", "Subscribe to Weather &lt;beta&gt; on plan"},
		},
		{
			name:    "API page without plans, spec or description",
			c:       market.API(bare),
			want:    []string{"No plans on offer yet", `class="version-single"`, "This version documents no operations.", "<li>Solo</li>"},
			notWant: []string{"Download OpenAPI", "Compare plans", `href="/o/solo"`, "About Ping", "brand.css", "is deprecated"},
		},

		// provider page
		{
			name: "provider page",
			c: market.Provider(market.ProviderProps{
				Page: publicPage(""), Slug: "acme", Name: "Acme <Inc>", Description: "We sell weather.\n<b>Really.</b>",
				WebsiteURL: "https://acme.example/", LogoURL: "https://acme.example/logo.png", Initial: "A", BrandCSS: "/o/acme/brand.css?v=3355ff",
				APIs:    []market.Listing{{OrgSlug: "acme", OrgName: "Acme <Inc>", Slug: "weather", Name: "Weather"}},
				NextURL: "/o/acme?cursor=MTI",
			}),
			want: []string{"<h1>Acme &lt;Inc&gt;</h1>", "We sell weather.\n&lt;b&gt;Really.&lt;/b&gt;", `<a href="https://acme.example/" rel="nofollow noopener">acme.example</a>`,
				`<img class="org-logo-img" src="https://acme.example/logo.png" alt="" data-initial="A"`, `<span class="org-logo-initial">A</span>`,
				`<link rel="stylesheet" href="/o/acme/brand.css?v=3355ff">`, `href="/market/acme/weather"`, "APIs by Acme &lt;Inc&gt;", `href="/o/acme?cursor=MTI"`},
			notWant: []string{`class="api-card-provider"`, "Only members", "<b>Really"},
		},
		{
			name:    "provider preview for a member",
			c:       market.Provider(market.ProviderProps{Page: signedIn, Slug: "partner", Name: "Partner", Initial: "P", Preview: true}),
			actions: []string{"/logout"},
			want:    []string{"Only members of Partner see this page for now", "No APIs in the market yet"},
			notWant: []string{"<img class", "brand.css", "api-card"},
		},

		// plans console
		{
			name:    "plans with a preview",
			c:       plans.List(listWithPreview),
			actions: []string{"/logout", plansBase + "#new-plan"},
			want: []string{
				`formaction="/orgs/acme/apis/weather/plans/preview#new-plan"`, `href="/orgs/acme/apis/weather/plans/pro"`, "revision 2 on sale",
				`<span class="badge badge-success">Published</span>`, `<span class="badge badge-neutral">Draft</span>`, "Next page",
				"How partners will see this plan", `aria-label="Preview of Pro &lt;plus&gt;"`, "$0.50 per 1,000 calls",
				`<label for="np-price">`, `<label for="np-rate-burst">`, `<label for="np-version-0">v1</label>`, `<label for="np-version-1">v2 (draft)</label>`,
				`<label for="np-version-2">v9 (no longer exists)</label>`, `value="v1" checked`, `<option value="manual" selected>`,
				`<option value="usd" selected>`, `<option value="jpy">`, `value="49.00"`, `href="/orgs/acme/apis/weather"`,
				`<link rel="stylesheet" href="/static/css/market.css?v=`,
			},
			notWant: []string{"Subscribe<span", "aria-invalid"},
		},
		{
			name:    "plans form with errors",
			c:       plans.List(listWithErrors),
			actions: []string{"/logout", plansBase + "#new-plan"},
			want: []string{
				"Please correct the highlighted fields.", "A field the form does not show.",
				`id="np-rate-burst-error"`, `aria-describedby="np-rate-burst-help np-rate-burst-error"`, `id="np-price-error"`,
				`id="np-versions-error"`, `aria-describedby="np-versions-error"`, "This API has no version &#34;v9&#34;.",
				`id="np-price" name="price" value="49.00" autocomplete="off" required autofocus`,
			},
			notWant: []string{"How partners will see this plan"},
		},
		{
			name: "plans as a developer",
			c: plans.List(plans.ListProps{Page: orgPage("Plans", "apis", verifiedUser, developerOrg), APISlug: "weather", APIName: "Weather",
				Versions: planVersions, Plans: []plans.PlanRow{{Slug: "free", Name: "Free", Price: "Free", State: "published", Revision: 1}}}),
			actions: []string{"/logout"},
			want:    []string{"Only owners, admins and billing members can create and change plans.", `href="/orgs/acme/apis/weather/plans/free"`},
			notWant: []string{`name="price"`, "New plan</a>"},
		},
		{
			name:    "plans without versions",
			c:       plans.List(plans.ListProps{Page: orgPage("Plans", "apis", verifiedUser, acme), APISlug: "weather", APIName: "Weather", CanManage: true}),
			actions: []string{"/logout"},
			want:    []string{"No plans yet", "Add a version first", `href="/orgs/acme/apis/weather"`},
			notWant: []string{`name="price"`},
		},
		{
			name:    "plan draft of changes",
			c:       plans.Detail(planDetail("draft", true)),
			actions: []string{"/logout", plansBase + "/pro/publish", plansBase + "/pro/deprecate", plansBase + "/pro/close", plansBase + "/pro/edit#edit"},
			want: []string{
				"Revision 2 is a draft of changes", "Revision 1 stays on sale until you publish the draft", "Publish revision 2",
				"Revision 1 becomes deprecated", "The draft of changes is discarded.", "You are editing draft revision 2", "Save draft",
				`data-confirm="Closing is final: nobody can subscribe to Pro or keep using it. Close it?"`,
				`formaction="/orgs/acme/apis/weather/plans/pro/preview#edit"`, `aria-label="Terms of Pro, revision 2"`,
				"2026-11-01 09:05 UTC", `<label for="ep-name">`,
			},
			notWant: []string{`name="slug"`, "Subscribe<span"},
		},
		{
			name:    "plan published",
			c:       plans.Detail(planDetail("published", true)),
			actions: []string{"/logout", plansBase + "/pro/deprecate", plansBase + "/pro/close", plansBase + "/pro/edit#edit"},
			want: []string{"saving creates draft revision 3", "existing subscribers keep the terms they signed up for", "Save as revision 3",
				`data-confirm="Stop new subscriptions to Pro? Its subscribers keep their terms."`},
			notWant: []string{"Publish revision", "draft of changes"},
		},
		{
			name:    "plan closed",
			c:       plans.Detail(planDetail("closed", true)),
			actions: []string{"/logout"},
			want:    []string{"A closed plan cannot change.", "Revision history"},
			notWant: []string{`name="price"`, "Lifecycle"},
		},
		{
			name:    "plan as a viewer",
			c:       plans.Detail(planDetail("published", false)),
			actions: []string{"/logout"},
			want:    []string{"Only owners, admins and billing members can create and change plans."},
			notWant: []string{`name="price"`, "/publish", "/close"},
		},

		// organisation profile
		{
			name: "settings with branding",
			c: orgs.Settings(orgs.SettingsProps{
				Page: orgPage("Settings", "settings", verifiedUser, acme), Name: "Acme Inc", Slug: "acme", CanEdit: true,
				Description: "We sell <weather>.", WebsiteURL: "https://acme.example", LogoURL: "https://acme.example/logo.png", BrandColor: "blue",
				Message: "Use a colour like #3355ff.", Errors: map[string]string{"brand_color": "Use a colour like #3355ff."},
			}),
			actions: []string{"/logout", "/orgs/acme/settings"},
			want: []string{
				`<label for="description">`, "We sell &lt;weather&gt;.</textarea>", `id="website_url" name="website_url" value="https://acme.example"`,
				`id="logo_url" name="logo_url" value="https://acme.example/logo.png"`, `type="color" id="brand_color_picker" name="brand_color_picker" value="#4338ca"`,
				`<label for="brand_color_picker">`, `id="brand_color" name="brand_color" value="blue"`, `id="brand_color-error"`,
				`name="brand_color_was" value="blue"`, `name="brand_color_picker_was" value="#4338ca"`, `href="/o/acme"`, "View your provider page",
				`autofocus aria-invalid="true" aria-describedby="brand_color-help brand_color-error"`,
			},
		},
		{
			name: "settings with branding, read-only",
			c: orgs.Settings(orgs.SettingsProps{
				Page: orgPage("Settings", "settings", verifiedUser, globex), Name: "Globex", Slug: "globex",
				Description: "Everything.", WebsiteURL: "https://globex.example", BrandColor: "#3355ff",
			}),
			actions: []string{"/logout"},
			want:    []string{"Everything.", `href="https://globex.example"`, "<code>#3355ff</code>", `href="/o/globex"`},
			notWant: []string{`name="brand_color"`},
		},
		{
			name: "settings picker follows the brand colour",
			c: orgs.Settings(orgs.SettingsProps{
				Page: orgPage("Settings", "settings", verifiedUser, acme), Name: "Acme", Slug: "acme", CanEdit: true, BrandColor: "#3355FF",
			}),
			actions: []string{"/logout", "/orgs/acme/settings"},
			want:    []string{`name="brand_color_picker" value="#3355ff"`, `name="brand_color_was" value="#3355FF"`},
			notWant: []string{"autofocus"},
		},
	}
}

// getFormRE matches whole GET forms, which must not carry a CSRF token.
var getFormRE = regexp.MustCompile(`(?s)<form[^>]*method="get".*?</form>`)

func TestMarketPages(t *testing.T) {
	for _, tc := range marketCases() {
		t.Run(tc.name, func(t *testing.T) {
			html := render(t, tc.c)
			if !strings.HasPrefix(html, "<!doctype html>") {
				t.Errorf("page does not start with a doctype: %.40q", html)
			}
			if !regexp.MustCompile(`<title>[^<]* · Portico</title>`).MatchString(html) {
				t.Errorf("title does not end in \" · Portico\"")
			}
			if !strings.Contains(html, `<main id="content"`) || !strings.Contains(html, `href="#content"`) {
				t.Errorf("missing main#content or the skip link")
			}
			for _, w := range tc.want {
				if !strings.Contains(html, w) {
					t.Errorf("output does not contain %q", w)
				}
			}
			for _, nw := range tc.notWant {
				if strings.Contains(html, nw) {
					t.Errorf("output contains %q", nw)
				}
			}
			for _, f := range getFormRE.FindAllString(html, -1) {
				if strings.Contains(f, components.CSRFFieldName) {
					t.Errorf("a GET form carries the CSRF token (it would land in URLs and logs)")
				}
			}
			posts := getFormRE.ReplaceAllString(html, "")
			for _, problem := range slices.Concat(formProblems(posts, tc.actions), cspProblems(html), idProblems(html)) {
				t.Error(problem)
			}
			if t.Failed() {
				t.Logf("output:\n%s", html)
			}
		})
	}
}

// TestMarkdownIsSafe: provider Markdown never yields script, event
// handlers, inline styles, dangerous URLs or third-party images.
func TestMarkdownIsSafe(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"script element", "<script>alert(1)</script>", nil},
		{"script in a paragraph", "Hi <script src=//evil.example/x.js></script> there", []string{"Hi"}},
		{"javascript link", "[x](javascript:alert(1))", []string{"<p>x</p>"}},
		{"mixed-case javascript link", "[x](JaVaScRiPt:alert(1))", []string{"<p>x</p>"}},
		{"entity-encoded javascript link", "[x](&#106;avascript:alert(1))", []string{"<p>x</p>"}},
		{"javascript autolink", "<javascript:alert(1)>", []string{"javascript:alert(1)"}},
		{"vbscript and data links", "[a](vbscript:msgbox) [b](data:text/html,hi)", []string{"<p>a b</p>"}},
		{"scheme-relative link", "[a](//evil.example)", []string{"<p>a</p>"}},
		{"raw anchor with a handler", `<a href="https://x.example" onclick="alert(1)">x</a>`, nil},
		{"image with a handler", `<img src=x onerror="alert(1)">`, nil},
		{"style attribute", `<p style="position:fixed">x</p>`, nil},
		{"image becomes a link", "![logo](https://img.example.com/a.png)", []string{`<a href="https://img.example.com/a.png" rel="nofollow noopener">logo</a>`}},
		{"image inside a link", "[![logo](https://img.example.com/a.png)](https://x.example)", []string{`<a href="https://x.example" rel="nofollow noopener">logo</a>`}},
		{"javascript image", "![x](javascript:alert(1))", []string{"<p>x</p>"}},
		{"safe links", "[a](https://a.example) [b](/market) [c](#ops) <mailto:api@x.example> https://auto.example",
			[]string{`<a href="https://a.example" rel="nofollow noopener">a</a>`, `<a href="/market" rel="nofollow noopener">b</a>`,
				`<a href="#ops" rel="nofollow noopener">c</a>`, `<a href="mailto:api@x.example" rel="nofollow noopener">`,
				`<a href="https://auto.example" rel="nofollow noopener">`}},
		{"headings start at h3", "# One\n## Two\n##### Five", []string{"<h3>One</h3>", "<h4>Two</h4>", "<h6>Five</h6>"}},
		{"tables without inline alignment", "| a | b |\n|:-|-:|\n| 1 | 2 |", []string{"<td>1</td>"}},
		{"task lists stay text", "- [x] done", []string{"[x] done"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := render(t, components.Markdown(tc.src))
			lower := strings.ToLower(out)
			for _, bad := range []string{"<script", "javascript:alert(1)\"", `href="javascript`, `href="vbscript`, `href="data:`, `href="//`,
				"onclick", "onerror", "style=", "<img", "<input", "<iframe"} {
				if strings.Contains(lower, bad) {
					t.Errorf("output has %q: %s", bad, out)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q: %s", w, out)
				}
			}
			if !strings.HasPrefix(out, `<div class="markdown">`) || !strings.HasSuffix(out, "</div>") {
				t.Errorf("output is not wrapped: %s", out)
			}
		})
	}
}

func TestLandingLinksToTheMarket(t *testing.T) {
	for _, c := range cases() {
		if strings.HasPrefix(c.name, "landing") {
			if html := render(t, c.c); !strings.Contains(html, `href="/market"`) {
				t.Errorf("%s: no link to the market", c.name)
			}
		}
	}
}
