package portal_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/migrations/testdb/testenv"
)

// chromium returns the browser to drive, skipping (or failing under
// PORTICO_TEST_STRICT=1) when there is none.
func chromium(t *testing.T) string {
	t.Helper()
	path := os.Getenv("PORTICO_TEST_CHROMIUM")
	if path == "" {
		path, _ = exec.LookPath("chromium")
	}
	testenv.Need(t, path != "", "chromium is not installed (apt-get install chromium)")
	return path
}

// newBrowser starts headless Chromium with a fresh profile.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	// The first action starts the browser; it must not run under a deadline
	// (the deadline would stop the browser), so limit what follows instead.
	if err := chromedp.Do(ctx); err != nil {
		cancelC()
		cancelA()
		t.Fatalf("start chromium: %v", err)
	}
	tctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	return tctx
}

// screenshot returns an action that saves a full-page PNG named
// prefix+name when PORTICO_TEST_SCREENSHOTS names a directory, and does
// nothing otherwise.
func screenshot(prefix string) func(name string) chromedp.Action[chromedp.Void] {
	return func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			dir := os.Getenv("PORTICO_TEST_SCREENSHOTS")
			if dir == "" {
				return nil
			}
			buf, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, prefix+name+".png"), buf, 0o644)
		})
	}
}

// TestBrowserJourney is what a new provider does first: sign up, log out,
// log back in and invite a colleague — in a real browser, with real forms,
// CSRF tokens, cookies and redirects.
func TestBrowserJourney(t *testing.T) {
	db := testdb.Open(t, migrations.SQLite)
	e := newEnv(t, db)
	ctx := newBrowser(t)
	base := e.srv.URL
	shot := screenshot("")
	location := func() string {
		t.Helper()
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		shot("landing"),
		chromedp.Click(css(`a[href="/signup"]`), chromedp.NodeVisible),
		chromedp.WaitVisible(css(`#org_slug`)),
		chromedp.SendKeys(css(`#name`), "Ada Lovelace"),
		chromedp.SendKeys(css(`#email`), "ada@example.com"),
		chromedp.SendKeys(css(`#password`), "correct horse battery"),
		chromedp.SendKeys(css(`#org_name`), "Acme"),
		chromedp.SendKeys(css(`#org_slug`), "acme"),
		shot("signup"),
		chromedp.Click(css(`form[action="/signup"] button[type=submit]`)),
		chromedp.WaitVisible(css(`.user-menu summary`)),
		shot("dashboard"),
	)
	if err != nil {
		t.Fatalf("sign up: %v", err)
	}
	if loc := location(); !strings.HasSuffix(loc, "/orgs/acme") {
		t.Fatalf("after sign-up at %s", loc)
	}

	err = chromedp.Do(ctx,
		chromedp.Click(css(`.user-menu summary`)),
		chromedp.Click(css(`form[action="/logout"] button`), chromedp.NodeVisible),
		chromedp.WaitVisible(css(`form[action="/login"]`)),
	)
	if err != nil {
		t.Fatalf("log out: %v", err)
	}
	if loc := location(); !strings.HasSuffix(loc, "/login") {
		t.Fatalf("after log-out at %s", loc)
	}

	err = chromedp.Do(ctx,
		chromedp.SendKeys(css(`form[action="/login"] input[name=email]`), "ada@example.com"),
		chromedp.SendKeys(css(`form[action="/login"] input[name=password]`), "correct horse battery"),
		chromedp.Click(css(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(css(`.user-menu summary`)),
		chromedp.Navigate(base+"/orgs/acme/members"),
		chromedp.WaitVisible(css(`form[action="/orgs/acme/invitations"]`)),
		chromedp.SendKeys(css(`form[action="/orgs/acme/invitations"] input[name=email]`), "bob@example.com"),
		chromedp.SetValue(css(`form[action="/orgs/acme/invitations"] select[name=role]`), "admin"),
		chromedp.Click(css(`form[action="/orgs/acme/invitations"] button[type=submit]`)),
		chromedp.WaitVisible(css(`.flash`)),
		shot("members"),
	)
	if err != nil {
		t.Fatalf("log in and invite: %v", err)
	}
	body, err := chromedp.Run(ctx, chromedp.Text(css(`main`)))
	if err != nil {
		t.Fatal(err)
	}
	if loc := location(); !strings.HasSuffix(loc, "/orgs/acme/members") || !strings.Contains(body, "bob@example.com") {
		t.Fatalf("after invite at %s:\n%s", loc, body)
	}
	// The invitation really went out, with the chosen role.
	tok := e.emailLink("bob@example.com", "/invitations/")
	d, err := e.svc.InvitationByToken(context.Background(), tok)
	if err != nil || d.Invitation.Role != "admin" {
		t.Fatalf("invitation: %v %+v", err, d.Invitation)
	}
}
