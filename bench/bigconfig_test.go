package bench

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/gateway/sigv4"
	"github.com/portico-dev/portico/migrations"
)

// These benchmarks isolate the gateway's CPU per request: Handler.ServeHTTP
// on an httptest.ResponseRecorder, forwarding through a RoundTripper that
// answers at once (no sockets), with metering into a real billing.Ledger
// and Prometheus metrics as portico serve wires them. They compare the
// tiny configuration with the large one (100,000 keys, 10,000 routes,
// 100,000 subscriptions) and the full chain with a public version.
//
//	go test ./bench -run '^$' -bench . -benchmem -count 6
//
// Plain `go test ./bench` runs only the fast correctness checks below.

var upstreamBody = bytes.Repeat([]byte("x"), 100)

// instantUpstream answers every forwarded request with 100 bytes.
type instantUpstream struct{}

func (instantUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	return &http.Response{StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"text/plain"}}, ContentLength: int64(len(upstreamBody)),
		Body: io.NopCloser(bytes.NewReader(upstreamBody)), Request: r}, nil
}

// bigConfig builds a fresh large configuration. It is never cached in a
// global: a benchmark of the tiny configuration must not run with a large
// one still live, which would make its garbage collections as costly.
func bigConfig() *gateway.Config { return BigConfig("http://upstream.invalid", DefaultBig, time.Now()) }

// newHandler builds a gateway handler as cmd/portico does, with the
// forwarding transport replaced by instantUpstream.
func newHandler(tb testing.TB, cfg *gateway.Config) *gateway.Handler {
	return newHandlerWith(tb, cfg, 5*time.Second, func(o *gateway.Options) { o.Transport = instantUpstream{} })
}

// newHandlerWith is newHandler with the usage ledger flushed every
// flushEvery and the options adjusted by opt.
func newHandlerWith(tb testing.TB, cfg *gateway.Config, flushEvery time.Duration, opt func(*gateway.Options)) *gateway.Handler {
	tb.Helper()
	snap, err := gateway.Compile(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	db, err := migrations.Open(context.Background(), migrations.Config{SQLitePath: filepath.Join(tb.TempDir(), "portico.db")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := migrations.Up(context.Background(), db, log); err != nil {
		tb.Fatal(err)
	}
	ledger := billing.NewLedger(db.DB, flushEvery, log, nil)
	tb.Cleanup(func() { ledger.Close(context.Background()) })
	opts := gateway.Options{Region: Region, Logger: log, Meter: ledger, Registry: prometheus.NewRegistry(),
		Protection: &gateway.Protection{RequestsPerSecond: 1e9, Burst: 1e9, MaxConcurrent: 1 << 20}}
	opt(&opts)
	h, err := gateway.NewHandler(gateway.NewStore(snap), opts)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// request returns a GET to the given API signed with key 0. The public
// API gets the same signed request (it ignores and strips the signature),
// as in bench/run, so the two differ only in what the gateway does.
func request(tb testing.TB, api string, now time.Time) *http.Request {
	r := httptest.NewRequest("GET", "http://127.0.0.1:8000/"+Org+"/"+api+"/"+Version+"/items/42", nil)
	if err := (&sigv4.Signer{Region: Region}).Sign(r, AccessKey(0), SecretKey(0), "", now); err != nil {
		tb.Fatal(err)
	}
	return r
}

func serve(h http.Handler, proto *http.Request) *httptest.ResponseRecorder {
	r := *proto
	r.Header = proto.Header.Clone()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, &r)
	return w
}

// TestConfigsServe checks that both configurations compile and that the
// benchmarks' requests pass the full chain and the public path (fast: the
// large configuration only under -bench or PORTICO_BENCH_BIG=1).
func TestConfigsServe(t *testing.T) {
	cfgs := map[string]func() *gateway.Config{"small": func() *gateway.Config { return SmallConfig("http://upstream.invalid", 4, time.Now()) }}
	if testing.Short() {
		t.Log("short: small configuration only")
	} else if bigWanted() {
		cfgs["big"] = bigConfig
	}
	for name, cfg := range cfgs {
		t.Run(name, func(t *testing.T) {
			h := newHandler(t, cfg())
			for _, api := range []string{SignedAPI, PublicAPI} {
				w := serve(h, request(t, api, time.Now()))
				if w.Code != 200 || w.Body.Len() != 100 {
					t.Fatalf("%s: %d %s", api, w.Code, w.Body.String())
				}
			}
			// The full chain really runs: a wrong signature is refused.
			r := request(t, SignedAPI, time.Now())
			r.Header.Set("X-Amz-Date", time.Now().Add(time.Minute).UTC().Format("20060102T150405Z"))
			if w := serve(h, r); w.Code != http.StatusForbidden {
				t.Fatalf("tampered date: %d %s", w.Code, w.Body.String())
			}
		})
	}
}

func bigWanted() bool {
	v, _ := strconv.ParseBool(os.Getenv("PORTICO_BENCH_BIG"))
	return v
}

// BenchmarkServeHTTP is the per-request cost: {tiny,big} configuration ×
// {full chain, public}.
func BenchmarkServeHTTP(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  func() *gateway.Config
	}{
		{"tiny", func() *gateway.Config { return SmallConfig("http://upstream.invalid", 1, time.Now()) }},
		{"big", bigConfig},
	} {
		for _, mode := range []struct{ name, api string }{{"full", SignedAPI}, {"public", PublicAPI}} {
			b.Run(c.name+"/"+mode.name, func(b *testing.B) {
				h := newHandler(b, c.cfg())
				proto := request(b, mode.api, time.Now())
				if w := serve(h, proto); w.Code != 200 {
					b.Fatalf("%d %s", w.Code, w.Body.String())
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					serve(h, proto)
				}
			})
		}
	}
}

// BenchmarkCompile is gateway.Compile of the tiny and the large
// configuration.
func BenchmarkCompile(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  func() *gateway.Config
	}{
		{"tiny", func() *gateway.Config { return SmallConfig("http://upstream.invalid", 1, time.Now()) }},
		{"big", bigConfig},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg := c.cfg()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := gateway.Compile(cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGC is one full garbage collection with nothing, the tiny or the
// large configuration loaded (Config + Snapshot): the marking work a large
// configuration adds to every GC cycle, which is what makes per-request
// cost grow with its size (cycles come every live-heap-size of allocation).
func BenchmarkGC(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  func() *gateway.Config
	}{
		{"none", func() *gateway.Config { return nil }},
		{"tiny", func() *gateway.Config { return SmallConfig("http://upstream.invalid", SmallKeys, time.Now()) }},
		{"big", bigConfig},
	} {
		b.Run(c.name, func(b *testing.B) {
			var snap *gateway.Snapshot
			if cfg := c.cfg(); cfg != nil {
				var err error
				if snap, err = gateway.Compile(cfg); err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC()
			for b.Loop() {
				runtime.GC()
			}
			runtime.KeepAlive(snap)
		})
	}
}
