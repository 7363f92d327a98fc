package templates_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/portico-dev/portico/templates/components"
	"github.com/portico-dev/portico/templates/layout"
	"github.com/portico-dev/portico/templates/pages/apps"
	"github.com/portico-dev/portico/templates/pages/market"
	"github.com/portico-dev/portico/templates/pages/orgs"
	"github.com/portico-dev/portico/templates/pages/subscriptions"
)

// The partner pages (apps, keys, subscriptions, the subscribe form in the
// market) and the provider's subscriber pages. TestPartnerPages runs the
// same checks as TestMarketPages: GET filter forms carry no CSRF token,
// every POST form does.

var developerAcme = layout.Org{Slug: "acme", Name: "Acme Inc", Role: "developer"}

// subscribeForm is the subscribe form of a user with one organisation and
// one app, for a free plan.
var subscribeForm = market.SubscribeForm{
	Action: "/market/acme/weather/subscribe", SwitchURL: "/market/acme/weather#plans", Plan: "pro", PlanName: "Pro <plus>", PlanPrice: "$49.00",
	Paid: true, Manual: true, Orgs: []components.Option{{Value: "partner", Label: "Partner <Co>"}}, Org: "partner", OrgName: "Partner <Co>",
	Apps:     []components.Option{{Value: "app-1", Label: "Widget"}, {Value: market.NewApp, Label: "Create a new app"}},
	App:      "app-1",
	Versions: []components.Option{{Value: "v1", Label: "v1"}, {Value: "v2", Label: "v2"}}, Version: "v2", AppEnvironment: "production",
}

const (
	theSecret  = "s3cr3t/Only+Once0123456789abcdefghijklmn"
	theAK      = "PKABCDEFGHIJKLMNOPQR"
	theAppCode = "pac_AbCd1234efghijklmnopqrstuvwxyz0123456789-_A"
)

func appDetail(org layout.Org, canManage bool) apps.DetailProps {
	return apps.DetailProps{
		Page: orgPage("Widget", "apps", verifiedUser, org), ID: "app-1", Name: "Widget <app>", Description: "Our phone app",
		Environment: "Production", Created: "2026-11-01 09:00 UTC", CanManage: canManage, ActiveKeys: 1,
		MinExpiry: "2026-11-26", MaxExpiry: "2028-11-25", MarketURL: "/market",
		Keys: []apps.KeyRow{
			{AccessKey: theAK, Name: "servers", Status: "active", Created: "2026-11-02 10:00 UTC", Expires: "never", LastUsed: "never"},
			{AccessKey: "PKOLDOLDOLDOLDOLDOLD", Name: "old", Status: "revoked", Created: "2026-10-02 10:00 UTC", Expires: "never", LastUsed: "2026-10-03 10:00 UTC"},
		},
		Subscriptions: []apps.SubscriptionRow{{URL: "/orgs/acme/subscriptions/sub-1", API: "Weather", Provider: "Acme", Version: "v1", Plan: "Free",
			Status: "active", StatusLabel: "active"}},
		Form: apps.AppForm{Name: "Widget <app>", Description: "Our phone app", Environment: "production"},
	}
}

func subscriptionDetail() subscriptions.DetailProps {
	return subscriptions.DetailProps{
		Page: orgPage("Weather", "subscriptions", verifiedUser, acme), ID: "sub-1", Action: "/orgs/acme/subscriptions/sub-1",
		AppName: "Widget", AppURL: "/orgs/acme/apps/app-1", APIName: "Weather <beta>", Provider: "Globex", MarketURL: "/market/globex/weather",
		Version: "v1", Status: "active", StatusLabel: "active", Plan: freeTerms, PeriodStart: "2026-11-01 09:00 UTC", PeriodEnd: "2026-12-01 09:00 UTC",
		Created: "2026-11-01 09:00 UTC", Live: true, CanManage: true, CanChangePlan: true, CanCancel: true,
		PlanOptions: []components.Option{{Value: "free", Label: "Free — Free"}, {Value: "gold", Label: "Gold — Free, 5,000 calls included"}}, ChosenPlan: "free",
		History: []subscriptions.EventRow{{When: "2026-11-01 09:00 UTC", What: "Subscribed", By: "Your organisation (ada@example.com)", Status: "active", Note: "<b>hi</b>"}},
	}
}

func subscriberDetail(status string, canDecide bool) subscriptions.SubscriberProps {
	org := acme
	if !canDecide {
		org = viewerOrg
	}
	p := subscriptions.SubscriberProps{
		Page: orgPage("Partner", "subscribers", verifiedUser, org), ID: "sub-9", Action: "/orgs/acme/subscribers/sub-9", Partner: "Partner <Co>",
		App: "Widget", APIName: "Weather", APIURL: "/orgs/acme/apis/weather", Version: "v1", Status: status, StatusLabel: strings.ReplaceAll(status, "_", " "),
		Message: "We are a school", Plan: proTerms, PlanURL: "/orgs/acme/apis/weather/plans/pro", PeriodStart: "2026-11-01 09:00 UTC",
		PeriodEnd: "2026-12-01 09:00 UTC", Created: "2026-11-01 09:00 UTC", CanDecide: canDecide, ApprovalsURL: "/orgs/acme/approvals",
		History: []subscriptions.EventRow{{When: "2026-11-01 09:00 UTC", What: "Subscribed", By: "Partner <Co>", Status: "pending approval"}},
	}
	if canDecide {
		switch status {
		case "pending_approval":
			p.CanApprove, p.CanReject = true, true
		case "active":
			p.CanSuspend, p.CanTerminate = true, true
		case "suspended":
			p.CanResume, p.CanTerminate = true, true
		}
	}
	return p
}

func partnerCases() []pageCase {
	chosen := weatherAPIPage(func() layout.Page { p := orgPage("", "market", verifiedUser, acme); p.Org = nil; return p }())
	chosen.Chosen = "pro"
	sf := subscribeForm
	chosen.Subscribe = &sf
	for i := range chosen.Plans {
		chosen.Plans[i].SubscribeURL = "/market/acme/weather?plan=" + chosen.Plans[i].Slug + "#plans"
	}
	withErrors := chosen
	f := subscribeForm
	f.Orgs = append(f.Orgs, components.Option{Value: "other", Label: "Other Org"})
	f.ShownVersion = "v1"
	f.App = market.NewApp
	f.AppName = "Dup"
	f.Message = "We are <a> school"
	f.FormMessage = "Please correct the highlighted fields."
	f.Errors = map[string]string{"app_name": "An app with this name already exists; choose another.", "message": "Use at most 2000 characters.", "plan": "Odd plan."}
	withErrors.Subscribe = &f
	noOrg := chosen
	noOrg.Subscribe = &market.SubscribeForm{Plan: "pro", PlanName: "Pro", NoOrg: true, NewOrgURL: "/orgs/new"}
	free := chosen
	ff := subscribeForm
	ff.Manual, ff.Paid, ff.Versions = false, false, nil
	free.Subscribe = &ff

	created := appDetail(acme, true)
	created.NewKey = &apps.CreatedKey{Name: "servers", AccessKey: theAK, SecretKey: theSecret, Expires: "2027-01-31 23:59 UTC",
		Curl: `curl --aws-sigv4 "aws:amz:local:apigw" --user "` + theAK + ":" + theSecret + `" "https://gw.example/acme/weather/v1/forecast"`}
	full := appDetail(acme, true)
	full.ActiveKeys = 2
	withCodes := appDetail(acme, true)
	withCodes.AppCodes = []apps.AppCodeRow{
		{ID: "code-1", Prefix: "pac_AbCd1234", Name: "kiosk", Status: "active", Created: "2026-11-03 10:00 UTC", LastUsed: "never"},
		{ID: "code-0", Prefix: "pac_OldOld00", Name: "old kiosk", Status: "revoked", Created: "2026-10-03 10:00 UTC", LastUsed: "never"},
	}
	withCodes.ActiveAppCodes = 1
	withCodes.NewAppCode = &apps.CreatedAppCode{Name: "kiosk", Code: theAppCode,
		Curl: `curl -H "X-Portico-App-Code: ` + theAppCode + `" "https://gw.example/acme/weather/v1/forecast"`}
	fullCodes := appDetail(acme, true)
	fullCodes.ActiveAppCodes = 2
	fullCodes.AppCodeMessage = "An app has at most two active app codes: revoke one first."
	keyErrors := appDetail(acme, true)
	keyErrors.KeyForm = apps.KeyForm{Name: "x", ExpiresOn: "1999-01-01"}
	keyErrors.KeyMessage = "Please correct the highlighted fields."
	keyErrors.KeyErrors = map[string]string{"expires_on": "Choose an expiry in the future."}

	pendingPayment := subscriptionDetail()
	pendingPayment.Status, pendingPayment.StatusLabel, pendingPayment.Paid = "pending_payment", "pending payment", true
	pendingPayment.Notice = "This is a paid plan. Paying by checkout is not available yet, so the subscription waits for payment."
	pendingPayment.CanChangePlan, pendingPayment.PlanOptions = false, nil
	pendingPayment.KeyAction = "/orgs/acme/apps/app-1/keys"
	refused := subscriptionDetail()
	refused.PlanMessage = "Plan \"gold\" needs the provider's approval: cancel this subscription and subscribe again to request it."
	refused.ChosenPlan = "gold"
	paid := subscriptionDetail()
	paid.Paid = true
	cancelled := subscriptionDetail()
	cancelled.Status, cancelled.StatusLabel, cancelled.Live, cancelled.CanChangePlan, cancelled.CanCancel = "cancelled", "cancelled", false, false, false
	cancelled.Ended = "2026-11-05 09:00 UTC"

	failedReject := subscriberDetail("pending_approval", true)
	failedReject.Failed, failedReject.ReasonError, failedReject.ReasonValue = "reject", "Give a reason; the partner sees it.", "  "

	queue := subscriptions.ApprovalsProps{
		Page: orgPage("Approvals", "subscribers", verifiedUser, acme), CanDecide: true, SubscribersURL: "/orgs/acme/subscribers",
		Requests: []subscriptions.RequestRow{
			{ID: "r1", URL: "/orgs/acme/subscribers/r1", Partner: "Partner <Co>", App: "Widget", API: "Weather", Version: "v1", Plan: "Gold", Price: "Free",
				Message: "We are a <school>", Requested: "2026-11-01 09:00 UTC", ApproveAction: "/orgs/acme/subscribers/r1/approve", RejectAction: "/orgs/acme/subscribers/r1/reject"},
			{ID: "r2", URL: "/orgs/acme/subscribers/r2", Partner: "Initech", App: "Bot", API: "Weather", Version: "v1", Plan: "Gold", Price: "Free",
				Requested: "2026-11-02 09:00 UTC", ApproveAction: "/orgs/acme/subscribers/r2/approve", RejectAction: "/orgs/acme/subscribers/r2/reject",
				Error: "Give a reason; the partner sees it."},
		},
	}
	readOnlyQueue := queue
	readOnlyQueue.Page = orgPage("Approvals", "subscribers", verifiedUser, viewerOrg)
	readOnlyQueue.CanDecide = false
	readOnlyQueue.Requests = queue.Requests[:1]

	statuses := []components.Option{{Value: "", Label: "All statuses"}, {Value: "active", Label: "Active"}, {Value: "pending_approval", Label: "Pending approval"}}
	return []pageCase{
		// market: the subscribe form
		{
			name:    "subscribe form, one organisation, paid manual plan",
			c:       market.API(chosen),
			actions: []string{"/logout", "/market/acme/weather/subscribe"},
			want: []string{
				"Subscribe to Weather &lt;beta&gt; on plan Pro &lt;plus&gt;", "For <strong>Partner &lt;Co&gt;</strong>",
				`<input type="hidden" name="org" value="partner">`, `<input type="hidden" name="plan" value="pro">`,
				`<label for="sub-app">App</label>`, `<option value="app-1" selected>Widget</option>`, `<option value="new">Create a new app</option>`,
				`<label for="sub-app-name">New app name`, `<option value="v2" selected>v2</option>`, `<label for="sub-message">Message to Acme &lt;Inc&gt;`,
				"approves each subscription to this plan", "Paying by checkout is not available yet", "Request a subscription",
				`href="/market">Market</a>`,
			},
			notWant: []string{`name="partner"`, "Subscriptions open soon", "Create an organisation"},
		},
		{
			name:    "subscribe form, several organisations, errors",
			c:       market.API(withErrors),
			actions: []string{"/logout", "/market/acme/weather/subscribe"},
			want: []string{
				`<form class="subscribe-switch" method="get" action="/market/acme/weather#plans">`, `<select class="select" id="sub-partner" name="partner" data-autosubmit`,
				`<input type="hidden" name="version" value="v1">`, `<option value="other">Other Org</option>`,
				"Please correct the highlighted fields. Odd plan.", `id="sub-app-name-error"`, `value="Dup"`, `<option value="new" selected>`,
				`aria-invalid="true" aria-describedby="sub-message-help sub-message-error"`, "We are &lt;a&gt; school</textarea>",
				`id="sub-app-name" name="app_name" value="Dup" autocomplete="off" autofocus`,
			},
		},
		{
			name:    "subscribe form, free plan without a version",
			c:       market.API(free),
			actions: []string{"/logout", "/market/acme/weather/subscribe"},
			want:    []string{"Your app can call the API as soon as you subscribe.", "This plan grants no version that takes new subscriptions.", "disabled>"},
			notWant: []string{`name="message"`, `name="version"`, "Request a subscription"},
		},
		{
			name:    "subscribe form without an organisation to subscribe for",
			c:       market.API(noOrg),
			actions: []string{"/logout"},
			want:    []string{"you need an organisation where you are an owner, admin or developer", `href="/orgs/new">Create an organisation`},
			notWant: []string{`name="app"`},
		},

		// apps
		{
			name: "apps list",
			c: apps.List(apps.ListProps{Page: orgPage("Apps", "apps", verifiedUser, acme), CanManage: true, NextURL: "/orgs/acme/apps?cursor=x",
				Apps: []apps.AppRow{{ID: "app-1", Name: "Widget <app>", Description: "Phone", Environment: "Production", ActiveKeys: 2, Subscriptions: 3, Created: "2026-11-01 09:00 UTC"}}}),
			actions: []string{"/logout"},
			want: []string{`href="/orgs/acme/apps/new">New app`, `href="/orgs/acme/apps/app-1">Widget &lt;app&gt;</a>`, "<td>2</td>", "<td>3</td>",
				`<span class="badge badge-primary">Production</span>`, `href="/orgs/acme/apps" aria-current="page">Apps</a>`, "Next page",
				`href="/orgs/acme/subscribers">Subscribers</a>`, `href="/orgs/acme/subscriptions">Subscriptions</a>`},
		},
		{
			name:    "apps empty, viewer",
			c:       apps.List(apps.ListProps{Page: orgPage("Apps", "apps", verifiedUser, viewerOrg)}),
			actions: []string{"/logout"},
			want:    []string{"No apps yet", "once an owner, admin or developer creates one"},
			notWant: []string{"New app", "/apps/new"},
		},
		{
			name: "new app with errors",
			c: apps.New(apps.NewProps{Page: orgPage("New app", "apps", verifiedUser, acme), Form: apps.AppForm{Name: "Dup", Environment: "test"},
				Message: "An app with this name already exists; choose another.", Errors: map[string]string{"name": "An app with this name already exists; choose another."}}),
			actions: []string{"/logout", "/orgs/acme/apps"},
			want: []string{`id="app-name-error"`, `value="Dup"`, `<option value="test" selected>`, `<label for="app-environment">Environment</label>`,
				`<label for="app-description">Description`, `id="app-name" name="name" value="Dup" autocomplete="off" required autofocus`},
		},
		{
			name:    "app page",
			c:       apps.Detail(appDetail(acme, true)),
			actions: []string{"/logout", "/orgs/acme/apps/app-1", "/orgs/acme/apps/app-1/codes", "/orgs/acme/apps/app-1/keys", "/orgs/acme/apps/app-1/keys/" + theAK + "/revoke"},
			want: []string{
				"<h1>Widget &lt;app&gt;</h1>", "<code>" + theAK + "</code>", `<span class="badge badge-danger">Revoked</span>`,
				`data-confirm="Revoke the key ` + theAK + ` (servers)? Revoking is final: requests signed with it are refused at once."`,
				`type="date" id="key-expires" name="expires_on"`, `min="2026-11-26"`, `max="2028-11-25"`, `href="/orgs/acme/subscriptions/sub-1">Weather</a>`,
				`href="/orgs/acme/apps/app-1/delete">Delete Widget &lt;app&gt;`, "<code>app-1</code>",
			},
			notWant: []string{"will not be shown again", "secret-card", "PKOLDOLDOLDOLDOLDOLD/revoke"},
		},
		{
			name:    "app page with a new key",
			c:       apps.Detail(created),
			actions: []string{"/logout", "/orgs/acme/apps/app-1", "/orgs/acme/apps/app-1/codes", "/orgs/acme/apps/app-1/keys", "/orgs/acme/apps/app-1/keys/" + theAK + "/revoke"},
			want: []string{
				"The secret key will not be shown again.", `<code class="secret-value" id="new-access-key">` + theAK + `</code>`,
				`<code class="secret-value" id="new-secret-key">` + theSecret + `</code>`, `data-copy="#new-secret-key"`, `data-copy="#new-access-key"`,
				`data-copy="#new-curl"`, `curl --aws-sigv4 &#34;aws:amz:local:apigw&#34; --user &#34;` + theAK + ":" + theSecret, "The key stops working on 2027-01-31 23:59 UTC.",
			},
		},
		{
			name:    "app page with two active keys",
			c:       apps.Detail(full),
			actions: []string{"/logout", "/orgs/acme/apps/app-1", "/orgs/acme/apps/app-1/codes", "/orgs/acme/apps/app-1/keys/" + theAK + "/revoke"},
			want:    []string{"This app has two active keys, the most it can hold."},
			notWant: []string{`name="expires_on"`},
		},
		{
			name: "app page with a new app code",
			c:    apps.Detail(withCodes),
			actions: []string{"/logout", "/orgs/acme/apps/app-1", "/orgs/acme/apps/app-1/codes", "/orgs/acme/apps/app-1/codes/code-1/revoke",
				"/orgs/acme/apps/app-1/keys", "/orgs/acme/apps/app-1/keys/" + theAK + "/revoke"},
			want: []string{
				"The app code will not be shown again.", `<code class="secret-value" id="new-app-code-value">` + theAppCode + `</code>`,
				`data-copy="#new-app-code-value"`, `data-copy="#new-app-code-curl"`, "X-Portico-App-Code: " + theAppCode,
				"App codes are weaker than signatures", `badge-warning">Weaker than keys`, "<code>pac_AbCd1234…</code>",
				`data-confirm="Revoke the app code pac_AbCd1234… (kiosk)? Revoking is final: calls carrying it are refused at once."`,
			},
			notWant: []string{"code-0/revoke", "No app codes"},
		},
		{
			name:    "app page with two active app codes",
			c:       apps.Detail(fullCodes),
			actions: []string{"/logout", "/orgs/acme/apps/app-1", "/orgs/acme/apps/app-1/keys", "/orgs/acme/apps/app-1/keys/" + theAK + "/revoke"},
			want:    []string{"This app has two active app codes, the most it can hold.", "at most two active app codes: revoke one first."},
			notWant: []string{"Create app code</button>"},
		},
		{
			name:    "app page with key errors",
			c:       apps.Detail(keyErrors),
			actions: []string{"/logout", "/orgs/acme/apps/app-1", "/orgs/acme/apps/app-1/codes", "/orgs/acme/apps/app-1/keys", "/orgs/acme/apps/app-1/keys/" + theAK + "/revoke"},
			want: []string{"Choose an expiry in the future.", `value="1999-01-01"`, `id="key-expires-error"`,
				`name="expires_on" value="1999-01-01" autofocus aria-invalid="true"`},
		},
		{
			name:    "app page as a viewer",
			c:       apps.Detail(appDetail(viewerOrg, false)),
			actions: []string{"/logout"},
			want:    []string{"<code>" + theAK + "</code>", "Our phone app"},
			notWant: []string{"/revoke", "Create a key", "/delete", `name="name"`},
		},
		{
			name:    "delete app",
			c:       apps.Delete(apps.DeleteProps{Page: orgPage("Delete", "apps", verifiedUser, acme), ID: "app-1", Name: "Widget", ActiveKeys: 2, Subscriptions: 3}),
			actions: []string{"/logout", "/orgs/acme/apps/app-1/delete"},
			want: []string{"2 active keys will be revoked and 3 subscriptions will be cancelled.",
				`data-confirm="Delete Widget? 2 active keys will be revoked and 3 subscriptions will be cancelled."`, `href="/orgs/acme/apps/app-1">Keep the app`},
		},
		{
			name:    "delete app without keys or subscriptions",
			c:       apps.Delete(apps.DeleteProps{Page: orgPage("Delete", "apps", verifiedUser, acme), ID: "app-1", Name: "Widget", ActiveKeys: 1}),
			actions: []string{"/logout", "/orgs/acme/apps/app-1/delete"},
			want:    []string{"1 active key will be revoked and no subscriptions to cancel."},
		},

		// partner subscriptions
		{
			name: "subscriptions list, filtered",
			c: subscriptions.List(subscriptions.ListProps{Page: orgPage("Subscriptions", "subscriptions", verifiedUser, acme),
				Apps: []components.Option{{Value: "", Label: "All apps"}, {Value: "app-1", Label: "Widget"}}, App: "app-1", Statuses: statuses, Status: "active",
				Rows: []subscriptions.Row{{URL: "/orgs/acme/subscriptions/sub-1", App: "Widget", AppURL: "/orgs/acme/apps/app-1", API: "Weather", Provider: "Globex",
					Version: "v1", Plan: "Free", Status: "pending_approval", StatusLabel: "pending approval", Notice: "Waiting for Globex to approve the request."}},
				NextURL: "/orgs/acme/subscriptions?app=app-1&cursor=x&status=active"}),
			actions: []string{"/logout"},
			want: []string{`<form class="filters" method="get" action="/orgs/acme/subscriptions"`, `<option value="app-1" selected>Widget</option>`,
				`<option value="active" selected>Active</option>`, "Clear filters", `<span class="badge badge-warning">Pending approval</span>`,
				"Waiting for Globex to approve the request.", `href="/orgs/acme/subscriptions?app=app-1&amp;cursor=x&amp;status=active"`},
		},
		{
			name: "subscriptions empty",
			c: subscriptions.List(subscriptions.ListProps{Page: orgPage("Subscriptions", "subscriptions", verifiedUser, acme),
				Apps: []components.Option{{Value: "", Label: "All apps"}}, Statuses: statuses}),
			actions: []string{"/logout"},
			want:    []string{"No subscriptions yet", "Browse the market"},
			notWant: []string{"Clear filters"},
		},
		{
			name:    "subscription active, free",
			c:       subscriptions.Detail(subscriptionDetail()),
			actions: []string{"/logout", "/orgs/acme/subscriptions/sub-1/plan", "/orgs/acme/subscriptions/sub-1/cancel"},
			want: []string{"<h1>Weather &lt;beta&gt; <span class=\"mono\">v1</span></h1>", `class="callout callout-success"`,
				"The app can call the API with its keys", "Upgrades", "wait for the end of the current period, on 2026-12-01 09:00 UTC",
				"are refused: cancel and subscribe again instead", `<option value="free" selected>`, "A free subscription ends at once",
				`data-confirm="Cancel the subscription to Weather &lt;beta&gt;? The app&#39;s calls are refused at once."`,
				"Hard limit", "1,000 per month", "100 calls", "&lt;b&gt;hi&lt;/b&gt;", "Your organisation (ada@example.com)"},
			notWant: []string{"Create a key for"},
		},
		{
			name:    "subscription active, paid",
			c:       subscriptions.Detail(paid),
			actions: []string{"/logout", "/orgs/acme/subscriptions/sub-1/plan", "/orgs/acme/subscriptions/sub-1/cancel"},
			want:    []string{"stays active until the end of the period you paid for, 2026-12-01 09:00 UTC", "It stays active until 2026-12-01 09:00 UTC, then ends."},
		},
		{
			name:    "subscription plan change refused",
			c:       subscriptions.Detail(refused),
			actions: []string{"/logout", "/orgs/acme/subscriptions/sub-1/plan", "/orgs/acme/subscriptions/sub-1/cancel"},
			want:    []string{`role="alert"`, "needs the provider&#39;s approval: cancel this subscription", `<option value="gold" selected>`},
		},
		{
			name:    "subscription pending payment without a key",
			c:       subscriptions.Detail(pendingPayment),
			actions: []string{"/logout", "/orgs/acme/apps/app-1/keys", "/orgs/acme/subscriptions/sub-1/cancel"},
			want: []string{`class="callout callout-warning"`, "Paying by checkout is not available yet", "Create a key for Widget",
				"Nothing was paid yet, so the subscription ends at once."},
			notWant: []string{"Change plan", "Pay now", "checkout.stripe"},
		},
		{
			name:    "subscription cancelled",
			c:       subscriptions.Detail(cancelled),
			actions: []string{"/logout"},
			want:    []string{"2026-11-05 09:00 UTC", "The subscription was cancelled"},
			notWant: []string{"Current period", "Change plan", "Cancel the subscription"},
		},

		// provider
		{
			name: "subscribers",
			c: subscriptions.Subscribers(subscriptions.SubscribersProps{Page: orgPage("Subscribers", "subscribers", verifiedUser, acme),
				APIs: []components.Option{{Value: "", Label: "All APIs"}, {Value: "weather", Label: "Weather"}}, API: "weather",
				Plans: []components.Option{{Value: "", Label: "All plans"}, {Value: "gold", Label: "Gold"}}, Plan: "gold", Statuses: statuses, Q: "part\"ner",
				CanDecide: true, PendingApprovals: 2, ApprovalsURL: "/orgs/acme/approvals",
				Rows: []subscriptions.SubscriberRow{{URL: "/orgs/acme/subscribers/sub-9", Partner: "Partner <Co>", App: "Widget", API: "Weather", Version: "v1",
					Plan: "Gold", Status: "suspended", StatusLabel: "suspended", Since: "2026-11-01 09:00 UTC"}}}),
			actions: []string{"/logout"},
			want: []string{"2 requests wait for a decision", `href="/orgs/acme/approvals">Open the approval queue`, `<option value="weather" selected>Weather</option>`,
				`<option value="gold" selected>Gold</option>`, `value="part&#34;ner"`, `<label for="filter-q">Partner</label>`,
				`href="/orgs/acme/subscribers/sub-9">Partner &lt;Co&gt;</a>`, `<span class="badge badge-danger">Suspended</span>`,
				`href="/orgs/acme/subscribers" aria-current="page">Subscribers</a>`},
			notWant: []string{"secret", "PK"},
		},
		{
			name:    "approval queue",
			c:       subscriptions.Approvals(queue),
			actions: []string{"/logout", "/orgs/acme/subscribers/r1/approve", "/orgs/acme/subscribers/r1/reject", "/orgs/acme/subscribers/r2/approve", "/orgs/acme/subscribers/r2/reject"},
			want: []string{"We are a &lt;school&gt;", "No message.", `<input type="hidden" name="from" value="approvals">`, `<label for="reason-r1">Reason for rejecting`,
				`id="reason-r2-error"`, `id="reason-r2" name="reason" autocomplete="off" required autofocus aria-invalid="true"`, "Gold <span class=\"muted\">(Free)</span>"},
		},
		{
			name:    "approval queue, read only",
			c:       subscriptions.Approvals(readOnlyQueue),
			actions: []string{"/logout"},
			want:    []string{"Only owners and admins can approve or reject requests"},
			notWant: []string{"/approve", "/reject"},
		},
		{
			name:    "approval queue empty",
			c:       subscriptions.Approvals(subscriptions.ApprovalsProps{Page: orgPage("Approvals", "subscribers", verifiedUser, acme), CanDecide: true, SubscribersURL: "/orgs/acme/subscribers"}),
			actions: []string{"/logout"},
			want:    []string{"No requests waiting"},
		},
		{
			name:    "subscriber pending, reject failed",
			c:       subscriptions.Subscriber(failedReject),
			actions: []string{"/logout", "/orgs/acme/subscribers/sub-9/approve", "/orgs/acme/subscribers/sub-9/reject"},
			want: []string{"<h1>Partner &lt;Co&gt;</h1>", "We are a school", `id="reject-reason-error"`, "Give a reason; the partner sees it.",
				`id="reject-reason" name="reason" value="  " autocomplete="off" required autofocus aria-invalid="true"`, "Approve the request"},
			notWant: []string{"/suspend", "/terminate", "secret", "PK"},
		},
		{
			name:    "subscriber active",
			c:       subscriptions.Subscriber(subscriberDetail("active", true)),
			actions: []string{"/logout", "/orgs/acme/subscribers/sub-9/suspend", "/orgs/acme/subscribers/sub-9/terminate"},
			want: []string{`<label for="suspend-reason">Reason</label>`, `<label for="terminate-reason">Reason</label>`,
				`data-confirm="Terminate the subscription of Partner &lt;Co&gt; (Widget) to Weather? This ends it for good; the partner sees your reason."`,
				"Current period", `href="/orgs/acme/apis/weather/plans/pro">Pro &lt;plus&gt;</a>`},
			notWant: []string{"/approve", "/resume"},
		},
		{
			name:    "subscriber suspended",
			c:       subscriptions.Subscriber(subscriberDetail("suspended", true)),
			actions: []string{"/logout", "/orgs/acme/subscribers/sub-9/resume", "/orgs/acme/subscribers/sub-9/terminate"},
			want:    []string{"Resume the subscription"},
		},
		{
			name:    "subscriber as a viewer",
			c:       subscriptions.Subscriber(subscriberDetail("pending_approval", false)),
			actions: []string{"/logout"},
			want:    []string{"Only owners and admins can approve, reject, suspend, resume or terminate subscriptions."},
			notWant: []string{"/approve", "/reject"},
		},

		// dashboard
		{
			name: "dashboard with the partner summary, a provider",
			c: orgs.Dashboard(orgs.DashboardProps{Page: orgPage("Acme", "dashboard", verifiedUser, acme), MemberCount: 2,
				Apps: 3, ActiveSubscriptions: -1, PendingSubscriptions: 1, Provider: true, PendingApprovals: 4}),
			actions: []string{"/logout"},
			want: []string{`<h3 class="stat-label" id="stat-apps">Apps</h3><p class="stat-value">3</p>`, `<p class="stat-value">100+</p>`,
				`id="stat-pending-subs">Pending subscriptions</h3><p class="stat-value">1</p>`, `href="/orgs/acme/approvals">Open the approval queue`,
				`id="stat-approvals">Requests to approve</h3><p class="stat-value">4</p>`, `href="/orgs/acme/subscriptions?status=active"`},
		},
		{
			name: "dashboard of a partner only",
			c: orgs.Dashboard(orgs.DashboardProps{Page: orgPage("Acme", "dashboard", verifiedUser, developerAcme), MemberCount: 2,
				Apps: 0}),
			actions: []string{"/logout"},
			want:    []string{"Create an app", "Active subscriptions"},
			notWant: []string{"Requests to approve"},
		},
	}
}

func TestPartnerPages(t *testing.T) {
	for _, tc := range partnerCases() {
		t.Run(tc.name, func(t *testing.T) {
			html := render(t, tc.c)
			if !strings.HasPrefix(html, "<!doctype html>") {
				t.Errorf("page does not start with a doctype: %.40q", html)
			}
			if !regexp.MustCompile(`<title>[^<]* · Portico</title>`).MatchString(html) {
				t.Errorf("title does not end in \" · Portico\"")
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

// TestNewKeySecretShownOnlyWhenGiven: the secret key appears only in the
// page rendered with the key just created — in its box and in the example
// request — and never on the app page otherwise.
func TestNewKeySecretShownOnlyWhenGiven(t *testing.T) {
	without := render(t, apps.Detail(appDetail(acme, true)))
	p := appDetail(acme, true)
	p.NewKey = &apps.CreatedKey{Name: "servers", AccessKey: theAK, SecretKey: theSecret, Curl: `curl --user "` + theAK + ":" + theSecret + `"`}
	with := render(t, apps.Detail(p))

	if strings.Contains(without, theSecret) || strings.Contains(without, "will not be shown again") {
		t.Errorf("the secret box is shown without a created key")
	}
	if got := strings.Count(with, theSecret); got != 2 {
		t.Errorf("the secret appears %d times, want twice (its box and the example request)", got)
	}
	// The secret box comes before the keys table and the new-key form.
	if i, j := strings.Index(with, `id="new-secret-key"`), strings.Index(with, `id="keys"`); i < 0 || j < 0 || i > j {
		t.Errorf("the secret box is not above the keys")
	}
}
