package client_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/portal"
	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/portal/client"
	"github.com/portico-dev/portico/portal/mail"
	"github.com/portico-dev/portico/portal/market"
	"github.com/portico-dev/portico/tenants"
	"github.com/portico-dev/portico/tenants/keyring"
)

// startPortal runs a real portal on db and returns its URL.
func startPortal(t *testing.T, db *migrations.DB) string {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	kr, err := keyring.New(key)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	outbox := mail.NewOutbox(db.DB, log, func() string { return uuid.Must(uuid.NewV7()).String() })
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	pp := tenants.FastPasswordParams
	svc := tenants.NewService(db.DB, tenants.Options{BaseURL: base, Mailer: outbox, Logger: log, PasswordParams: &pp, Keyring: kr})
	cat := catalog.NewService(db.DB, catalog.Options{Keyring: kr, Guard: catalog.UpstreamGuard{AllowPrivate: true}, Logger: log})
	plans := billing.NewService(db.DB, billing.Options{Versions: cat, Logger: log, Mailer: outbox, BaseURL: base})
	cat.SetOnOffline(plans.EndVersionSubscriptions)
	p, err := portal.New(portal.Config{BaseURL: base, MaxBodyBytes: 512 << 10},
		portal.Deps{Tenants: svc, Catalog: cat, Plans: plans, Market: market.NewService(db.DB, plans), DB: db, Keyring: kr, Outbox: outbox, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = p
	srv.Start()
	t.Cleanup(srv.Close)
	return base
}

// signUp creates a user owning the organisation slug and returns a client
// with their token.
func signUp(t *testing.T, base, slug string) *client.Client {
	t.Helper()
	r, err := client.New(base).Signup(context.Background(), client.SignupRequest{
		Name: slug, Email: slug + "@example.com", Password: "correct horse battery",
		Organization: client.SignupOrganization{Name: slug + " Ltd", Slug: slug},
	})
	if err != nil {
		t.Fatal(err)
	}
	return client.New(base, client.WithToken(r.Token))
}

// TestSubscriptionUsage meters calls of a subscription into the usage
// ledger and reads them back through the client, as the partner and as
// the provider.
func TestSubscriptionUsage(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		ctx := context.Background()
		base := startPortal(t, db)

		// acme provides weather v1 on a free plan; partner subscribes.
		prov := signUp(t, base, "acme")
		must := func(_ any, err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(prov.CreateAPI(ctx, "acme", client.APIRequest{Slug: client.Ptr("weather"), Name: client.Ptr("Weather"), Visibility: client.Ptr(client.Visibility("public"))}))
		must(prov.CreateVersion(ctx, "acme", "weather", client.VersionRequest{Version: "v1", Mock: client.Ptr(true),
			Operations: []client.OperationRequest{{Method: "GET", Path: "/forecast"}}}))
		must(prov.Deploy(ctx, "acme", "weather", "v1", client.DeployRequest{Environment: client.EnvProduction}))
		must(prov.CreatePlan(ctx, "acme", "weather", client.PlanRequest{Slug: "free", Name: "Free", Currency: "usd", IncludedCalls: 1000, Versions: []string{"v1"}}))
		must(prov.PublishPlan(ctx, "acme", "weather", "free"))
		part := signUp(t, base, "partner")
		app, err := part.CreateApp(ctx, "partner", client.AppRequest{Name: "Widget"})
		if err != nil {
			t.Fatal(err)
		}
		sub, err := part.Subscribe(ctx, "partner", client.SubscribeRequest{App: app.ID, API: "acme/weather", Version: "v1", Plan: "free"})
		if err != nil {
			t.Fatal(err)
		}
		other := signUp(t, base, "other")

		// Three days of calls, ending yesterday (UTC).
		d0 := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3)
		d1, d2 := d0.AddDate(0, 0, 1), d0.AddDate(0, 0, 2)
		day := func(d time.Time) string { return d.Format(time.DateOnly) }
		ledger := billing.NewLedger(db.DB, time.Hour, nil, nil)
		defer ledger.Close(ctx)
		call := func(subID string, at time.Time, status int, billable bool) {
			ledger.Record(gateway.UsageEvent{Time: at, SubscriptionID: subID, ProviderOrgID: sub.ProviderOrgID, PartnerOrgID: sub.OrgID,
				APIID: sub.APIID, Version: sub.Version, AppID: sub.AppID, OperationID: "op_forecast", Status: status, Billable: billable})
		}
		call(sub.ID, d0.Add(10*time.Hour), 200, true)
		call(sub.ID, d0.Add(10*time.Hour+time.Second), 200, true)
		call(sub.ID, d0.Add(10*time.Hour+30*time.Minute), 500, false)
		call(sub.ID, d1.Add(12*time.Hour), 200, true)
		call(sub.ID, d1.Add(24*time.Hour-30*time.Second), 499, true) // the last minute of d1
		call(sub.ID, d2.Add(10*time.Second), 200, true)
		call("another-subscription", d1.Add(12*time.Hour), 200, true)
		if err := ledger.Flush(ctx); err != nil {
			t.Fatal(err)
		}

		all := &client.Usage{Calls: 6, Billable: 5, Errors: 2, ByDay: []client.DayUsage{
			{Day: day(d0), Calls: 3, Billable: 2, Errors: 1},
			{Day: day(d1), Calls: 2, Billable: 2, Errors: 1},
			{Day: day(d2), Calls: 1, Billable: 1, Errors: 0},
		}}
		for _, tc := range []struct {
			name string
			q    client.UsageQuery
			want *client.Usage
		}{
			{"default: the last 30 days", client.UsageQuery{}, all},
			{"a date as to includes that whole day", client.UsageQuery{From: day(d0), To: day(d1)},
				&client.Usage{Calls: 5, Billable: 4, Errors: 2, ByDay: all.ByDay[:2]}},
			{"one day", client.UsageQuery{From: day(d1), To: day(d1)},
				&client.Usage{Calls: 2, Billable: 2, Errors: 1, ByDay: all.ByDay[1:2]}},
			{"an RFC 3339 to is excluded", client.UsageQuery{From: day(d0), To: d1.Format(time.RFC3339)},
				&client.Usage{Calls: 3, Billable: 2, Errors: 1, ByDay: all.ByDay[:1]}},
			{"an RFC 3339 from is included", client.UsageQuery{From: d1.Add(24*time.Hour - time.Minute).Format(time.RFC3339)},
				&client.Usage{Calls: 2, Billable: 2, Errors: 1, ByDay: []client.DayUsage{{Day: day(d1), Calls: 1, Billable: 1, Errors: 1}, all.ByDay[2]}}},
			{"no calls", client.UsageQuery{From: day(d0.AddDate(0, 0, -5)), To: day(d0.AddDate(0, 0, -1))},
				&client.Usage{ByDay: []client.DayUsage{}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for org, c := range map[string]*client.Client{"partner": part, "acme": prov} {
					got, err := c.SubscriptionUsage(ctx, org, sub.ID, tc.q)
					if err != nil {
						t.Fatalf("%s: %v", org, err)
					}
					if !reflect.DeepEqual(got, tc.want) {
						t.Errorf("%s: usage = %+v\nwant %+v", org, got, tc.want)
					}
				}
			})
		}

		// Another organisation does not see the subscription, not even
		// through the partner's or provider's slug.
		for _, org := range []string{"other", "partner", "acme"} {
			_, err := other.SubscriptionUsage(ctx, org, sub.ID, client.UsageQuery{})
			if !client.IsNotFound(err) {
				t.Errorf("other as %s: err = %v, want 404", org, err)
			}
		}
		if _, err := part.SubscriptionUsage(ctx, "partner", "no-such-subscription", client.UsageQuery{}); !client.IsNotFound(err) {
			t.Errorf("unknown id: err = %v, want 404", err)
		}

		// Malformed dates are 422 problems naming the field.
		for _, tc := range []struct {
			q     client.UsageQuery
			field string
		}{
			{client.UsageQuery{From: "yesterday"}, "from"},
			{client.UsageQuery{From: day(d0), To: "2026-13-01"}, "to"},
			{client.UsageQuery{To: "01/11/2026"}, "to"},
		} {
			_, err := part.SubscriptionUsage(ctx, "partner", sub.ID, tc.q)
			e := client.AsError(err)
			if e == nil || e.StatusCode != http.StatusUnprocessableEntity || e.Code() != client.CodeInvalid ||
				len(e.Fields) != 1 || e.Fields[0].Field != tc.field || e.Fields[0].Message != tc.field+" must be a date (2026-11-01) or an RFC 3339 time." {
				t.Errorf("%+v: err = %#v", tc.q, err)
			}
		}
		// A range that is empty or reversed names to; one too long names
		// from, which is what to change when to is left to default.
		for _, tc := range []struct {
			q            client.UsageQuery
			field, words string
		}{
			{client.UsageQuery{From: d1.Format(time.RFC3339), To: d1.Format(time.RFC3339)}, "to", "to must be after from."},
			{client.UsageQuery{From: day(d1), To: day(d0)}, "to", "to must be after from."},
			{client.UsageQuery{From: day(d0.AddDate(-2, 0, 0))}, "from", "at most 400 days"},
			{client.UsageQuery{From: day(d0.AddDate(0, 0, -400)), To: day(d0)}, "from", "at most 400 days"},
		} {
			_, err := part.SubscriptionUsage(ctx, "partner", sub.ID, tc.q)
			e := client.AsError(err)
			if e == nil || e.StatusCode != http.StatusUnprocessableEntity || len(e.Fields) != 1 || e.Fields[0].Field != tc.field ||
				!strings.Contains(e.Fields[0].Message, tc.words) {
				t.Errorf("%+v: err = %#v", tc.q, err)
			}
		}
		// 400 whole days is the longest range.
		if _, err := part.SubscriptionUsage(ctx, "partner", sub.ID, client.UsageQuery{From: day(d0.AddDate(0, 0, -399)), To: day(d0)}); err != nil {
			t.Errorf("400 days: %v", err)
		}
	})
}
