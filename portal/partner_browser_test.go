package portal_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
)

// TestBrowserPartnerJourney is what a new partner does in a real browser:
// open an API in the market, pick the free plan, sign up (creating an
// organisation), land back on the plan, subscribe a new app, create its
// key and copy the secret, and see the subscription active. Then they ask
// for the plan that needs approval with a message, and the provider
// approves it from the queue. With PORTICO_TEST_SCREENSHOTS set to a
// directory it saves a screenshot of each page.
func TestBrowserPartnerJourney(t *testing.T) {
	db := testdb.Open(t, migrations.SQLite)
	e := newEnv(t, db)
	provideWeather(t, e)

	ctx := newBrowser(t)
	base := e.srv.URL
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	shot := screenshot("partner-")
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
	visible := func(sel string) bool {
		t.Helper()
		return eval(`(function () { var el = document.querySelector(`+"`"+sel+"`"+`); return String(!!el && el.getClientRects().length > 0); })()`) == "true"
	}

	// The market page: "Subscribe" on the free plan leads to sign-up.
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/market/acme/weather"),
		chromedp.WaitVisible(css(`#plans`)),
		chromedp.Click(css(`#plans tfoot a[href*="plan=free"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(css(`#org_slug`)),
		chromedp.SendKeys(css(`#name`), "Pat Partner"),
		chromedp.SendKeys(css(`#email`), "pat@example.com"),
		chromedp.SendKeys(css(`#password`), "correct horse battery"),
		chromedp.SendKeys(css(`#org_name`), "Partner Co"),
		chromedp.SendKeys(css(`#org_slug`), "partner"),
		chromedp.Click(css(`form[action="/signup"] button[type=submit]`)),
		chromedp.WaitVisible(css(`form.subscribe-form`)),
		shot("subscribe-form"),
	)
	if err != nil {
		t.Fatalf("sign up from the market: %v", err)
	}
	if loc := location(); !strings.HasSuffix(loc, "/market/acme/weather?plan=free") {
		t.Fatalf("after sign-up at %s, want back on the plan", loc)
	}
	// No app yet: "Create a new app" is chosen and its fields show.
	if v := eval(`document.querySelector("#sub-app").value`); v != "new" {
		t.Fatalf("app choice = %q, want new", v)
	}
	if !visible(`#sub-app-name`) {
		t.Fatal("the new app's name field is hidden")
	}

	err = chromedp.Do(ctx,
		chromedp.SendKeys(css(`#sub-app-name`), "Widget"),
		chromedp.Click(css(`form.subscribe-form button[type=submit]`)),
		chromedp.WaitVisible(css(`#first-key`)),
		shot("subscribed"),
	)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	subURL := location()
	if !regexp.MustCompile(`/orgs/partner/subscriptions/[0-9a-f-]{36}$`).MatchString(subURL) {
		t.Fatalf("after subscribing at %s", subURL)
	}
	if s := eval(`document.querySelector(".page-actions .badge").textContent`); s != "Active" {
		t.Fatalf("status = %q, want Active", s)
	}

	// The first key, straight from the subscription page.
	err = chromedp.Do(ctx,
		chromedp.SendKeys(css(`#first-key-name`), "laptop"),
		chromedp.Click(css(`#first-key button[type=submit]`)),
		chromedp.WaitVisible(css(`#new-secret-key`)),
		shot("new-key"),
	)
	if err != nil {
		t.Fatalf("create the key: %v", err)
	}
	secret := eval(`document.querySelector("#new-secret-key").textContent`)
	ak := eval(`document.querySelector("#new-access-key").textContent`)
	km, err := e.svc.KeyByAccessKey(context.Background(), ak)
	if err != nil || km.SecretKey != secret || len(secret) != 40 {
		t.Fatalf("the page shows %q / %q; stored %v, %v", ak, secret, km, err)
	}
	if !strings.Contains(eval(`document.querySelector("#new-curl").textContent`), `--user "`+ak+":"+secret+`"`) {
		t.Fatal("the example request does not carry the key")
	}

	// Copy the secret. Headless Chromium may refuse the clipboard; the
	// button then says how to copy by hand and selects the secret.
	if btn := eval(`document.querySelector("#new-key button[data-copy='#new-secret-key']").textContent`); btn != "Copy" {
		t.Fatalf("copy button = %q", btn)
	}
	if err := chromedp.Do(ctx, chromedp.Click(css(`#new-key button[data-copy="#new-secret-key"]`))); err != nil {
		t.Fatalf("click copy: %v", err)
	}
	status, err := chromedp.Run(ctx, chromedp.Poll[string](
		`document.querySelector("#new-key button[data-copy='#new-secret-key']").parentNode.querySelector("[data-copy-status]").textContent`,
		chromedp.WithPollingTimeout(5*time.Second)))
	if err != nil {
		t.Fatalf("no copy feedback: %v", err)
	}
	t.Logf("copy feedback: %q", status)
	switch {
	case status == "Copied":
		if btn := eval(`document.querySelector("#new-key button[data-copy='#new-secret-key']").textContent`); btn != "Copied" {
			t.Fatalf("copy button after copying = %q", btn)
		}
		// Read the clipboard back where the browser allows it.
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.clipboard.readText().catch(function () { return ""; })`, chromedp.EvalAwaitPromise))
		switch {
		case err == nil && got != "" && got != secret:
			t.Fatalf("clipboard = %q, want the secret", got)
		case err == nil && got == secret:
			t.Log("the clipboard holds the secret")
		default:
			t.Logf("the button reported Copied; the clipboard cannot be read back here (err %v)", err)
		}
	case strings.Contains(status, "Ctrl+C"):
		if sel := eval(`String(window.getSelection())`); sel != secret {
			t.Fatalf("clipboard refused and the selection is %q, want the secret", sel)
		}
	default:
		t.Fatalf("copy feedback = %q", status)
	}
	if err := chromedp.Do(ctx, shot("copied")); err != nil {
		t.Fatal(err)
	}

	// The secret is gone once the page is left; the subscription is active.
	err = chromedp.Do(ctx,
		chromedp.Navigate(subURL),
		chromedp.WaitVisible(css(`#history`)),
	)
	if err != nil {
		t.Fatalf("back to the subscription: %v", err)
	}
	if s := eval(`document.querySelector(".page-actions .badge").textContent`); s != "Active" {
		t.Fatalf("status = %q, want Active", s)
	}
	if n := eval(`String(document.querySelectorAll("#first-key").length)`); n != "0" {
		t.Fatal("the subscription still offers a first key")
	}
	if strings.Contains(eval(`document.documentElement.outerHTML`), secret) {
		t.Fatal("the secret shows again")
	}
	err = chromedp.Do(ctx,
		chromedp.Click(css(`.page-header .lead a`)),
		chromedp.WaitVisible(css(`#keys`)),
		shot("app"),
	)
	if err != nil {
		t.Fatalf("app page: %v", err)
	}
	if html := eval(`document.documentElement.outerHTML`); strings.Contains(html, secret) || !strings.Contains(html, ak) {
		t.Fatal("the app page shows the secret, or not the key")
	}

	// A plan that needs approval: Widget already subscribes to the API, so
	// the request is for a new app, with a message.
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/market/acme/weather?plan=gold"),
		chromedp.WaitVisible(css(`form.subscribe-form`)),
	)
	if err != nil {
		t.Fatalf("gold form: %v", err)
	}
	if visible(`#sub-app-name`) {
		t.Fatal("the new app's fields show while an existing app is chosen")
	}
	err = chromedp.Do(ctx,
		chromedp.SetValue(css(`#sub-app`), "new"),
		chromedp.WaitVisible(css(`#sub-app-name`)),
		chromedp.SendKeys(css(`#sub-app-name`), "School app"),
		chromedp.SendKeys(css(`#sub-message`), "We are a school in Lyon."),
		shot("request-form"),
		chromedp.Click(css(`form.subscribe-form button[type=submit]`)),
		chromedp.WaitVisible(css(`#status.callout-warning`)),
		shot("pending"),
	)
	if err != nil {
		t.Fatalf("request approval: %v", err)
	}
	if s := eval(`document.querySelector("#status").textContent`); !strings.Contains(s, "Waiting for acme Ltd to approve the request.") {
		t.Fatalf("pending status says %q", s)
	}

	// The provider approves from the queue.
	err = chromedp.Do(ctx,
		chromedp.Click(css(`.user-menu summary`)),
		chromedp.Click(css(`form[action="/logout"] button`), chromedp.NodeVisible),
		chromedp.WaitVisible(css(`form[action="/login"]`)),
		chromedp.SendKeys(css(`form[action="/login"] input[name=email]`), "paula@example.com"),
		chromedp.SendKeys(css(`form[action="/login"] input[name=password]`), "correct horse battery"),
		chromedp.Click(css(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(css(`.user-menu summary`)),
		shot("provider-dashboard"),
		chromedp.Click(css(`a[href="/orgs/acme/approvals"].stat-link`)),
		chromedp.WaitVisible(css(`.request`)),
		shot("approvals"),
	)
	if err != nil {
		t.Fatalf("approval queue: %v", err)
	}
	if s := eval(`document.querySelector(".request").textContent`); !strings.Contains(s, "We are a school in Lyon.") || !strings.Contains(s, "School app") {
		t.Fatalf("request = %q", s)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(css(`.request form[action$="/approve"] button`)),
		chromedp.WaitVisible(css(`.flash-success`)),
		shot("approved"),
		chromedp.Navigate(base+"/orgs/acme/subscribers"),
		chromedp.WaitVisible(css(`.table`)),
		shot("subscribers"),
		chromedp.Click(css(`.table a[href^="/orgs/acme/subscribers/"]`)),
		chromedp.WaitVisible(css(`#history`)),
		shot("subscriber"),
	)
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	if html := eval(`document.documentElement.outerHTML`); strings.Contains(html, ak) || strings.Contains(html, secret) {
		t.Fatal("the provider sees the partner's key")
	}
}
