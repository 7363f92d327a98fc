// Command portico runs Portico: the console and management API, the gateway
// and the background workers, on an embedded SQLite database by default or
// on PostgreSQL (+ Redis) in production.
//
//	portico serve     run everything in one process
//	portico migrate   apply database migrations and exit
//	portico reseal    move sealed secrets to the current master key
//	portico version   print the version
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/portal"
	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/portal/domains"
	"github.com/portico-dev/portico/portal/gwconfig"
	"github.com/portico-dev/portico/portal/mail"
	"github.com/portico-dev/portico/portal/market"
	"github.com/portico-dev/portico/tenants"
	"github.com/portico-dev/portico/tenants/keyring"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	// The gateway allocates a little per request: twice Go's default
	// headroom halves how often the collector runs, and a floor under the
	// heap goal keeps a small heap from being collected many times a
	// second (the configuration snapshot is mostly free of pointers, so
	// each run is cheap). While the configuration rebuilds the heap holds
	// two of them and the rebuild's garbage, and the headroom would triple
	// that peak: the gateway's Reloader runs with less then
	// (Config.RebuildGCPercent), without the floor. GOGC and GOMEMLIMIT in
	// the environment still win.
	if serving, _ := gwconfig.CollectorSettings(os.Getenv); serving > 0 {
		gwconfig.TuneCollector(serving, gwconfig.DefaultHeapFloor)
	}
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "portico:", err)
		os.Exit(1)
	}
}

const usage = `Usage: portico <command> [flags]

Commands:
  serve     run the console, management API and gateway in one process
  gateway   run a gateway-only node (PostgreSQL; run as many as load needs)
  migrate   apply database migrations and exit
  reseal    move secrets sealed under PORTICO_PREVIOUS_MASTER_KEYS to the
            current master key (after a rotation; safe while serving)
  version   print the version

Run "portico <command> -h" for the flags; every flag also reads a PORTICO_* variable.
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "portico", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "serve", "migrate", "gateway", "reseal":
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
	cfg, err := parseConfig("portico "+args[0], args[1:], getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	db, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	if args[0] == "migrate" {
		v, err := migrations.Version(ctx, db)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "database schema at version %d\n", v)
		return nil
	}
	if args[0] == "gateway" {
		return gatewayNode(ctx, cfg, db, log, stdout)
	}
	if args[0] == "reseal" {
		return resealCommand(ctx, cfg, db, log, stdout)
	}
	return serve(ctx, cfg, db, log, stdout)
}

func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openDB opens and migrates the configured database.
func openDB(ctx context.Context, cfg *Config, log *slog.Logger) (*migrations.DB, error) {
	dbc := migrations.Config{URL: cfg.DatabaseURL, SQLitePath: filepath.Join(cfg.DataDir, "portico.db")}
	db, err := migrations.Open(ctx, dbc)
	if err != nil {
		return nil, err
	}
	if db.Dialect == migrations.Postgres {
		log.Info("database: PostgreSQL")
	} else {
		log.Info("database: embedded SQLite", "path", dbc.SQLitePath)
	}
	if err := migrations.Up(ctx, db, log); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// masterKey returns the configured master key, or on SQLite generates one
// into the data dir, with the previous master keys of a rotation.
func masterKey(cfg *Config, dialect migrations.Dialect, log *slog.Logger) (*keyring.Keyring, error) {
	previous, err := keyring.ParseList(cfg.PreviousMasterKeys)
	if err != nil {
		return nil, fmt.Errorf("PORTICO_PREVIOUS_MASTER_KEYS: %w", err)
	}
	var master []byte
	switch {
	case cfg.MasterKey != "":
		if master, err = keyring.Parse(cfg.MasterKey); err != nil {
			return nil, fmt.Errorf("PORTICO_MASTER_KEY: %w", err)
		}
	case dialect == migrations.Postgres:
		return nil, errors.New("PORTICO_MASTER_KEY is required with PostgreSQL: every node must share it (generate one with: openssl rand -hex 32)")
	default:
		path := filepath.Join(cfg.DataDir, "master.key")
		var created bool
		if master, created, err = keyring.LoadOrCreateFile(path); err != nil {
			return nil, err
		}
		if created {
			log.Warn("no PORTICO_MASTER_KEY set: generated a master key; back it up, secrets at rest cannot be read without it", "path", path)
		}
	}
	kr, err := keyring.New(master, previous...)
	if err != nil {
		return nil, fmt.Errorf("PORTICO_PREVIOUS_MASTER_KEYS: %w", err)
	}
	if n := kr.Previous(); n > 0 {
		log.Info("master key rotation: previous master keys accepted; run `portico reseal`, then drop them", "previous_keys", n)
	}
	return kr, nil
}

// operatorToken returns the configured operator token or one kept in the
// data dir (generated on first start, 0600).
func operatorToken(cfg *Config) (token, path string, err error) {
	if cfg.OperatorToken != "" {
		return cfg.OperatorToken, "", nil
	}
	path = filepath.Join(cfg.DataDir, "operator-token")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 20 {
		return strings.TrimSpace(string(b)), path, nil
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", "", err
	}
	token = base64.RawURLEncoding.EncodeToString(raw)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", "", fmt.Errorf("write operator token: %w", err)
	}
	return token, path, nil
}

func serve(ctx context.Context, cfg *Config, db *migrations.DB, log *slog.Logger, stdout io.Writer) error {
	kr, err := masterKey(cfg, db.Dialect, log)
	if err != nil {
		return err
	}
	opTok, opPath, err := operatorToken(cfg)
	if err != nil {
		return err
	}
	var mailer tenants.Mailer
	var outbox *mail.Outbox
	if cfg.SMTPURL != "" {
		s, err := mail.ParseSMTPURL(cfg.SMTPURL, log)
		if err != nil {
			return err
		}
		mailer = s
		log.Info("email: SMTP")
	} else {
		outbox = mail.NewOutbox(db.DB, log, func() string { return uuid.Must(uuid.NewV7()).String() })
		mailer = outbox
		log.Info("email: development outbox (set PORTICO_SMTP_URL to send real email)")
	}
	sh, closeRedis, err := connectShared(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeRedis()
	// Every change the gateway must see bumps the configuration version
	// (announcing it to other nodes) and rebuilds this process's gateway.
	reloader := gwconfig.NewReloader(gateway.NewStore(nil), db)
	reloader.Logger = log
	notifier := &gwconfig.Notifier{DB: db, Local: reloader, Logger: log}
	svc := tenants.NewService(db.DB, tenants.Options{BaseURL: cfg.BaseURL, Mailer: mailer, Logger: log, Keyring: kr, OnChange: notifier.Changed})
	allowPrivate := allowPrivateUpstreams(cfg, db.Dialect)
	if allowPrivate {
		log.Info("upstreams: private and loopback addresses allowed (single-tenant mode; set PORTICO_ALLOW_PRIVATE_UPSTREAMS=false for multi-tenant)")
	} else {
		log.Info("upstreams: SSRF guard on (public addresses only)")
	}
	cat := catalog.NewService(db.DB, catalog.Options{Keyring: kr, Guard: catalog.UpstreamGuard{AllowPrivate: allowPrivate}, Logger: log, OnChange: notifier.Changed})
	plans := billing.NewService(db.DB, billing.Options{Versions: cat, Logger: log, Mailer: mailer, BaseURL: cfg.BaseURL, OnChange: notifier.Changed})
	cat.SetOnOffline(plans.EndVersionSubscriptions)
	mkt := market.NewService(db.DB, plans)
	domOpts := domainOptions(cfg, db.Dialect, kr, log, notifier.Changed)
	if domOpts.AnyIssuer {
		log.Info("custom domains: certificates from any issuer accepted (single-tenant mode; set PORTICO_CUSTOM_DOMAIN_ANY_ISSUER=false for multi-tenant)")
	} else {
		log.Info("custom domains: certificates must chain to a trusted root, proving control of the name")
	}
	doms := domains.NewService(db.DB, domOpts)
	rt, err := startGateway(ctx, cfg, kr, reloader, gwconfig.Sources{Catalog: cat, Plans: plans, Tenants: svc, Domains: doms, Domain: cfg.GatewayDomain, Logger: log}, svc, db, sh, log)
	if err != nil {
		return err
	}
	gw := rt.handler
	handler, err := portal.New(portal.Config{
		BaseURL: cfg.BaseURL, SessionTTL: cfg.SessionTTL, TrustedProxies: cfg.TrustedProxies, OperatorToken: opTok,
		AllowPrivateUpstreams: allowPrivate, Region: cfg.Region, GatewayURL: "http://" + cfg.GatewayAddr, DemoEcho: cfg.Demo,
	}, portal.Deps{Tenants: svc, Catalog: cat, Plans: plans, Market: mkt, Domains: doms, Nonces: sh.nonces, DB: db, Keyring: kr, Outbox: outbox, Logger: log})
	if err != nil {
		return err
	}

	portalLn, err := net.Listen("tcp", cfg.PortalAddr)
	if err != nil {
		return fmt.Errorf("portal listener: %w", err)
	}
	gatewayLn, err := listenGateway(cfg, cfg.GatewayAddr)
	if err != nil {
		portalLn.Close()
		return fmt.Errorf("gateway listener: %w", err)
	}
	adminLn, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		portalLn.Close()
		gatewayLn.Close()
		return fmt.Errorf("admin listener: %w", err)
	}
	tlsSrv, tlsLn, err := gatewayTLS(cfg, reloader.Store, gw, log)
	if err != nil {
		portalLn.Close()
		gatewayLn.Close()
		adminLn.Close()
		return err
	}
	adminMux := adminHandler(rt.registry)
	servers := []gateway.Server{
		&http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10},
		gatewayServer(cfg, gw, log),
		&http.Server{Handler: adminMux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 60 * time.Second},
	}
	listeners := []net.Listener{portalLn, gatewayLn, adminLn}
	if tlsSrv != nil {
		servers, listeners = append(servers, tlsSrv), append(listeners, tlsLn)
	}
	errc := serveAll(servers, listeners)
	go rollPeriods(ctx, plans, log)
	portalURL := "http://" + portalLn.Addr().String()
	var demo *demoFile
	if cfg.Demo {
		if demo, err = seedDemo(ctx, cfg, svc, cat, plans, portalURL, "http://"+gatewayLn.Addr().String()); err != nil {
			shutdown(servers, time.Second)
			return err
		}
		if err := reloader.Reload(ctx); err != nil {
			shutdown(servers, time.Second)
			return fmt.Errorf("gateway configuration: %w", err)
		}
	}
	fmt.Fprintf(stdout, "\nPortico %s is running.\n\n", version)
	fmt.Fprintf(stdout, "  Console         %s/\n", portalURL)
	fmt.Fprintf(stdout, "  Management API  %s/api/v1  (OpenAPI: %s/api/v1/openapi.json)\n", portalURL, portalURL)
	fmt.Fprintf(stdout, "  Gateway         http://%s/\n", gatewayLn.Addr().String())
	if tlsLn != nil {
		fmt.Fprintf(stdout, "  Gateway (TLS)   https://%s/\n", tlsLn.Addr().String())
	}
	fmt.Fprintf(stdout, "  Metrics         http://%s/metrics\n", adminLn.Addr().String())
	if outbox != nil {
		where := "PORTICO_OPERATOR_TOKEN"
		if opPath != "" {
			where = opPath
		}
		fmt.Fprintf(stdout, "  Email outbox    %s/operator/outbox  (operator token in %s)\n", portalURL, where)
	}
	if demo != nil {
		fmt.Fprintf(stdout, "\nDemo: %s holds the accounts and keys. Call the echo API with:\n\n", filepath.Join(cfg.DataDir, "demo.json"))
		fmt.Fprintf(stdout, "  curl --aws-sigv4 \"aws:amz:%s:apigw\" --user \"%s:%s\" \"%s%s\"\n",
			demo.Region, demo.Partner.AccessKey, demo.Partner.SecretKey, demo.API.BaseURL, demo.API.ExamplePath)
	}
	fmt.Fprintf(stdout, "\nPress Ctrl+C to stop.\n\n")
	log.Info("listening", "portal", portalLn.Addr().String(), "gateway", gatewayLn.Addr().String(), "admin", adminLn.Addr().String())

	select {
	case <-ctx.Done():
		log.Info("shutting down: finishing in-flight requests", "timeout", cfg.ShutdownTimeout)
	case err := <-errc:
		log.Error("server failed", "err", err)
		shutdown(servers, cfg.ShutdownTimeout)
		rt.stop(context.Background())
		return err
	}
	if err := shutdown(servers, cfg.ShutdownTimeout); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	// In-flight calls have finished: write the last usage to the ledger.
	fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rt.stop(fctx); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// rollPeriods is the background worker that ends subscription periods:
// scheduled downgrades take effect and cancellations end. It is idempotent,
// so several nodes may run it.
func rollPeriods(ctx context.Context, plans *billing.Service, log *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		if n, err := plans.RollPeriods(ctx, time.Now()); err != nil && ctx.Err() == nil {
			log.Error("subscription periods", "err", err)
		} else if n > 0 {
			log.Info("subscription periods rolled", "subscriptions", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func shutdown(servers []gateway.Server, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var errs []error
	for _, s := range servers {
		if err := s.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
