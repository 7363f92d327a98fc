package billing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/tenants"
)

// catalog is a VersionLister over a map: the versions of each API, keyed by
// organisation and API id, so another organisation's API has none.
type catalog struct {
	mu       sync.Mutex
	versions map[string][]string
}

func (c *catalog) VersionNames(_ context.Context, orgID, apiID string) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.versions[orgID+"/"+apiID]), nil
}

func (c *catalog) set(orgID, apiID string, versions ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.versions[orgID+"/"+apiID] = versions
}

type fixture struct {
	db      *migrations.DB
	svc     *billing.Service
	catalog *catalog
	now     time.Time
	actor   tenants.Actor
}

func newFixture(t *testing.T, db *migrations.DB) *fixture {
	t.Helper()
	f := &fixture{
		db: db, catalog: &catalog{versions: map[string][]string{}},
		now:   time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		actor: tenants.Actor{UserID: uuid.NewString(), Email: "ada@example.com", IP: "192.0.2.1"},
	}
	f.svc = billing.NewService(db.DB, billing.Options{
		Versions: f.catalog, Now: func() time.Time { return f.now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	return f
}

// tick moves the clock so timestamps of successive changes differ.
func (f *fixture) tick() { f.now = f.now.Add(time.Minute) }

// org inserts an organisation and returns its id.
func (f *fixture) org(t *testing.T, slug string) string {
	t.Helper()
	o := tenants.Organization{ID: uuid.NewString(), Slug: slug, Name: slug, CreatedAt: f.now, UpdatedAt: f.now}
	if err := f.db.Create(&o).Error; err != nil {
		t.Fatalf("create organization: %v", err)
	}
	return o.ID
}

// api inserts an API of the organisation with the given versions in the
// fake catalog and returns its id.
func (f *fixture) api(t *testing.T, orgID, slug string, versions ...string) string {
	t.Helper()
	id := uuid.NewString()
	err := f.db.Exec(`INSERT INTO apis (id, org_id, slug, name, summary, description, category, tags, logo_url,
		visibility, contact_url, terms_url, created_at, updated_at) VALUES (?, ?, ?, ?, '', '', '', '[]', '', 'public', '', '', ?, ?)`,
		id, orgID, slug, slug, f.now, f.now).Error
	if err != nil {
		t.Fatalf("create api: %v", err)
	}
	f.catalog.set(orgID, id, versions...)
	return id
}

func i64(v int64) *int64 { return &v }

// input is a valid plan: change one thing to test a rule.
func input(slug string) billing.PlanInput {
	return billing.PlanInput{
		Slug: slug, Name: "Pro " + slug, Description: "For production traffic.", PriceCents: 4900, Currency: "usd",
		IncludedCalls: 100_000, OverageCentsPer1000: i64(50),
		RateLimit: &billing.RateLimit{RequestsPerSecond: 10, Burst: 20},
		Quota:     billing.Quota{Day: i64(10_000), Month: i64(200_000)},
		Approval:  billing.ApprovalAuto, Versions: []string{"v1"}, TrialDays: 14,
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := tenants.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

// must returns v once the test has checked err: must(f.svc.Plan(...))(t).
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// planIn creates a plan and moves it to the state named.
func (f *fixture) planIn(t *testing.T, orgID, apiID, slug string, state billing.PlanState) billing.Plan {
	t.Helper()
	ctx := context.Background()
	p := must(f.svc.CreatePlan(ctx, orgID, apiID, f.actor, input(slug)))(t)
	if state == billing.PlanDraft {
		return p
	}
	p = must(f.svc.PublishPlan(ctx, orgID, apiID, slug, f.actor))(t)
	switch state {
	case billing.PlanDeprecated:
		p = must(f.svc.DeprecatePlan(ctx, orgID, apiID, slug, f.actor))(t)
	case billing.PlanClosed:
		p = must(f.svc.ClosePlan(ctx, orgID, apiID, slug, f.actor))(t)
	}
	if p.State != state {
		t.Fatalf("set-up: plan %s is %s, want %s", slug, p.State, state)
	}
	return p
}

func TestCheckTransition(t *testing.T) {
	allowed := map[[2]billing.PlanState]bool{
		{billing.PlanDraft, billing.PlanPublished}:      true,
		{billing.PlanPublished, billing.PlanDeprecated}: true,
		{billing.PlanPublished, billing.PlanClosed}:     true,
		{billing.PlanDeprecated, billing.PlanClosed}:    true,
	}
	messages := map[billing.PlanState]string{
		billing.PlanDraft:      "A draft plan can become published.",
		billing.PlanPublished:  "A published plan can become deprecated or closed.",
		billing.PlanDeprecated: "A deprecated plan can become closed.",
	}
	for _, from := range billing.PlanStates {
		for _, to := range billing.PlanStates {
			t.Run(fmt.Sprintf("%s to %s", from, to), func(t *testing.T) {
				err := billing.CheckTransition(from, to)
				if allowed[[2]billing.PlanState{from, to}] {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					if !from.CanBecome(to) || !slices.Contains(from.Next(), to) {
						t.Fatal("CanBecome/Next disagree with CheckTransition")
					}
					return
				}
				wantCode(t, err, tenants.EConflict)
				if from.CanBecome(to) {
					t.Fatal("CanBecome allows a refused transition")
				}
				msg := tenants.ErrorMessage(err)
				if want, ok := messages[from]; ok && msg != want {
					t.Fatalf("message %q, want %q", msg, want)
				}
				if from == billing.PlanClosed && !strings.Contains(msg, "final") {
					t.Fatalf("message %q should say closed is final", msg)
				}
			})
		}
	}
	wantCode(t, billing.CheckTransition("archived", billing.PlanPublished), tenants.EConflict)
}

// TestPlanStateMachine drives every pair through the service: a plan in
// each state is asked to become each state a method leads to.
func TestPlanStateMachine(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		org := f.org(t, "acme")
		api := f.api(t, org, "weather", "v1")
		methods := map[billing.PlanState]func(slug string) (billing.Plan, error){
			billing.PlanPublished:  func(slug string) (billing.Plan, error) { return f.svc.PublishPlan(ctx, org, api, slug, f.actor) },
			billing.PlanDeprecated: func(slug string) (billing.Plan, error) { return f.svc.DeprecatePlan(ctx, org, api, slug, f.actor) },
			billing.PlanClosed:     func(slug string) (billing.Plan, error) { return f.svc.ClosePlan(ctx, org, api, slug, f.actor) },
		}
		for _, from := range billing.PlanStates {
			for _, to := range []billing.PlanState{billing.PlanPublished, billing.PlanDeprecated, billing.PlanClosed} {
				t.Run(fmt.Sprintf("%s to %s", from, to), func(t *testing.T) {
					slug := fmt.Sprintf("%s-%s", from, to)
					before := f.planIn(t, org, api, slug, from)
					f.tick()
					got, err := methods[to](slug)
					after := must(f.svc.PlanRevision(ctx, org, before.ID))(t)
					if from.CanBecome(to) {
						if err != nil {
							t.Fatalf("refused: %v", err)
						}
						if got.ID != before.ID || got.State != to || after.State != to || !after.UpdatedAt.Equal(f.now) {
							t.Fatalf("got %s %s, stored %s at %v", got.ID, got.State, after.State, after.UpdatedAt)
						}
						return
					}
					wantCode(t, err, tenants.EConflict)
					if after.State != from || !after.UpdatedAt.Equal(before.UpdatedAt) {
						t.Fatalf("refused transition changed the plan: %s at %v", after.State, after.UpdatedAt)
					}
				})
			}
			t.Run(fmt.Sprintf("update %s", from), func(t *testing.T) {
				slug := fmt.Sprintf("upd-%s", from)
				before := f.planIn(t, org, api, slug, from)
				got, err := f.svc.UpdatePlan(ctx, org, api, slug, f.actor, billing.PlanPatch{PriceCents: i64(9900)})
				switch from {
				case billing.PlanDraft:
					if err != nil || got.ID != before.ID || got.Revision != 1 || got.PriceCents != 9900 {
						t.Fatalf("draft not edited in place: %+v, %v", got, err)
					}
				case billing.PlanPublished:
					if err != nil || got.ID == before.ID || got.Revision != 2 || got.State != billing.PlanDraft {
						t.Fatalf("published plan did not get a new draft revision: %+v, %v", got, err)
					}
				default:
					wantCode(t, err, tenants.EConflict)
				}
			})
		}
	})
}

func TestPublishedPlanIsImmutable(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		org := f.org(t, "acme")
		api := f.api(t, org, "weather", "v1", "v2")

		draft := must(f.svc.CreatePlan(ctx, org, api, f.actor, input("pro")))(t)
		if draft.Revision != 1 || draft.State != billing.PlanDraft || draft.PublishedAt != nil || draft.SupersedesID != nil {
			t.Fatalf("new plan: %+v", draft)
		}
		f.tick()
		edited := must(f.svc.UpdatePlan(ctx, org, api, "pro", f.actor, billing.PlanPatch{Name: new("Pro")}))(t)
		if edited.ID != draft.ID || edited.Revision != 1 || edited.Name != "Pro" || !edited.UpdatedAt.Equal(f.now) {
			t.Fatalf("draft edit: %+v", edited)
		}
		f.tick()
		v1 := must(f.svc.PublishPlan(ctx, org, api, "pro", f.actor))(t)
		if v1.State != billing.PlanPublished || v1.PublishedAt == nil || !v1.PublishedAt.Equal(f.now) {
			t.Fatalf("published: %+v", v1)
		}

		// A patch that changes nothing makes no revision.
		same := must(f.svc.UpdatePlan(ctx, org, api, "pro", f.actor, billing.PlanPatch{PriceCents: i64(4900), Currency: new("USD")}))(t)
		if same.ID != v1.ID || same.Revision != 1 {
			t.Fatalf("no-op patch made revision %d", same.Revision)
		}

		f.tick()
		v2 := must(f.svc.UpdatePlan(ctx, org, api, "pro", f.actor, billing.PlanPatch{
			PriceCents: i64(5900), Versions: &[]string{"v1", "v2"},
			OverageCentsPer1000: billing.Null[int64](), Quota: &billing.QuotaPatch{Day: billing.Null[int64]()},
		}))(t)
		if v2.ID == v1.ID || v2.Revision != 2 || v2.State != billing.PlanDraft || v2.SupersedesID == nil || *v2.SupersedesID != v1.ID {
			t.Fatalf("new revision: %+v", v2)
		}
		if v2.PriceCents != 5900 || v2.OverageCentsPer1000 != nil || v2.Quota.Day != nil || *v2.Quota.Month != 200_000 ||
			!slices.Equal(v2.Versions, []string{"v1", "v2"}) || v2.Name != "Pro" || v2.RateLimit.Burst != 20 {
			t.Fatalf("new revision terms: %+v", v2)
		}
		// The draft carries further edits in place.
		v2 = must(f.svc.UpdatePlan(ctx, org, api, "pro", f.actor, billing.PlanPatch{TrialDays: new(0)}))(t)
		if v2.Revision != 2 || v2.TrialDays != 0 {
			t.Fatalf("second edit: %+v", v2)
		}
		stored := must(f.svc.PlanRevision(ctx, org, v1.ID))(t)
		if !equalJSON(t, stored, v1) {
			t.Fatalf("published revision changed:\n got %+v\nwant %+v", stored, v1)
		}
		if got := must(f.svc.Plan(ctx, org, api, "pro"))(t); got.ID != v2.ID {
			t.Fatalf("Plan returns revision %d, want the draft", got.Revision)
		}
		if pub := must(f.svc.PublishedPlans(ctx, api))(t); len(pub) != 1 || pub[0].ID != v1.ID {
			t.Fatalf("market shows %+v before the new revision is published", pub)
		}

		f.tick()
		v2 = must(f.svc.PublishPlan(ctx, org, api, "pro", f.actor))(t)
		if v2.State != billing.PlanPublished || v2.Revision != 2 {
			t.Fatalf("publish revision 2: %+v", v2)
		}
		old := must(f.svc.PlanRevision(ctx, org, v1.ID))(t)
		if old.State != billing.PlanDeprecated || old.PriceCents != 4900 || *old.OverageCentsPer1000 != 50 ||
			*old.Quota.Day != 10_000 || !slices.Equal(old.Versions, []string{"v1"}) || old.TrialDays != 14 ||
			!old.PublishedAt.Equal(*v1.PublishedAt) {
			t.Fatalf("superseded revision lost its terms: %+v", old)
		}
		if pub := must(f.svc.PublishedPlans(ctx, api))(t); len(pub) != 1 || pub[0].ID != v2.ID {
			t.Fatalf("market shows %+v, want only revision 2", pub)
		}
		revs := must(f.svc.PlanRevisions(ctx, org, api, "pro"))(t)
		if len(revs) != 2 || revs[0].Revision != 2 || revs[1].Revision != 1 {
			t.Fatalf("history: %+v", revs)
		}

		// Deprecating discards pending changes: a plan no longer sold has no
		// next revision.
		must(f.svc.UpdatePlan(ctx, org, api, "pro", f.actor, billing.PlanPatch{PriceCents: i64(1)}))(t)
		dep := must(f.svc.DeprecatePlan(ctx, org, api, "pro", f.actor))(t)
		if dep.ID != v2.ID || dep.State != billing.PlanDeprecated {
			t.Fatalf("deprecate: %+v", dep)
		}
		if got := must(f.svc.Plan(ctx, org, api, "pro"))(t); got.ID != v2.ID {
			t.Fatalf("latest after deprecate is revision %d, want 2", got.Revision)
		}
		if revs := must(f.svc.PlanRevisions(ctx, org, api, "pro"))(t); len(revs) != 2 {
			t.Fatalf("draft not discarded: %d revisions", len(revs))
		}
		_, err := f.svc.UpdatePlan(ctx, org, api, "pro", f.actor, billing.PlanPatch{PriceCents: i64(1)})
		wantCode(t, err, tenants.EConflict)
		if pub := must(f.svc.PublishedPlans(ctx, api))(t); len(pub) != 0 {
			t.Fatalf("deprecated plan still in the market: %+v", pub)
		}

		// Closing ends every revision, grandfathered ones included.
		must(f.svc.ClosePlan(ctx, org, api, "pro", f.actor))(t)
		for _, r := range must(f.svc.PlanRevisions(ctx, org, api, "pro"))(t) {
			if r.State != billing.PlanClosed {
				t.Fatalf("revision %d is %s after close", r.Revision, r.State)
			}
		}
		// The slug stays taken: subscriptions and invoices name it.
		_, err = f.svc.CreatePlan(ctx, org, api, f.actor, input("pro"))
		wantCode(t, err, tenants.EConflict)
	})
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}

func TestPlanValidation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		org := f.org(t, "acme")
		api := f.api(t, org, "weather", "v1", "v2")

		cases := []struct {
			name  string
			edit  func(*billing.PlanInput)
			field string
		}{
			{"slug too short", func(in *billing.PlanInput) { in.Slug = "p" }, "slug"},
			{"slug with space", func(in *billing.PlanInput) { in.Slug = "pro plan" }, "slug"},
			{"slug ends with dash", func(in *billing.PlanInput) { in.Slug = "pro-" }, "slug"},
			{"slug too long", func(in *billing.PlanInput) { in.Slug = strings.Repeat("a", 41) }, "slug"},
			{"name missing", func(in *billing.PlanInput) { in.Name = "  " }, "name"},
			{"name two lines", func(in *billing.PlanInput) { in.Name = "Pro\nPlan" }, "name"},
			{"name too long", func(in *billing.PlanInput) { in.Name = strings.Repeat("n", 101) }, "name"},
			{"description too long", func(in *billing.PlanInput) { in.Description = strings.Repeat("d", 2001) }, "description"},
			{"negative price", func(in *billing.PlanInput) { in.PriceCents = -1 }, "price_cents"},
			{"currency missing", func(in *billing.PlanInput) { in.Currency = "" }, "currency"},
			{"currency two letters", func(in *billing.PlanInput) { in.Currency = "us" }, "currency"},
			{"currency symbol", func(in *billing.PlanInput) { in.Currency = "$$$" }, "currency"},
			{"negative included calls", func(in *billing.PlanInput) { in.IncludedCalls = -5 }, "included_calls"},
			{"hard limit with no calls", func(in *billing.PlanInput) { in.IncludedCalls, in.OverageCentsPer1000 = 0, nil }, "included_calls"},
			{"included calls above monthly quota", func(in *billing.PlanInput) { in.IncludedCalls = 200_001 }, "included_calls"},
			{"negative overage", func(in *billing.PlanInput) { in.OverageCentsPer1000 = i64(-1) }, "overage_cents_per_1000"},
			{"zero rate", func(in *billing.PlanInput) { in.RateLimit = &billing.RateLimit{RequestsPerSecond: 0, Burst: 5} }, "rate_limit.requests_per_second"},
			{"rate too high", func(in *billing.PlanInput) { in.RateLimit = &billing.RateLimit{RequestsPerSecond: 2_000_000} }, "rate_limit.requests_per_second"},
			{"burst below rate", func(in *billing.PlanInput) { in.RateLimit = &billing.RateLimit{RequestsPerSecond: 10, Burst: 5} }, "rate_limit.burst"},
			{"negative burst", func(in *billing.PlanInput) { in.RateLimit = &billing.RateLimit{RequestsPerSecond: 10, Burst: -1} }, "rate_limit.burst"},
			{"zero daily quota", func(in *billing.PlanInput) { in.Quota.Day = i64(0) }, "quota.day"},
			{"negative monthly quota", func(in *billing.PlanInput) { in.Quota.Month = i64(-1) }, "quota.month"},
			{"daily above monthly", func(in *billing.PlanInput) { in.Quota = billing.Quota{Day: i64(300_000), Month: i64(200_000)} }, "quota.day"},
			{"approval unknown", func(in *billing.PlanInput) { in.Approval = "sometimes" }, "approval"},
			{"no versions", func(in *billing.PlanInput) { in.Versions = nil }, "versions"},
			{"empty version", func(in *billing.PlanInput) { in.Versions = []string{"v1", " "} }, "versions"},
			{"unknown version", func(in *billing.PlanInput) { in.Versions = []string{"v1", "v9"} }, "versions"},
			{"negative trial", func(in *billing.PlanInput) { in.TrialDays = -1 }, "trial_days"},
			{"trial over a year", func(in *billing.PlanInput) { in.TrialDays = 366 }, "trial_days"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				in := input("valid")
				tc.edit(&in)
				_, err := f.svc.CreatePlan(ctx, org, api, f.actor, in)
				wantCode(t, err, tenants.EInvalid)
				fields := tenants.ErrorFields(err)
				if len(fields) != 1 || fields[tc.field] == "" {
					t.Fatalf("fields %v, want only %q", fields, tc.field)
				}
			})
		}
		if n := len(must(f.svc.ListPlans(ctx, org, api, tenants.Page{}))(t).Items); n != 0 {
			t.Fatalf("invalid input created %d plans", n)
		}

		t.Run("defaults and normalisation", func(t *testing.T) {
			in := input(" Basic ")
			in.Currency, in.Approval = " EUR", ""
			in.RateLimit = &billing.RateLimit{RequestsPerSecond: 7}
			in.Versions = []string{"v2", " v1", "v2"}
			in.Quota, in.OverageCentsPer1000, in.PriceCents, in.TrialDays = billing.Quota{}, nil, 0, 0
			p := must(f.svc.CreatePlan(ctx, org, api, f.actor, in))(t)
			if p.Slug != "basic" || p.Currency != "eur" || p.Approval != billing.ApprovalAuto || p.RateLimit.Burst != 7 ||
				!slices.Equal(p.Versions, []string{"v2", "v1"}) || p.Quota.Day != nil || p.Quota.Month != nil {
				t.Fatalf("normalised plan: %+v", p)
			}
			if in.RateLimit.Burst != 0 {
				t.Fatal("CreatePlan changed the caller's rate limit")
			}
			stored := must(f.svc.Plan(ctx, org, api, "BASIC"))(t)
			if !equalJSON(t, stored, p) {
				t.Fatalf("stored plan differs from returned:\n got %+v\nwant %+v", stored, p)
			}
		})

		t.Run("duplicate slug", func(t *testing.T) {
			must(f.svc.CreatePlan(ctx, org, api, f.actor, input("team")))(t)
			_, err := f.svc.CreatePlan(ctx, org, api, f.actor, input("Team"))
			wantCode(t, err, tenants.EConflict)
			if tenants.ErrorFields(err)["slug"] == "" {
				t.Fatalf("conflict fields %v lack slug", tenants.ErrorFields(err))
			}
		})

		t.Run("patch is validated", func(t *testing.T) {
			must(f.svc.CreatePlan(ctx, org, api, f.actor, input("patchme")))(t)
			patches := []struct {
				name  string
				patch billing.PlanPatch
				field string
			}{
				{"negative price", billing.PlanPatch{PriceCents: i64(-1)}, "price_cents"},
				{"quota day above month", billing.PlanPatch{Quota: &billing.QuotaPatch{Month: billing.Some[int64](5000)}}, "quota.day"},
				{"hard limit without calls", billing.PlanPatch{IncludedCalls: i64(0), OverageCentsPer1000: billing.Null[int64]()}, "included_calls"},
				{"burst below rate", billing.PlanPatch{RateLimit: billing.Some(billing.RateLimit{RequestsPerSecond: 50, Burst: 10})}, "rate_limit.burst"},
				{"no versions", billing.PlanPatch{Versions: &[]string{}}, "versions"},
				{"approval", billing.PlanPatch{Approval: new(billing.Approval("never"))}, "approval"},
			}
			for _, tc := range patches {
				_, err := f.svc.UpdatePlan(ctx, org, api, "patchme", f.actor, tc.patch)
				wantCode(t, err, tenants.EInvalid)
				if tenants.ErrorFields(err)[tc.field] == "" {
					t.Errorf("%s: fields %v lack %q", tc.name, tenants.ErrorFields(err), tc.field)
				}
			}
			if p := must(f.svc.Plan(ctx, org, api, "patchme"))(t); !equalJSON(t, p.Versions, []string{"v1"}) || p.PriceCents != 4900 {
				t.Fatalf("invalid patch changed the plan: %+v", p)
			}
		})

		t.Run("publishing needs a version that still exists", func(t *testing.T) {
			in := input("legacy")
			in.Versions = []string{"v2"}
			must(f.svc.CreatePlan(ctx, org, api, f.actor, in))(t)
			f.catalog.set(org, api, "v1")
			defer f.catalog.set(org, api, "v1", "v2")
			_, err := f.svc.PublishPlan(ctx, org, api, "legacy", f.actor)
			wantCode(t, err, tenants.EInvalid)
			if tenants.ErrorFields(err)["versions"] == "" {
				t.Fatalf("fields %v lack versions", tenants.ErrorFields(err))
			}
			if p := must(f.svc.Plan(ctx, org, api, "legacy"))(t); p.State != billing.PlanDraft {
				t.Fatalf("plan is %s after a refused publish", p.State)
			}
		})
	})
}

func TestPlanIsolation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		acme := f.org(t, "acme")
		acmeAPI := f.api(t, acme, "weather", "v1")
		acmeOther := f.api(t, acme, "maps", "v1")
		globex := f.org(t, "globex")
		globexAPI := f.api(t, globex, "weather", "v1")

		mine := f.planIn(t, acme, acmeAPI, "pro", billing.PlanPublished)
		theirs := f.planIn(t, globex, globexAPI, "pro", billing.PlanDraft)
		// The same slug on another API of the same organisation is another plan.
		other := f.planIn(t, acme, acmeOther, "pro", billing.PlanDraft)
		if other.ID == mine.ID {
			t.Fatal("plans of two APIs share an id")
		}

		notFound := map[string]func() error{
			"revision of another org": func() error { _, err := f.svc.PlanRevision(ctx, acme, theirs.ID); return err },
			"plan via another org's api": func() error {
				_, err := f.svc.Plan(ctx, acme, globexAPI, "pro")
				return err
			},
			"own api id under another org": func() error { _, err := f.svc.Plan(ctx, globex, acmeAPI, "pro"); return err },
			"history via another org's api": func() error {
				_, err := f.svc.PlanRevisions(ctx, acme, globexAPI, "pro")
				return err
			},
			"create on another org's api": func() error {
				_, err := f.svc.CreatePlan(ctx, acme, globexAPI, f.actor, input("sneaky"))
				return err
			},
			"create on a missing api": func() error {
				_, err := f.svc.CreatePlan(ctx, acme, uuid.NewString(), f.actor, input("ghost"))
				return err
			},
			"list another org's api": func() error {
				_, err := f.svc.ListPlans(ctx, acme, globexAPI, tenants.Page{})
				return err
			},
			"update another org's plan": func() error {
				_, err := f.svc.UpdatePlan(ctx, acme, globexAPI, "pro", f.actor, billing.PlanPatch{PriceCents: i64(1)})
				return err
			},
			"publish another org's plan": func() error {
				_, err := f.svc.PublishPlan(ctx, acme, globexAPI, "pro", f.actor)
				return err
			},
			"deprecate via another org": func() error {
				_, err := f.svc.DeprecatePlan(ctx, globex, acmeAPI, "pro", f.actor)
				return err
			},
			"close via another org": func() error {
				_, err := f.svc.ClosePlan(ctx, globex, acmeAPI, "pro", f.actor)
				return err
			},
			"missing slug": func() error { _, err := f.svc.Plan(ctx, acme, acmeAPI, "nope"); return err },
		}
		for name, call := range notFound {
			t.Run(name, func(t *testing.T) { wantCode(t, call(), tenants.ENotFound) })
		}

		// Nothing above changed anything.
		if got := must(f.svc.PlanRevision(ctx, globex, theirs.ID))(t); !equalJSON(t, got, theirs) {
			t.Fatalf("globex plan changed: %+v", got)
		}
		if got := must(f.svc.PlanRevision(ctx, acme, mine.ID))(t); !equalJSON(t, got, mine) {
			t.Fatalf("acme plan changed: %+v", got)
		}
		// Publishing acme's maps plan leaves its weather plan alone.
		must(f.svc.PublishPlan(ctx, acme, acmeOther, "pro", f.actor))(t)
		if got := must(f.svc.PlanRevision(ctx, acme, mine.ID))(t); got.State != billing.PlanPublished {
			t.Fatalf("publishing another API's plan made this one %s", got.State)
		}
		if pub := must(f.svc.PublishedPlans(ctx, globexAPI))(t); len(pub) != 0 {
			t.Fatalf("globex market shows %+v", pub)
		}
		var n int64
		db.Table("plans").Where("api_id = ?", globexAPI).Count(&n)
		if n != 1 {
			t.Fatalf("globex API has %d plan rows, want 1", n)
		}
	})
}

func TestListPlans(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		org := f.org(t, "acme")
		api := f.api(t, org, "weather", "v1")
		slugs := []string{"epsilon", "alpha", "delta", "beta", "gamma"}
		prices := map[string]int64{"epsilon": 0, "alpha": 9900, "delta": 1900, "beta": 4900, "gamma": 2900}
		for _, s := range slugs {
			in := input(s)
			in.PriceCents = prices[s]
			must(f.svc.CreatePlan(ctx, org, api, f.actor, in))(t)
			must(f.svc.PublishPlan(ctx, org, api, s, f.actor))(t)
		}
		// beta has three revisions; the list shows only its latest.
		must(f.svc.UpdatePlan(ctx, org, api, "beta", f.actor, billing.PlanPatch{PriceCents: i64(5900)}))(t)
		must(f.svc.PublishPlan(ctx, org, api, "beta", f.actor))(t)
		must(f.svc.UpdatePlan(ctx, org, api, "beta", f.actor, billing.PlanPatch{PriceCents: i64(6900)}))(t)
		// Another API's plans never show.
		otherAPI := f.api(t, org, "maps", "v1")
		must(f.svc.CreatePlan(ctx, org, otherAPI, f.actor, input("aardvark")))(t)

		var got []string
		page := tenants.Page{Limit: 2}
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
			l := must(f.svc.ListPlans(ctx, org, api, page))(t)
			if len(l.Items) > 2 {
				t.Fatalf("page of %d items, limit 2", len(l.Items))
			}
			for _, p := range l.Items {
				got = append(got, p.Slug)
				if p.Slug == "beta" && (p.Revision != 3 || p.State != billing.PlanDraft || p.PriceCents != 6900) {
					t.Fatalf("beta listed as revision %d %s", p.Revision, p.State)
				}
			}
			if l.NextCursor == "" {
				break
			}
			page.Cursor = l.NextCursor
		}
		if want := []string{"alpha", "beta", "delta", "epsilon", "gamma"}; !slices.Equal(got, want) {
			t.Fatalf("listed %v, want %v", got, want)
		}
		all := must(f.svc.ListPlans(ctx, org, api, tenants.Page{}))(t)
		if len(all.Items) != 5 || all.NextCursor != "" {
			t.Fatalf("default page: %d items, cursor %q", len(all.Items), all.NextCursor)
		}
		_, err := f.svc.ListPlans(ctx, org, api, tenants.Page{Cursor: "!!not base64"})
		wantCode(t, err, tenants.EInvalid)

		// The market lists published revisions, cheapest first; beta's
		// published revision is 2 (revision 3 is a draft).
		var market []string
		for _, p := range must(f.svc.PublishedPlans(ctx, api))(t) {
			market = append(market, fmt.Sprintf("%s/%d", p.Slug, p.Revision))
		}
		if want := []string{"epsilon/1", "delta/1", "gamma/1", "beta/2", "alpha/1"}; !slices.Equal(market, want) {
			t.Fatalf("market %v, want %v", market, want)
		}
	})
}

func TestPlanAudit(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		org := f.org(t, "acme")
		api := f.api(t, org, "weather", "v1")

		r1 := must(f.svc.CreatePlan(ctx, org, api, f.actor, input("pro")))(t)
		must(f.svc.UpdatePlan(ctx, org, api, "pro", f.actor, billing.PlanPatch{Name: new("Pro")}))(t)
		must(f.svc.PublishPlan(ctx, org, api, "pro", f.actor))(t)
		r2 := must(f.svc.UpdatePlan(ctx, org, api, "pro", f.actor, billing.PlanPatch{PriceCents: i64(100)}))(t)
		must(f.svc.PublishPlan(ctx, org, api, "pro", f.actor))(t)
		must(f.svc.ClosePlan(ctx, org, api, "pro", f.actor))(t)
		// Refused and no-op changes leave no trace.
		_, err := f.svc.PublishPlan(ctx, org, api, "pro", f.actor)
		wantCode(t, err, tenants.EConflict)
		_, err = f.svc.CreatePlan(ctx, org, api, f.actor, input("pro"))
		wantCode(t, err, tenants.EConflict)

		var events []tenants.AuditEvent
		if err := db.Where("org_id = ? AND object_type = ?", org, "plan").Order("id").Find(&events).Error; err != nil {
			t.Fatal(err)
		}
		type ev struct{ action, object string }
		want := []ev{
			{"plan.create", r1.ID}, {"plan.update", r1.ID}, {"plan.publish", r1.ID},
			{"plan.update", r2.ID}, {"plan.deprecate", r1.ID}, {"plan.publish", r2.ID},
			{"plan.close", r2.ID}, {"plan.close", r1.ID},
		}
		var got []ev
		for _, e := range events {
			got = append(got, ev{e.Action, e.ObjectID})
			if e.ActorEmail != f.actor.Email || e.ActorID == nil || *e.ActorID != f.actor.UserID || e.IP != f.actor.IP {
				t.Fatalf("event %s has actor %v %s %s", e.Action, e.ActorID, e.ActorEmail, e.IP)
			}
			var d map[string]any
			if err := json.Unmarshal([]byte(e.Details), &d); err != nil || d["slug"] != "pro" || d["api_id"] != api {
				t.Fatalf("event %s details %s", e.Action, e.Details)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("audit trail\n got %v\nwant %v", got, want)
		}
		var d map[string]any
		noErr(t, json.Unmarshal([]byte(events[3].Details), &d))
		if d["new_revision"] != true || d["revision"] != float64(2) || !equalJSON(t, d["changed"], []string{"price_cents"}) {
			t.Fatalf("update details %s", events[3].Details)
		}
	})
}

func TestPlanPatchJSON(t *testing.T) {
	cases := []struct {
		name  string
		body  string
		check func(billing.PlanPatch) bool
	}{
		{"absent fields stay unset", `{"name":"Pro"}`, func(p billing.PlanPatch) bool {
			return *p.Name == "Pro" && !p.OverageCentsPer1000.Set && !p.RateLimit.Set && p.Quota == nil
		}},
		{"null clears", `{"overage_cents_per_1000":null,"rate_limit":null}`, func(p billing.PlanPatch) bool {
			return p.OverageCentsPer1000.Set && p.OverageCentsPer1000.Value == nil && p.RateLimit.Set && p.RateLimit.Value == nil
		}},
		{"values set", `{"overage_cents_per_1000":25,"rate_limit":{"requests_per_second":5,"burst":9}}`, func(p billing.PlanPatch) bool {
			return *p.OverageCentsPer1000.Value == 25 && *p.RateLimit.Value == billing.RateLimit{RequestsPerSecond: 5, Burst: 9}
		}},
		{"quota fields independent", `{"quota":{"day":null}}`, func(p billing.PlanPatch) bool {
			return p.Quota.Day.Set && p.Quota.Day.Value == nil && !p.Quota.Month.Set
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p billing.PlanPatch
			if err := json.Unmarshal([]byte(tc.body), &p); err != nil {
				t.Fatal(err)
			}
			if !tc.check(p) {
				t.Fatalf("decoded %+v", p)
			}
			// Encoding gives back the same fields, so the Go client sends
			// what the caller set and nothing else.
			b, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			var in, out map[string]any
			noErr(t, json.Unmarshal([]byte(tc.body), &in))
			noErr(t, json.Unmarshal(b, &out))
			if !equalJSON(t, in, out) {
				t.Fatalf("round trip %s, want %s", b, tc.body)
			}
		})
	}
	var p billing.PlanPatch
	if err := json.Unmarshal([]byte(`{"rate_limit":{"rps":5}}`), &p); err == nil {
		t.Fatal("unknown field inside rate_limit accepted")
	}
}

// TestConcurrentPlanChanges races changes to one plan. Changes take turns,
// so racing edits all succeed (the first makes revision 2, the rest edit
// it) and of racing publishes one succeeds and the rest are refused.
func TestConcurrentPlanChanges(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		org := f.org(t, "acme")
		api := f.api(t, org, "weather", "v1")
		f.planIn(t, org, api, "pro", billing.PlanPublished)

		race := func(n int, call func(i int) error) (ok int) {
			t.Helper()
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { errs[i] = call(i) })
			}
			wg.Wait()
			for _, err := range errs {
				switch tenants.ErrorCode(err) {
				case "":
					ok++
				case tenants.EConflict:
				default:
					t.Fatalf("racing call failed: %v", err)
				}
			}
			return ok
		}
		if ok := race(8, func(i int) error {
			_, err := f.svc.UpdatePlan(ctx, org, api, "pro", f.actor, billing.PlanPatch{PriceCents: i64(int64(100 + i))})
			return err
		}); ok != 8 {
			t.Fatalf("%d of 8 racing edits succeeded", ok)
		}
		if revs := must(f.svc.PlanRevisions(ctx, org, api, "pro"))(t); len(revs) != 2 || revs[0].State != billing.PlanDraft {
			t.Fatalf("after racing updates: %d revisions, latest %s", len(revs), revs[0].State)
		}
		if ok := race(8, func(int) error { _, err := f.svc.PublishPlan(ctx, org, api, "pro", f.actor); return err }); ok != 1 {
			t.Fatalf("%d racing publishes succeeded, want 1", ok)
		}
		var states []string
		for _, r := range must(f.svc.PlanRevisions(ctx, org, api, "pro"))(t) {
			states = append(states, string(r.State))
		}
		if want := []string{"published", "deprecated"}; !slices.Equal(states, want) {
			t.Fatalf("states %v, want %v", states, want)
		}
	})
}
