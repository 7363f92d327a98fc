package portal_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
)

// TestBrowserCatalogJourney is what a provider does with a new API in a
// real browser: create it, fix a broken document (the focus lands on it),
// upload the real one with an upstream, add a target row with the script,
// deploy through the publish dialog, change the upstream, deploy again,
// read the history and test the connection. With PORTICO_TEST_SCREENSHOTS
// set to a directory it saves a screenshot of each page, including a
// phone-sized one.
func TestBrowserCatalogJourney(t *testing.T) {
	db := testdb.Open(t, migrations.SQLite)
	e := newEnv(t, db)
	ctx := newBrowser(t)
	base := e.srv.URL
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	shot := screenshot("catalog-")
	focused := func(want string) {
		t.Helper()
		id, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.activeElement && document.activeElement.id"))
		if err != nil {
			t.Fatal(err)
		}
		if id != want {
			t.Fatalf("focus is on #%s, want #%s", id, want)
		}
	}
	petstore, err := filepath.Abs("catalog/testdata/petstore-3.0.yaml")
	if err != nil {
		t.Fatal(err)
	}

	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/signup"),
		chromedp.SendKeys(css(`#name`), "Ada Lovelace"),
		chromedp.SendKeys(css(`#email`), "ada@example.com"),
		chromedp.SendKeys(css(`#password`), "correct horse battery"),
		chromedp.SendKeys(css(`#org_name`), "Acme"),
		chromedp.SendKeys(css(`#org_slug`), "acme"),
		chromedp.Click(css(`form[action="/signup"] button[type=submit]`)),
		chromedp.WaitVisible(css(`.user-menu summary`)),
		chromedp.Click(css(`.subnav a[href="/orgs/acme/apis"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(css(`.empty`)),
		shot("list-empty"),
		chromedp.Click(css(`.empty-action a`), chromedp.NodeVisible),
		chromedp.WaitVisible(css(`#api-slug`)),
		chromedp.SendKeys(css(`#api-slug`), "pets"),
		chromedp.SendKeys(css(`#api-name`), "Pet Store"),
		chromedp.SendKeys(css(`#api-summary`), "Adopt, list and look after pets."),
		chromedp.SendKeys(css(`#api-tags`), "pets, animals"),
		chromedp.SetValue(css(`#api-visibility`), "public"),
		shot("new"),
		chromedp.Click(css(`form[action="/orgs/acme/apis"] button[type=submit]`)),
		chromedp.WaitVisible(css(`#nv-version`)),
		// A broken document first.
		chromedp.SetValue(css(`#nv-spec-text`), twoProblems),
		chromedp.Click(css(`#nv-backend-mock`)),
		chromedp.Click(css(`#new-version button[type=submit]`)),
		chromedp.WaitVisible(css(`.problem-list`)),
		shot("new-version-invalid"),
	)
	if err != nil {
		t.Fatalf("create API and a broken version: %v", err)
	}
	focused("nv-spec-text")

	// The broken text stays in the text box: a chosen file wins.
	err = chromedp.Do(ctx,
		chromedp.SetUploadFiles(css(`#nv-spec-file`), []string{petstore}),
		chromedp.Click(css(`#nv-backend-upstream`)),
		chromedp.WaitVisible(css(`#nv-target-0-url`)),
		chromedp.SendKeys(css(`#nv-target-0-url`), "http://backend-a.internal:8080"),
		chromedp.SendKeys(css(`#nv-target-1-url`), "http://backend-c.internal:8080"),
		chromedp.Click(css(`#new-version [data-add-target]`)),
		chromedp.WaitVisible(css(`#nv-target-2-url`)),
	)
	if err != nil {
		t.Fatalf("fill the new version: %v", err)
	}
	focused("nv-target-2-url")
	label, err := chromedp.Run(ctx, chromedp.Text(css(`label[for="nv-target-2-url"]`)))
	if err != nil || !strings.Contains(label, "Target 3 URL") {
		t.Fatalf("added row label %q, %v", label, err)
	}

	err = chromedp.Do(ctx,
		shot("overview-filled"),
		chromedp.Click(css(`#new-version button[type=submit]`)),
		chromedp.WaitVisible(css(`#backend-secret`)),
		shot("version-created"),
		chromedp.Click(css(`a[href="/orgs/acme/apis/pets/versions/v1/environments/production/deploy"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(css(`#deploy-note`)),
		chromedp.SendKeys(css(`#deploy-note`), "launch"),
		shot("deploy-first"),
		chromedp.Click(css(`form[action$="/environments/production/deploy"] button[type=submit]`)),
		chromedp.WaitVisible(css(`.flash-success`)),
		chromedp.SetValue(css(`#up-target-0-url`), "http://backend-b.internal:9090"),
		chromedp.SetValue(css(`#up-target-0-weight`), "3"),
		chromedp.Click(css(`form[action$="/upstream"] button[type=submit]:not([formaction])`)),
		chromedp.WaitVisible(css(`.flash-success`)),
		chromedp.Click(css(`details.pending summary`), chromedp.NodeVisible),
		shot("version-pending"),
		chromedp.Navigate(base+"/orgs/acme/apis/pets/versions/v1/environments/production/deploy"),
		chromedp.WaitVisible(css(`.change-list`)),
		shot("deploy-changes"),
		chromedp.Click(css(`form[action$="/environments/production/deploy"] button[type=submit]`)),
		chromedp.WaitVisible(css(`.flash-success`)),
		chromedp.Navigate(base+"/orgs/acme/apis/pets/versions/v1/revisions"),
		chromedp.Click(css(`details.changes summary`), chromedp.NodeVisible),
		shot("revisions"),
		chromedp.Navigate(base+"/orgs/acme/apis/pets/versions/v1"),
		chromedp.Click(css(`button[formaction$="/test-connection"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(css(`#probe-results`)),
	)
	if err != nil {
		t.Fatalf("deploy, change, deploy again: %v", err)
	}
	focused("probe-results")
	text, err := chromedp.Run(ctx, chromedp.Text(css(`main`)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"#2", "Up to date with the draft.", "Live", "Connection test", "backend-b.internal"} {
		if !strings.Contains(text, want) {
			t.Fatalf("version page lacks %q:\n%s", want, text)
		}
	}
	err = chromedp.Do(ctx,
		shot("test-connection"),
		chromedp.Navigate(base+"/orgs/acme/apis"),
		chromedp.WaitVisible(css(`.table`)),
		shot("list"),
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(base+"/orgs/acme/apis/pets/versions/v1"),
		chromedp.WaitVisible(css(`#operations`)),
		shot("version-phone"),
	)
	if err != nil {
		t.Fatalf("screenshots: %v", err)
	}
	// What was published from the uploaded spec is in the public market.
	err = chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(base+"/market?q=pet"),
		chromedp.Click(css(`a[href="/market/acme/pets"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(css(`main`)),
		shot("market-api"),
	)
	if err != nil {
		t.Fatalf("find the API in the market: %v", err)
	}
	market, err := chromedp.Run(ctx, chromedp.Text(css(`main`)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/pets/{petId}", "List all pets"} {
		if !strings.Contains(market, want) {
			t.Fatalf("market page lacks %q:\n%s", want, market)
		}
	}
	err = chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(base+"/orgs/acme/apis/pets/versions/v1"),
		chromedp.WaitVisible(css(`#operations`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	// The page fits a phone: only tables scroll sideways.
	overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("document.documentElement.scrollWidth > window.innerWidth"))
	if err != nil || overflow {
		wide, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll("body *")).filter(function (el) { return el.getBoundingClientRect().right > window.innerWidth + 1; }).slice(0, 8).map(function (el) { return el.tagName + "." + el.className; }).join(", ")`))
		t.Fatalf("the version page is wider than a phone (%v):\n%s", err, wide)
	}
}
