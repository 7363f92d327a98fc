package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/portal/domains"
	"github.com/portico-dev/portico/portal/gwconfig"
	"github.com/portico-dev/portico/tenants"
	"github.com/portico-dev/portico/tenants/keyring"
)

// gatewayNode runs a gateway-only node: the gateway and admin listeners, the
// configuration reloader and the usage ledger, against the shared
// PostgreSQL database. Nodes are stateless: run as many as load needs
// behind a load balancer.
func gatewayNode(ctx context.Context, cfg *Config, db *migrations.DB, log *slog.Logger, stdout io.Writer) error {
	if db.Dialect != migrations.Postgres {
		return errors.New("portico gateway runs against PostgreSQL (set PORTICO_DATABASE_URL); the embedded default runs the gateway inside portico serve")
	}
	kr, err := masterKey(cfg, db.Dialect, log)
	if err != nil {
		return err
	}
	if cfg.RedisURL == "" {
		log.Warn("rate limits and quotas: in process on this node — with several nodes each enforces its own share of every limit until Redis is configured")
	}
	sh, closeRedis, err := connectShared(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeRedis()
	svc := tenants.NewService(db.DB, tenants.Options{Logger: log, Keyring: kr})
	cat := catalog.NewService(db.DB, catalog.Options{Keyring: kr, Logger: log})
	plans := billing.NewService(db.DB, billing.Options{Versions: cat, Logger: log})
	// Changes made by the control plane reach this node through LISTEN/NOTIFY
	// and the version check (startGateway).
	reloader := gwconfig.NewReloader(gateway.NewStore(nil), db)
	reloader.Logger = log
	doms := domains.NewService(db.DB, domainOptions(cfg, db.Dialect, kr, log, nil))
	rt, err := startGateway(ctx, cfg, kr, reloader, gwconfig.Sources{Catalog: cat, Plans: plans, Tenants: svc, Domains: doms, Domain: cfg.GatewayDomain, Logger: log}, svc, db, sh, log)
	if err != nil {
		return err
	}
	gw := rt.handler
	gwLn, err := listenGateway(cfg, cfg.GatewayAddr)
	if err != nil {
		return fmt.Errorf("gateway listener: %w", err)
	}
	adminLn, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		gwLn.Close()
		return fmt.Errorf("admin listener: %w", err)
	}
	tlsSrv, tlsLn, err := gatewayTLS(cfg, reloader.Store, gw, log)
	if err != nil {
		gwLn.Close()
		adminLn.Close()
		return err
	}
	admin := adminHandler(rt.registry)
	servers := []gateway.Server{
		gatewayServer(cfg, gw, log),
		&http.Server{Handler: admin, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 60 * time.Second},
	}
	listeners := []net.Listener{gwLn, adminLn}
	if tlsSrv != nil {
		servers, listeners = append(servers, tlsSrv), append(listeners, tlsLn)
	}
	errc := serveAll(servers, listeners)
	fmt.Fprintf(stdout, "\nPortico gateway node %s is running.\n\n  Gateway  http://%s/\n", version, gwLn.Addr())
	if tlsLn != nil {
		fmt.Fprintf(stdout, "  Gateway  https://%s/\n", tlsLn.Addr())
	}
	fmt.Fprintf(stdout, "  Metrics  http://%s/metrics\n\n", adminLn.Addr())
	log.Info("gateway node listening", "gateway", gwLn.Addr().String(), "admin", adminLn.Addr().String())
	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down: finishing in-flight requests", "timeout", cfg.ShutdownTimeout)
	case runErr = <-errc:
		log.Error("server failed", "err", runErr)
	}
	if err := shutdown(servers, cfg.ShutdownTimeout); err != nil && runErr == nil {
		runErr = fmt.Errorf("shutdown: %w", err)
	}
	fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rt.stop(fctx); err != nil && runErr == nil {
		runErr = err
	}
	if runErr == nil {
		log.Info("stopped")
	}
	return runErr
}

// serveAll serves each server on its listener; the channel reports the
// first server that fails (a graceful shutdown is not a failure).
func serveAll(servers []gateway.Server, listeners []net.Listener) <-chan error {
	errc := make(chan error, len(servers))
	for i, ln := range listeners {
		go func(s gateway.Server, ln net.Listener) {
			if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}(servers[i], ln)
	}
	return errc
}

// gatewayServer is the server of the plain-HTTP gateway listener.
func gatewayServer(cfg *Config, h http.Handler, log *slog.Logger) gateway.Server {
	s, err := gateway.NewPlainServer(cfg.GatewayHTTPServer, h, cfg.GatewayLimits)
	if err != nil { // parseConfig checked the kind
		panic(err)
	}
	if lean, ok := s.(*gateway.H1Server); ok {
		lean.Log = log
		log.Info("gateway HTTP server: lean HTTP/1.1 (set PORTICO_GATEWAY_HTTP_SERVER=net/http for Go's standard server)")
	} else {
		log.Info("gateway HTTP server: net/http (Go's standard server)")
	}
	return s
}

// gatewayRuntime is the data plane as both serve and gateway run it.
type gatewayRuntime struct {
	handler  *gateway.Handler
	ledger   *billing.Ledger
	registry *prometheus.Registry
}

// startGateway loads the first configuration, starts the reloader and
// builds the gateway handler with metering, metrics and shared nonces.
func startGateway(ctx context.Context, cfg *Config, kr interface {
	Derive(string) []byte
	DeriveAll(string) [][]byte
}, reloader *gwconfig.Reloader,
	src gwconfig.Sources, svc *tenants.Service, db *migrations.DB, sh shared, log *slog.Logger) (*gatewayRuntime, error) {
	reloader.Sources = src
	reloader.RebuildGCPercent = cfg.RebuildGCPercent
	if src.Domain != "" {
		log.Info("gateway domain: host-based routing on", "domain", src.Domain, "routes", "{org}."+src.Domain+"/{api}/{version}/…")
	} else {
		log.Info("gateway domain: none (set PORTICO_GATEWAY_DOMAIN for {org}.<domain> host-based routing); path-based routing /{org}/{api}/{version}/… only")
	}
	if err := reloader.Reload(ctx); err != nil {
		return nil, fmt.Errorf("gateway configuration: %w", err)
	}
	go reloader.Run(ctx)
	if db.Dialect == migrations.Postgres {
		go reloader.Listen(ctx, cfg.DatabaseURL)
		log.Info("gateway configuration: changes propagate by PostgreSQL LISTEN/NOTIFY, with a version check and a full rebuild as safety nets",
			"channel", gwconfig.Channel, "version_check", reloader.PollInterval, "full_rebuild", reloader.FullInterval, "version", reloader.Served())
	} else {
		log.Info("gateway configuration: changes apply in process at once, with a version check and a full rebuild as safety nets",
			"version_check", reloader.PollInterval, "full_rebuild", reloader.FullInterval, "version", reloader.Served())
	}
	rt := &gatewayRuntime{ledger: billing.NewLedger(db.DB, 5*time.Second, log, svc.TouchKeys), registry: prometheus.NewRegistry()}
	rt.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := reloader.Register(rt.registry); err != nil {
		rt.ledger.Close(context.Background())
		return nil, fmt.Errorf("gateway configuration metrics: %w", err)
	}
	prot, err := protection(cfg)
	if err != nil {
		rt.ledger.Close(context.Background())
		return nil, err
	}
	h, err := gateway.NewHandler(reloader.Store, gateway.Options{Protection: prot, Region: cfg.Region, Logger: log, Meter: rt.ledger, Registry: rt.registry,
		Nonces: sh.nonces, TokenSeed: kr.Derive("gateway oauth tokens"), PreviousTokenSeeds: kr.DeriveAll("gateway oauth tokens")[1:], AllowPrivateUpstreams: allowPrivateUpstreams(cfg, db.Dialect),
		Redis: sh.redis, RedisFailClosed: cfg.RedisFailMode == "closed"})
	if err != nil {
		rt.ledger.Close(context.Background())
		return nil, fmt.Errorf("gateway: %w", err)
	}
	// Before serving: what partners spent of today's and this period's
	// quotas, so that a restart does not hand out fresh ones.
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	n, err := h.RestoreQuotas(rctx, time.Now(), rt.ledger.QuotaUse)
	cancel()
	if err != nil {
		log.Error("gateway quotas: could not restore what was spent before this start; they count from zero until their windows end", "err", err)
	} else {
		log.Info("gateway quotas: restored from the usage ledger", "subscriptions_with_use", n)
	}
	go h.RunHealthChecks(ctx)
	rt.handler = h
	return rt, nil
}

// listenGateway opens a gateway listener that caps the connections one
// client address may hold (trusted proxies exempt) and bounds each write
// to a client (slow readers).
func listenGateway(cfg *Config, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	ln = gateway.SendTimeoutListener(ln, cfg.GatewayLimits.SendTimeout)
	limited, err := gateway.LimitConns(ln, cfg.GatewayMaxConnsPerIP, cfg.GatewayIPv6Prefix, cfg.TrustedPrefixes)
	if err != nil {
		ln.Close()
		return nil, err
	}
	return limited, nil
}

// protection is the default per-IP defence with the configured address
// lists, IPv6 prefix length and the trusted proxies in front of the
// gateway.
func protection(cfg *Config) (*gateway.Protection, error) {
	p := gateway.DefaultProtection
	p.IPv6PrefixLen = cfg.GatewayIPv6Prefix
	var err error
	if p.IPs, err = gateway.ParseIPList(cfg.GatewayIPAllow, cfg.GatewayIPDeny); err != nil {
		return nil, fmt.Errorf("gateway IP lists: %w", err)
	}
	p.TrustedProxies = cfg.TrustedPrefixes
	return &p, nil
}

// stop hands leased budget back to Redis and writes the last usage to the
// ledger; call it once the servers have finished their requests.
func (rt *gatewayRuntime) stop(ctx context.Context) error {
	rt.handler.Shutdown(ctx)
	if err := rt.ledger.Close(ctx); err != nil {
		return fmt.Errorf("usage ledger: %w", err)
	}
	return nil
}

// allowPrivateUpstreams resolves --allow-private-upstreams: "auto" is on
// with SQLite (one tenant, local backends) and off with PostgreSQL, where
// tenants must not reach the platform's network. The catalog's URL check
// and the gateway's connect-time check use the same value.
func allowPrivateUpstreams(cfg *Config, dialect migrations.Dialect) bool {
	return onForSQLite(cfg.AllowPrivateUpstreams, dialect)
}

// onForSQLite resolves a true/false/auto setting: auto (nil) is on with
// SQLite (one operator's own deployment) and off with PostgreSQL (a
// multi-tenant platform).
func onForSQLite(v *bool, dialect migrations.Dialect) bool {
	if v != nil {
		return *v
	}
	return dialect == migrations.SQLite
}

// domainOptions are the custom-domain service's settings: the gateway
// domain and the platform's own host names (the console's, and those the
// default certificate names as it is renewed) are not for organisations
// to claim, and a certificate must come from a trusted issuer unless
// --custom-domain-any-issuer.
func domainOptions(cfg *Config, dialect migrations.Dialect, kr *keyring.Keyring, log *slog.Logger, onChange func(context.Context)) domains.Options {
	return domains.Options{Keyring: kr, Logger: log, OnChange: onChange, GatewayDomain: cfg.GatewayDomain, ReservedHosts: platformHosts(cfg),
		ReservedHostsFunc: defaultCertNames(cfg, log), AnyIssuer: onForSQLite(cfg.CustomDomainAnyIssuer, dialect)}
}

// adminHandler serves the admin listener: Prometheus metrics and liveness.
func adminHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	return mux
}
