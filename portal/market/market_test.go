package market_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/portal/market"
	"github.com/portico-dev/portico/tenants"
	"github.com/portico-dev/portico/tenants/keyring"
)

type world struct {
	ten   *tenants.Service
	cat   *catalog.Service
	plans *billing.Service
	mkt   *market.Service
}

func newWorld(t *testing.T, db *migrations.DB) *world {
	key := make([]byte, 32)
	rand.Read(key)
	kr, _ := keyring.New(key)
	pp := tenants.FastPasswordParams
	w := &world{ten: tenants.NewService(db.DB, tenants.Options{PasswordParams: &pp})}
	w.cat = catalog.NewService(db.DB, catalog.Options{Keyring: kr, Guard: catalog.UpstreamGuard{AllowPrivate: true}})
	w.plans = billing.NewService(db.DB, billing.Options{Versions: w.cat})
	w.mkt = market.NewService(db.DB, w.plans)
	return w
}

// provider signs up an organisation and returns an actor for it.
func (w *world) provider(t *testing.T, slug string) (string, tenants.Actor) {
	t.Helper()
	res, err := w.ten.SignUp(context.Background(), tenants.SignUpInput{Name: slug, Email: slug + "@example.com", Password: "0123456789ab", OrgName: slug + " Corp", OrgSlug: slug}, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	return res.Org.ID, tenants.Actor{UserID: res.User.ID, Email: res.User.Email}
}

// api creates an API with one mock version; deploy says where it goes.
func (w *world) api(t *testing.T, orgID string, a tenants.Actor, slug, name, category string, vis catalog.Visibility, tags []string, deploy string) {
	t.Helper()
	ctx := context.Background()
	if _, err := w.cat.CreateAPI(ctx, orgID, a, catalog.APIInput{Slug: slug, Name: name, Summary: "About " + name, Category: category, Visibility: vis, Tags: tags}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.cat.CreateVersion(ctx, orgID, slug, a, catalog.VersionInput{Version: "v1", Mock: true,
		Operations: []catalog.OperationInput{{Method: "GET", Path: "/things/{id}", Summary: "Get a thing"}}}); err != nil {
		t.Fatal(err)
	}
	if deploy != "" {
		if _, err := w.cat.Deploy(ctx, orgID, slug, "v1", deploy, a, ""); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMarket(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		acme, a := w.provider(t, "acme")
		globex, g := w.provider(t, "globex")
		w.api(t, acme, a, "weather", "Weather", "weather", catalog.Public, []string{"forecast"}, catalog.EnvProduction)
		w.api(t, acme, a, "maps", "Maps", "geo", catalog.Public, []string{"tiles"}, catalog.EnvProduction)
		w.api(t, acme, a, "secret", "Secret Sauce", "weather", catalog.Private, nil, catalog.EnvProduction)
		w.api(t, acme, a, "hidden", "Hidden Gem", "weather", catalog.Unlisted, nil, catalog.EnvProduction)
		w.api(t, acme, a, "testonly", "Test Only", "weather", catalog.Public, nil, catalog.EnvTest)
		w.api(t, acme, a, "draft", "Draft", "weather", catalog.Public, nil, "")
		w.api(t, globex, g, "payments", "Payments", "finance", catalog.Public, []string{"weather-proof"}, catalog.EnvProduction)
		for i := 0; i < 5; i++ {
			w.api(t, globex, g, fmt.Sprintf("bulk%d", i), fmt.Sprintf("Bulk %d", i), "misc", catalog.Public, nil, catalog.EnvProduction)
		}

		names := func(l tenants.List[market.Listing]) []string {
			var out []string
			for _, x := range l.Items {
				out = append(out, x.OrgSlug+"/"+x.Slug)
			}
			return out
		}
		cases := []struct {
			name string
			q    market.Query
			want []string
		}{
			{"search by name", market.Query{Q: "weath"}, []string{"globex/payments", "acme/weather"}}, // payments has a weather-proof tag
			{"search case-insensitive", market.Query{Q: "MAPS"}, []string{"acme/maps"}},
			{"search by provider", market.Query{Q: "globex", Page: tenants.Page{Limit: 2}}, []string{"globex/bulk0", "globex/bulk1"}},
			{"category", market.Query{Category: "finance"}, []string{"globex/payments"}},
			{"one provider", market.Query{Org: "acme"}, []string{"acme/maps", "acme/weather"}},
			{"like wildcards are literal", market.Query{Q: "%"}, nil},
			{"private, unlisted, test-only and drafts never listed", market.Query{Q: "e", Category: "weather"}, []string{"acme/weather"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				l, err := w.mkt.Search(ctx, tc.q)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(names(l)) != fmt.Sprint(tc.want) {
					t.Fatalf("got %v, want %v", names(l), tc.want)
				}
			})
		}
		// Pagination walks everything exactly once.
		seen := map[string]bool{}
		p := tenants.Page{Limit: 3}
		for pages := 0; ; pages++ {
			l, err := w.mkt.Search(ctx, market.Query{Page: p})
			if err != nil || pages > 5 {
				t.Fatalf("page %d: %v", pages, err)
			}
			for _, n := range names(l) {
				if seen[n] {
					t.Fatalf("%s listed twice", n)
				}
				seen[n] = true
			}
			if l.NextCursor == "" {
				break
			}
			p.Cursor = l.NextCursor
		}
		if len(seen) != 8 {
			t.Fatalf("%d listed, want 8: %v", len(seen), seen)
		}
		if _, err := w.mkt.Search(ctx, market.Query{Sort: "price"}); tenants.ErrorCode(err) != tenants.EInvalid {
			t.Fatalf("bad sort: %v", err)
		}
		cats, _ := w.mkt.Categories(ctx)
		if len(cats) != 4 || cats[0].Name != "misc" || cats[0].Count != 5 {
			t.Fatalf("categories %+v", cats)
		}

		// Detail: live versions, operations, published plans only.
		apiRow, _ := w.cat.API(ctx, acme, "weather")
		if _, err := w.plans.CreatePlan(ctx, acme, apiRow.ID, a, billing.PlanInput{Slug: "free", Name: "Free", Currency: "usd", IncludedCalls: 1000, Versions: []string{"v1"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.plans.PublishPlan(ctx, acme, apiRow.ID, "free", a); err != nil {
			t.Fatal(err)
		}
		if _, err := w.plans.CreatePlan(ctx, acme, apiRow.ID, a, billing.PlanInput{Slug: "pro", Name: "Pro", PriceCents: 4900, Currency: "usd", IncludedCalls: 100000, Versions: []string{"v1"}}); err != nil {
			t.Fatal(err)
		}
		d, err := w.mkt.API(ctx, "acme", "weather")
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Versions) != 1 || len(d.Versions[0].Operations) != 1 || d.Versions[0].Operations[0].Summary != "Get a thing" {
			t.Fatalf("versions %+v", d.Versions)
		}
		if len(d.Plans) != 1 || d.Plans[0].Slug != "free" {
			t.Fatalf("plans %+v (drafts must not show)", d.Plans)
		}
		if _, err := w.mkt.API(ctx, "acme", "hidden"); err != nil {
			t.Fatalf("unlisted API not reachable by link: %v", err)
		}
		for _, slug := range []string{"secret", "testonly", "draft", "nope"} {
			if _, err := w.mkt.API(ctx, "acme", slug); tenants.ErrorCode(err) != tenants.ENotFound {
				t.Errorf("%s: %v, want not found", slug, err)
			}
		}
		// Offline versions leave the market.
		if _, err := w.cat.TakeOffline(ctx, acme, "weather", "v1", a); err != nil {
			t.Fatal(err)
		}
		if _, err := w.mkt.API(ctx, "acme", "weather"); tenants.ErrorCode(err) != tenants.ENotFound {
			t.Fatalf("offline API still in the market: %v", err)
		}
	})
}
