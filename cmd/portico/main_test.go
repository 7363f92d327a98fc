package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/gateway/sigv4"
	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb/testenv"
	"github.com/portico-dev/portico/portal/gwconfig"
)

// TestRebuildGCPercent: with GOGC unset (main then serves with 200) the
// gateway rebuilds its configuration with less headroom; an operator's
// GOGC is left alone throughout.
func TestRebuildGCPercent(t *testing.T) {
	for gogc, want := range map[string]int{"": gwconfig.DefaultRebuildGCPercent, "150": 0, "off": 0} {
		c, err := parseConfig("t", nil, func(k string) string { return map[string]string{"GOGC": gogc}[k] })
		if err != nil || c.RebuildGCPercent != want {
			t.Fatalf("GOGC=%q: RebuildGCPercent %d, %v; want %d", gogc, c.RebuildGCPercent, err, want)
		}
	}
}

func TestParseConfigPrecedence(t *testing.T) {
	env := map[string]string{"PORTICO_PORTAL_ADDR": "127.0.0.1:9999", "PORTICO_SESSION_TTL": "2h", "PORTICO_DATA_DIR": "/env"}
	c, err := parseConfig("t", []string{"--data-dir", "/flag"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.PortalAddr != "127.0.0.1:9999" || c.DataDir != "/flag" || c.SessionTTL != 2*time.Hour || c.GatewayAddr != "127.0.0.1:8000" {
		t.Fatalf("config = %+v", c)
	}
	if c.BaseURL != "http://127.0.0.1:9999" {
		t.Fatalf("base url = %q", c.BaseURL)
	}
	c, err = parseConfig("t", []string{"--trusted-proxies", "10.0.0.0/8, 192.0.2.7"}, func(string) string { return "" })
	if err != nil || len(c.TrustedPrefixes) != 2 || c.TrustedPrefixes[1].String() != "192.0.2.7/32" || c.TrustedProxies[0] != "10.0.0.0/8" {
		t.Fatalf("trusted proxies: %v %v %v", err, c.TrustedProxies, c.TrustedPrefixes)
	}
	for env, want := range map[string]int{"": 64, "56": 56, "128": 128} {
		c, err := parseConfig("t", nil, func(k string) string { return map[string]string{"PORTICO_GATEWAY_IPV6_PREFIX": env}[k] })
		if err != nil {
			t.Fatal(err)
		}
		if p, err := protection(c); err != nil || c.GatewayIPv6Prefix != want || p.IPv6PrefixLen != want {
			t.Fatalf("PORTICO_GATEWAY_IPV6_PREFIX=%q: %v %d %+v", env, err, c.GatewayIPv6Prefix, p)
		}
	}
	// The nonce store's share per organisation reaches the store: with a
	// share of 2, an organisation's third nonce is refused.
	for env, want := range map[string]int{"": 1 << 18, "2": 2} {
		c, err := parseConfig("t", nil, func(k string) string { return map[string]string{"PORTICO_GATEWAY_NONCES_PER_ORG": env}[k] })
		if err != nil || c.GatewayNoncesPerOrg != want {
			t.Fatalf("PORTICO_GATEWAY_NONCES_PER_ORG=%q: %d, %v", env, c.GatewayNoncesPerOrg, err)
		}
	}
	c, err = parseConfig("t", []string{"--gateway-nonces-per-org", "2"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	sh, closeShared, err := connectShared(context.Background(), c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer closeShared()
	store := sh.nonces.(sigv4.NonceShareStore)
	for i, want := range []bool{true, true, false} {
		ok, err := store.ClaimShare(context.Background(), "org-1", "PKCONFIGTEST00000001", "n"+strconv.Itoa(i), time.Minute)
		if ok != want || (!want && !errors.Is(err, sigv4.ErrNonceKeyLimit)) {
			t.Fatalf("claim %d with a share of 2: %v, %v", i, ok, err)
		}
	}
	// true/false/auto settings: auto is on with SQLite, off with PostgreSQL.
	for env, want := range map[string][2]bool{"": {true, false}, "auto": {true, false}, "TRUE": {true, true}, "off": {false, false}} {
		c, err := parseConfig("t", nil, func(k string) string { return map[string]string{"PORTICO_CUSTOM_DOMAIN_ANY_ISSUER": env}[k] })
		if err != nil {
			t.Fatal(err)
		}
		lite, pg := domainOptions(c, migrations.SQLite, nil, nil, nil).AnyIssuer, domainOptions(c, migrations.Postgres, nil, nil, nil).AnyIssuer
		if lite != want[0] || pg != want[1] {
			t.Fatalf("PORTICO_CUSTOM_DOMAIN_ANY_ISSUER=%q: any issuer with SQLite %v, PostgreSQL %v; want %v", env, lite, pg, want)
		}
	}
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
	}{
		"bad any-issuer":    {env: map[string]string{"PORTICO_CUSTOM_DOMAIN_ANY_ISSUER": "maybe"}},
		"bad duration flag": {args: []string{"--session-ttl", "soon"}},
		"bad duration env":  {env: map[string]string{"PORTICO_SHUTDOWN_TIMEOUT": "-1s"}},
		"bad log format":    {args: []string{"--log-format", "xml"}},
		"stray argument":    {args: []string{"extra"}},
		"unknown flag":      {args: []string{"--nope"}},
		"bad trusted proxy": {env: map[string]string{"PORTICO_TRUSTED_PROXIES": "10.0.0.0/8, lb.internal"}},
		"ipv6 prefix 0":     {env: map[string]string{"PORTICO_GATEWAY_IPV6_PREFIX": "0"}},
		"ipv6 prefix 129":   {args: []string{"--gateway-ipv6-prefix", "129"}},
		"ipv6 prefix /64":   {args: []string{"--gateway-ipv6-prefix", "/64"}},
		"nonces per org 0":  {env: map[string]string{"PORTICO_GATEWAY_NONCES_PER_ORG": "0"}},
		"nonces per org 2M": {args: []string{"--gateway-nonces-per-org", "2097152"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseConfig("t", tc.args, func(k string) string { return tc.env[k] }); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestReadmeDocumentsEveryOption keeps the README's configuration table true.
func TestReadmeDocumentsEveryOption(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range options() {
		if !strings.Contains(string(b), "`--"+o.flag+"`") || !strings.Contains(string(b), "`"+o.env+"`") {
			t.Errorf("README lacks --%s / %s", o.flag, o.env)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeStartsAndStopsGracefully runs the real serve command on free
// ports with an empty data dir, as the README's first command does.
func TestServeStartsAndStopsGracefully(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"PORTICO_DATA_DIR": filepath.Join(dir, "data"), "PORTICO_PORTAL_ADDR": "127.0.0.1:0", "PORTICO_GATEWAY_ADDR": "127.0.0.1:0", "PORTICO_ADMIN_ADDR": "127.0.0.1:0"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, &stdout, &stderr) }()

	urlRE := regexp.MustCompile(`Console\s+(http://\S+)/\n(?s:.*)Gateway\s+(http://\S+)/`)
	var m []string
	for deadline := time.Now().Add(20 * time.Second); m == nil; {
		if time.Now().After(deadline) {
			t.Fatalf("no URLs printed:\n%s\n%s", stdout.String(), stderr.String())
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v\n%s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		m = urlRE.FindStringSubmatch(stdout.String())
	}
	get := func(u string) (*http.Response, []byte) {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	if res, _ := get(m[1] + "/readyz"); res.StatusCode != 200 {
		t.Fatalf("readyz = %d", res.StatusCode)
	}
	if res, _ := get(m[1] + "/"); res.StatusCode != 200 {
		t.Fatalf("console = %d", res.StatusCode)
	}
	if mm := regexp.MustCompile(`Metrics\s+(http://\S+/metrics)`).FindStringSubmatch(stdout.String()); mm == nil {
		t.Fatal("no metrics URL printed")
	} else if res, body := get(mm[1]); res.StatusCode != 200 || !strings.Contains(string(body), "portico_gateway_config_version") {
		t.Fatalf("metrics: %d", res.StatusCode)
	}
	res, body := get(m[2] + "/acme/echo/v1/anything")
	if res.StatusCode != 404 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("gateway = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var p map[string]any
	if json.Unmarshal(body, &p) != nil || p["status"] != float64(404) {
		t.Fatalf("gateway body = %s", body)
	}
	// Generated secrets are private to the owner.
	for _, f := range []string{"master.key", "operator-token"} {
		st, err := os.Stat(filepath.Join(dir, "data", f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	if strings.Contains(stderr.String(), mustRead(t, filepath.Join(dir, "data", "master.key"))) {
		t.Fatal("master key written to the log")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v on shutdown", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(stderr.String(), "stopped") {
		t.Fatalf("no clean stop logged:\n%s", stderr.String())
	}
	// A second start reuses the same key and database.
	var out2 syncBuffer
	if err := run(context.Background(), []string{"migrate"}, func(k string) string { return env[k] }, &out2, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`schema at version [1-9]`).MatchString(out2.String()) {
		t.Fatalf("migrate: %s", out2.String())
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestVersionAndUnknownCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, os.Getenv, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "portico ") {
		t.Fatalf("version: %v %q", err, out.String())
	}
	if err := run(context.Background(), []string{"frobnicate"}, os.Getenv, io.Discard, io.Discard); err == nil {
		t.Fatal("unknown command accepted")
	}
}

// TestServeDemo runs `portico serve --demo` and makes the signed call it
// prints: the echo API answers through the gateway with what the backend
// received, credentials stripped and the backend signature added.
func TestServeDemo(t *testing.T) {
	dir := t.TempDir()
	// The echo backend lives on the portal's address, which the demo API's
	// upstream names: keep it across the restart below.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	portal := ln.Addr().String()
	ln.Close()
	d, cancel, done := startDemo(t, map[string]string{"PORTICO_DATA_DIR": dir, "PORTICO_PORTAL_ADDR": portal})
	defer cancel()
	if d.Service != "apigw" || d.Region != "local" || d.Plan.RequestsPerSecond != 5 || d.Plan.Burst != 10 || d.Plan.DayQuota != 1000 || d.Provider.Token == "" {
		t.Fatalf("demo.json = %+v", d)
	}
	req, _ := http.NewRequest("GET", d.API.BaseURL+d.API.ExamplePath, nil)
	if err := (&sigv4.Signer{Region: d.Region}).Sign(req, d.Partner.AccessKey, d.Partner.SecretKey, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var echo struct {
		Method, Path, Query string
		Headers             map[string]string
	}
	json.NewDecoder(res.Body).Decode(&echo)
	if res.StatusCode != 200 || echo.Method != "GET" || echo.Path != "/hello" || echo.Query != "name=world" {
		t.Fatalf("echo = %d %+v", res.StatusCode, echo)
	}
	if echo.Headers["Authorization"] != "" || !strings.Contains(echo.Headers["X-Portico-Signature"], "v1=") || echo.Headers["X-Portico-App"] != d.Partner.App {
		t.Fatalf("forwarded headers = %v", echo.Headers)
	}
	// Unsigned calls are refused.
	if res, err := http.Get(d.API.BaseURL + "/hello"); err != nil || res.StatusCode != 401 {
		t.Fatalf("unsigned call: %v %v", err, res.StatusCode)
	}
	// Two more signed calls, then a graceful stop: the ledger holds exactly
	// the answered calls, flushed on shutdown.
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest("POST", d.API.BaseURL+"/items", strings.NewReader(`{"n":1}`))
		(&sigv4.Signer{Region: d.Region}).Sign(req, d.Partner.AccessKey, d.Partner.SecretKey, "", time.Now())
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("call %d: %v %v", i, err, res)
		}
		res.Body.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	// A restart on the same data: two more calls, another graceful stop.
	// The ledger counts all five, none twice.
	d, cancel, done = startDemo(t, map[string]string{"PORTICO_DATA_DIR": dir, "PORTICO_PORTAL_ADDR": portal})
	defer cancel()
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest("GET", d.API.BaseURL+"/again", nil)
		(&sigv4.Signer{Region: d.Region}).Sign(req, d.Partner.AccessKey, d.Partner.SecretKey, "", time.Now())
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("call %d after the restart: %v %v", i, err, res)
		}
		res.Body.Close()
		// The quotas go on from the three calls before the restart: a
		// restart hands out no fresh quota.
		if rl := res.Header.Get("Ratelimit"); i == 0 && (!strings.Contains(rl, `"day";r=996;`) || !strings.Contains(rl, `"included";r=29996;`)) {
			t.Fatalf("RateLimit after the restart = %q, want the day and included quotas to count the 3 calls before it", rl)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve after the restart: %v", err)
	}
	db, err := migrations.Open(context.Background(), migrations.Config{SQLitePath: filepath.Join(dir, "portico.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var calls, billable int64
	db.Raw("SELECT COALESCE(SUM(calls),0), COALESCE(SUM(billable),0) FROM usage_ledger").Row().Scan(&calls, &billable)
	if calls != 5 || billable != 5 {
		t.Fatalf("ledger has %d calls (%d billable), want 5", calls, billable)
	}
	var lastUsed *time.Time
	db.Raw("SELECT last_used_at FROM access_keys WHERE access_key = ?", d.Partner.AccessKey).Row().Scan(&lastUsed)
	if lastUsed == nil {
		t.Fatal("the key's last-used time was not recorded")
	}
}

// TestGatewayNodeNeedsPostgres: a gateway-only node refuses the embedded
// database, which only one process can serve.
func TestGatewayNodeNeedsPostgres(t *testing.T) {
	env := map[string]string{"PORTICO_DATA_DIR": t.TempDir()}
	err := run(context.Background(), []string{"gateway"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "PostgreSQL") {
		t.Fatalf("gateway on SQLite: %v", err)
	}
}

// startDemo runs `portico serve --demo` with env (plus free ports) and
// returns what it wrote to demo.json once the curl command is printed.
func startDemo(t *testing.T, env map[string]string) (demoFile, context.CancelFunc, chan error) {
	t.Helper()
	for _, k := range []string{"PORTICO_PORTAL_ADDR", "PORTICO_GATEWAY_ADDR", "PORTICO_ADMIN_ADDR"} {
		if env[k] == "" {
			env[k] = "127.0.0.1:0"
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--demo"}, func(k string) string { return env[k] }, &stdout, &stderr)
	}()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stdout.String(), "curl --aws-sigv4"); {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no curl command printed:\n%s\n%s", stdout.String(), stderr.String())
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve exited: %v\n%s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	b, err := os.ReadFile(filepath.Join(env["PORTICO_DATA_DIR"], "demo.json"))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var d demoFile
	if err := json.Unmarshal(b, &d); err != nil {
		cancel()
		t.Fatal(err)
	}
	return d, cancel, done
}

// TestServeSharesNoncesThroughRedis: with PORTICO_REDIS_URL a nonce is
// claimed in Redis, so its replay is refused.
func TestServeSharesNoncesThroughRedis(t *testing.T) {
	t.Run("redis", func(t *testing.T) { servesNoncesThroughRedis(t, testenv.Env(t, "PORTICO_TEST_REDIS_URL")) })
	// The same on Redis Cluster, given any node of it: the nonces and the
	// demo plan's quota counters are kept there.
	t.Run("cluster", func(t *testing.T) {
		addrs := testenv.RedisCluster(t)
		servesNoncesThroughRedis(t, "redis+cluster://"+addrs[1])
		rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
		defer rdb.Close()
		var mu sync.Mutex
		found := map[string]bool{}
		err := rdb.ForEachMaster(context.Background(), func(ctx context.Context, n *redis.Client) error {
			keys, err := n.Keys(ctx, "portico:*").Result()
			mu.Lock()
			defer mu.Unlock()
			for _, k := range keys {
				found[strings.SplitN(strings.TrimPrefix(k, "portico:"), ":", 2)[0]] = true
			}
			return err
		})
		if err != nil || !found["nonce"] || !found["quota"] {
			t.Fatalf("key kinds in the cluster: %v (%v); want nonce and quota", found, err)
		}
	})
}

func servesNoncesThroughRedis(t *testing.T, url string) {
	d, cancel, done := startDemo(t, map[string]string{"PORTICO_DATA_DIR": t.TempDir(), "PORTICO_REDIS_URL": url})
	defer func() { cancel(); <-done }()
	nonce := sigv4.NewNonce()
	call := func() int {
		req, _ := http.NewRequest("GET", d.API.BaseURL+"/hello", nil)
		req.Header.Set("X-Portico-Nonce", nonce)
		(&sigv4.Signer{Region: d.Region}).Sign(req, d.Partner.AccessKey, d.Partner.SecretKey, "", time.Now())
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if st := call(); st != 200 {
		t.Fatalf("first use of the nonce: %d", st)
	}
	if st := call(); st != 403 {
		t.Fatalf("replayed nonce: %d", st)
	}
}

// TestGatewayNodeOnPostgres runs a gateway-only node against a fresh
// PostgreSQL schema: it migrates, serves its listeners and stops cleanly.
func TestGatewayNodeOnPostgres(t *testing.T) {
	base := testenv.Env(t, "PORTICO_TEST_DATABASE_URL")
	admin, err := migrations.Open(context.Background(), migrations.Config{URL: base, MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	schema := "t_gwnode_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec("DROP SCHEMA " + schema + " CASCADE"); admin.Close() })
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	env := map[string]string{"PORTICO_DATABASE_URL": u.String(), "PORTICO_MASTER_KEY": strings.Repeat("ab", 32),
		"PORTICO_GATEWAY_ADDR": "127.0.0.1:0", "PORTICO_ADMIN_ADDR": "127.0.0.1:0", "PORTICO_DATA_DIR": t.TempDir(),
		"PORTICO_GATEWAY_DOMAIN": "gw.portico.test"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"gateway"}, func(k string) string { return env[k] }, &stdout, &stderr)
	}()
	re := regexp.MustCompile(`Gateway\s+(http://\S+)/`)
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
	res, err := http.Get(m[1] + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", err, res)
	}
	res.Body.Close()
	res, err = http.Get(m[1] + "/acme/echo/v1/x")
	if err != nil || res.StatusCode != 404 {
		t.Fatalf("unknown route: %v %v", err, res)
	}
	res.Body.Close()
	if !strings.Contains(stderr.String(), "host-based routing on") || !strings.Contains(stderr.String(), "domain=gw.portico.test") {
		t.Fatalf("the gateway domain is not logged:\n%s", stderr.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("gateway node stop: %v", err)
	}
}

// The plain gateway listener runs Portico's lean server unless the operator
// asks for Go's; anything else is refused with the choices.
func TestGatewayHTTPServerSetting(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string { return map[string]string{"PORTICO_GATEWAY_HTTP_SERVER": v}[k] }
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := parseConfig("t", nil, env(""))
	if err != nil || c.GatewayHTTPServer != "lean" {
		t.Fatalf("default: %q, %v", c.GatewayHTTPServer, err)
	}
	if _, ok := gatewayServer(c, http.NotFoundHandler(), log).(*gateway.H1Server); !ok {
		t.Fatal("the default server is not gateway.H1Server")
	}
	if c, err = parseConfig("t", []string{"--gateway-http-server", "net/http"}, env("")); err != nil || c.GatewayHTTPServer != "net/http" {
		t.Fatalf("--gateway-http-server net/http: %q, %v", c.GatewayHTTPServer, err)
	}
	if _, ok := gatewayServer(c, http.NotFoundHandler(), log).(*http.Server); !ok {
		t.Fatal("net/http did not give an http.Server")
	}
	if _, err := parseConfig("t", nil, env("fasthttp")); err == nil || !strings.Contains(err.Error(), "PORTICO_GATEWAY_HTTP_SERVER") || !strings.Contains(err.Error(), "lean or net/http") {
		t.Fatalf("PORTICO_GATEWAY_HTTP_SERVER=fasthttp: %v", err)
	}
}
