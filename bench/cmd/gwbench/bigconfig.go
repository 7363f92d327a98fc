package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/portico-dev/portico/bench"
	"github.com/portico-dev/portico/gateway"
)

// bigConfig measures, in a process of its own, what the large configuration
// costs: the time gateway.Compile takes (median of -runs) and the memory a
// gateway holding it uses (Go heap after GC, and the process RSS), plus the
// peak while a second snapshot is compiled next to it, as a hot reload does.
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
	t0 := time.Now()
	cfg := bench.BigConfig("http://127.0.0.1:9", sz, time.Now())
	build := time.Since(t0)
	runtime.GC()
	heapCfg := heapInUse()
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
	h, err := gateway.NewHandler(gateway.NewStore(snap), gateway.Options{Region: bench.Region, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	runtime.GC()
	heapLoaded := heapInUse()
	rssLoaded, _ := procStatus("VmRSS")
	// A hot reload: the next snapshot is compiled (from a new Config) while
	// the current one still serves.
	cfg2 := bench.BigConfig("http://127.0.0.1:9", sz, time.Now())
	snap2, err := gateway.Compile(cfg2)
	if err != nil {
		return err
	}
	runtime.GC()
	heapTwo := heapInUse()
	hwm, _ := procStatus("VmHWM")
	runtime.KeepAlive(h)
	runtime.KeepAlive(snap2)

	slices.Sort(times)
	fmt.Printf("configuration: %d keys, %d routes, %d subscriptions, %d API versions (Go %s, GOMAXPROCS %d)\n",
		len(cfg.Keys), snap.Router().Routes(), len(cfg.Subscriptions), len(cfg.APIs), runtime.Version(), runtime.GOMAXPROCS(0))
	fmt.Printf("building the Config value (benchmark generator, not gateway work): %v\n", build.Round(time.Millisecond))
	fmt.Printf("gateway.Compile: median %v over %d runs (min %v, max %v)\n", times[len(times)/2].Round(time.Millisecond), len(times),
		times[0].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))
	fmt.Printf("Go heap in use after GC: Config alone %s; Config + Snapshot + Handler %s; during a reload (two of each) %s\n",
		mb(heapCfg-heap0), mb(heapLoaded-heap0), mb(heapTwo-heap0))
	fmt.Printf("process RSS: at start %s; with the configuration loaded %s; peak (VmHWM, includes the reload) %s\n",
		kb(rss0), kb(rssLoaded), kb(hwm))
	return nil
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
