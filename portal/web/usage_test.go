package web

import (
	"context"
	"crypto/rand"
	"fmt"
	"html"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/migrations/testdb/testenv"
	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/portal/httpx"
	"github.com/portico-dev/portico/portal/mail"
	"github.com/portico-dev/portico/portal/market"
	"github.com/portico-dev/portico/portal/session"
	"github.com/portico-dev/portico/portal/throttle"
	"github.com/portico-dev/portico/static"
	"github.com/portico-dev/portico/tenants"
	"github.com/portico-dev/portico/tenants/keyring"
)

// usageEnv is a console with a provider (acme, API weather v1), a partner
// (with two apps subscribed) and a stranger organisation, each with a
// user who logs in through the console.
type usageEnv struct {
	srv   *httptest.Server
	db    *migrations.DB
	svc   *tenants.Service
	plans *billing.Service
	// metered is subscribed to plan "metered" (daily and monthly quota,
	// included calls with overage), open to plan "open" (no quota).
	metered, open billing.Subscription
}

func newUsageEnv(t *testing.T, db *migrations.DB) *usageEnv {
	t.Helper()
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
	svc := tenants.NewService(db.DB, tenants.Options{BaseURL: "http://console.test", Mailer: outbox, Logger: log, PasswordParams: &pp, Keyring: kr})
	cat := catalog.NewService(db.DB, catalog.Options{Keyring: kr, Guard: catalog.UpstreamGuard{AllowPrivate: true}, Logger: log})
	plans := billing.NewService(db.DB, billing.Options{Versions: cat, Logger: log})
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/static/*path", func(c *gin.Context) { // for the browser test
		b, err := static.FS.ReadFile(strings.TrimPrefix(c.Param("path"), "/"))
		if err != nil {
			c.Status(http.StatusNotFound)
			return
		}
		c.Data(http.StatusOK, mime.TypeByExtension(path.Ext(c.Param("path"))), b)
	})
	Register(r, Deps{
		Tenants: svc, Catalog: cat, Market: market.NewService(db.DB, plans), Plans: plans,
		Sessions: session.NewManager(session.CookieName, kr.Derive("session"), false, time.Hour), Logger: log, CSRFKey: kr.Derive("csrf"),
		LoginIPThrottle: throttle.New(time.Second, 100), LoginAccountThrottle: throttle.New(time.Second, 100),
		SignupThrottle: throttle.New(time.Second, 100), ResetThrottle: throttle.New(time.Second, 100),
	})
	e := &usageEnv{srv: httptest.NewServer(httpx.SecurityHeaders(false)(r)), db: db, svc: svc, plans: plans}
	t.Cleanup(e.srv.Close)

	signUp := func(name, email, org, slug string) tenants.SignUpResult {
		t.Helper()
		res, err := svc.SignUp(ctx, tenants.SignUpInput{Name: name, Email: email, Password: "correct horse battery", OrgName: org, OrgSlug: slug}, "")
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	prov := signUp("Paula", "paula@example.com", "Acme", "acme")
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
	day, month, overage := int64(1000), int64(5000), int64(50)
	for _, in := range []billing.PlanInput{
		{Slug: "metered", Name: "Metered", Currency: "usd", IncludedCalls: 4000, OverageCentsPer1000: &overage,
			Quota: billing.Quota{Day: &day, Month: &month}, Versions: []string{"v1"}},
		{Slug: "open", Name: "Open", Currency: "usd", OverageCentsPer1000: &overage, Versions: []string{"v1"}},
	} {
		if _, err := plans.CreatePlan(ctx, prov.Org.ID, api.ID, pa, in); err != nil {
			t.Fatal(err)
		}
		if _, err := plans.PublishPlan(ctx, prov.Org.ID, api.ID, in.Slug, pa); err != nil {
			t.Fatal(err)
		}
	}
	part := signUp("Pat", "pat@example.com", "Partner", "partner")
	ta := tenants.Actor{UserID: part.User.ID, Email: part.User.Email}
	subscribe := func(app, plan string) billing.Subscription {
		t.Helper()
		a, err := svc.CreateApp(ctx, part.Org.ID, ta, tenants.AppInput{Name: app})
		if err != nil {
			t.Fatal(err)
		}
		s, err := plans.Subscribe(ctx, part.Org.ID, ta, billing.SubscribeInput{AppID: a.ID, ProviderOrg: "acme", API: "weather", Version: "v1", Plan: plan})
		if err != nil || s.Status != billing.SubActive {
			t.Fatalf("subscribe %s: %v, %+v", app, err, s)
		}
		return s
	}
	e.metered, e.open = subscribe("Widget", "metered"), subscribe("Gadget", "open")
	signUp("Olga", "olga@example.com", "Other", "other")
	return e
}

// login returns a GET for the console, logged in as email: it returns the
// status and the body.
func (e *usageEnv) login(t *testing.T, email string) func(path string) (int, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (int, string) {
		t.Helper()
		res, err := client.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	_, form := get("/login")
	m := regexp.MustCompile(`name="gorilla\.csrf\.Token" value="([^"]+)"`).FindStringSubmatch(form)
	if m == nil {
		t.Fatal("no CSRF token on the log-in page")
	}
	res, err := client.PostForm(e.srv.URL+"/login", url.Values{"gorilla.csrf.Token": {html.UnescapeString(m[1])},
		"email": {email}, "password": {"correct horse battery"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("log in as %s: %d", email, res.StatusCode)
	}
	return get
}

// record writes n calls of sub at the given time into the usage ledger,
// as the gateway's metering does.
func record(t *testing.T, l *billing.Ledger, sub billing.Subscription, at time.Time, n int, billable bool, status int) {
	t.Helper()
	for range n {
		l.Record(gateway.UsageEvent{Time: at, SubscriptionID: sub.ID, OperationID: "op", ProviderOrgID: sub.ProviderOrgID, PartnerOrgID: sub.OrgID,
			APIID: sub.APIID, Version: "v1", AppID: sub.AppID, AccessKey: "PK1", Status: status, Billable: billable})
	}
}

// seedUsage moves the metered subscription's period to 2026-11-10
// 08:30:20 – 2026-12-10 and writes its calls (and 30 of the open one's,
// today) into the usage ledger, now being 2026-11-20 12:00 UTC.
func (e *usageEnv) seedUsage(t *testing.T, now time.Time) billing.Subscription {
	t.Helper()
	ctx := context.Background()
	// The period began on 2026-11-10 at 08:30:20.
	periodStart := time.Date(2026, 11, 10, 8, 30, 20, 0, time.UTC)
	if err := e.db.Exec("UPDATE subscriptions SET period_start = ?, period_end = ? WHERE id = ?",
		periodStart, periodStart.AddDate(0, 1, 0), e.metered.ID).Error; err != nil {
		t.Fatal(err)
	}
	l := billing.NewLedger(e.db.DB, time.Hour, nil, nil)
	m := e.metered
	// Today: 950 calls, 850 billable, 50 errors.
	record(t, l, m, now.Add(-3*time.Hour), 800, true, 200)
	record(t, l, m, now.Add(-2*time.Hour), 50, true, 502)
	record(t, l, m, now.Add(-2*time.Hour), 100, false, 200)
	// Yesterday (2026-11-19): nothing. The day before: 4,140.
	record(t, l, m, now.AddDate(0, 0, -2), 4140, true, 200)
	// 2026-11-10: 300 before the period began, 10 in its first minute.
	record(t, l, m, periodStart.Add(-time.Hour), 300, true, 200)
	record(t, l, m, periodStart.Add(20*time.Second), 10, true, 200)
	// Outside the last 30 days.
	record(t, l, m, time.Date(2026, 10, 2, 9, 0, 0, 0, time.UTC), 7, true, 200)
	// Another subscription's calls count for it only.
	record(t, l, e.open, now.Add(-time.Hour), 30, true, 200)
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return m
}

// wantInOrder fails unless body holds every string of want, in that order.
func wantInOrder(t *testing.T, what, body string, want ...string) {
	t.Helper()
	rest := body
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			if strings.Contains(body, w) {
				t.Fatalf("%s: %q is out of order", what, w)
			}
			t.Fatalf("%s lacks %q\n%s", what, w, usageHTML(body))
		}
		rest = rest[i+len(w):]
	}
}

func wantNone(t *testing.T, what, body string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			t.Fatalf("%s has %q\n%s", what, w, usageHTML(body))
		}
	}
}

// usageHTML is the usage part of a page, for failure messages.
func usageHTML(body string) string {
	if i := strings.Index(body, `id="quota"`); i >= 0 {
		body = body[i:]
	} else if i := strings.Index(body, "<main"); i >= 0 {
		body = body[i:]
	}
	if len(body) > 6000 {
		body = body[:6000]
	}
	return body
}

// TestSubscriptionUsagePages: both sides' subscription pages show the
// quota use now — today's billable calls against the daily quota, the
// billing period's against the monthly quota and the included calls, at
// the warning and danger levels — and the calls per day of the last 30
// days (a zero bar for a day without calls), with their totals; a range
// is a link; a bad range is a message on a working page; another
// organisation still gets a 404.
func TestSubscriptionUsagePages(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	usageNow = func() time.Time { return now }
	t.Cleanup(func() { usageNow = time.Now })
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		e := newUsageEnv(t, db)
		m := e.seedUsage(t, now)

		pat, paula, olga := e.login(t, "pat@example.com"), e.login(t, "paula@example.com"), e.login(t, "olga@example.com")
		partnerPage, providerPage := "/orgs/partner/subscriptions/"+m.ID, "/orgs/acme/subscribers/"+m.ID
		for side, get := range map[string]func(string) (int, string){partnerPage: pat, providerPage: paula} {
			st, body := get(side)
			if st != http.StatusOK {
				t.Fatalf("%s: %d\n%s", side, st, usageHTML(body))
			}
			wantInOrder(t, side, body,
				// Today's 850 billable calls of the 1,000 a day: a warning.
				`<li class="quota quota-warning">`, `<label class="quota-label" for="quota-day">Daily quota</label>`,
				`<span class="quota-text" id="quota-day-text">850 of 1,000 used (85%)</span>`,
				`<meter class="meter meter-warning" id="quota-day" min="0" max="1000" low="800" high="1000" optimum="0" value="850" aria-describedby="quota-day-text quota-day-window">`,
				"Today so far, 2026-11-20 (UTC)",
				// The period's 850 + 4,140 + 10 = 5,000: the monthly quota is used up.
				`<li class="quota quota-danger">`, `5,000 of 5,000 used (100%)`, `value="5000"`,
				"This billing period so far, 2026-11-10 08:30 UTC to 2026-12-10 08:30 UTC.",
				// …and 1,000 calls beyond the 4,000 included, billed.
				`<li class="quota quota-danger">`, `Included calls`, `5,000 of 4,000 used (125%) — 1,000 beyond them`, `max="4000"`, `value="4000"`,
				"Calls beyond them are billed at $0.50 per 1,000 calls.",
				// The last 30 days, linkable through a GET form.
				"30 days, 2026-10-22 to 2026-11-20 (UTC), both included.",
				`method="get" action="`+side+`#usage"`, `<label for="usage-from">`, `type="date" id="usage-from" name="from" value="2026-10-22"`,
				`<label for="usage-to">`, `type="date" id="usage-to" name="to" value="2026-11-20"`,
				`<dd id="usage-calls">5,400</dd>`, `<dd id="usage-billable">5,300</dd>`, `<dd id="usage-errors">50</dd>`, `<dd id="usage-error-rate">0.9%</dd>`,
				`<span class="chart-y-max">4,140</span>`, `viewBox="0 0 600 200"`,
				`<title>2026-10-22: 0 calls (0 billable), 0 errors</title>`,
				`<title>2026-11-10: 310 calls (310 billable), 0 errors</title>`,
				`<title>2026-11-18: 4,140 calls (4,140 billable), 0 errors</title>`,
				`<title>2026-11-19: 0 calls (0 billable), 0 errors</title>`,
				`<title>2026-11-20: 950 calls (850 billable), 50 errors</title>`,
				`<span>2026-10-22</span>`, `<span>2026-11-20</span>`,
				`<th scope="row" class="nowrap">2026-11-19</th><td class="num">0</td><td class="num">0</td><td class="num">0</td>`,
				`<th scope="row" class="nowrap">2026-11-20</th><td class="num">950</td><td class="num">850</td><td class="num">50</td>`,
			)
			if n := strings.Count(body, `<g class="chart-bar">`); n != 30 {
				t.Fatalf("%s: %d bars, want 30", side, n)
			}
			wantNone(t, side, body, "2026-10-02", "Last 30 days</a>", `class="form-error"`)

			// Another range, from the query string: its bars and totals.
			st, body = get(side + "?from=2026-10-01&to=2026-10-03")
			if st != http.StatusOK {
				t.Fatalf("%s range: %d", side, st)
			}
			wantInOrder(t, side+" range", body, `quota-month-text">5,000 of 5,000 used (100%)`,
				"3 days, 2026-10-01 to 2026-10-03 (UTC), both included.", `name="from" value="2026-10-01"`, `name="to" value="2026-10-03"`,
				`href="`+side+`#usage">Last 30 days</a>`, `<dd id="usage-calls">7</dd>`, `<dd id="usage-error-rate">0.0%</dd>`,
				`<title>2026-10-01: 0 calls (0 billable), 0 errors</title>`, `<title>2026-10-02: 7 calls (7 billable), 0 errors</title>`,
				`<title>2026-10-03: 0 calls (0 billable), 0 errors</title>`)
			if n := strings.Count(body, `<g class="chart-bar">`); n != 3 {
				t.Fatalf("%s range: %d bars, want 3", side, n)
			}

			// Bad ranges: a message and the field's error on a page that
			// still works (the default range), what was typed kept.
			for q, want := range map[string][]string{
				"?from=2026-13-45":                 {`<p class="field-error" id="usage-from-error">`, "Enter the first day as a date, like 2026-10-22.", `name="from" value="2026-13-45"`},
				"?from=2026-11-20&to=2026-11-01":   {`<p class="field-error" id="usage-to-error">`, "The last day is before the first one", `name="to" value="2026-11-01"`},
				"?from=2025-01-01&to=2026-11-20":   {`name="from" value="2025-01-01"`, `<p class="field-error" id="usage-to-error">`, "Choose at most 400 days; this range has 689."},
				"?to=yesterday":                    {`<p class="field-error" id="usage-to-error">`, "Enter the last day as a date, like 2026-11-20.", `name="to" value="yesterday"`},
				"?from=2026-12-01":                 {`<p class="field-error" id="usage-from-error">`, "The first day is after today"},
				"?from=%3Cscript%3E&to=2026-11-20": {`name="from" value="&lt;script&gt;"`},
			} {
				st, body := get(side + q)
				if st != http.StatusOK {
					t.Fatalf("%s%s: %d, want 200 (a GET filter's message, as the subscribers list)", side, q, st)
				}
				wantInOrder(t, side+q, body, append([]string{`<div class="form-error" role="alert">`, "That range cannot be shown, so this is the last 30 days."}, want...)...)
				wantInOrder(t, side+q, body, "30 days, 2026-10-22 to 2026-11-20", `aria-invalid="true"`, `<dd id="usage-calls">5,400</dd>`)
				wantNone(t, side+q, body, "<script>")
			}
		}

		// A plan without quota says so; its own calls only.
		st, body := pat("/orgs/partner/subscriptions/" + e.open.ID)
		if st != http.StatusOK {
			t.Fatalf("open subscription: %d", st)
		}
		wantInOrder(t, "open subscription", body, `<p class="quota-none">The plan has no quota: its calls are not capped per day or per period.</p>`,
			`<dd id="usage-calls">30</dd>`)
		wantNone(t, "open subscription", body, "<meter")

		// Other organisations: not found, whatever the range.
		for _, tc := range []struct {
			get  func(string) (int, string)
			path string
		}{
			{olga, "/orgs/other/subscriptions/" + m.ID},
			{olga, "/orgs/other/subscribers/" + m.ID + "?from=2026-10-01"},
			{pat, "/orgs/partner/subscribers/" + m.ID},
			{paula, "/orgs/acme/subscriptions/" + m.ID + "?from=2026-10-01"},
		} {
			if st, body := tc.get(tc.path); st != http.StatusNotFound || strings.Contains(body, "quota-text") {
				t.Fatalf("%s: %d, want 404", tc.path, st)
			}
		}
		if st, _ := olga("/orgs/partner/subscriptions/" + m.ID); st == http.StatusOK {
			t.Fatalf("a stranger reads the partner's subscription")
		}
	})
}

// TestQuotaMeterLevels: the meter's words and level at the thresholds.
func TestQuotaMeterLevels(t *testing.T) {
	for _, tc := range []struct {
		used, limit int64
		text, level string
	}{
		{0, 1000, "0 of 1,000 used (0%)", "ok"},
		{3, 1000, "3 of 1,000 used (less than 1%)", "ok"},
		{799, 1000, "799 of 1,000 used (79%)", "ok"},
		{800, 1000, "800 of 1,000 used (80%)", "warning"},
		{999, 1000, "999 of 1,000 used (99%)", "warning"},
		{1000, 1000, "1,000 of 1,000 used (100%)", "danger"},
		{1500, 1000, "1,500 of 1,000 used (150%)", "danger"},
	} {
		m := quotaMeter("q", "Q", tc.limit, tc.used, "", "")
		if m.Text != tc.text || m.Level != tc.level {
			t.Errorf("%d of %d: %q %s, want %q %s", tc.used, tc.limit, m.Text, m.Level, tc.text, tc.level)
		}
	}
}

// TestBrowserUsageChart: in Chromium, the partner's subscription page
// draws the chart (a bar per day, stretched to its card) and the quota
// meters, whose accessible names are their labels, in the design
// system's colours; the page fits a phone. With PORTICO_TEST_SCREENSHOTS
// set to a directory it saves screenshots (wide, phone, dark).
func TestBrowserUsageChart(t *testing.T) {
	bin := os.Getenv("PORTICO_TEST_CHROMIUM")
	if bin == "" {
		bin, _ = exec.LookPath("chromium")
	}
	testenv.Need(t, bin != "", "chromium is not installed (apt-get install chromium)")
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	usageNow = func() time.Time { return now }
	t.Cleanup(func() { usageNow = time.Now })
	e := newUsageEnv(t, testdb.Open(t, migrations.SQLite))
	m := e.seedUsage(t, now)

	actx, cancelA := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(bin),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	bctx, cancelC := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil { // starts the browser, without a deadline
		cancelC()
		cancelA()
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelT := context.WithTimeout(bctx, 90*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	// shot saves the element sel, or the whole page when sel is "".
	shot := func(name, sel string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			dir := os.Getenv("PORTICO_TEST_SCREENSHOTS")
			if dir == "" {
				return nil
			}
			take := chromedp.FullScreenshot(100)
			if sel != "" {
				take = chromedp.Screenshot(css(sel))
			}
			buf, err := take(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "usage-"+name+".png"), buf, 0o644)
		})
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	page := e.srv.URL + "/orgs/partner/subscriptions/" + m.ID
	err := chromedp.Do(ctx,
		chromedp.Navigate(e.srv.URL+"/login"),
		chromedp.SendKeys(css(`form[action="/login"] input[name=email]`), "pat@example.com"),
		chromedp.SendKeys(css(`form[action="/login"] input[name=password]`), "correct horse battery"),
		chromedp.Click(css(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(css(`.user-menu summary`)),
		chromedp.Navigate(page),
		chromedp.WaitVisible(css(`#usage-chart svg`)),
		shot("wide", ""), shot("wide-quota", "#quota"), shot("wide-usage", "#usage"),
	)
	if err != nil {
		t.Fatal(err)
	}
	got := eval(`(function () {
		var svg = document.querySelector("#usage-chart svg"), card = document.querySelector("#usage");
		var r = svg.getBoundingClientRect(), y = document.querySelector(".chart-y").getBoundingClientRect();
		return [document.querySelectorAll("#usage-chart .chart-bar").length,
			Math.abs(r.right - (card.getBoundingClientRect().right - parseFloat(getComputedStyle(card).paddingRight))) < 2 && r.left > y.left && r.height > 100,
			getComputedStyle(document.querySelector(".chart-part")).fill,
			getComputedStyle(document.querySelector(".chart-data")).display,
			document.querySelector("#quota-day").labels[0].textContent].join("|");
	})()`)
	if got != "30|true|rgb(180, 35, 24)|block|Daily quota" {
		t.Fatalf("chart: bars|fills its card|error colour|table|meter label = %s", got)
	}
	// The meters' accessible names, as assistive technology gets them.
	for id, name := range map[string]string{"quota-day": "Daily quota", "quota-month": "Monthly quota", "quota-included": "Included calls"} {
		ax, err := chromedp.Run(ctx, chromedp.QueryAfter(css("#"+id), func(ctx context.Context, tg *chromedp.Target, nodes []*chromedp.Node) (string, error) {
			res, err := cdp.Call(ctx, tg, accessibility.GetPartialAXTree, accessibility.GetPartialAXTreeParams{NodeID: nodes[0].NodeID, FetchRelatives: new(false)})
			if err != nil || len(res.Nodes) == 0 || res.Nodes[0].Name == nil || res.Nodes[0].Role == nil {
				return "", fmt.Errorf("no accessibility node: %v", err)
			}
			return string(res.Nodes[0].Role.Value) + " " + string(res.Nodes[0].Name.Value), nil
		}))
		if err != nil || ax != `"meter" "`+name+`"` {
			t.Fatalf("#%s: accessibility role and name %s (%v), want meter %q", id, ax, err, name)
		}
	}
	if c := eval(`getComputedStyle(document.querySelector("#quota-day"), "::-webkit-meter-optimum-value").backgroundColor + "|" + getComputedStyle(document.querySelector("#quota-day").closest("li").querySelector(".quota-text")).color`); c != "rgb(122, 74, 0)" && !strings.HasSuffix(c, "|rgb(122, 74, 0)") {
		t.Fatalf("the daily quota at 85%% is not in the warning colour: %s", c)
	}

	// A phone: the chart shrinks with the page, nothing overflows.
	err = chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(page), chromedp.WaitVisible(css(`#usage-chart svg`)),
		shot("phone-quota", "#quota"), shot("phone-usage", "#usage"))
	if err != nil {
		t.Fatal(err)
	}
	if v := eval(`String(document.documentElement.scrollWidth <= window.innerWidth) + "|" + String(document.querySelector("#usage-chart svg").getBoundingClientRect().width < 390)`); v != "true|true" {
		t.Fatalf("on a phone: fits|chart narrower = %s", v)
	}
	if os.Getenv("PORTICO_TEST_SCREENSHOTS") != "" {
		err = chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
			return err
		}), chromedp.Navigate(page+"?from=2026-13-01"), chromedp.WaitVisible(css(`#usage-chart svg`)), shot("dark-bad-range", "#usage"), shot("dark-quota", "#quota"))
		if err != nil {
			t.Fatal(err)
		}
	}
}
