package gwconfig_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/gateway/sigv4"
	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/migrations/testdb/testenv"
	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/portal/gwconfig"
	"github.com/portico-dev/portico/tenants"
	"github.com/portico-dev/portico/tenants/keyring"
)

// propagationBound is how long after a change the gateway node must enforce
// it. The target is 1 s; the bound leaves room for a loaded CI machine, and
// each test logs what it measured.
const propagationBound = 3 * time.Second

// needPostgres returns a fresh PostgreSQL schema, or skips (fails under
// PORTICO_TEST_STRICT=1) without one.
func needPostgres(t *testing.T) *migrations.DB {
	t.Helper()
	testenv.Env(t, "PORTICO_TEST_DATABASE_URL")
	return testdb.Open(t, migrations.Postgres)
}

// schemaDSN returns a database URL that reaches db's schema, for a second
// connection as another node would open it.
func schemaDSN(t *testing.T, db *migrations.DB) string {
	t.Helper()
	var schema string
	if err := db.Raw("SELECT current_schema()").Scan(&schema).Error; err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(os.Getenv("PORTICO_TEST_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newKeyring returns a keyring with a fresh random master key.
func newKeyring() *keyring.Keyring {
	key := make([]byte, 32)
	rand.Read(key)
	kr, _ := keyring.New(key)
	return kr
}

// newSources wires on db the services a gateway configuration is built
// from; opts adds to the tenants service's options (its logger and keyring
// are set here).
func newSources(db *migrations.DB, kr *keyring.Keyring, opts tenants.Options) gwconfig.Sources {
	opts.Logger, opts.Keyring = quietLog(), kr
	cat := catalog.NewService(db.DB, catalog.Options{Keyring: kr, Logger: quietLog()})
	return gwconfig.Sources{Catalog: cat, Plans: billing.NewService(db.DB, billing.Options{Versions: cat, Logger: quietLog()}),
		Tenants: tenants.NewService(db.DB, opts)}
}

// TestBump: every bump moves the version by one; on PostgreSQL a listener
// hears "<schema>:<version>" on the channel.
func TestBump(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		ctx := context.Background()
		var conn *pgx.Conn
		var schema string
		if db.Dialect == migrations.Postgres {
			var err error
			if conn, err = pgx.Connect(ctx, schemaDSN(t, db)); err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, "LISTEN "+gwconfig.Channel); err != nil {
				t.Fatal(err)
			}
			conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema)
		}
		v0, at0, err := gwconfig.CurrentVersion(ctx, db)
		if err != nil || v0 != 1 || at0.IsZero() {
			t.Fatalf("initial version %d at %v: %v", v0, at0, err)
		}
		for i := uint64(1); i <= 3; i++ {
			v, err := gwconfig.Bump(ctx, db)
			if err != nil || v != v0+i {
				t.Fatalf("bump %d = %d, %v", i, v, err)
			}
			if cur, _, _ := gwconfig.CurrentVersion(ctx, db); cur != v {
				t.Fatalf("current = %d after bump to %d", cur, v)
			}
			if conn == nil {
				continue
			}
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			n, err := conn.WaitForNotification(wctx)
			cancel()
			if err != nil {
				t.Fatalf("no notification for version %d: %v", v, err)
			}
			if n.Channel != gwconfig.Channel || n.Payload != schema+":"+strconv.FormatUint(v, 10) {
				t.Fatalf("notification %q on %q", n.Payload, n.Channel)
			}
		}
	})
}

// controlPlane is what a portal process runs: the services, announcing
// their changes through a Notifier.
type controlPlane struct {
	svc   *tenants.Service
	cat   *catalog.Service
	plans *billing.Service
	kr    *keyring.Keyring
}

// world is the state the tests change: one provider API live with a free
// plan, one partner app with a key and an active subscription.
type world struct {
	partnerOrg, app, sub string
	partner              tenants.Actor
	ak, sk               string
}

func newControlPlane(t *testing.T, db *migrations.DB, kr *keyring.Keyring, onChange func(context.Context)) *controlPlane {
	t.Helper()
	pp := tenants.FastPasswordParams
	cp := &controlPlane{kr: kr}
	cp.svc = tenants.NewService(db.DB, tenants.Options{Logger: quietLog(), Keyring: kr, PasswordParams: &pp, OnChange: onChange})
	cp.cat = catalog.NewService(db.DB, catalog.Options{Keyring: kr, Guard: catalog.UpstreamGuard{AllowPrivate: true}, Logger: quietLog(), OnChange: onChange})
	cp.plans = billing.NewService(db.DB, billing.Options{Versions: cp.cat, Logger: quietLog(), OnChange: onChange})
	cp.cat.SetOnOffline(cp.plans.EndVersionSubscriptions)
	return cp
}

func (cp *controlPlane) seed(t *testing.T) world {
	t.Helper()
	ctx := context.Background()
	prov, err := cp.svc.SignUp(ctx, tenants.SignUpInput{Name: "Paula", Email: "paula@example.com", Password: "correct horse battery", OrgName: "Acme", OrgSlug: "acme"}, "")
	if err != nil {
		t.Fatal(err)
	}
	pa := tenants.Actor{UserID: prov.User.ID, Email: prov.User.Email}
	api, err := cp.cat.CreateAPI(ctx, prov.Org.ID, pa, catalog.APIInput{Slug: "weather", Name: "Weather", Visibility: catalog.Public})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cp.cat.CreateVersion(ctx, prov.Org.ID, "weather", pa, catalog.VersionInput{Version: "v1", Mock: true,
		Operations: []catalog.OperationInput{{Method: "GET", Path: "/forecast"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.cat.Deploy(ctx, prov.Org.ID, "weather", "v1", catalog.EnvProduction, pa, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.plans.CreatePlan(ctx, prov.Org.ID, api.ID, pa, billing.PlanInput{Slug: "free", Name: "Free", Currency: "usd", IncludedCalls: 1000, Versions: []string{"v1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.plans.PublishPlan(ctx, prov.Org.ID, api.ID, "free", pa); err != nil {
		t.Fatal(err)
	}
	part, err := cp.svc.SignUp(ctx, tenants.SignUpInput{Name: "Pat", Email: "pat@example.com", Password: "correct horse battery", OrgName: "Partner", OrgSlug: "partner"}, "")
	if err != nil {
		t.Fatal(err)
	}
	w := world{partnerOrg: part.Org.ID, partner: tenants.Actor{UserID: part.User.ID, Email: part.User.Email}}
	app, err := cp.svc.CreateApp(ctx, w.partnerOrg, w.partner, tenants.AppInput{Name: "Widget"})
	if err != nil {
		t.Fatal(err)
	}
	w.app = app.ID
	key, err := cp.svc.CreateAppKey(ctx, w.partnerOrg, w.app, w.partner, tenants.KeyInput{Name: "one"})
	if err != nil {
		t.Fatal(err)
	}
	w.ak, w.sk = key.AccessKey, key.SecretKey
	sub, err := cp.plans.Subscribe(ctx, w.partnerOrg, w.partner, billing.SubscribeInput{AppID: w.app, ProviderOrg: "acme", API: "weather", Version: "v1", Plan: "free"})
	if err != nil || sub.Status != billing.SubActive {
		t.Fatalf("subscribe: %v %v", sub.Status, err)
	}
	w.sub = sub.ID
	return w
}

// node is a gateway node: its own database handle, reloader, store and
// HTTP server.
type node struct {
	rl  *gwconfig.Reloader
	srv *httptest.Server
	reg *prometheus.Registry
}

// startNode starts a gateway node on db with the reloader adjusted by
// tune; listen also starts its LISTEN connection to dsn.
func startNode(t *testing.T, ctx context.Context, db *migrations.DB, kr *keyring.Keyring, dsn string, tune func(*gwconfig.Reloader)) *node {
	t.Helper()
	n := &node{rl: gwconfig.NewReloader(gateway.NewStore(nil), db), reg: prometheus.NewRegistry()}
	n.rl.Sources = newSources(db, kr, tenants.Options{})
	n.rl.Logger = quietLog()
	if tune != nil {
		tune(n.rl)
	}
	if err := n.rl.Register(n.reg); err != nil {
		t.Fatal(err)
	}
	if err := n.rl.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	go n.rl.Run(ctx)
	if dsn != "" {
		go n.rl.Listen(ctx, dsn)
		waitFor(t, 10*time.Second, "LISTEN connection", func() bool { return gauge(t, n.reg, "portico_gateway_config_listen_connected") == 1 })
	}
	h, err := gateway.NewHandler(n.rl.Store, gateway.Options{Region: "local", Logger: quietLog(),
		// The test polls with revoked keys from one address: no ban.
		Protection: &gateway.Protection{RequestsPerSecond: 1e6, Burst: 1e6}})
	if err != nil {
		t.Fatal(err)
	}
	n.srv = httptest.NewServer(h)
	t.Cleanup(n.srv.Close)
	return n
}

// call makes a signed call and returns its status and problem type.
func (n *node) call(t *testing.T, ak, sk string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", n.srv.URL+"/acme/weather/v1/forecast", nil)
	if err := (&sigv4.Signer{Region: "local"}).Sign(req, ak, sk, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p struct{ Type string }
	json.NewDecoder(res.Body).Decode(&p)
	return res.StatusCode, p.Type[strings.LastIndexByte(p.Type, '/')+1:]
}

// enforced waits until a signed call answers want (status and problem
// type, "" for none), starting the clock at changed, and fails when that
// takes longer than propagationBound.
func (n *node) enforced(t *testing.T, what string, changed time.Time, ak, sk string, want int, wantType string) {
	t.Helper()
	for {
		st, typ := n.call(t, ak, sk)
		if st == want && typ == wantType {
			t.Logf("%s enforced %v after the change", what, time.Since(changed).Round(time.Millisecond))
			return
		}
		if time.Since(changed) > propagationBound {
			t.Fatalf("%s: still %d %q %v after the change, want %d %q", what, st, typ, propagationBound, want, wantType)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPropagation: changes made by a control plane reach a separate
// gateway node through each mechanism alone — NOTIFY with the version poll
// and full rebuild off, the version poll with no LISTEN, and on one node
// the in-process signal with nothing else.
func TestPropagation(t *testing.T) {
	type mode struct {
		name   string
		sqlite bool
		listen bool
		tune   func(*gwconfig.Reloader)
	}
	for _, m := range []mode{
		{name: "notify", listen: true, tune: func(r *gwconfig.Reloader) { r.PollInterval, r.FullInterval = 0, 0 }},
		{name: "version poll", tune: func(r *gwconfig.Reloader) { r.FullInterval = 0 }},
		{name: "in process", sqlite: true, tune: func(r *gwconfig.Reloader) { r.PollInterval, r.FullInterval = 0, 0 }},
	} {
		t.Run(m.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			kr := newKeyring()
			var cpDB, nodeDB *migrations.DB
			dsn := ""
			if m.sqlite {
				cpDB = testdb.Open(t, migrations.SQLite)
				nodeDB = cpDB
			} else {
				cpDB = needPostgres(t)
				var err error
				if nodeDB, err = migrations.Open(ctx, migrations.Config{URL: schemaDSN(t, cpDB), MaxOpenConns: 4}); err != nil {
					t.Fatal(err)
				}
				defer nodeDB.Close()
				if m.listen {
					dsn = schemaDSN(t, cpDB)
				}
			}
			notifier := &gwconfig.Notifier{DB: cpDB, Logger: quietLog()}
			cp := newControlPlane(t, cpDB, kr, notifier.Changed)
			w := cp.seed(t)
			n := startNode(t, ctx, nodeDB, kr, dsn, m.tune)
			if m.sqlite {
				notifier.Local = n.rl // one process: the signal is in process
			}
			if st, typ := n.call(t, w.ak, w.sk); st != 200 {
				t.Fatalf("before any change: %d %s", st, typ)
			}

			// A new key works, then stops when revoked.
			changed := time.Now()
			k2, err := cp.svc.CreateAppKey(ctx, w.partnerOrg, w.app, w.partner, tenants.KeyInput{Name: "two"})
			if err != nil {
				t.Fatal(err)
			}
			n.enforced(t, "new key", changed, k2.AccessKey, k2.SecretKey, 200, "")
			changed = time.Now()
			if err := cp.svc.RevokeAppKey(ctx, w.partnerOrg, w.app, k2.AccessKey, w.partner); err != nil {
				t.Fatal(err)
			}
			n.enforced(t, "revoked key", changed, k2.AccessKey, k2.SecretKey, 403, sigv4.TypeInvalidAccessKey)

			// A cancelled subscription stops the first key's calls.
			changed = time.Now()
			if _, err := cp.plans.Cancel(ctx, w.partnerOrg, w.sub, w.partner); err != nil {
				t.Fatal(err)
			}
			n.enforced(t, "cancelled subscription", changed, w.ak, w.sk, 403, "no-subscription")

			// Every node reports the database's version.
			db, _, err := gwconfig.CurrentVersion(ctx, cpDB)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, 5*time.Second, "served version = database version", func() bool { return n.rl.Served() == db })
			if v := n.rl.Store.Load().Version(); v != db {
				t.Fatalf("snapshot version %d, database %d", v, db)
			}
		})
	}
}

// TestNoRebuildWithoutChange: the version check rebuilds only when the
// version moved; another schema's announcements are ignored.
func TestNoRebuildWithoutChange(t *testing.T) {
	cpDB := needPostgres(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kr := newKeyring()
	n := startNode(t, ctx, cpDB, kr, schemaDSN(t, cpDB), func(r *gwconfig.Reloader) {
		r.PollInterval, r.FullInterval = 20*time.Millisecond, 0
	})
	// ~25 version checks and a foreign schema's announcement: no rebuild.
	if err := cpDB.Exec("SELECT pg_notify(?, ?)", gwconfig.Channel, "some_other_schema:999").Error; err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if got := counter(t, n.reg, "portico_gateway_config_rebuilds_total"); got != 1 {
		t.Fatalf("%v rebuilds without a change, want 1 (the first)", got)
	}
	if got := counter(t, n.reg, "portico_gateway_config_notifications_total"); got != 0 {
		t.Fatalf("%v notifications counted from another schema", got)
	}
	// One bump: exactly one more rebuild, although both the notification
	// and the poll see it.
	v, err := gwconfig.Bump(ctx, cpDB)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "rebuild to the bumped version", func() bool { return n.rl.Served() == v })
	time.Sleep(300 * time.Millisecond)
	if got := counter(t, n.reg, "portico_gateway_config_rebuilds_total"); got != 2 {
		t.Fatalf("%v rebuilds after one bump, want 2", got)
	}
	if got := gauge(t, n.reg, "portico_gateway_config_latest_version"); got != float64(v) {
		t.Fatalf("latest version metric %v, want %d", got, v)
	}
}

// TestOneRebuildPerLocalChange: in a process that both makes a change and
// listens, the in-process signal, its own notification and the version
// poll all see the change, and it rebuilds once.
func TestOneRebuildPerLocalChange(t *testing.T) {
	db := needPostgres(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kr := newKeyring()
	n := startNode(t, ctx, db, kr, schemaDSN(t, db), func(r *gwconfig.Reloader) { r.PollInterval, r.FullInterval = 20*time.Millisecond, 0 })
	notifier := &gwconfig.Notifier{DB: db, Local: n.rl, Logger: quietLog()}
	notifier.Changed(ctx)
	v, _, err := gwconfig.CurrentVersion(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "rebuild to the new version", func() bool { return n.rl.Served() == v })
	waitFor(t, 5*time.Second, "the notification", func() bool { return counter(t, n.reg, "portico_gateway_config_notifications_total") == 1 })
	time.Sleep(200 * time.Millisecond)
	if got := counter(t, n.reg, "portico_gateway_config_rebuilds_total"); got != 2 {
		t.Fatalf("%v rebuilds for the first build and one change, want 2", got)
	}
}

// TestListenReconnects: a LISTEN connection killed by the server is
// re-opened, and notifications flow again.
func TestListenReconnects(t *testing.T) {
	cpDB := needPostgres(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kr := newKeyring()
	// The listener's application name tells its session from every other
	// test's.
	var schema string
	cpDB.Raw("SELECT current_schema()").Scan(&schema)
	app := "listen_" + schema
	n := startNode(t, ctx, cpDB, kr, schemaDSN(t, cpDB)+"&application_name="+app, func(r *gwconfig.Reloader) { r.PollInterval, r.FullInterval = 0, 0 })
	res := cpDB.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ?", app)
	if res.Error != nil {
		t.Fatal(res.Error)
	}
	waitFor(t, 5*time.Second, "LISTEN connection lost", func() bool { return gauge(t, n.reg, "portico_gateway_config_listen_connected") == 0 })
	waitFor(t, 15*time.Second, "LISTEN connection back", func() bool { return gauge(t, n.reg, "portico_gateway_config_listen_connected") == 1 })
	v, err := gwconfig.Bump(ctx, cpDB)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "rebuild after reconnecting", func() bool { return n.rl.Served() == v })
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}

// metric sums a metric family's values on reg.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	return metric(t, reg, name)
}
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 { return metric(t, reg, name) }
