package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/portico-dev/portico/bench"
	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/gateway/sigv4"
	"github.com/portico-dev/portico/migrations"
)

// upstreamBody is the upstream's answer: 100 bytes.
var upstreamBody = []byte(strings.Repeat("x", 99) + "\n")

func upstream(args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ExitOnError)
	addrFile := fs.String("addr-file", "", "write the listening address here once ready")
	fs.Parse(args)
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(upstreamBody)
	})
	return serve(&http.Server{Handler: h, IdleTimeout: 120 * time.Second}, *addrFile, 0, nil)
}

// goproxy is the stock Go reverse proxy in front of the same upstream:
// httputil.ReverseProxy with a std http.Transport (idle pool raised to the
// benchmark's connection count, as anyone running it would) on a default
// http.Server — what Portico's forwarding is built on, with nothing added.
func goproxy(args []string) error {
	fs := flag.NewFlagSet("goproxy", flag.ExitOnError)
	addrFile := fs.String("addr-file", "", "write the listening address here once ready")
	up := fs.String("upstream", "", "upstream base URL")
	fs.Parse(args)
	target, err := url.Parse(*up)
	if err != nil || target.Host == "" {
		return fmt.Errorf("goproxy: -upstream %q is not a URL", *up)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 1024, 256
	p := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() }, Transport: tr}
	return serve(&http.Server{Handler: p, IdleTimeout: 120 * time.Second}, *addrFile, 0, nil)
}

// serve listens on a free loopback port, announces it in addrFile and
// serves until SIGINT/SIGTERM; sendTimeout > 0 bounds writes to clients as
// portico's gateway listeners do.
func serve(s gateway.Server, addrFile string, sendTimeout time.Duration, stop func()) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ln = gateway.SendTimeoutListener(ln, sendTimeout)
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	if addrFile != "" {
		tmp := addrFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(ln.Addr().String()), 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, addrFile); err != nil {
			return err
		}
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	s.Shutdown(sctx)
	if stop != nil {
		stop()
	}
	return nil
}

func gatewayCmd(args []string) error {
	fs := flag.NewFlagSet("gateway", flag.ExitOnError)
	up := fs.String("upstream", "", "upstream base URL (required)")
	addrFile := fs.String("addr-file", "", "write the listening address here once ready")
	dataDir := fs.String("data-dir", "", "directory for the SQLite usage ledger (default: a temporary one)")
	redisURL := fs.String("redis", "", "redis:// URL: share limits and nonces through Redis as with PORTICO_REDIS_URL")
	big := fs.Bool("big", false, "load the large configuration (100,000 keys, 10,000 routes, 100,000 subscriptions)")
	keys := fs.Int("keys", bench.SmallKeys, "keys and subscriptions in the small configuration")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this address (e.g. 127.0.0.1:6060)")
	logLevel := fs.String("log-level", "warn", "gateway log level; info writes the JSON access log (to -log-file)")
	logFile := fs.String("log-file", "", "log destination (default stderr)")
	server := fs.String("server", gateway.LeanServer, "the plain-HTTP server: lean (gateway.H1Server, as portico) or net/http")
	fs.Parse(args)
	if *up == "" {
		return errors.New("gateway: -upstream is required")
	}
	logOut := os.Stderr
	if *logFile != "" {
		f, err := os.Create(*logFile)
		if err != nil {
			return err
		}
		defer f.Close()
		logOut = f
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: lvl}))

	now := time.Now()
	var cfg *gateway.Config
	if *big {
		cfg = bench.BigConfig(*up, bench.DefaultBig, now)
	} else {
		cfg = bench.SmallConfig(*up, *keys, now)
	}
	snap, err := gateway.Compile(cfg)
	if err != nil {
		return err
	}
	ctx := context.Background()
	dir := *dataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "gwbench-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	db, err := migrations.Open(ctx, migrations.Config{SQLitePath: filepath.Join(dir, "portico.db")})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := migrations.Up(ctx, db, log); err != nil {
		return err
	}
	ledger := billing.NewLedger(db.DB, 5*time.Second, log, nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts := gateway.Options{Region: bench.Region, Logger: log, Meter: ledger, Registry: reg, AllowPrivateUpstreams: true, // the upstream is on loopback
		// Production's per-IP defaults (500/s from one address) would
		// refuse a load generator on loopback; the checks still run.
		Protection: &gateway.Protection{RequestsPerSecond: 1e7, Burst: 1e7, MaxConcurrent: 1 << 20, BanAfter: 1 << 20, BanWindow: time.Minute, BanFor: time.Minute}}
	if *redisURL != "" {
		rdb, err := gateway.ConnectRedis(ctx, *redisURL) // as cmd/portico connects
		if err != nil {
			return err
		}
		defer rdb.Close()
		opts.Nonces = sigv4.NewRedisNonces(rdb, "portico:bench:nonce:")
		configureRedis(&opts, rdb)
	}
	h, err := gateway.NewHandler(gateway.NewStore(snap), opts)
	if err != nil {
		return err
	}
	if *pprofAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		go http.ListenAndServe(*pprofAddr, mux)
	}
	// The same server settings as cmd/portico's gateway listener.
	s, err := gateway.NewPlainServer(*server, h, gateway.DefaultServerLimits) // as cmd/portico
	if err != nil {
		return fmt.Errorf("-server %w", err)
	}
	return serve(s, *addrFile, gateway.DefaultServerLimits.SendTimeout, func() {
		fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h.Shutdown(fctx) // hands leased budget back to Redis
		if err := ledger.Close(fctx); err != nil {
			log.Error("usage ledger", "err", err)
		}
		var calls int64
		db.DB.Raw("SELECT COALESCE(SUM(calls), 0) FROM usage_ledger").Scan(&calls)
		fmt.Fprintf(os.Stderr, "gwbench gateway: usage ledger holds %d calls\n", calls)
		if *redisURL != "" {
			trips := gathered(reg, "portico_gateway_redis_round_trips_total")
			fmt.Fprintf(os.Stderr, "gwbench gateway: %.0f Redis round trips for limits and quotas (one per %.0f calls)\n", trips, float64(calls)/max(trips, 1))
		}
	})
}

// gathered is the value of the counter or gauge name in reg (summed over
// its series), 0 if absent.
func gathered(reg *prometheus.Registry, name string) float64 {
	mfs, _ := reg.Gather()
	var v float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return v
}

func freePort() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return nil
}
