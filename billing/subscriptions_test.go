package billing_test

import (
	"context"
	"crypto/rand"
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
	cat "github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/tenants"
	"github.com/portico-dev/portico/tenants/keyring"
)

// mailbox is a tenants.Mailer that keeps what it is asked to send.
type mailbox struct {
	mu   sync.Mutex
	sent []tenants.Email
}

func (m *mailbox) Send(_ context.Context, e tenants.Email) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, e)
	return nil
}

// take returns the emails sent since the last take.
func (m *mailbox) take() []tenants.Email {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.sent
	m.sent = nil
	return out
}

// party is an organisation and its owner acting in it.
type party struct {
	org   tenants.Organization
	actor tenants.Actor
}

// subFixture has a provider, acme, whose public API weather has versions v1
// and v2 live in production, and a partner, globex, with two apps. Each
// organisation has an owner, an admin and a member who gets no emails.
type subFixture struct {
	db      *migrations.DB
	ten     *tenants.Service
	cat     *cat.Service
	svc     *billing.Service
	mail    *mailbox
	now     time.Time
	acme    party
	globex  party
	weather string // API id
	app1    string
	app2    string
	// changes counts the service's OnChange calls.
	changes int
}

const baseURL = "https://portico.test"

func newSubFixture(t *testing.T, db *migrations.DB) *subFixture {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	kr, err := keyring.New(key)
	noErr(t, err)
	f := &subFixture{db: db, mail: &mailbox{}, now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return f.now }
	pp := tenants.FastPasswordParams
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.ten = tenants.NewService(db.DB, tenants.Options{PasswordParams: &pp, Now: clock, Logger: quiet})
	f.cat = cat.NewService(db.DB, cat.Options{Keyring: kr, Guard: cat.UpstreamGuard{AllowPrivate: true}, Now: clock, Logger: quiet})
	f.svc = billing.NewService(db.DB, billing.Options{Versions: f.cat, Now: clock, Mailer: f.mail, BaseURL: baseURL + "/", Logger: quiet,
		OnChange: func(context.Context) { f.changes++ }})

	f.acme = f.signUp(t, "acme", "Acme", "ada@acme.test")
	f.member(t, f.acme, "bob@acme.test", tenants.RoleAdmin)
	f.member(t, f.acme, "dev@acme.test", tenants.RoleDeveloper)
	f.globex = f.signUp(t, "globex", "Globex Corporation", "gina@globex.test")
	f.member(t, f.globex, "gus@globex.test", tenants.RoleAdmin)
	f.member(t, f.globex, "vic@globex.test", tenants.RoleViewer)
	f.weather = f.api(t, f.acme, "weather", cat.Public, "v1", "v2")
	f.app1 = f.app(t, f.globex, "Storm Tracker")
	f.app2 = f.app(t, f.globex, "Sun Dial")
	return f
}

func (f *subFixture) signUp(t *testing.T, slug, name, email string) party {
	t.Helper()
	res, err := f.ten.SignUp(context.Background(), tenants.SignUpInput{
		Name: "Owner", Email: email, Password: "0123456789ab", OrgName: name, OrgSlug: slug,
	}, "192.0.2.1")
	noErr(t, err)
	return party{org: res.Org, actor: tenants.Actor{UserID: res.User.ID, Email: res.User.Email, IP: "192.0.2.1"}}
}

// member adds a user with a role to p's organisation and returns them as an
// actor.
func (f *subFixture) member(t *testing.T, p party, email string, role tenants.Role) tenants.Actor {
	t.Helper()
	own := f.signUp(t, "u-"+strings.ReplaceAll(uuid.NewString(), "-", "")[:12], "Own", email)
	noErr(t, f.db.Create(&tenants.Membership{OrgID: p.org.ID, UserID: own.actor.UserID, Role: role, CreatedAt: f.now, UpdatedAt: f.now}).Error)
	return own.actor
}

// api creates an API with the versions given, each deployed to production
// (so published), and returns its id.
func (f *subFixture) api(t *testing.T, p party, slug string, vis cat.Visibility, versions ...string) string {
	t.Helper()
	ctx := context.Background()
	a := must(f.cat.CreateAPI(ctx, p.org.ID, p.actor, cat.APIInput{Slug: slug, Name: strings.ToUpper(slug[:1]) + slug[1:], Visibility: vis}))(t)
	for _, v := range versions {
		f.version(t, p, slug, v, true)
	}
	return a.ID
}

// version adds a mock version to an API, deployed to production (published)
// or left a draft.
func (f *subFixture) version(t *testing.T, p party, apiSlug, v string, deploy bool) {
	t.Helper()
	ctx := context.Background()
	_, _, err := f.cat.CreateVersion(ctx, p.org.ID, apiSlug, p.actor, cat.VersionInput{
		Version: v, Mock: true, Operations: []cat.OperationInput{{Method: "GET", Path: "/forecast"}},
	})
	noErr(t, err)
	if deploy {
		_, err = f.cat.Deploy(ctx, p.org.ID, apiSlug, v, cat.EnvProduction, p.actor, "")
		noErr(t, err)
	}
}

// terms is a plan for v1 with the price and included calls given; change a
// field to test a rule.
func terms(slug string, priceCents, calls int64) billing.PlanInput {
	return billing.PlanInput{
		Slug: slug, Name: strings.ToUpper(slug[:1]) + slug[1:], PriceCents: priceCents, Currency: "usd",
		IncludedCalls: calls, Approval: billing.ApprovalAuto, Versions: []string{"v1"},
	}
}

// plan creates and publishes a plan of acme's API.
func (f *subFixture) plan(t *testing.T, apiID string, in billing.PlanInput) billing.Plan {
	t.Helper()
	ctx := context.Background()
	must(f.svc.CreatePlan(ctx, f.acme.org.ID, apiID, f.acme.actor, in))(t)
	return must(f.svc.PublishPlan(ctx, f.acme.org.ID, apiID, in.Slug, f.acme.actor))(t)
}

// app inserts an app of the organisation (tenants owns apps; billing only
// reads them) and returns its id.
func (f *subFixture) app(t *testing.T, p party, name string) string {
	t.Helper()
	id := uuid.NewString()
	noErr(t, f.db.Exec(`INSERT INTO apps (id, org_id, name, description, environment, owner_id, created_at, updated_at)
		VALUES (?, ?, ?, '', 'production', ?, ?, ?)`, id, p.org.ID, name, p.actor.UserID, f.now, f.now).Error)
	return id
}

// subscribe subscribes as p; the input defaults to acme's weather API v1.
func (f *subFixture) subscribe(p party, in billing.SubscribeInput) (billing.Subscription, error) {
	if in.ProviderOrg == "" {
		in.ProviderOrg = "acme"
	}
	if in.API == "" {
		in.API = "weather"
	}
	if in.Version == "" {
		in.Version = "v1"
	}
	return f.svc.Subscribe(context.Background(), p.org.ID, p.actor, in)
}

// markPaid stands in for checkout, which does not exist yet: it activates a
// subscription waiting for payment.
func (f *subFixture) markPaid(t *testing.T, id string) {
	t.Helper()
	res := f.db.Exec("UPDATE subscriptions SET status = 'active' WHERE id = ? AND status = 'pending_payment'", id)
	if res.Error != nil || res.RowsAffected != 1 {
		t.Fatalf("mark paid: %v, %d rows", res.Error, res.RowsAffected)
	}
}

func (f *subFixture) tick() { f.now = f.now.Add(time.Minute) }

// kinds returns the kinds of a subscription's events as orgID sees them.
func (f *subFixture) kinds(t *testing.T, orgID, id string) []billing.EventKind {
	t.Helper()
	var out []billing.EventKind
	for _, e := range must(f.svc.SubscriptionHistory(context.Background(), orgID, id))(t) {
		out = append(out, e.Kind)
	}
	return out
}

// auditActions returns the audit actions recorded in an organisation's log
// about subscriptions, oldest first.
func (f *subFixture) auditActions(t *testing.T, orgID string) []string {
	t.Helper()
	var events []tenants.AuditEvent
	noErr(t, f.db.Where("org_id = ? AND object_type = ?", orgID, "subscription").Order("id").Find(&events).Error)
	var out []string
	for _, e := range events {
		out = append(out, e.Action)
	}
	return out
}

func recipients(mails []tenants.Email) []string {
	var out []string
	for _, m := range mails {
		out = append(out, m.To)
	}
	slices.Sort(out)
	return out
}

// wantErr checks an error's code and that its message says something.
func wantErr(t *testing.T, err error, code, says string) {
	t.Helper()
	wantCode(t, err, code)
	if msg := tenants.ErrorMessage(err); !strings.Contains(msg, says) {
		t.Fatalf("message %q does not say %q", msg, says)
	}
}

func TestCheckSubscriptionTransition(t *testing.T) {
	type pair = [2]billing.SubscriptionStatus
	const (
		pa, pp, ac, su = billing.SubPendingApproval, billing.SubPendingPayment, billing.SubActive, billing.SubSuspended
		re, ca, te, en = billing.SubRejected, billing.SubCancelled, billing.SubTerminated, billing.SubEnded
	)
	allowed := map[pair]bool{
		{pa, ac}: true, {pa, pp}: true, {pa, re}: true, {pa, ca}: true, {pa, en}: true,
		{pp, ac}: true, {pp, ca}: true, {pp, te}: true, {pp, en}: true,
		{ac, su}: true, {ac, ca}: true, {ac, te}: true, {ac, en}: true,
		{su, ac}: true, {su, ca}: true, {su, te}: true, {su, en}: true,
	}
	messages := map[billing.SubscriptionStatus]string{
		pa: "A pending approval subscription can become active, pending payment, rejected, cancelled or ended.",
		pp: "A pending payment subscription can become active, cancelled, terminated or ended.",
		ac: "An active subscription can become suspended, cancelled, terminated or ended.",
		su: "A suspended subscription can become active, cancelled, terminated or ended.",
	}
	for _, from := range billing.SubscriptionStatuses {
		for _, to := range billing.SubscriptionStatuses {
			t.Run(fmt.Sprintf("%s to %s", from, to), func(t *testing.T) {
				err := billing.CheckSubscriptionTransition(from, to)
				if allowed[pair{from, to}] {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					if !from.CanBecome(to) || !slices.Contains(from.Next(), to) {
						t.Fatal("CanBecome/Next disagree with CheckSubscriptionTransition")
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
				if from.Final() && !strings.Contains(msg, "final") {
					t.Fatalf("message %q should say %s is final", msg, from)
				}
			})
		}
	}
	for _, st := range billing.SubscriptionStatuses {
		live := st == pa || st == pp || st == ac || st == su
		if st.Live() != live || st.Final() == live || !st.Valid() {
			t.Errorf("%s: Live %v, Final %v, Valid %v", st, st.Live(), st.Final(), st.Valid())
		}
	}
	wantErr(t, billing.CheckSubscriptionTransition("paused", billing.SubActive), tenants.EConflict, `"paused"`)
	wantErr(t, billing.CheckSubscriptionTransition(en, ac), tenants.EConflict, "An ended subscription is final")
}

func TestSubscribeAutoApproval(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newSubFixture(t, db)
		ctx := context.Background()
		in := terms("free", 0, 1000)
		in.Versions = []string{"v1", "v2"}
		in.RateLimit = &billing.RateLimit{RequestsPerSecond: 5, Burst: 10}
		free := f.plan(t, f.weather, in)

		sub := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app1, Plan: " FREE ", Message: " hi "}))(t)
		if sub.Status != billing.SubActive || sub.PlanID != free.ID || sub.Plan.ID != free.ID || sub.NextPlanID != nil ||
			sub.AppID != f.app1 || sub.OrgID != f.globex.org.ID || sub.ProviderOrgID != f.acme.org.ID ||
			sub.APIID != f.weather || sub.Version != "v1" || sub.Message != "hi" || sub.Notice != "" || sub.EndedAt != nil {
			t.Fatalf("subscription: %+v", sub)
		}
		if !sub.PeriodStart.Equal(f.now) || !sub.PeriodEnd.Equal(time.Date(2026, 12, 26, 12, 0, 0, 0, time.UTC)) {
			t.Fatalf("period %v – %v", sub.PeriodStart, sub.PeriodEnd)
		}
		if sub.PartnerOrgName != "Globex Corporation" || sub.PartnerOrgSlug != "globex" || sub.AppName != "Storm Tracker" ||
			sub.ProviderOrgName != "Acme" || sub.ProviderOrgSlug != "acme" || sub.APISlug != "weather" || sub.APIName != "Weather" {
			t.Fatalf("display fields: %+v", sub)
		}
		if got := must(f.svc.Subscription(ctx, f.globex.org.ID, sub.ID))(t); !equalJSON(t, got, sub) {
			t.Fatalf("read differs from returned:\n got %+v\nwant %+v", got, sub)
		}
		if got := must(f.svc.ProviderSubscription(ctx, f.acme.org.ID, sub.ID))(t); !equalJSON(t, got, sub) {
			t.Fatalf("provider's read differs:\n got %+v\nwant %+v", got, sub)
		}
		if mails := f.mail.take(); len(mails) != 0 {
			t.Fatalf("automatic approval sent %d emails", len(mails))
		}

		// The partner sees who subscribed; the provider sees only that the
		// partner did.
		hist := must(f.svc.SubscriptionHistory(ctx, f.globex.org.ID, sub.ID))(t)
		if len(hist) != 1 || hist[0].Kind != billing.EventCreated || hist[0].FromStatus != "" || hist[0].ToStatus != billing.SubActive ||
			hist[0].By != billing.ByPartner || hist[0].ActorEmail != "gina@globex.test" || *hist[0].ToPlanID != free.ID {
			t.Fatalf("partner's history: %+v", hist)
		}
		hist = must(f.svc.SubscriptionHistory(ctx, f.acme.org.ID, sub.ID))(t)
		if len(hist) != 1 || hist[0].By != billing.ByPartner || hist[0].ActorEmail != "" {
			t.Fatalf("provider's history: %+v", hist)
		}
		if got := f.auditActions(t, f.globex.org.ID); !slices.Equal(got, []string{"subscription.create"}) {
			t.Fatalf("partner audit %v", got)
		}
		if got := f.auditActions(t, f.acme.org.ID); len(got) != 0 {
			t.Fatalf("provider audit %v", got)
		}

		// A month from 31 January is the end of February.
		f.now = time.Date(2027, 1, 31, 9, 30, 0, 0, time.UTC)
		sub2 := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app2, Version: "v2", Plan: "free"}))(t)
		if !sub2.PeriodEnd.Equal(time.Date(2027, 2, 28, 9, 30, 0, 0, time.UTC)) || sub2.Version != "v2" {
			t.Fatalf("period from 31 January ends %v", sub2.PeriodEnd)
		}
	})
}

func TestManualApproval(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newSubFixture(t, db)
		ctx := context.Background()
		in := terms("vip", 0, 1000)
		in.Approval = billing.ApprovalManual
		vip := f.plan(t, f.weather, in)
		in = terms("gold", 2900, 10_000)
		in.Approval = billing.ApprovalManual
		f.plan(t, f.weather, in)
		acme, globex := f.acme.org.ID, f.globex.org.ID

		first := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app1, Plan: "vip", Message: "We track storms.\nPlease approve."}))(t)
		if first.Status != billing.SubPendingApproval || first.PlanID != vip.ID || !strings.Contains(first.Notice, "Acme to approve") {
			t.Fatalf("request: %+v", first)
		}
		mails := f.mail.take()
		if got := recipients(mails); !slices.Equal(got, []string{"ada@acme.test", "bob@acme.test"}) {
			t.Fatalf("request emailed to %v, want the provider's owner and admin", got)
		}
		link := baseURL + "/orgs/acme/subscribers/" + first.ID
		if m := mails[0]; !strings.Contains(m.Subject, "Weather") || !strings.Contains(m.Subject, "Globex Corporation") ||
			!strings.Contains(m.Text, "Storm Tracker") || !strings.Contains(m.Text, "Vip") ||
			!strings.Contains(m.Text, "    We track storms.\n    Please approve.") || !strings.Contains(m.Text, link) {
			t.Fatalf("request email:\n%s\n%s", m.Subject, m.Text)
		}

		f.tick()
		second := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app2, Plan: "vip"}))(t)
		paid := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app(t, f.globex, "Rain Gauge"), Plan: "gold"}))(t)
		f.mail.take()

		// The queue is oldest first and pages.
		var queue []string
		page := tenants.Page{Limit: 2}
		for range 3 {
			l := must(f.svc.ApprovalQueue(ctx, acme, page))(t)
			for _, s := range l.Items {
				queue = append(queue, s.ID)
				if s.PartnerOrgName != "Globex Corporation" || s.AppName == "" || s.Plan.Slug == "" {
					t.Fatalf("queue item lacks display fields: %+v", s)
				}
			}
			if page.Cursor = l.NextCursor; page.Cursor == "" {
				break
			}
		}
		if want := []string{first.ID, second.ID, paid.ID}; !slices.Equal(queue, want) {
			t.Fatalf("queue %v, want %v", queue, want)
		}
		q := must(f.svc.ApprovalQueue(ctx, acme, tenants.Page{Limit: 1}))(t).Items[0]
		if q.Message != "We track storms.\nPlease approve." || q.Plan.Slug != "vip" || q.AppName != "Storm Tracker" {
			t.Fatalf("queue head: %+v", q)
		}

		// Approval starts the first period at approval time.
		f.now = f.now.Add(48 * time.Hour)
		ok := must(f.svc.Approve(ctx, acme, first.ID, f.acme.actor))(t)
		if ok.Status != billing.SubActive || !ok.PeriodStart.Equal(f.now) || !ok.PeriodEnd.Equal(f.now.AddDate(0, 1, 0)) {
			t.Fatalf("approved: %+v", ok)
		}
		mails = f.mail.take()
		if got := recipients(mails); !slices.Equal(got, []string{"gina@globex.test", "gus@globex.test"}) {
			t.Fatalf("approval emailed to %v, want the partner's owner and admin", got)
		}
		if m := mails[0]; !strings.Contains(m.Subject, "approved") ||
			!strings.Contains(m.Text, baseURL+"/orgs/globex/subscriptions/"+first.ID) || !strings.Contains(m.Text, "Acme approved") {
			t.Fatalf("approval email:\n%s\n%s", m.Subject, m.Text)
		}
		if got := must(f.svc.Subscription(ctx, globex, first.ID))(t); got.Status != billing.SubActive {
			t.Fatalf("partner sees %s", got.Status)
		}
		_, err := f.svc.Approve(ctx, acme, first.ID, f.acme.actor)
		wantErr(t, err, tenants.EConflict, "already decided")
		_, err = f.svc.Reject(ctx, acme, first.ID, f.acme.actor, "Too late")
		wantErr(t, err, tenants.EConflict, "already decided")

		// A rejection needs a reason, which the partner reads.
		_, err = f.svc.Reject(ctx, acme, second.ID, f.acme.actor, "  ")
		wantCode(t, err, tenants.EInvalid)
		if tenants.ErrorFields(err)["reason"] == "" {
			t.Fatalf("fields %v lack reason", tenants.ErrorFields(err))
		}
		no := must(f.svc.Reject(ctx, acme, second.ID, f.acme.actor, " Not a weather business. "))(t)
		if no.Status != billing.SubRejected || no.Reason != "Not a weather business." || no.EndedAt == nil ||
			no.Notice != "Rejected by Acme: Not a weather business." {
			t.Fatalf("rejected: %+v", no)
		}
		mails = f.mail.take()
		if len(mails) != 2 || !strings.Contains(mails[0].Subject, "rejected") || !strings.Contains(mails[0].Text, "Not a weather business.") {
			t.Fatalf("rejection emails: %+v", mails)
		}
		_, err = f.svc.Approve(ctx, acme, second.ID, f.acme.actor)
		wantErr(t, err, tenants.EConflict, "already decided")

		// A paid plan approved waits for payment.
		gold := must(f.svc.Approve(ctx, acme, paid.ID, f.acme.actor))(t)
		if gold.Status != billing.SubPendingPayment || !strings.Contains(gold.Notice, "checkout") {
			t.Fatalf("approved paid plan: %+v", gold)
		}
		if mails := f.mail.take(); len(mails) != 2 || !strings.Contains(mails[0].Text, "checkout is not available") {
			t.Fatalf("paid approval emails: %+v", mails)
		}
		if l := must(f.svc.ApprovalQueue(ctx, acme, tenants.Page{}))(t); len(l.Items) != 0 {
			t.Fatalf("queue still holds %d requests", len(l.Items))
		}

		// Each side sees the emails of its own members only.
		hist := must(f.svc.SubscriptionHistory(ctx, acme, first.ID))(t)
		if len(hist) != 2 || hist[1].Kind != billing.EventApproved || hist[1].By != billing.ByProvider ||
			hist[1].ActorEmail != "ada@acme.test" || hist[0].ActorEmail != "" {
			t.Fatalf("provider's history: %+v", hist)
		}
		hist = must(f.svc.SubscriptionHistory(ctx, globex, second.ID))(t)
		if len(hist) != 2 || hist[1].Kind != billing.EventRejected || hist[1].ActorEmail != "" ||
			hist[1].Note != "Not a weather business." || hist[0].ActorEmail != "gina@globex.test" {
			t.Fatalf("partner's history: %+v", hist)
		}
		if got, want := f.auditActions(t, acme), []string{"subscription.approve", "subscription.reject", "subscription.approve"}; !slices.Equal(got, want) {
			t.Fatalf("provider audit %v, want %v", got, want)
		}
		if got := f.auditActions(t, globex); len(got) != 3 {
			t.Fatalf("partner audit %v", got)
		}
	})
}

func TestPaidPlanWaitsForPayment(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newSubFixture(t, db)
		ctx := context.Background()
		in := terms("pro", 4900, 100_000)
		in.OverageCentsPer1000 = i64(50)
		f.plan(t, f.weather, in)

		sub := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app1, Plan: "pro"}))(t)
		if sub.Status != billing.SubPendingPayment || !strings.Contains(sub.Notice, "Paying by checkout is not available yet") {
			t.Fatalf("paid subscription: %+v", sub)
		}
		hist := must(f.svc.SubscriptionHistory(ctx, f.globex.org.ID, sub.ID))(t)
		if len(hist) != 1 || hist[0].ToStatus != billing.SubPendingPayment || !strings.Contains(hist[0].Note, "checkout") {
			t.Fatalf("history: %+v", hist)
		}
		live := must(f.svc.LiveSubscriptions(ctx))(t)
		if len(live) != 1 || live[0].Status != billing.SubPendingPayment {
			t.Fatalf("gateway feed: %+v", live)
		}
		// It cannot change plan, but it can be withdrawn at once.
		_, err := f.svc.ChangePlan(ctx, f.globex.org.ID, sub.ID, f.globex.actor, "pro")
		wantErr(t, err, tenants.EConflict, "Only an active subscription")
		got := must(f.svc.Cancel(ctx, f.globex.org.ID, sub.ID, f.globex.actor))(t)
		if got.Status != billing.SubCancelled || got.EndedAt == nil || !got.EndedAt.Equal(f.now) {
			t.Fatalf("cancelled: %+v", got)
		}
	})
}

func TestOneSubscriptionPerAppAndAPI(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newSubFixture(t, db)
		ctx := context.Background()
		f.plan(t, f.weather, terms("free", 0, 1000))
		f.plan(t, f.weather, terms("free-plus", 0, 5000))
		in := terms("vip", 0, 1000)
		in.Approval = billing.ApprovalManual
		f.plan(t, f.weather, in)
		maps := f.api(t, f.acme, "maps", cat.Public, "v1")
		f.plan(t, maps, terms("free", 0, 1000))

		first := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app1, Plan: "free"}))(t)
		_, err := f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app1, Plan: "free-plus"})
		wantErr(t, err, tenants.EConflict, first.ID)
		_, err = f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app1, Version: "v1", Plan: "free"})
		wantErr(t, err, tenants.EConflict, "change its plan or cancel it")

		// A pending request holds the place too.
		pending := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app2, Plan: "vip"}))(t)
		_, err = f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app2, Plan: "free"})
		wantErr(t, err, tenants.EConflict, pending.ID)

		// Another API is another place.
		must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app1, API: "maps", Plan: "free"}))(t)

		// Once the subscription ends, the app may subscribe again.
		must(f.svc.Cancel(ctx, f.globex.org.ID, first.ID, f.globex.actor))(t)
		again := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app1, Plan: "free-plus"}))(t)
		if again.ID == first.ID || again.Status != billing.SubActive {
			t.Fatalf("resubscribed: %+v", again)
		}

		// Racing requests for one app: exactly one wins.
		app := f.app(t, f.globex, "Racer")
		errs := make([]error, 8)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() { _, errs[i] = f.subscribe(f.globex, billing.SubscribeInput{AppID: app, Plan: "free"}) })
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch tenants.ErrorCode(err) {
			case "":
				won++
			case tenants.EConflict:
			default:
				t.Fatalf("racing subscribe failed: %v", err)
			}
		}
		var n int64
		noErr(t, db.Table("subscriptions").Where("app_id = ?", app).Count(&n).Error)
		if won != 1 || n != 1 {
			t.Fatalf("%d racing subscribes won, %d rows, want 1", won, n)
		}
	})
}

func TestChangePlan(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newSubFixture(t, db)
		ctx := context.Background()
		globex := f.globex.org.ID
		free := f.plan(t, f.weather, terms("free", 0, 1000))
		plus := f.plan(t, f.weather, terms("free-plus", 0, 5000))
		pro := f.plan(t, f.weather, terms("pro", 4900, 100_000))
		proPlus := f.plan(t, f.weather, terms("pro-plus", 9900, 500_000))
		in := terms("vip", 0, 9000)
		in.Approval = billing.ApprovalManual
		f.plan(t, f.weather, in)
		in = terms("v2-only", 0, 9000)
		in.Versions = []string{"v2"}
		f.plan(t, f.weather, in)
		f.plan(t, f.weather, terms("legacy", 0, 9000))
		must(f.svc.DeprecatePlan(ctx, f.acme.org.ID, f.weather, "legacy", f.acme.actor))(t)
		must(f.svc.CreatePlan(ctx, f.acme.org.ID, f.weather, f.acme.actor, terms("drafty", 0, 9000)))(t)
		maps := f.api(t, f.acme, "maps", cat.Public, "v1")
		f.plan(t, maps, terms("atlas", 0, 9000))

		sub := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app1, Plan: "free"}))(t)
		start, end := sub.PeriodStart, sub.PeriodEnd

		refusals := []struct {
			plan, code, says string
		}{
			{"atlas", tenants.EInvalid, `no plan "atlas"`},   // a plan of another API
			{"nope", tenants.EInvalid, `no plan "nope"`},     // no such plan
			{"drafty", tenants.EInvalid, `no plan "drafty"`}, // not yet offered
			{"legacy", tenants.EConflict, "deprecated"},      // no longer offered
			{"vip", tenants.EConflict, "needs the provider's approval: cancel"},
			{"pro", tenants.EConflict, "checkout is not available yet"}, // free to paid
			{"v2-only", tenants.EInvalid, "does not grant version v1"},
			{"free", tenants.EConflict, "already on plan"},
			{"", tenants.EInvalid, "Choose a plan"},
		}
		for _, r := range refusals {
			_, err := f.svc.ChangePlan(ctx, globex, sub.ID, f.globex.actor, r.plan)
			wantErr(t, err, r.code, r.says)
		}

		// Same price, more calls: an upgrade, at once, on the same app.
		f.tick()
		up := must(f.svc.ChangePlan(ctx, globex, sub.ID, f.globex.actor, "Free-Plus"))(t)
		if up.ID != sub.ID || up.AppID != f.app1 || up.PlanID != plus.ID || up.NextPlanID != nil || up.Status != billing.SubActive ||
			!up.PeriodStart.Equal(start) || !up.PeriodEnd.Equal(end) {
			t.Fatalf("upgrade: %+v", up)
		}
		// Fewer calls: a downgrade, at the period end.
		down := must(f.svc.ChangePlan(ctx, globex, sub.ID, f.globex.actor, "free"))(t)
		if down.PlanID != plus.ID || down.NextPlanID == nil || *down.NextPlanID != free.ID || down.NextPlan.Slug != "free" ||
			!strings.Contains(down.Notice, "Moves to plan Free on 26 December 2026") {
			t.Fatalf("downgrade: %+v", down)
		}
		// Choosing the current plan again withdraws it; choosing the lower
		// one again schedules it again.
		kept := must(f.svc.ChangePlan(ctx, globex, sub.ID, f.globex.actor, "free-plus"))(t)
		if kept.PlanID != plus.ID || kept.NextPlanID != nil || kept.NextPlan != nil {
			t.Fatalf("withdrawn downgrade: %+v", kept)
		}
		must(f.svc.ChangePlan(ctx, globex, sub.ID, f.globex.actor, "free"))(t)

		// Nothing happens before the period ends.
		if n := must(f.svc.RollPeriods(ctx, end.Add(-time.Second)))(t); n != 0 {
			t.Fatalf("rolled %d periods early", n)
		}
		f.now = end.Add(time.Hour)
		if n := must(f.svc.RollPeriods(ctx, f.now))(t); n != 1 {
			t.Fatalf("rolled %d periods, want 1", n)
		}
		got := must(f.svc.Subscription(ctx, globex, sub.ID))(t)
		if got.PlanID != free.ID || got.NextPlanID != nil || got.AppID != f.app1 || !got.PeriodStart.Equal(end) ||
			!got.PeriodEnd.Equal(time.Date(2027, 1, 26, 12, 0, 0, 0, time.UTC)) {
			t.Fatalf("after the period end: %+v", got)
		}
		// Running the worker again changes nothing.
		if n := must(f.svc.RollPeriods(ctx, f.now))(t); n != 0 {
			t.Fatalf("second run rolled %d", n)
		}
		want := []billing.EventKind{billing.EventCreated, billing.EventPlanChanged, billing.EventPlanChangeScheduled,
			billing.EventPlanChangeCancelled, billing.EventPlanChangeScheduled, billing.EventPlanChanged}
		hist := must(f.svc.SubscriptionHistory(ctx, globex, sub.ID))(t)
		var kinds []billing.EventKind
		for _, e := range hist {
			kinds = append(kinds, e.Kind)
		}
		if !slices.Equal(kinds, want) {
			t.Fatalf("history %v, want %v", kinds, want)
		}
		last := hist[len(hist)-1]
		if last.By != billing.BySystem || *last.FromPlanID != plus.ID || *last.ToPlanID != free.ID || !last.CreatedAt.Equal(f.now) {
			t.Fatalf("period-end change: %+v", last)
		}
		if hist[1].By != billing.ByPartner || *hist[1].FromPlanID != free.ID || *hist[1].ToPlanID != plus.ID {
			t.Fatalf("upgrade event: %+v", hist[1])
		}
		if got, want := f.auditActions(t, globex), []string{"subscription.create", "subscription.change_plan",
			"subscription.schedule_plan_change", "subscription.cancel_plan_change", "subscription.schedule_plan_change",
			"subscription.change_plan"}; !slices.Equal(got, want) {
			t.Fatalf("audit %v, want %v", got, want)
		}

		// A worker that was down skips to the period containing now.
		f.now = time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC)
		if n := must(f.svc.RollPeriods(ctx, f.now))(t); n != 1 {
			t.Fatalf("rolled %d, want 1", n)
		}
		got = must(f.svc.Subscription(ctx, globex, sub.ID))(t)
		if !got.PeriodStart.Equal(time.Date(2027, 3, 26, 12, 0, 0, 0, time.UTC)) || !got.PeriodEnd.Equal(time.Date(2027, 4, 26, 12, 0, 0, 0, time.UTC)) {
			t.Fatalf("period after a gap: %v – %v", got.PeriodStart, got.PeriodEnd)
		}
		if k := f.kinds(t, globex, sub.ID); k[len(k)-1] != billing.EventRenewed {
			t.Fatalf("last event %s, want renewed", k[len(k)-1])
		}

		// Paid to dearer paid is an upgrade at once; back is a downgrade.
		paid := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app2, Plan: "pro"}))(t)
		f.markPaid(t, paid.ID)
		up = must(f.svc.ChangePlan(ctx, globex, paid.ID, f.globex.actor, "pro-plus"))(t)
		if up.PlanID != proPlus.ID || up.NextPlanID != nil {
			t.Fatalf("paid upgrade: %+v", up)
		}
		down = must(f.svc.ChangePlan(ctx, globex, paid.ID, f.globex.actor, "pro"))(t)
		if down.PlanID != proPlus.ID || *down.NextPlanID != pro.ID {
			t.Fatalf("paid downgrade: %+v", down)
		}
		// Paid to free is a downgrade too.
		down = must(f.svc.ChangePlan(ctx, globex, paid.ID, f.globex.actor, "free"))(t)
		if down.PlanID != proPlus.ID || *down.NextPlanID != free.ID {
			t.Fatalf("paid to free: %+v", down)
		}

		// A scheduled plan closed meanwhile is dropped at the period end.
		must(f.svc.ClosePlan(ctx, f.acme.org.ID, f.weather, "free", f.acme.actor))(t)
		f.now = down.PeriodEnd
		must(f.svc.RollPeriods(ctx, f.now))(t)
		got = must(f.svc.Subscription(ctx, globex, paid.ID))(t)
		hist = must(f.svc.SubscriptionHistory(ctx, globex, paid.ID))(t)
		if got.PlanID != proPlus.ID || got.NextPlanID != nil || !strings.Contains(hist[len(hist)-1].Note, "dropped: the plan was closed") {
			t.Fatalf("closed downgrade: %+v, %+v", got, hist[len(hist)-1])
		}
	})
}

func TestCancel(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newSubFixture(t, db)
		ctx := context.Background()
		globex := f.globex.org.ID
		f.plan(t, f.weather, terms("free", 0, 1000))
		f.plan(t, f.weather, terms("pro", 4900, 100_000))
		f.plan(t, f.weather, terms("basic", 1900, 10_000))
		in := terms("vip", 0, 1000)
		in.Approval = billing.ApprovalManual
		f.plan(t, f.weather, in)

		// Free: at once.
		free := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app1, Plan: "free"}))(t)
		f.tick()
		got := must(f.svc.Cancel(ctx, globex, free.ID, f.globex.actor))(t)
		if got.Status != billing.SubCancelled || got.EndedAt == nil || !got.EndedAt.Equal(f.now) || got.CancelAtPeriodEnd {
			t.Fatalf("free cancelled: %+v", got)
		}
		_, err := f.svc.Cancel(ctx, globex, free.ID, f.globex.actor)
		wantErr(t, err, tenants.EConflict, "final")

		// Paid: at the end of the paid period, dropping a scheduled downgrade.
		paid := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app2, Plan: "pro"}))(t)
		f.markPaid(t, paid.ID)
		must(f.svc.ChangePlan(ctx, globex, paid.ID, f.globex.actor, "basic"))(t)
		got = must(f.svc.Cancel(ctx, globex, paid.ID, f.globex.actor))(t)
		if got.Status != billing.SubActive || !got.CancelAtPeriodEnd || got.EndedAt != nil || got.NextPlanID != nil ||
			got.Notice != "Cancelled: ends on 26 December 2026, at the end of the paid period." {
			t.Fatalf("paid cancelled: %+v", got)
		}
		before := len(f.kinds(t, globex, paid.ID))
		again := must(f.svc.Cancel(ctx, globex, paid.ID, f.globex.actor))(t)
		if !equalJSON(t, again, got) || len(f.kinds(t, globex, paid.ID)) != before {
			t.Fatal("cancelling twice changed something")
		}
		_, err = f.svc.ChangePlan(ctx, globex, paid.ID, f.globex.actor, "free")
		wantErr(t, err, tenants.EConflict, "ends on 26 December 2026")
		if live := must(f.svc.LiveSubscriptions(ctx))(t); len(live) != 1 || live[0].ID != paid.ID {
			t.Fatalf("gateway feed before the period end: %+v", live)
		}
		f.now = got.PeriodEnd.Add(time.Minute)
		if n := must(f.svc.RollPeriods(ctx, f.now))(t); n != 1 {
			t.Fatalf("rolled %d", n)
		}
		got = must(f.svc.Subscription(ctx, globex, paid.ID))(t)
		if got.Status != billing.SubCancelled || got.EndedAt == nil || !got.EndedAt.Equal(paid.PeriodEnd) {
			t.Fatalf("after the period end: %+v", got)
		}
		if want := []billing.EventKind{billing.EventCreated, billing.EventPlanChangeScheduled, billing.EventCancelScheduled,
			billing.EventCancelled}; !slices.Equal(f.kinds(t, globex, paid.ID), want) {
			t.Fatalf("history %v, want %v", f.kinds(t, globex, paid.ID), want)
		}
		if live := must(f.svc.LiveSubscriptions(ctx))(t); len(live) != 0 {
			t.Fatalf("gateway feed after the period end: %+v", live)
		}
		if n := must(f.svc.RollPeriods(ctx, f.now))(t); n != 0 {
			t.Fatalf("second run rolled %d", n)
		}

		// A pending request is withdrawn at once and can no longer be approved.
		req := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app1, Plan: "vip"}))(t)
		got = must(f.svc.Cancel(ctx, globex, req.ID, f.globex.actor))(t)
		if got.Status != billing.SubCancelled {
			t.Fatalf("withdrawn: %+v", got)
		}
		_, err = f.svc.Approve(ctx, f.acme.org.ID, req.ID, f.acme.actor)
		wantErr(t, err, tenants.EConflict, "already decided")

		// Deleting an app cancels all its subscriptions at once, paid or not.
		maps := f.api(t, f.acme, "maps", cat.Public, "v1")
		f.plan(t, maps, terms("atlas", 9900, 1000))
		doomed := f.app(t, f.globex, "Doomed")
		a := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: doomed, Plan: "pro"}))(t)
		f.markPaid(t, a.ID)
		b := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: doomed, API: "maps", Plan: "atlas"}))(t)
		other := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app2, Plan: "free"}))(t)
		_, err = f.svc.CancelForApp(ctx, f.acme.org.ID, doomed, f.acme.actor)
		wantCode(t, err, tenants.ENotFound)
		noErr(t, db.Exec("UPDATE apps SET deleted_at = ? WHERE id = ?", f.now, doomed).Error)
		if n := must(f.svc.CancelForApp(ctx, globex, doomed, f.globex.actor))(t); n != 2 {
			t.Fatalf("cancelled %d subscriptions of the app, want 2", n)
		}
		for _, id := range []string{a.ID, b.ID} {
			if got := must(f.svc.Subscription(ctx, globex, id))(t); got.Status != billing.SubCancelled || got.EndedAt == nil {
				t.Fatalf("app's subscription: %+v", got)
			}
		}
		if got := must(f.svc.Subscription(ctx, globex, other.ID))(t); got.Status != billing.SubActive {
			t.Fatalf("another app's subscription is %s", got.Status)
		}
		if n := must(f.svc.CancelForApp(ctx, globex, doomed, f.globex.actor))(t); n != 0 {
			t.Fatalf("second call cancelled %d", n)
		}
		_, err = f.subscribe(f.globex, billing.SubscribeInput{AppID: doomed, Plan: "free"})
		wantCode(t, err, tenants.ENotFound)
	})
}

func TestProviderActions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newSubFixture(t, db)
		ctx := context.Background()
		acme := f.acme.org.ID
		f.plan(t, f.weather, terms("free", 0, 1000))
		in := terms("vip", 0, 1000)
		in.Approval = billing.ApprovalManual
		f.plan(t, f.weather, in)
		sub := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app1, Plan: "free"}))(t)

		_, err := f.svc.Suspend(ctx, acme, sub.ID, f.acme.actor, "")
		wantCode(t, err, tenants.EInvalid)
		_, err = f.svc.Terminate(ctx, acme, sub.ID, f.acme.actor, strings.Repeat("x", 2001))
		wantCode(t, err, tenants.EInvalid)
		_, err = f.svc.Resume(ctx, acme, sub.ID, f.acme.actor)
		wantErr(t, err, tenants.EConflict, "An active subscription can become suspended, cancelled, terminated or ended.")

		got := must(f.svc.Suspend(ctx, acme, sub.ID, f.acme.actor, "Scraping beyond the terms."))(t)
		if got.Status != billing.SubSuspended || got.Reason != "Scraping beyond the terms." ||
			got.Notice != "Suspended by Acme: Scraping beyond the terms." {
			t.Fatalf("suspended: %+v", got)
		}
		mails := f.mail.take()
		if got := recipients(mails); !slices.Equal(got, []string{"gina@globex.test", "gus@globex.test"}) ||
			!strings.Contains(mails[0].Subject, "suspended") || !strings.Contains(mails[0].Text, "Scraping beyond the terms.") {
			t.Fatalf("suspension emails to %v: %+v", got, mails)
		}
		if live := must(f.svc.LiveSubscriptions(ctx))(t); len(live) != 1 || live[0].Status != billing.SubSuspended {
			t.Fatalf("gateway feed: %+v", live)
		}
		_, err = f.svc.Suspend(ctx, acme, sub.ID, f.acme.actor, "Again")
		wantErr(t, err, tenants.EConflict, "A suspended subscription can become active, cancelled, terminated or ended.")

		// A suspended subscription's periods keep running.
		f.now = sub.PeriodEnd
		if n := must(f.svc.RollPeriods(ctx, f.now))(t); n != 1 {
			t.Fatalf("rolled %d", n)
		}
		got = must(f.svc.Resume(ctx, acme, sub.ID, f.acme.actor))(t)
		if got.Status != billing.SubActive || got.Reason != "" || !got.PeriodStart.Equal(sub.PeriodEnd) {
			t.Fatalf("resumed: %+v", got)
		}
		if mails := f.mail.take(); len(mails) != 2 || !strings.Contains(mails[0].Subject, "resumed") {
			t.Fatalf("resume emails: %+v", mails)
		}
		got = must(f.svc.Terminate(ctx, acme, sub.ID, f.acme.actor, "Fraud."))(t)
		if got.Status != billing.SubTerminated || got.Reason != "Fraud." || got.EndedAt == nil {
			t.Fatalf("terminated: %+v", got)
		}
		if mails := f.mail.take(); len(mails) != 2 || !strings.Contains(mails[0].Subject, "terminated") {
			t.Fatalf("termination emails: %+v", mails)
		}
		_, err = f.svc.Resume(ctx, acme, sub.ID, f.acme.actor)
		wantErr(t, err, tenants.EConflict, "A terminated subscription is final")
		_, err = f.svc.Cancel(ctx, f.globex.org.ID, sub.ID, f.globex.actor)
		wantErr(t, err, tenants.EConflict, "final")

		// A request is approved or rejected, not suspended or terminated.
		req := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app2, Plan: "vip"}))(t)
		_, err = f.svc.Suspend(ctx, acme, req.ID, f.acme.actor, "No")
		wantErr(t, err, tenants.EConflict, "A pending approval subscription can become")
		_, err = f.svc.Terminate(ctx, acme, req.ID, f.acme.actor, "No")
		wantCode(t, err, tenants.EConflict)

		want := []billing.EventKind{billing.EventCreated, billing.EventSuspended, billing.EventRenewed, billing.EventResumed, billing.EventTerminated}
		if got := f.kinds(t, acme, sub.ID); !slices.Equal(got, want) {
			t.Fatalf("history %v, want %v", got, want)
		}
		if got, want := f.auditActions(t, acme), []string{"subscription.suspend", "subscription.resume", "subscription.terminate"}; !slices.Equal(got, want) {
			t.Fatalf("provider audit %v, want %v", got, want)
		}
		// The worker's renewal is in the partner's log, by no user.
		var renew tenants.AuditEvent
		noErr(t, db.Where("org_id = ? AND action = ?", f.globex.org.ID, "subscription.renew").Take(&renew).Error)
		if renew.ActorID != nil || renew.ActorEmail != "system" || renew.ObjectID != sub.ID {
			t.Fatalf("renewal audit: %+v", renew)
		}
	})
}

func TestVersionLifecycle(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newSubFixture(t, db)
		ctx := context.Background()
		acme, globex := f.acme.org.ID, f.globex.org.ID
		in := terms("both", 0, 1000)
		in.Versions = []string{"v1", "v2"}
		f.plan(t, f.weather, in)
		f.plan(t, f.weather, terms("v1-only", 0, 1000))
		in = terms("vip", 0, 1000)
		in.Approval = billing.ApprovalManual
		f.plan(t, f.weather, in)

		moved := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app1, Plan: "both"}))(t)
		ends := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app2, Plan: "v1-only"}))(t)
		pending := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app(t, f.globex, "Third"), Plan: "vip"}))(t)
		f.mail.take()

		// Deprecated: existing subscriptions continue, new ones are refused.
		sunset := time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)
		must(f.cat.Deprecate(ctx, acme, "weather", "v1", sunset, f.acme.actor))(t)
		_, err := f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app(t, f.globex, "Late"), Plan: "both"})
		wantErr(t, err, tenants.EConflict, "deprecated and goes offline on 1 February 2027")
		if live := must(f.svc.LiveSubscriptions(ctx))(t); len(live) != 3 {
			t.Fatalf("gateway feed after deprecation: %d subscriptions", len(live))
		}
		_, err = f.svc.EndForVersion(ctx, acme, f.weather, "v1", f.acme.actor)
		wantErr(t, err, tenants.EConflict, "only an offline version")

		// Offline: subscriptions whose plan grants a live version move to it;
		// the rest end and their partners hear of it.
		must(f.cat.TakeOffline(ctx, acme, "weather", "v1", f.acme.actor))(t)
		_, err = f.svc.EndForVersion(ctx, f.globex.org.ID, f.weather, "v1", f.globex.actor)
		wantCode(t, err, tenants.ENotFound)
		f.tick()
		if n := must(f.svc.EndForVersion(ctx, acme, f.weather, "v1", f.acme.actor))(t); n != 2 {
			t.Fatalf("ended %d, want 2", n)
		}
		got := must(f.svc.Subscription(ctx, globex, moved.ID))(t)
		if got.Status != billing.SubActive || got.Version != "v2" {
			t.Fatalf("subscription whose plan grants v2: %+v", got)
		}
		if k := f.kinds(t, globex, moved.ID); k[len(k)-1] != billing.EventVersionMoved {
			t.Fatalf("history %v", k)
		}
		for _, id := range []string{ends.ID, pending.ID} {
			got := must(f.svc.Subscription(ctx, globex, id))(t)
			if got.Status != billing.SubEnded || got.EndedAt == nil || !got.EndedAt.Equal(f.now) ||
				got.Notice != "Ended: version v1 of Weather went offline." {
				t.Fatalf("ended subscription: %+v", got)
			}
		}
		mails := f.mail.take()
		if len(mails) != 4 || !strings.Contains(mails[0].Subject, "ended") || !strings.Contains(mails[0].Text, "offline") {
			t.Fatalf("emails about ended subscriptions: %+v", mails)
		}
		if n := must(f.svc.EndForVersion(ctx, acme, f.weather, "v1", f.acme.actor))(t); n != 0 {
			t.Fatalf("second call ended %d", n)
		}
		live := must(f.svc.LiveSubscriptions(ctx))(t)
		if len(live) != 1 || live[0].ID != moved.ID {
			t.Fatalf("gateway feed after offline: %+v", live)
		}
		_, err = f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app2, Plan: "both"})
		wantErr(t, err, tenants.ENotFound, "offline")
		if got, want := f.auditActions(t, acme), []string{"subscription.move_version", "subscription.end", "subscription.end"}; !slices.Equal(got, want) {
			// Subscriptions are handled in id order: moved, ends, pending.
			t.Fatalf("provider audit %v, want %v", got, want)
		}
	})
}

func TestSubscribeRefusals(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newSubFixture(t, db)
		ctx := context.Background()
		f.plan(t, f.weather, terms("free", 0, 1000))
		in := terms("later", 0, 1000)
		in.Versions = []string{"v2"}
		f.plan(t, f.weather, in)
		must(f.svc.CreatePlan(ctx, f.acme.org.ID, f.weather, f.acme.actor, terms("drafty", 0, 1000)))(t)
		f.plan(t, f.weather, terms("old", 0, 1000))
		must(f.svc.DeprecatePlan(ctx, f.acme.org.ID, f.weather, "old", f.acme.actor))(t)
		f.plan(t, f.weather, terms("gone", 0, 1000))
		must(f.svc.ClosePlan(ctx, f.acme.org.ID, f.weather, "gone", f.acme.actor))(t)
		f.version(t, f.acme, "weather", "v3", false)
		secret := f.api(t, f.acme, "secret", cat.Private, "v1")
		f.plan(t, secret, terms("free", 0, 1000))
		initech := f.signUp(t, "initech", "Initech", "ian@initech.test")
		theirApp := f.app(t, initech, "Theirs")
		deleted := f.app(t, f.globex, "Deleted")
		noErr(t, db.Exec("UPDATE apps SET deleted_at = ? WHERE id = ?", f.now, deleted).Error)

		cases := []struct {
			name string
			in   billing.SubscribeInput
			code string
			says string
		}{
			{"unknown provider", billing.SubscribeInput{ProviderOrg: "nobody", Plan: "free"}, tenants.ENotFound, "API not found"},
			{"unknown api", billing.SubscribeInput{API: "nothing", Plan: "free"}, tenants.ENotFound, "API not found"},
			{"private api of another org", billing.SubscribeInput{API: "secret", Plan: "free"}, tenants.ENotFound, "API not found"},
			{"unknown version", billing.SubscribeInput{Version: "v9", Plan: "free"}, tenants.ENotFound, "Version not found"},
			{"draft version", billing.SubscribeInput{Version: "v3", Plan: "free"}, tenants.ENotFound, "Version not found"},
			{"unknown plan", billing.SubscribeInput{Plan: "nope"}, tenants.ENotFound, "Plan not found"},
			{"draft plan", billing.SubscribeInput{Plan: "drafty"}, tenants.ENotFound, "Plan not found"},
			{"deprecated plan", billing.SubscribeInput{Plan: "old"}, tenants.EConflict, "deprecated and takes no new subscriptions"},
			{"closed plan", billing.SubscribeInput{Plan: "gone"}, tenants.EConflict, "closed and takes no new subscriptions"},
			{"plan without the version", billing.SubscribeInput{Plan: "later"}, tenants.EInvalid, "does not grant version v1"},
			{"another org's app", billing.SubscribeInput{AppID: theirApp, Plan: "free"}, tenants.ENotFound, "App not found"},
			{"deleted app", billing.SubscribeInput{AppID: deleted, Plan: "free"}, tenants.ENotFound, "App not found"},
			{"unknown app", billing.SubscribeInput{AppID: uuid.NewString(), Plan: "free"}, tenants.ENotFound, "App not found"},
			{"message too long", billing.SubscribeInput{Plan: "free", Message: strings.Repeat("m", 2001)}, tenants.EInvalid, "at most 2000"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if tc.in.AppID == "" {
					tc.in.AppID = f.app1
				}
				_, err := f.subscribe(f.globex, tc.in)
				wantErr(t, err, tc.code, tc.says)
			})
		}
		t.Run("missing fields", func(t *testing.T) {
			_, err := f.svc.Subscribe(ctx, f.globex.org.ID, f.globex.actor, billing.SubscribeInput{})
			wantCode(t, err, tenants.EInvalid)
			fields := tenants.ErrorFields(err)
			for _, k := range []string{"app_id", "provider_org", "api", "version", "plan"} {
				if fields[k] == "" {
					t.Errorf("fields %v lack %q", fields, k)
				}
			}
		})
		var n int64
		noErr(t, db.Table("subscriptions").Count(&n).Error)
		if n != 0 {
			t.Fatalf("refused requests left %d subscriptions", n)
		}

		// A provider's own app may use its private API.
		own := f.app(t, f.acme, "Own")
		sub := must(f.subscribe(f.acme, billing.SubscribeInput{AppID: own, API: "secret", Plan: "free"}))(t)
		if sub.OrgID != f.acme.org.ID || sub.ProviderOrgID != f.acme.org.ID || sub.Status != billing.SubActive {
			t.Fatalf("own private subscription: %+v", sub)
		}
	})
}

func TestSubscriptionIsolation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newSubFixture(t, db)
		ctx := context.Background()
		in := terms("vip", 0, 1000)
		in.Approval = billing.ApprovalManual
		f.plan(t, f.weather, in)
		sub := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app1, Plan: "vip"}))(t)
		acme, globex := f.acme.org.ID, f.globex.org.ID
		initech := f.signUp(t, "initech", "Initech", "ian@initech.test") // another partner
		umbrella := f.signUp(t, "umbrella", "Umbrella", "una@umbrella.test")
		f.api(t, umbrella, "weather", cat.Public, "v1") // another provider, same API slug
		other, rogue := initech.org.ID, umbrella.org.ID
		a := initech.actor

		notFound := map[string]func() error{
			"another partner reads":        func() error { _, err := f.svc.Subscription(ctx, other, sub.ID); return err },
			"another partner's history":    func() error { _, err := f.svc.SubscriptionHistory(ctx, other, sub.ID); return err },
			"another partner cancels":      func() error { _, err := f.svc.Cancel(ctx, other, sub.ID, a); return err },
			"another partner changes plan": func() error { _, err := f.svc.ChangePlan(ctx, other, sub.ID, a, "vip"); return err },
			"another partner cancels the app": func() error {
				_, err := f.svc.CancelForApp(ctx, other, f.app1, a)
				return err
			},
			"another provider reads":      func() error { _, err := f.svc.ProviderSubscription(ctx, rogue, sub.ID); return err },
			"another provider's history":  func() error { _, err := f.svc.SubscriptionHistory(ctx, rogue, sub.ID); return err },
			"another provider approves":   func() error { _, err := f.svc.Approve(ctx, rogue, sub.ID, a); return err },
			"another provider rejects":    func() error { _, err := f.svc.Reject(ctx, rogue, sub.ID, a, "x"); return err },
			"another provider suspends":   func() error { _, err := f.svc.Suspend(ctx, rogue, sub.ID, a, "x"); return err },
			"another provider resumes":    func() error { _, err := f.svc.Resume(ctx, rogue, sub.ID, a); return err },
			"another provider terminates": func() error { _, err := f.svc.Terminate(ctx, rogue, sub.ID, a, "x"); return err },
			"another provider's api list": func() error {
				_, err := f.svc.ListSubscribers(ctx, rogue, f.weather, billing.SubscriberFilter{}, tenants.Page{})
				return err
			},
			"another provider ends version": func() error {
				_, err := f.svc.EndForVersion(ctx, rogue, f.weather, "v1", a)
				return err
			},
			"provider through the partner door": func() error { _, err := f.svc.Subscription(ctx, acme, sub.ID); return err },
			"provider cancels":                  func() error { _, err := f.svc.Cancel(ctx, acme, sub.ID, f.acme.actor); return err },
			"partner through the provider door": func() error { _, err := f.svc.ProviderSubscription(ctx, globex, sub.ID); return err },
			"partner approves itself":           func() error { _, err := f.svc.Approve(ctx, globex, sub.ID, f.globex.actor); return err },
			"subscribe another org's app": func() error {
				_, err := f.subscribe(initech, billing.SubscribeInput{AppID: f.app2, Plan: "vip"})
				return err
			},
			"missing id": func() error { _, err := f.svc.Subscription(ctx, globex, uuid.NewString()); return err },
		}
		for name, call := range notFound {
			t.Run(name, func(t *testing.T) { wantCode(t, call(), tenants.ENotFound) })
		}
		lists := map[string]func() (tenants.List[billing.Subscription], error){
			"another partner's list": func() (tenants.List[billing.Subscription], error) {
				return f.svc.ListSubscriptions(ctx, other, billing.SubscriptionFilter{}, tenants.Page{})
			},
			"another provider's subscribers": func() (tenants.List[billing.Subscription], error) {
				return f.svc.ListSubscribers(ctx, rogue, "", billing.SubscriberFilter{}, tenants.Page{})
			},
			"another provider's queue": func() (tenants.List[billing.Subscription], error) {
				return f.svc.ApprovalQueue(ctx, rogue, tenants.Page{})
			},
			"the provider's own partner list": func() (tenants.List[billing.Subscription], error) {
				return f.svc.ListSubscriptions(ctx, acme, billing.SubscriptionFilter{}, tenants.Page{})
			},
		}
		for name, call := range lists {
			t.Run(name, func(t *testing.T) {
				if l := must(call())(t); len(l.Items) != 0 {
					t.Fatalf("sees %d subscriptions", len(l.Items))
				}
			})
		}
		if got := must(f.svc.Subscription(ctx, globex, sub.ID))(t); got.Status != billing.SubPendingApproval || got.UpdatedAt != sub.UpdatedAt {
			t.Fatalf("refused calls changed the subscription: %+v", got)
		}
		if got := must(f.svc.ProviderSubscription(ctx, acme, sub.ID))(t); got.ID != sub.ID {
			t.Fatal("the provider cannot read its subscriber")
		}
		if got := f.auditActions(t, rogue); len(got) != 0 {
			t.Fatalf("refused calls were audited: %v", got)
		}
	})
}

func TestListSubscriptions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newSubFixture(t, db)
		ctx := context.Background()
		f.plan(t, f.weather, terms("free", 0, 1000))
		f.plan(t, f.weather, terms("plus", 0, 5000))
		maps := f.api(t, f.acme, "maps", cat.Public, "v1")
		f.plan(t, maps, terms("free", 0, 1000))
		initech := f.signUp(t, "initech", "Initech", "ian@initech.test")
		pct := f.signUp(t, "pct", "100%_Pure", "pat@pct.test")

		a := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app1, Plan: "free"}))(t)
		b := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app2, Plan: "plus"}))(t)
		c := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app1, API: "maps", Plan: "free"}))(t)
		d := must(f.subscribe(initech, billing.SubscribeInput{AppID: f.app(t, initech, "I"), Plan: "free"}))(t)
		e := must(f.subscribe(pct, billing.SubscribeInput{AppID: f.app(t, pct, "P"), Plan: "plus"}))(t)
		must(f.svc.Cancel(ctx, f.globex.org.ID, b.ID, f.globex.actor))(t)

		ids := func(l tenants.List[billing.Subscription]) []string {
			var out []string
			for _, s := range l.Items {
				out = append(out, s.ID)
			}
			return out
		}
		partner := func(flt billing.SubscriptionFilter) []string {
			return ids(must(f.svc.ListSubscriptions(ctx, f.globex.org.ID, flt, tenants.Page{}))(t))
		}
		provider := func(apiID string, flt billing.SubscriberFilter) []string {
			return ids(must(f.svc.ListSubscribers(ctx, f.acme.org.ID, apiID, flt, tenants.Page{}))(t))
		}
		cases := []struct {
			name      string
			got, want []string
		}{
			{"partner, all, newest first", partner(billing.SubscriptionFilter{}), []string{c.ID, b.ID, a.ID}},
			{"partner, by app", partner(billing.SubscriptionFilter{AppID: f.app1}), []string{c.ID, a.ID}},
			{"partner, by status", partner(billing.SubscriptionFilter{Status: billing.SubCancelled}), []string{b.ID}},
			{"provider, one api", provider(f.weather, billing.SubscriberFilter{}), []string{e.ID, d.ID, b.ID, a.ID}},
			{"provider, all apis", provider("", billing.SubscriberFilter{}), []string{e.ID, d.ID, c.ID, b.ID, a.ID}},
			{"provider, by plan", provider(f.weather, billing.SubscriberFilter{PlanSlug: "PLUS"}), []string{e.ID, b.ID}},
			{"provider, by status", provider(f.weather, billing.SubscriberFilter{Status: billing.SubActive}), []string{e.ID, d.ID, a.ID}},
			{"provider, by partner name", provider("", billing.SubscriberFilter{Q: " GLOBEX corp"}), []string{c.ID, b.ID, a.ID}},
			{"provider, wildcard is literal", provider("", billing.SubscriberFilter{Q: "%_"}), []string{e.ID}},
			{"provider, underscore is literal", provider("", billing.SubscriberFilter{Q: "o_"}), nil},
			{"provider, all filters", provider(f.weather, billing.SubscriberFilter{Status: billing.SubActive, PlanSlug: "free", Q: "init"}), []string{d.ID}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if !slices.Equal(tc.got, tc.want) {
					t.Fatalf("got %v, want %v", tc.got, tc.want)
				}
			})
		}

		// Pages of two cover everything once.
		var all []string
		page := tenants.Page{Limit: 2}
		for range 4 {
			l := must(f.svc.ListSubscribers(ctx, f.acme.org.ID, "", billing.SubscriberFilter{}, page))(t)
			all = append(all, ids(l)...)
			if page.Cursor = l.NextCursor; page.Cursor == "" {
				break
			}
		}
		if want := []string{e.ID, d.ID, c.ID, b.ID, a.ID}; !slices.Equal(all, want) {
			t.Fatalf("paged %v, want %v", all, want)
		}

		_, err := f.svc.ListSubscriptions(ctx, f.globex.org.ID, billing.SubscriptionFilter{Status: "paused"}, tenants.Page{})
		wantCode(t, err, tenants.EInvalid)
		_, err = f.svc.ListSubscribers(ctx, f.acme.org.ID, "", billing.SubscriberFilter{Status: "paused"}, tenants.Page{})
		wantCode(t, err, tenants.EInvalid)
		_, err = f.svc.ListSubscribers(ctx, f.acme.org.ID, "", billing.SubscriberFilter{Q: strings.Repeat("q", 101)}, tenants.Page{})
		wantCode(t, err, tenants.EInvalid)
		_, err = f.svc.ListSubscriptions(ctx, f.globex.org.ID, billing.SubscriptionFilter{}, tenants.Page{Cursor: "!!"})
		wantCode(t, err, tenants.EInvalid)
	})
}

func TestLiveSubscriptions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newSubFixture(t, db)
		ctx := context.Background()
		acme, globex := f.acme.org.ID, f.globex.org.ID
		in := terms("free", 0, 1000)
		in.Versions = []string{"v1", "v2"}
		in.RateLimit = &billing.RateLimit{RequestsPerSecond: 5, Burst: 10}
		in.Quota = billing.Quota{Day: i64(100), Month: i64(1000)}
		free := f.plan(t, f.weather, in)
		in = terms("pro", 4900, 100_000)
		in.OverageCentsPer1000 = i64(50)
		pro := f.plan(t, f.weather, in)
		in = terms("vip", 0, 1000)
		in.Approval = billing.ApprovalManual
		f.plan(t, f.weather, in)

		active := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app1, Plan: "free"}))(t)
		paying := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app2, Plan: "pro"}))(t)
		pending := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app(t, f.globex, "P"), Plan: "vip"}))(t)
		suspended := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app(t, f.globex, "S"), Plan: "free"}))(t)
		must(f.svc.Suspend(ctx, acme, suspended.ID, f.acme.actor, "Abuse."))(t)
		rejected := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app(t, f.globex, "R"), Plan: "vip"}))(t)
		must(f.svc.Reject(ctx, acme, rejected.ID, f.acme.actor, "No."))(t)
		cancelled := must(f.subscribe(f.globex, billing.SubscribeInput{AppID: f.app(t, f.globex, "C"), Plan: "free"}))(t)
		must(f.svc.Cancel(ctx, globex, cancelled.ID, f.globex.actor))(t)
		gone := f.app(t, f.globex, "Gone")
		must(f.subscribe(f.globex, billing.SubscribeInput{AppID: gone, Plan: "free"}))(t)
		noErr(t, db.Exec("UPDATE apps SET deleted_at = ? WHERE id = ?", f.now, gone).Error)

		live := must(f.svc.LiveSubscriptions(ctx))(t)
		byID := map[string]billing.GatewaySubscription{}
		for _, g := range live {
			byID[g.ID] = g
		}
		want := map[string]billing.SubscriptionStatus{
			active.ID: billing.SubActive, paying.ID: billing.SubPendingPayment,
			pending.ID: billing.SubPendingApproval, suspended.ID: billing.SubSuspended,
		}
		if len(live) != len(want) {
			t.Fatalf("feed has %d subscriptions, want %d: %+v", len(live), len(want), live)
		}
		for id, st := range want {
			if byID[id].Status != st {
				t.Fatalf("%s is %q in the feed, want %s", id, byID[id].Status, st)
			}
		}
		g := byID[active.ID]
		wantG := billing.GatewaySubscription{
			ID: active.ID, AppID: f.app1, OrgID: globex, ProviderOrgID: acme, APIID: f.weather, Status: billing.SubActive,
			PlanID: free.ID, Versions: []string{"v1", "v2"}, IncludedCalls: 1000, OverageCentsPer1000: nil,
			RateLimit: &billing.RateLimit{RequestsPerSecond: 5, Burst: 10}, Quota: billing.Quota{Day: i64(100), Month: i64(1000)},
			PeriodStart: active.PeriodStart, PeriodEnd: active.PeriodEnd,
		}
		if !equalJSON(t, g, wantG) {
			gj, _ := json.Marshal(g)
			wj, _ := json.Marshal(wantG)
			t.Fatalf("feed entry\n got %s\nwant %s", gj, wj)
		}
		if p := byID[paying.ID]; p.PlanID != pro.ID || p.OverageCentsPer1000 == nil || *p.OverageCentsPer1000 != 50 ||
			p.RateLimit != nil || p.Quota.Day != nil || p.IncludedCalls != 100_000 {
			t.Fatalf("paid entry: %+v", p)
		}
	})
}
