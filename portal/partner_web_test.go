package portal_test

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/tenants"
)

// These tests drive the partner's console (apps, keys, subscriptions and
// the subscribe form of the market) and the provider's (subscribers, the
// approval queue and the decisions) through HTTP, as a browser does.

var (
	subscriptionPathRE = regexp.MustCompile(`^/orgs/([a-z0-9-]+)/subscriptions/([0-9a-f-]{36})$`)
	appPathRE          = regexp.MustCompile(`^/orgs/([a-z0-9-]+)/apps/([0-9a-f-]{36})$`)
	secretRE           = regexp.MustCompile(`id="new-secret-key">([A-Za-z0-9/+]{40})</code>`)
	accessKeyRE        = regexp.MustCompile(`id="new-access-key">(PK[A-Z2-7]{18})</code>`)
)

// idFrom returns the id at the end of a redirect to a subscription or an
// app page.
func idFrom(t *testing.T, re *regexp.Regexp, p page) string {
	t.Helper()
	m := re.FindStringSubmatch(p.Location)
	if p.Status != http.StatusSeeOther || m == nil {
		t.Fatalf("want a 303 to %s, got %d %q\n%.3000s", re, p.Status, p.Location, stripCSRF(p.Body))
	}
	return m[2]
}

// newKeyOf reads the access key and secret of the key a page just created.
func newKeyOf(t *testing.T, p page) (ak, sk string) {
	t.Helper()
	a, s := accessKeyRE.FindStringSubmatch(p.Body), secretRE.FindStringSubmatch(p.Body)
	if p.Status != http.StatusCreated || a == nil || s == nil {
		t.Fatalf("no new key on the page (status %d)\n%.3000s", p.Status, stripCSRF(p.Body))
	}
	return a[1], html.UnescapeString(s[1])
}

// joinOrg makes a new user join org with a role through the management
// API and returns a console browser logged in as them.
func joinOrg(t *testing.T, e *env, ownerTok, org, name, email, ownSlug, role string) *browser {
	t.Helper()
	expectStatus(t, e.call("POST", "/api/v1/orgs/"+org+"/invitations", ownerTok, map[string]any{"email": email, "role": role}), http.StatusCreated)
	tok, _ := e.signUp(name, email, ownSlug)
	expectStatus(t, e.call("POST", "/api/v1/invitations/accept", tok, map[string]any{"token": e.emailLink(email, "/invitations/")}), http.StatusCreated)
	return loggedIn(t, e, email)
}

// subscribeVia subscribes an app through the management API and returns
// the subscription's id.
func subscribeVia(t *testing.T, e *env, tok, org, app, plan, message string) string {
	t.Helper()
	r := e.call("POST", "/api/v1/orgs/"+org+"/subscriptions", tok, map[string]any{"app": app, "api": "acme/weather", "version": "v1", "plan": plan, "message": message})
	expectStatus(t, r, http.StatusCreated)
	return r.json(t)["id"].(string)
}

func subStatus(t *testing.T, e *env, partnerOrgID, id string) billing.SubscriptionStatus {
	t.Helper()
	s, err := e.plans.Subscription(context.Background(), partnerOrgID, id)
	if err != nil {
		t.Fatal(err)
	}
	return s.Status
}

// TestConsoleSubscribeFromMarket: a visitor picks the free plan, signs up
// and comes back to it, subscribes a new app (active at once), then asks
// for the manual plan (pending, in the provider's queue) and the paid one
// (pending payment, said plainly, nothing to pay with).
func TestConsoleSubscribeFromMarket(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		provideWeather(t, e)
		visitor := e.browser()
		p := visitor.get("/market/acme/weather")
		wantPage(t, "API page", p, http.StatusOK, `href="/signup?next=/market/acme/weather%3Fplan=free"`)
		wantNot(t, "API page", p, `action="/market/acme/weather/subscribe"`)

		// Signed out, the subscribe action sends to the log-in page.
		wantRedirect(t, "signed-out subscribe", visitor.post("/market/acme/weather/subscribe", csrfOf(t, visitor.get("/login").Body),
			map[string]string{"plan": "free"}), "/login")

		p = visitor.submit("/signup?next=/market/acme/weather%3Fplan=free", "/signup", map[string]string{
			"name": "Pat", "email": "pat@example.com", "password": "correct horse battery", "org_name": "Partner Co", "org_slug": "partner",
			"next": "/market/acme/weather?plan=free"})
		wantRedirect(t, "sign up to subscribe", p, "/market/acme/weather?plan=free")
		form := visitor.get("/market/acme/weather?plan=free")
		wantPage(t, "subscribe form", form, http.StatusOK, "Subscribe to Weather on plan Free", `action="/market/acme/weather/subscribe"`,
			`<input type="hidden" name="org" value="partner">`, `<option value="new" selected>Create a new app</option>`, `<option value="v1" selected>v1</option>`,
			"For <strong>Partner Co</strong>", "Your app can call the API as soon as you subscribe.")
		wantNot(t, "subscribe form", form, `name="message"`, `name="partner"`)
		csrf := csrfOf(t, form.Body)
		post := func(fields map[string]string) page {
			t.Helper()
			return visitor.post("/market/acme/weather/subscribe", csrf, fields)
		}

		// Mistakes come back on the form.
		p = post(map[string]string{"org": "partner", "plan": "free", "app": "new", "app_name": " ", "version": "v1"})
		wantPage(t, "no app name", p, http.StatusUnprocessableEntity, `id="sub-app-name-error"`, "Subscribe to Weather on plan Free")
		p = post(map[string]string{"org": "acme", "plan": "free", "app": "new", "app_name": "Widget", "version": "v1"})
		wantPage(t, "not my organisation", p, http.StatusUnprocessableEntity, "Choose one of your organisations.")
		wantPage(t, "unknown plan", post(map[string]string{"org": "partner", "plan": "nope", "app": "new", "app_name": "W", "version": "v1"}), http.StatusNotFound)
		wantPage(t, "no CSRF", visitor.post("/market/acme/weather/subscribe", "", map[string]string{"org": "partner", "plan": "free"}), http.StatusForbidden, "This form has expired")

		// Free plan with a new app: active at once; the page offers the first key.
		p = post(map[string]string{"org": "partner", "plan": "free", "app": "new", "app_name": "Widget", "app_environment": "production", "version": "v1"})
		freeID := idFrom(t, subscriptionPathRE, p)
		p = visitor.get(p.Location)
		wantPage(t, "free subscription", p, http.StatusOK, "Subscribed: Widget can call Weather v1 on plan Free.", `class="callout callout-success"`,
			"Create a key for Widget", "Change plan", "A free subscription ends at once")
		apps, err := e.svc.ListApps(context.Background(), partnerID(t, e), tenants.Page{})
		if err != nil || len(apps.Items) != 1 || apps.Items[0].Name != "Widget" {
			t.Fatalf("apps = %+v, %v", apps.Items, err)
		}
		widget := apps.Items[0].ID
		if st := subStatus(t, e, partnerID(t, e), freeID); st != billing.SubActive {
			t.Fatalf("free subscription is %s", st)
		}

		// The same app cannot subscribe to the API twice.
		p = post(map[string]string{"org": "partner", "plan": "gold", "app": widget, "version": "v1"})
		wantPage(t, "second subscription of an app", p, http.StatusConflict, "already has a subscription to Weather", freeID)
		// A duplicate app name is refused before anything else.
		p = post(map[string]string{"org": "partner", "plan": "gold", "app": "new", "app_name": "widget", "version": "v1"})
		wantPage(t, "duplicate app", p, http.StatusConflict, "An app with this name already exists")

		// Manual approval: pending, with the message, in the provider's queue.
		form = visitor.get("/market/acme/weather?plan=gold")
		wantPage(t, "gold form", form, http.StatusOK, `name="message"`, "Request a subscription", "approves each subscription to this plan")
		p = post(map[string]string{"org": "partner", "plan": "gold", "app": "new", "app_name": "School app", "version": "v1", "message": "We are a school"})
		goldID := idFrom(t, subscriptionPathRE, p)
		wantPage(t, "gold subscription", visitor.get(p.Location), http.StatusOK, "Request sent to acme Ltd.", "Waiting for acme Ltd to approve the request.",
			`class="callout callout-warning"`, "Withdraw the request", "We are a school")
		paula := loggedIn(t, e, "paula@example.com")
		wantPage(t, "provider queue", paula.get("/orgs/acme/approvals"), http.StatusOK, "Partner Co", "School app", "We are a school", "/orgs/acme/subscribers/"+goldID+"/approve")

		// Paid: pending payment, with the notice and no pretend checkout.
		p = post(map[string]string{"org": "partner", "plan": "pro", "app": "new", "app_name": "Paid app", "version": "v1"})
		proID := idFrom(t, subscriptionPathRE, p)
		p = visitor.get(p.Location)
		wantPage(t, "pro subscription", p, http.StatusOK, "Pending payment", "Paying by checkout is not available yet, so the subscription waits for payment",
			"Nothing was paid yet, so the subscription ends at once.")
		wantNot(t, "pro subscription", p, "checkout.stripe", "Pay now", "Change plan")
		if st := subStatus(t, e, partnerID(t, e), proID); st != billing.SubPendingPayment {
			t.Fatalf("pro subscription is %s", st)
		}

		// The partner's list and dashboard.
		p = visitor.get("/orgs/partner/subscriptions")
		wantPage(t, "subscriptions", p, http.StatusOK, "Widget", "School app", "Paid app", "Pending approval", "Pending payment", "Active")
		p = visitor.get("/orgs/partner/subscriptions?status=active")
		wantPage(t, "active subscriptions", p, http.StatusOK, "Widget", `<option value="active" selected>`)
		wantNot(t, "active subscriptions", p, ">School app</a>")
		wantPage(t, "bad status filter", visitor.get("/orgs/partner/subscriptions?status=bogus"), http.StatusBadRequest)
		p = visitor.get("/orgs/partner")
		wantPage(t, "dashboard", p, http.StatusOK, `id="stat-apps">Apps</h3><p class="stat-value">3</p>`,
			`id="stat-active-subs">Active subscriptions</h3><p class="stat-value">1</p>`, `id="stat-pending-subs">Pending subscriptions</h3><p class="stat-value">2</p>`)
		wantNot(t, "dashboard", p, "Requests to approve")
		wantPage(t, "provider dashboard", paula.get("/orgs/acme"), http.StatusOK, `id="stat-approvals">Requests to approve</h3><p class="stat-value">1</p>`)
	})
}

// partnerID is the id of the organisation "partner".
func partnerID(t *testing.T, e *env) string {
	t.Helper()
	o, err := e.svc.OrganizationBySlug(context.Background(), "partner")
	if err != nil {
		t.Fatal(err)
	}
	return o.ID
}

// TestConsoleAppsAndKeys: create an app, create keys (the secret shows
// once), revoke one, edit the app, then delete it after a confirmation
// that names what happens, which cancels its subscription.
func TestConsoleAppsAndKeys(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		provideWeather(t, e)
		partTok, orgID := e.signUp("Pat", "pat@example.com", "partner")
		pat := loggedIn(t, e, "pat@example.com")
		wantPage(t, "no apps", pat.get("/orgs/partner/apps"), http.StatusOK, "No apps yet", `href="/orgs/partner/apps/new"`)

		p := pat.submit("/orgs/partner/apps/new", "/orgs/partner/apps", map[string]string{"name": "", "environment": "production"})
		wantPage(t, "app without a name", p, http.StatusUnprocessableEntity, `id="app-name-error"`)
		p = pat.submit("/orgs/partner/apps/new", "/orgs/partner/apps", map[string]string{"name": "Widget", "description": "Phone app", "environment": "test"})
		app := idFrom(t, appPathRE, p)
		page := pat.get(p.Location)
		wantPage(t, "app page", page, http.StatusOK, "App Widget created.", "<h1>Widget</h1>", "Phone app", "No keys yet", `<span class="badge badge-info">Test</span>`,
			`action="/orgs/partner/apps/`+app+`/keys"`)
		csrf := csrfOf(t, page.Body)
		keys := "/orgs/partner/apps/" + app + "/keys"

		wantPage(t, "key without CSRF", pat.post(keys, "", map[string]string{"name": "servers"}), http.StatusForbidden, "This form has expired")

		// A key: its secret shows in this response only.
		p = pat.post(keys, csrf, map[string]string{"name": "servers", "expires_on": ""})
		ak, sk := newKeyOf(t, p)
		wantPage(t, "new key", p, http.StatusCreated, "The secret key will not be shown again", `curl --aws-sigv4 &#34;aws:amz:local:apigw&#34; --user &#34;`+ak+":"+sk,
			"GATEWAY_URL/{provider}/{api}/{version}/…")
		if cc := p.Header.Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("new key page Cache-Control = %q", cc)
		}
		km, err := e.svc.KeyByAccessKey(context.Background(), ak)
		if err != nil || km.SecretKey != sk || km.AppID != app {
			t.Fatalf("key material = %v, %v", km, err)
		}
		for _, c := range p.Header.Values("Set-Cookie") {
			if strings.Contains(c, sk) {
				t.Fatalf("the secret is in a cookie: %s", c)
			}
		}
		page = pat.get("/orgs/partner/apps/" + app)
		wantPage(t, "app page after the key", page, http.StatusOK, "<code>"+ak+"</code>", "servers", `data-confirm="Revoke the key `+ak)
		wantNot(t, "app page after the key", page, sk, "will not be shown again")
		wantNot(t, "apps list", pat.get("/orgs/partner/apps"), sk)
		r := e.call("GET", "/api/v1/orgs/partner/apps/"+app+"/keys", partTok, nil)
		if strings.Contains(string(r.Body), sk) {
			t.Fatal("the key list has the secret")
		}

		// A key with a past expiry is refused; the second key works, a third does not.
		p = pat.post(keys, csrf, map[string]string{"name": "old", "expires_on": "2001-01-01"})
		wantPage(t, "past expiry", p, http.StatusUnprocessableEntity, "Choose an expiry in the future.", `value="2001-01-01"`)
		p = pat.post(keys, csrf, map[string]string{"name": "rotation", "expires_on": "2099-01-01"})
		wantPage(t, "past the lifetime", p, http.StatusUnprocessableEntity, "at most two years")
		p = pat.post(keys, csrf, map[string]string{"name": "rotation", "expires_on": e.svc.Now().AddDate(1, 0, 0).Format("2006-01-02")})
		ak2, _ := newKeyOf(t, p)
		wantPage(t, "second key", p, http.StatusCreated, "The key stops working on", "This app has two active keys")
		p = pat.post(keys, csrf, map[string]string{"name": "third"})
		wantPage(t, "third key", p, http.StatusConflict, "at most two active keys")

		// Revoke the first key.
		p = pat.post(keys+"/"+ak+"/revoke", csrf, nil)
		wantRedirect(t, "revoke", p, "/orgs/partner/apps/"+app+"#keys")
		wantPage(t, "after revoking", pat.get("/orgs/partner/apps/"+app), http.StatusOK, "revoked: requests signed with it are refused", `<span class="badge badge-danger">Revoked</span>`)
		if _, err := e.svc.KeyByAccessKey(context.Background(), ak); err == nil {
			t.Fatal("revoked key still works")
		}
		wantPage(t, "unknown key", pat.post(keys+"/PKNOPENOPENOPENOPENO/revoke", csrf, nil), http.StatusNotFound)

		// Edit.
		p = pat.post("/orgs/partner/apps/"+app, csrf, map[string]string{"name": "Widget 2", "description": "Phone app, v2"})
		wantRedirect(t, "edit", p, "/orgs/partner/apps/"+app)
		expectStatus(t, e.call("POST", "/api/v1/orgs/partner/apps", partTok, map[string]any{"name": "Other"}), http.StatusCreated)
		p = pat.post("/orgs/partner/apps/"+app, csrf, map[string]string{"name": "other", "description": ""})
		wantPage(t, "rename to a taken name", p, http.StatusConflict, "An app with this name already exists", `value="other"`)

		// Delete: the confirmation names what happens, then it happens.
		sub := subscribeVia(t, e, partTok, "partner", app, "free", "")
		p = pat.get("/orgs/partner/apps/" + app + "/delete")
		wantPage(t, "delete confirmation", p, http.StatusOK, "1 active key will be revoked and 1 subscription will be cancelled.",
			`action="/orgs/partner/apps/`+app+`/delete"`, `data-confirm="Delete Widget 2? 1 active key will be revoked and 1 subscription will be cancelled."`)
		p = pat.post("/orgs/partner/apps/"+app+"/delete", csrf, nil)
		wantRedirect(t, "delete", p, "/orgs/partner/apps")
		wantPage(t, "apps after delete", pat.get("/orgs/partner/apps"), http.StatusOK, "App Widget 2 deleted: 1 key revoked and 1 subscription cancelled.", "Other")
		if st := subStatus(t, e, orgID, sub); st != billing.SubCancelled {
			t.Fatalf("subscription of the deleted app is %s", st)
		}
		if _, err := e.svc.KeyByAccessKey(context.Background(), ak2); err == nil {
			t.Fatal("the deleted app's key still works")
		}
		wantPage(t, "deleted app", pat.get("/orgs/partner/apps/"+app), http.StatusNotFound)
		wantPage(t, "deleted app's subscription", pat.get("/orgs/partner/subscriptions/"+sub), http.StatusOK, "Cancelled at once with every subscription of the app.")
	})
}

// TestConsoleSubscriptionChanges: plan changes (refused, upgrade now,
// downgrade at the period end, withdrawn) and cancellation of a free plan.
func TestConsoleSubscriptionChanges(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		prov := provideWeather(t, e)
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/plans", prov, map[string]any{
			"slug": "plus", "name": "Plus", "currency": "usd", "included_calls": 20000, "versions": []string{"v1"}}), http.StatusCreated)
		expectStatus(t, e.call("POST", "/api/v1/orgs/acme/apis/weather/plans/plus/publish", prov, nil), http.StatusOK)
		partTok, orgID := e.signUp("Pat", "pat@example.com", "partner")
		app := e.call("POST", "/api/v1/orgs/partner/apps", partTok, map[string]any{"name": "Widget"}).json(t)["id"].(string)
		id := subscribeVia(t, e, partTok, "partner", app, "free", "")
		pat := loggedIn(t, e, "pat@example.com")
		url := "/orgs/partner/subscriptions/" + id
		p := pat.get(url)
		wantPage(t, "subscription", p, http.StatusOK, `action="`+url+`/plan"`, `<option value="free" selected>`, `<option value="plus">`, "Gold",
			"Calls included", "1,000 per month", "Hard limit", "Subscribed", "Your organisation (pat@example.com)")
		csrf := csrfOf(t, p.Body)

		p = pat.post(url+"/plan", csrf, map[string]string{"plan": "gold"})
		wantPage(t, "manual plan", p, http.StatusConflict, "needs the provider&#39;s approval", `<option value="gold" selected>`)
		p = pat.post(url+"/plan", csrf, map[string]string{"plan": "pro"})
		wantPage(t, "paid plan", p, http.StatusConflict, "paying by checkout is not available yet")

		wantRedirect(t, "upgrade", pat.post(url+"/plan", csrf, map[string]string{"plan": "plus"}), url)
		wantPage(t, "after the upgrade", pat.get(url), http.StatusOK, "Upgraded to plan Plus, effective now.", "20,000 per month", "Free → Plus")
		wantRedirect(t, "downgrade", pat.post(url+"/plan", csrf, map[string]string{"plan": "free"}), url)
		wantPage(t, "after the downgrade", pat.get(url), http.StatusOK, "Plan Free starts on", "Moves to plan Free on", "then Free from")
		wantRedirect(t, "withdraw", pat.post(url+"/plan", csrf, map[string]string{"plan": "plus"}), url)
		wantPage(t, "after withdrawing", pat.get(url), http.StatusOK, "The scheduled plan change was withdrawn")

		p = pat.post(url+"/cancel", csrf, nil)
		wantRedirect(t, "cancel", p, url)
		p = pat.get(url)
		wantPage(t, "after cancelling", p, http.StatusOK, "Subscription cancelled: the app can no longer call Weather.", "Ended")
		wantNot(t, "after cancelling", p, `action="`+url+`/plan"`, `action="`+url+`/cancel"`)
		if st := subStatus(t, e, orgID, id); st != billing.SubCancelled {
			t.Fatalf("after cancelling: %s", st)
		}
		p = pat.post(url+"/cancel", csrf, nil)
		wantRedirect(t, "cancel twice", p, url)
		wantPage(t, "cancel twice", pat.get(url), http.StatusOK, "A cancelled subscription is final")
	})
}

// TestConsoleSubscribers: the provider's queue, decisions with reasons,
// what the partner sees of them, and the permissions around them.
func TestConsoleSubscribers(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		prov := provideWeather(t, e)
		partTok, orgID := e.signUp("Pat", "pat@example.com", "partner")
		app := e.call("POST", "/api/v1/orgs/partner/apps", partTok, map[string]any{"name": "Widget"}).json(t)["id"].(string)
		key := e.call("POST", "/api/v1/orgs/partner/apps/"+app+"/keys", partTok, nil).json(t)
		id := subscribeVia(t, e, partTok, "partner", app, "gold", "We are a school")
		paula := loggedIn(t, e, "paula@example.com")
		pat := loggedIn(t, e, "pat@example.com")

		p := paula.get("/orgs/acme/approvals")
		wantPage(t, "queue", p, http.StatusOK, "partner Ltd", "Widget", "We are a school", "Gold", `name="reason"`)
		csrf := csrfOf(t, p.Body)
		sub := "/orgs/acme/subscribers/" + id
		p = paula.get(sub)
		wantPage(t, "subscriber", p, http.StatusOK, "<h1>partner Ltd</h1>", "We are a school", `action="`+sub+`/approve"`, `action="`+sub+`/reject"`)
		for _, secret := range []string{key["access_key"].(string), key["secret_key"].(string)} {
			wantNot(t, "subscriber", p, secret)
		}
		wantPage(t, "subscribers", paula.get("/orgs/acme/subscribers"), http.StatusOK, "1 request waits for a decision", "partner Ltd")
		wantPage(t, "subscribers by name", paula.get("/orgs/acme/subscribers?q=PART&api=weather&plan=gold&status=pending_approval"), http.StatusOK, `href="`+sub+`"`)
		wantNot(t, "subscribers by another name", paula.get("/orgs/acme/subscribers?q=initech"), `href="`+sub+`"`)
		wantPage(t, "subscribers of an unknown API", paula.get("/orgs/acme/subscribers?api=nope"), http.StatusNotFound)

		// Rejecting needs a reason, on the queue and on the page.
		p = paula.post(sub+"/reject", csrf, map[string]string{"reason": " ", "from": "approvals"})
		wantPage(t, "reject without a reason, queue", p, http.StatusUnprocessableEntity, "Approval queue", "Give a reason; the partner sees it.", `id="reason-`+id+`-error"`)
		p = paula.post(sub+"/reject", csrf, map[string]string{"reason": ""})
		wantPage(t, "reject without a reason, page", p, http.StatusUnprocessableEntity, "<h1>partner Ltd</h1>", `id="reject-reason-error"`)
		if st := subStatus(t, e, orgID, id); st != billing.SubPendingApproval {
			t.Fatalf("after a refused rejection: %s", st)
		}

		// Approve from the queue.
		wantRedirect(t, "approve", paula.post(sub+"/approve", csrf, map[string]string{"from": "approvals"}), "/orgs/acme/approvals")
		wantPage(t, "queue after approving", paula.get("/orgs/acme/approvals"), http.StatusOK, "Approved partner Ltd’s request", "No requests waiting")
		wantPage(t, "approve twice", paula.get(sub), http.StatusOK, "Active")
		wantRedirect(t, "approve twice", paula.post(sub+"/approve", csrf, nil), sub)
		wantPage(t, "approve twice", paula.get(sub), http.StatusOK, "This request was already decided")

		// Suspend (reason required), resume, terminate.
		wantPage(t, "suspend without a reason", paula.post(sub+"/suspend", csrf, nil), http.StatusUnprocessableEntity, `id="suspend-reason-error"`)
		wantRedirect(t, "suspend", paula.post(sub+"/suspend", csrf, map[string]string{"reason": "abuse report"}), sub)
		wantPage(t, "partner sees the suspension", pat.get("/orgs/partner/subscriptions/"+id), http.StatusOK, "Suspended by acme Ltd: abuse report")
		wantRedirect(t, "resume", paula.post(sub+"/resume", csrf, nil), sub)
		if st := subStatus(t, e, orgID, id); st != billing.SubActive {
			t.Fatalf("after resuming: %s", st)
		}
		p = paula.get(sub)
		wantPage(t, "history", p, http.StatusOK, "Resumed: Widget can call Weather again.", "abuse report", "Suspended", "Resumed",
			`data-confirm="Terminate the subscription of partner Ltd (Widget) to Weather?`, "Your organisation (paula@example.com)")
		wantNot(t, "history", p, "pat@example.com")
		wantPage(t, "terminate without a reason", paula.post(sub+"/terminate", csrf, map[string]string{"reason": ""}), http.StatusUnprocessableEntity, `id="terminate-reason-error"`)
		wantRedirect(t, "terminate", paula.post(sub+"/terminate", csrf, map[string]string{"reason": "contract ended"}), sub)
		if st := subStatus(t, e, orgID, id); st != billing.SubTerminated {
			t.Fatalf("after terminating: %s", st)
		}
		wantPage(t, "partner sees the termination", pat.get("/orgs/partner/subscriptions/"+id), http.StatusOK, "Terminated by acme Ltd: contract ended")

		// A new request, rejected with a reason.
		id2 := subscribeVia(t, e, partTok, "partner", app, "gold", "")
		wantRedirect(t, "reject", paula.post("/orgs/acme/subscribers/"+id2+"/reject", csrf, map[string]string{"reason": "not a school", "from": "approvals"}), "/orgs/acme/approvals")
		if st := subStatus(t, e, orgID, id2); st != billing.SubRejected {
			t.Fatalf("after rejecting: %s", st)
		}
		wantPage(t, "partner sees the rejection", pat.get("/orgs/partner/subscriptions/"+id2), http.StatusOK, "Rejected by acme Ltd: not a school")

		// Viewers and developers of the provider read, but do not decide.
		id3 := subscribeVia(t, e, partTok, "partner", app, "gold", "")
		for _, role := range []string{"viewer", "developer"} {
			b := joinOrg(t, e, prov, "acme", "Vic "+role, role+"@example.com", "own-"+role, role)
			p = b.get("/orgs/acme/subscribers/" + id3)
			wantPage(t, role+" reads", p, http.StatusOK, "Only owners and admins can approve")
			wantNot(t, role+" reads", p, `/approve"`)
			wantPage(t, role+" queue", b.get("/orgs/acme/approvals"), http.StatusOK, "Only owners and admins can approve or reject")
			c := csrfOf(t, p.Body)
			for _, action := range []string{"approve", "reject", "suspend", "resume", "terminate"} {
				wantPage(t, role+" "+action, b.post("/orgs/acme/subscribers/"+id3+"/"+action, c, map[string]string{"reason": "x"}), http.StatusForbidden,
					"Only owners and admins can approve, reject, suspend, resume or terminate subscriptions.")
			}
		}
		if st := subStatus(t, e, orgID, id3); st != billing.SubPendingApproval {
			t.Fatalf("after the refused decisions: %s", st)
		}

		// The provider's and the partner's pages are each their own.
		wantPage(t, "partner's id on the provider side", pat.get("/orgs/partner/subscribers/"+id3), http.StatusNotFound)
		wantPage(t, "provider's id on the partner side", paula.get("/orgs/acme/subscriptions/"+id3), http.StatusNotFound)
		wantPage(t, "partner posts a decision", pat.post("/orgs/partner/subscribers/"+id3+"/approve", csrfOf(t, pat.get("/orgs/partner").Body), nil), http.StatusNotFound)
		wantPage(t, "decision without CSRF", paula.post(sub+"/approve", "", nil), http.StatusForbidden, "This form has expired")
	})
}

// TestConsolePartnerPermissions: viewers and billing members read apps and
// subscriptions but change nothing; another organisation's ids are 404.
func TestConsolePartnerPermissions(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		provideWeather(t, e)
		partTok, _ := e.signUp("Pat", "pat@example.com", "partner")
		app := e.call("POST", "/api/v1/orgs/partner/apps", partTok, map[string]any{"name": "Widget"}).json(t)["id"].(string)
		key := e.call("POST", "/api/v1/orgs/partner/apps/"+app+"/keys", partTok, nil).json(t)["access_key"].(string)
		sub := subscribeVia(t, e, partTok, "partner", app, "free", "")
		for _, role := range []string{"viewer", "billing"} {
			b := joinOrg(t, e, partTok, "partner", "Val "+role, role+"@example.com", "own-"+role, role)
			p := b.get("/orgs/partner/apps")
			wantPage(t, role+" apps", p, http.StatusOK, "Widget")
			wantNot(t, role+" apps", p, "/apps/new")
			p = b.get("/orgs/partner/apps/" + app)
			wantPage(t, role+" app", p, http.StatusOK, key)
			wantNot(t, role+" app", p, "/revoke", "Create a key", "/delete")
			wantPage(t, role+" subscription", b.get("/orgs/partner/subscriptions/"+sub), http.StatusOK, "Active")
			wantNot(t, role+" subscription", b.get("/orgs/partner/subscriptions/"+sub), "/cancel", "/plan\"", "Create a key for")
			wantPage(t, role+" new app form", b.get("/orgs/partner/apps/new"), http.StatusForbidden)
			wantPage(t, role+" delete confirmation", b.get("/orgs/partner/apps/"+app+"/delete"), http.StatusForbidden)
			c := csrfOf(t, p.Body)
			for _, action := range []string{"/orgs/partner/apps", "/orgs/partner/apps/" + app, "/orgs/partner/apps/" + app + "/keys",
				"/orgs/partner/apps/" + app + "/keys/" + key + "/revoke", "/orgs/partner/apps/" + app + "/delete",
				"/orgs/partner/subscriptions/" + sub + "/plan", "/orgs/partner/subscriptions/" + sub + "/cancel"} {
				wantPage(t, role+" POST "+action, b.post(action, c, map[string]string{"name": "x", "plan": "gold"}), http.StatusForbidden,
					"Only owners, admins and developers can change apps, keys and subscriptions.")
			}
			// Nor can they subscribe for the organisation from the market:
			// the form offers only their own organisation.
			p = b.get("/market/acme/weather?plan=free")
			wantPage(t, role+" market", p, http.StatusOK, `<input type="hidden" name="org" value="own-`+role+`">`)
			wantNot(t, role+" market", p, `value="partner"`)
			p = b.post("/market/acme/weather/subscribe", csrfOf(t, p.Body), map[string]string{"org": "partner", "plan": "free", "app": app, "version": "v1"})
			wantPage(t, role+" subscribes", p, http.StatusForbidden, "Only owners, admins and developers of partner Ltd can subscribe its apps.")
		}
		if _, err := e.svc.KeyByAccessKey(context.Background(), key); err != nil {
			t.Fatalf("the key was revoked: %v", err)
		}

		// Another organisation with the partner's ids.
		e.signUp("Mallory", "mallory@example.com", "attacker")
		m := loggedIn(t, e, "mallory@example.com")
		c := csrfOf(t, m.get("/orgs/attacker").Body)
		for _, path := range []string{"/orgs/attacker/apps/" + app, "/orgs/attacker/apps/" + app + "/delete", "/orgs/attacker/subscriptions/" + sub,
			"/orgs/partner/apps/" + app, "/orgs/partner/subscriptions/" + sub} {
			wantPage(t, "GET "+path, m.get(path), http.StatusNotFound)
		}
		for _, path := range []string{"/orgs/attacker/apps/" + app, "/orgs/attacker/apps/" + app + "/keys", "/orgs/attacker/apps/" + app + "/keys/" + key + "/revoke",
			"/orgs/attacker/apps/" + app + "/delete", "/orgs/attacker/subscriptions/" + sub + "/plan", "/orgs/attacker/subscriptions/" + sub + "/cancel"} {
			wantPage(t, "POST "+path, m.post(path, c, map[string]string{"name": "pwned", "plan": "gold"}), http.StatusNotFound)
		}
		// Subscribing the partner's app for the attacker's organisation.
		p := m.get("/market/acme/weather?plan=gold")
		p = m.post("/market/acme/weather/subscribe", csrfOf(t, p.Body), map[string]string{"org": "attacker", "plan": "gold", "app": app, "version": "v1"})
		wantPage(t, "someone else's app", p, http.StatusNotFound, "App not found.")
		if _, err := e.svc.KeyByAccessKey(context.Background(), key); err != nil {
			t.Fatalf("the key was revoked: %v", err)
		}
		r := e.call("GET", "/api/v1/orgs/partner/subscriptions/"+sub, partTok, nil)
		if r.json(t)["status"] != "active" {
			t.Fatalf("the subscription changed: %s", r.Body)
		}
	})
}
