package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/gateway/sigv4"
	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb/testenv"
	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/portal/gwconfig"
	"github.com/portico-dev/portico/tenants"
	"github.com/portico-dev/portico/tenants/keyring"
)

// TestGatewayNodeFollowsControlPlane runs `portico gateway` against a fresh
// PostgreSQL schema and changes the database through the services, as a
// separate `portico serve` would: the node serves a new API, key and
// subscription, and refuses a revoked key, each within a few seconds
// (the target is 1 s; the measured times are logged). It also checks the
// node says how it propagates and exports the LISTEN connection's state.
func TestGatewayNodeFollowsControlPlane(t *testing.T) {
	base := testenv.Env(t, "PORTICO_TEST_DATABASE_URL")
	ctx := context.Background()
	admin, err := migrations.Open(ctx, migrations.Config{URL: base, MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	schema := "t_gwprop_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec("DROP SCHEMA " + schema + " CASCADE"); admin.Close() })
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	master := strings.Repeat("cd", 32)
	env := map[string]string{"PORTICO_DATABASE_URL": u.String(), "PORTICO_MASTER_KEY": master,
		"PORTICO_GATEWAY_ADDR": "127.0.0.1:0", "PORTICO_ADMIN_ADDR": "127.0.0.1:0", "PORTICO_DATA_DIR": t.TempDir(), "PORTICO_ALLOW_PRIVATE_UPSTREAMS": "true"}
	nctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(nctx, []string{"gateway"}, func(k string) string { return env[k] }, &stdout, &stderr)
	}()
	re := regexp.MustCompile(`Gateway\s+(http://\S+)/\n\s+Metrics\s+(http://\S+)\n`)
	var m []string
	for deadline := time.Now().Add(30 * time.Second); m == nil; m = re.FindStringSubmatch(stdout.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("gateway node did not start:\n%s\n%s", stdout.String(), stderr.String())
		}
		select {
		case err := <-done:
			t.Fatalf("gateway node exited: %v\n%s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	gwURL, metricsURL := m[1], m[2]
	if !strings.Contains(stderr.String(), "LISTEN/NOTIFY") {
		t.Errorf("propagation mode not logged:\n%s", stderr.String())
	}

	// The control plane: the services over their own connections, announcing
	// changes as serve does.
	db, err := migrations.Open(ctx, migrations.Config{URL: u.String(), MaxOpenConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mk, _ := keyring.Parse(master)
	kr, _ := keyring.New(mk)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	notify := (&gwconfig.Notifier{DB: db, Logger: quiet}).Changed
	svc := tenants.NewService(db.DB, tenants.Options{Logger: quiet, Keyring: kr, OnChange: notify})
	cat := catalog.NewService(db.DB, catalog.Options{Keyring: kr, Guard: catalog.UpstreamGuard{AllowPrivate: true}, Logger: quiet, OnChange: notify})
	plans := billing.NewService(db.DB, billing.Options{Versions: cat, Logger: quiet, OnChange: notify})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) }))
	defer upstream.Close()
	cfg := &Config{DataDir: t.TempDir(), Region: "local"}
	d, err := seedDemo(ctx, cfg, svc, cat, plans, upstream.URL, gwURL)
	if err != nil {
		t.Fatal(err)
	}
	changed := time.Now() // the subscription, the last change of the seed, has committed
	call := func() int {
		req, _ := http.NewRequest("GET", d.API.BaseURL+"/hello", nil)
		(&sigv4.Signer{Region: "local"}).Sign(req, d.Partner.AccessKey, d.Partner.SecretKey, "", time.Now())
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	until := func(what string, want int) {
		t.Helper()
		for {
			st := call()
			if st == want {
				t.Logf("%s: enforced %v after the change", what, time.Since(changed).Round(time.Millisecond))
				return
			}
			if time.Since(changed) > 5*time.Second {
				t.Fatalf("%s: still %d after %v, want %d\n%s", what, st, time.Since(changed), want, stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	until("API, key and subscription", 200)
	changed = time.Now()
	ca := tenants.Actor{Email: d.Partner.Email}
	part, err := svc.OrganizationBySlug(ctx, d.Partner.Org)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.RevokeAppKey(ctx, part.ID, d.Partner.App, d.Partner.AccessKey, ca); err != nil {
		t.Fatal(err)
	}
	until("revoked key", 403)

	res, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	v, _, _ := gwconfig.CurrentVersion(ctx, db)
	for _, want := range []string{"portico_gateway_config_listen_connected 1", "portico_gateway_config_version " + strconv.FormatUint(v, 10),
		`portico_gateway_config_rebuilds_total{reason="version",result="ok"}`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("gateway node stop: %v", err)
	}
}
