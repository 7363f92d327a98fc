package gwconfig_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-dev/portico/gateway/sigv4"
	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/portal/domains"
	"github.com/portico-dev/portico/portal/gwconfig"
	"github.com/portico-dev/portico/tenants"
)

// rebuilds returns the rebuild counter for one result ("ok", "error").
func rebuilds(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "portico_gateway_config_rebuilds_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

// TestBadRevisionDoesNotBlockOtherTenants: a provider deploys a revision
// the catalog accepts but the gateway's router refuses (two GET operations
// whose templates differ only in the parameter's name). That version is
// left out; every other change — here a revoked key of another
// organisation — still reaches the gateway, and the other APIs keep
// serving.
func TestBadRevisionDoesNotBlockOtherTenants(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kr := newKeyring()
	db := testdb.Open(t, migrations.SQLite)
	notifier := &gwconfig.Notifier{DB: db, Logger: quietLog()}
	cp := newControlPlane(t, db, kr, notifier.Changed)
	w := cp.seed(t)
	n := startNode(t, ctx, db, kr, "", func(r *gwconfig.Reloader) { r.PollInterval, r.FullInterval = 20*time.Millisecond, 0 })
	notifier.Local = n.rl
	k2, err := cp.svc.CreateAppKey(ctx, w.partnerOrg, w.app, w.partner, tenants.KeyInput{Name: "two"})
	if err != nil {
		t.Fatal(err)
	}
	n.enforced(t, "new key", time.Now(), k2.AccessKey, k2.SecretKey, 200, "")

	// The provider of "weather" deploys a second API the gateway cannot
	// route.
	var userID string
	if err := db.Raw("SELECT id FROM users WHERE email = ?", "paula@example.com").Scan(&userID).Error; err != nil || userID == "" {
		t.Fatalf("provider user: %q %v", userID, err)
	}
	pa := tenants.Actor{UserID: userID, Email: "paula@example.com"}
	org, err := cp.svc.OrganizationBySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	orgID := org.ID
	if _, err := cp.cat.CreateAPI(ctx, orgID, pa, catalog.APIInput{Slug: "pets", Name: "Pets", Visibility: catalog.Public}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cp.cat.CreateVersion(ctx, orgID, "pets", pa, catalog.VersionInput{Version: "v1", Mock: true,
		Operations: []catalog.OperationInput{{Method: "GET", Path: "/pets/{id}"}}}); err != nil {
		t.Fatal(err)
	}
	rev, err := cp.cat.Deploy(ctx, orgID, "pets", "v1", catalog.EnvProduction, pa, "")
	if err != nil {
		t.Fatal(err)
	}
	// The catalog now refuses to deploy routes the gateway cannot serve,
	// but revisions deployed before it did are in the database: make this
	// one such, with a second template that is the same route.
	snap := rev.Snapshot
	snap.Operations = append(snap.Operations, snap.Operations[0])
	snap.Operations[1].Path, snap.Operations[1].OperationID = "/pets/{name}", "by_name"
	b, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("UPDATE revisions SET snapshot = ? WHERE id = ?", string(b), rev.ID).Error; err != nil {
		t.Fatal(err)
	}
	notifier.Changed(ctx) // as a deployment announces itself
	waitFor(t, 5*time.Second, "the rebuild after the deploy", func() bool {
		v, _, _ := gwconfig.CurrentVersion(ctx, db)
		return n.rl.Served() == v || rebuilds(t, n.reg, "error") > 0
	})

	// Another organisation's revocation is enforced all the same.
	changed := time.Now()
	if err := cp.svc.RevokeAppKey(ctx, w.partnerOrg, w.app, k2.AccessKey, w.partner); err != nil {
		t.Fatal(err)
	}
	n.enforced(t, "revoked key while another tenant's revision is bad", changed, k2.AccessKey, k2.SecretKey, 403, sigv4.TypeInvalidAccessKey)
	if st, typ := n.call(t, w.ak, w.sk); st != 200 {
		t.Fatalf("the good API: %d %s", st, typ)
	}
	res, err := http.Get(n.srv.URL + "/acme/pets/v1/pets/1")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("the version the gateway cannot route answered %d, want 404 (left out)", res.StatusCode)
	}
	for _, a := range n.rl.Store.Load().APIs() {
		if a.APISlug == "pets" {
			t.Fatal("the bad version is in the snapshot")
		}
	}
}

// TestFailedRebuildRetried: a rebuild asked for by Trigger (a change whose
// version bump failed) that fails — here the database refuses a read — is
// retried by the next version check although the version did not move,
// not only at the next full rebuild (off here).
func TestFailedRebuildRetried(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kr := newKeyring()
	db := testdb.Open(t, migrations.SQLite)
	cp := newControlPlane(t, db, kr, nil) // changes are announced by hand below
	w := cp.seed(t)
	n := startNode(t, ctx, db, kr, "", func(r *gwconfig.Reloader) {
		r.PollInterval, r.FullInterval = 20*time.Millisecond, 0
		r.Sources.Domains = domains.NewService(db.DB, domains.Options{Keyring: kr, Logger: quietLog(), AnyIssuer: true})
	})
	k2, err := cp.svc.CreateAppKey(ctx, w.partnerOrg, w.app, w.partner, tenants.KeyInput{Name: "two"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("ALTER TABLE custom_domains RENAME TO custom_domains_away").Error; err != nil {
		t.Fatal(err)
	}
	n.rl.Trigger(ctx) // as Notifier.Changed does when its bump fails
	waitFor(t, 5*time.Second, "the failed rebuild", func() bool { return rebuilds(t, n.reg, "error") > 0 })
	// While the failure lasts the retries back off (250 ms, 500 ms, 1 s…)
	// rather than rebuild at every 20 ms check: about 100 in two seconds.
	time.Sleep(2 * time.Second)
	if got := rebuilds(t, n.reg, "error"); got > 6 {
		t.Fatalf("%v failed rebuilds in 2 s of a lasting failure: no back-off", got)
	}
	changed := time.Now()
	if err := db.Exec("ALTER TABLE custom_domains_away RENAME TO custom_domains").Error; err != nil {
		t.Fatal(err)
	}
	n.enforced(t, "new key after a failed rebuild", changed, k2.AccessKey, k2.SecretKey, 200, "")
}

// TestNotificationsDuringRebuild: notifications that arrive while a
// rebuild runs are not lost — one more rebuild follows, to the newest
// version — and several of them collapse into that one.
func TestNotificationsDuringRebuild(t *testing.T) {
	db := needPostgres(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kr := newKeyring()
	var armed atomic.Bool
	entered, release := make(chan struct{}, 1), make(chan struct{})
	n := startNode(t, ctx, db, kr, schemaDSN(t, db), func(r *gwconfig.Reloader) {
		r.PollInterval, r.FullInterval = 0, 0 // notifications alone
		r.Sources.Now = func() time.Time {
			if armed.CompareAndSwap(true, false) {
				entered <- struct{}{}
				<-release
			}
			return time.Now()
		}
	})
	armed.Store(true)
	v2, err := gwconfig.Bump(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	<-entered // the rebuild to v2 (or later) is running
	for range 2 {
		if _, err := gwconfig.Bump(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	last, _, _ := gwconfig.CurrentVersion(ctx, db)
	waitFor(t, 5*time.Second, "three notifications", func() bool {
		return counter(t, n.reg, "portico_gateway_config_notifications_total") == 3
	})
	close(release)
	waitFor(t, propagationBound, "the newest version served", func() bool { return n.rl.Served() == last })
	time.Sleep(200 * time.Millisecond)
	// The first build, the one held (v2), and one for both later bumps.
	if got := rebuilds(t, n.reg, "ok"); got != 3 {
		t.Fatalf("%v rebuilds (v2 = %d, last = %d), want 3", got, v2, last)
	}
}

// TestSwapsInVersionOrder: rebuilds racing (Reload from several goroutines
// while the version moves) never replace a newer snapshot with an older
// one.
func TestSwapsInVersionOrder(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kr := newKeyring()
	db := testdb.Open(t, migrations.SQLite)
	n := startNode(t, ctx, db, kr, "", func(r *gwconfig.Reloader) { r.PollInterval, r.FullInterval = 5*time.Millisecond, 0 })
	stop := make(chan struct{})
	var bad atomic.Value
	var watch sync.WaitGroup
	watch.Go(func() {
		prev := uint64(0)
		for {
			select {
			case <-stop:
				return
			default:
			}
			v := n.rl.Store.Load().Version()
			if v < prev {
				bad.Store([2]uint64{prev, v})
				return
			}
			prev = v
		}
	})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				if err := n.rl.Reload(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 20 {
		if _, err := gwconfig.Bump(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(stop)
	watch.Wait()
	if b := bad.Load(); b != nil {
		t.Fatalf("snapshot version went back: %v", b)
	}
}

// TestListenGapCaughtUp: a change announced while the LISTEN connection is
// down is picked up as soon as it is back (the version is checked on every
// reconnect), with no version poll and no further change.
func TestListenGapCaughtUp(t *testing.T) {
	db := needPostgres(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kr := newKeyring()
	var schema string
	db.Raw("SELECT current_schema()").Scan(&schema)
	app := "gap_" + schema
	n := startNode(t, ctx, db, kr, schemaDSN(t, db)+"&application_name="+app, func(r *gwconfig.Reloader) { r.PollInterval, r.FullInterval = 0, 0 })
	if err := db.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ?", app).Error; err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "LISTEN connection lost", func() bool { return gauge(t, n.reg, "portico_gateway_config_listen_connected") == 0 })
	v, err := gwconfig.Bump(ctx, db) // heard by no one
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the change made while LISTEN was down", func() bool { return n.rl.Served() == v })
}
