package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"time"

	"github.com/portico-dev/portico/bench"
	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/portal/gwconfig"
)

// bigConfig measures, in a process of its own, what the large configuration
// costs: the time gateway.Compile takes (median of -runs) and the memory a
// gateway holding it uses (Go heap after GC, and the process RSS), plus the
// peaks while loading and during a hot reload. It follows what the
// Reloader does in portico: a Config is built, compiled and dropped (the
// snapshot keeps what it needs), and a reload builds and compiles the next
// one while the current snapshot still serves, then swaps it in. The Config
// comes from the benchmark generator rather than the database (that step is
// gwconfig.BenchmarkBuildLarge, which also measures its reload peak).
func bigConfig(args []string) error {
	fs := flag.NewFlagSet("bigconfig", flag.ExitOnError)
	runs := fs.Int("runs", 5, "compile this many times; the median is reported")
	keys := fs.Int("keys", bench.DefaultBig.Keys, "keys")
	routes := fs.Int("routes", bench.DefaultBig.Routes, "routes (operations; 10 per API version)")
	subs := fs.Int("subscriptions", bench.DefaultBig.Subscriptions, "subscriptions")
	fs.Parse(args)
	sz := bench.BigSizes{Keys: *keys, Routes: *routes, Subscriptions: *subs}

	runtime.GC()
	rss0, _ := procStatus("VmRSS")
	heap0 := heapInUse()
	peaks := resetPeak() == nil
	// Loading: as the Reloader's first build, with its collector setting.
	restore := rebuilding()
	buildGC := gcPercent()
	t0 := time.Now()
	cfg := bench.BigConfig("http://127.0.0.1:9", sz, time.Now())
	build := time.Since(t0)
	runtime.GC()
	heapCfg := heapInUse()
	nKeys, nSubs, nAPIs := len(cfg.Keys), len(cfg.Subscriptions), len(cfg.APIs)
	var times []time.Duration
	var snap *gateway.Snapshot
	for i := 0; i < *runs; i++ {
		snap = nil
		runtime.GC()
		t := time.Now()
		s, err := gateway.Compile(cfg)
		if err != nil {
			return err
		}
		times = append(times, time.Since(t))
		snap = s
	}
	cfg = nil // as the Reloader: the snapshot is all that is kept
	restore()
	store := gateway.NewStore(snap)
	h, err := gateway.NewHandler(store, gateway.Options{Region: bench.Region, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	runtime.GC()
	heapLoaded := heapInUse()
	rssLoaded, _ := procStatus("VmRSS")
	loadPeak, _ := procStatus("VmHWM")
	if peaks {
		resetPeak()
	}
	// A hot reload: the next Config is built and compiled while the
	// current snapshot still serves, then swapped in.
	restore = rebuilding()
	cfg2 := bench.BigConfig("http://127.0.0.1:9", sz, time.Now())
	snap2, err := gateway.Compile(cfg2)
	if err != nil {
		return err
	}
	runtime.GC()
	heapTwo := heapInUse() // both snapshots and the new Config
	runtime.KeepAlive(cfg2)
	cfg2 = nil
	store.Swap(snap2)
	restore()
	reloadPeak, _ := procStatus("VmHWM")
	runtime.KeepAlive(h)

	slices.Sort(times)
	fmt.Printf("configuration: %d keys, %d routes, %d subscriptions, %d API versions (Go %s, GOMAXPROCS %d, GOGC %d, %d while building)\n",
		nKeys, snap.Router().Routes(), nSubs, nAPIs, runtime.Version(), runtime.GOMAXPROCS(0), gcPercent(), buildGC)
	fmt.Printf("building the Config value (benchmark generator, not gateway work): %v\n", build.Round(time.Millisecond))
	fmt.Printf("gateway.Compile: median %v over %d runs (min %v, max %v)\n", times[len(times)/2].Round(time.Millisecond), len(times),
		times[0].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))
	fmt.Printf("Go heap in use after GC: Config alone %s; Snapshot + Handler (the Config dropped) %s; during a reload (two snapshots and the new Config) %s\n",
		mb(heapCfg-heap0), mb(heapLoaded-heap0), mb(heapTwo-heap0))
	if peaks {
		fmt.Printf("process RSS: at start %s; with the configuration loaded %s; peak while loading %s; peak during the reload %s\n",
			kb(rss0), kb(rssLoaded), kb(loadPeak), kb(reloadPeak))
	} else {
		fmt.Printf("process RSS: at start %s; with the configuration loaded %s; peak (VmHWM, loading and reload) %s\n",
			kb(rss0), kb(rssLoaded), kb(reloadPeak))
	}
	return nil
}

// resetPeak sets the process's VmHWM back to its current RSS (Linux 4.0+),
// so the loading and the reload peaks are measured apart.
func resetPeak() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// rebuilding sets the collector as portico's Reloader does while it
// builds a configuration — when GOGC is unset, like portico — and returns
// what restores the setting.
func rebuilding() (restore func()) {
	_, rebuild := gwconfig.CollectorSettings(os.Getenv)
	return gwconfig.Rebuilding(rebuild)
}

// gcPercent is the GOGC in force.
func gcPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func mb(b uint64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

func kb(k uint64) string { return fmt.Sprintf("%.1f MB", float64(k)*1024/1e6) }

// procStatus reads a "Name: N kB" field of /proc/self/status, in kB.
func procStatus(name string) (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+":"); ok {
			var n uint64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &n)
			return n, nil
		}
	}
	return 0, fmt.Errorf("%s not in /proc/self/status", name)
}
