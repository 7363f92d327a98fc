package gwconfig_test

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/portal/gwconfig"
	"github.com/portico-dev/portico/portal/gwconfig/bulkseed"
	"github.com/portico-dev/portico/tenants"
)

// BenchmarkBuildLarge compiles the big configuration — 100,000
// keys, 10,000 routes, 100,000 subscriptions — from PostgreSQL when
// PORTICO_TEST_DATABASE_URL is set, else SQLite, and reports the time of
// the database reads and of gateway.Compile apart, the heap the
// configuration holds, and how far a hot reload raises the process's peak
// RSS (reload-rss-MB). -short seeds a tenth of it.
//
//	go test ./portal/gwconfig -run '^$' -bench BuildLarge -benchtime 5x
func BenchmarkBuildLarge(b *testing.B) {
	ctx := context.Background()
	d := migrations.SQLite
	if os.Getenv("PORTICO_TEST_DATABASE_URL") != "" {
		d = migrations.Postgres
	}
	db := testdb.Open(b, d)
	kr := newKeyring()
	pp := tenants.FastPasswordParams
	src := newSources(db, kr, tenants.Options{PasswordParams: &pp})
	sz := bulkseed.Large
	if testing.Short() {
		sz.APIs, sz.Apps = 10, 5000
	}
	start := time.Now()
	if _, err := bulkseed.Seed(ctx, db.DB, kr, bulkseed.Services{Tenants: src.Tenants, Catalog: src.Catalog, Plans: src.Plans}, sz); err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: seeded %d keys, %d routes, %d subscriptions in %v", d, sz.Apps*sz.KeysPerApp, sz.APIs*sz.VersionsPerAPI*sz.OpsPerVersion,
		sz.Apps*sz.SubsPerApp, time.Since(start).Round(time.Millisecond))

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var snap *gateway.Snapshot
	var compile time.Duration
	for b.Loop() {
		cfg, s, err := gwconfig.Build(ctx, src, 1)
		if err != nil {
			b.Fatal(err)
		}
		snap = s
		t := time.Now()
		if _, err := gateway.Compile(cfg); err != nil {
			b.Fatal(err)
		}
		compile += time.Since(t)
	}
	b.StopTimer()
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(snap)
	n := float64(b.N)
	// ns/op covers Build (reads + one Compile) plus the second Compile timed
	// apart; build-s is Build alone.
	b.ReportMetric(b.Elapsed().Seconds()/n-compile.Seconds()/n, "build-s")
	b.ReportMetric(compile.Seconds()/n, "compile-s")
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "heap-MB")
	if grow, ok := reloadGrowth(b, ctx, src, snap); ok {
		b.ReportMetric(grow, "reload-rss-MB")
	}
}

// reloadGrowth is how far a hot reload — the Reloader rebuilding while the
// current snapshot serves — raises the process's peak RSS above its RSS
// before, in MB: what a gateway node needs on top of its resting size. The
// collector is set as portico sets it unless GOGC is: GOGC=200, and the
// Reloader's DefaultRebuildGCPercent while it rebuilds. Freed memory is
// returned to the system first, so the growth is memory the reload really
// needed. ok is false where the peak cannot be reset (not Linux).
func reloadGrowth(b *testing.B, ctx context.Context, src gwconfig.Sources, cur *gateway.Snapshot) (float64, bool) {
	b.Helper()
	rl := gwconfig.NewReloader(gateway.NewStore(cur), nil)
	rl.Sources = src
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(200))
		rl.RebuildGCPercent = gwconfig.DefaultRebuildGCPercent
	}
	debug.FreeOSMemory()
	rest := procStatus(b, "VmRSS")
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return 0, false
	}
	if err := rl.Reload(ctx); err != nil {
		b.Fatal(err)
	}
	return float64(procStatus(b, "VmHWM")-rest) / 1024, true
}

// procStatus reads a "Name: N kB" line of /proc/self/status, in kB.
func procStatus(b *testing.B, name string) int64 {
	b.Helper()
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(st)) {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatalf("%s not in /proc/self/status", name)
	return 0
}
