package main

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// captured calls f with the standard output captured.
func captured(t *testing.T, f func() error) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	ferr := f()
	os.Stdout = old
	w.Close()
	out, _ := io.ReadAll(r)
	return string(out), ferr
}

func resultsFile(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "results.txt")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// line is a results line: requests over 10 s, and the target's CPU time.
func line(target, round string, requests, cpuUS, p99 int) string {
	return target + " " + round + " RESULT requests=" + itoa(requests) + " duration_us=10000000 non2xx=0 connect=0 read=0 write=0 timeout=0 p50_us=1000 p99_us=" + itoa(p99) + " mean_us=1000 cpu_us=" + itoa(cpuUS)
}

func itoa(n int) string { return strconv.Itoa(n) }

// withUpstream adds the upstream's CPU time in the run to a result line.
func withUpstream(l string, upUS int) string { return l + " up_cpu_us=" + itoa(upUS) }

func TestPairsDivideOutTheMachine(t *testing.T) {
	// Pairs 1 and 2: the machine slowed by a third for full's run (the
	// upstream's CPU per request too): CPU/req 1.40 and 1.33, per upstream
	// 1.05 and 1.00. Pair 3: the upstream's CPU unknown, CPU/req 1.05.
	p := resultsFile(t,
		withUpstream(line("public", "public-full/001", 1000, 30000, 100), 20000),
		withUpstream(line("full", "public-full/001", 1000, 42000, 100), 26667),
		withUpstream(line("full", "public-full/002", 1000, 40000, 100), 26667),
		withUpstream(line("public", "public-full/002", 1000, 30000, 100), 20000),
		line("public", "public-full/003", 1000, 30000, 100), line("full", "public-full/003", 1000, 31500, 100),
	)
	out, err := captured(t, func() error { return pairs([]string{p}) })
	if err != nil {
		t.Fatal(err, out)
	}
	// CPU/req: 1.05, 1.33, 1.40 → 1.333; per upstream 1.00, 1.05 → 1.025.
	full := strings.Fields(lineOf(t, out, "full ÷ public"))
	if len(full) != 12 || full[6] != "1.333" || full[10] != "1.025" {
		t.Errorf("full ÷ public: %q", full)
	}
}

func TestPairsMedianOfRatios(t *testing.T) {
	p := resultsFile(t,
		// full first or second, the ratios are full's over public's in the same pair.
		line("public", "public-full/001", 1000, 10000, 100), line("full", "public-full/001", 900, 9900, 110),
		line("full", "public-full/002", 950, 10450, 120), line("public", "public-full/002", 1000, 10000, 100),
		line("public", "public-full/003", 1000, 10000, 100), line("full", "public-full/003", 800, 9600, 200),
		line("full", "full-redis/001", 1000, 10000, 100), line("redis", "full-redis/001", 990, 9900, 100),
	)
	out, err := captured(t, func() error { return pairs([]string{p}) })
	if err != nil {
		t.Fatal(err, out)
	}
	// req/s ratios 0.90, 0.95, 0.80 → median 0.90; CPU/req 1.10, 1.10, 1.20 → 1.10.
	full := lineOf(t, out, "full ÷ public")
	if !strings.Contains(full, " 3 ") || !strings.Contains(full, "0.900") || !strings.Contains(full, "1.100") {
		t.Errorf("full ÷ public: %q", full)
	}
	redis := lineOf(t, out, "redis ÷ full")
	if !strings.Contains(redis, "0.990") || !strings.Contains(redis, "1.000") {
		t.Errorf("redis ÷ full: %q", redis)
	}
	if strings.Index(out, "full ÷ public") > strings.Index(out, "redis ÷ full") {
		t.Errorf("the no-policy comparison should come first:\n%s", out)
	}
}

func TestPairsLeaveOutFailedRuns(t *testing.T) {
	bad := strings.Replace(line("full", "public-full/002", 10, 100, 100), "non2xx=0", "non2xx=5", 1)
	p := resultsFile(t,
		line("public", "public-full/001", 1000, 10000, 100), line("full", "public-full/001", 900, 9900, 110),
		line("public", "public-full/002", 1000, 10000, 100), bad,
	)
	out, err := captured(t, func() error { return pairs([]string{p}) })
	if err == nil || !strings.Contains(out, "FLAGGED") {
		t.Fatalf("a run with errors must be flagged: %v\n%s", err, out)
	}
	if full := lineOf(t, out, "full ÷ public"); !strings.Contains(full, " 1 ") || !strings.Contains(full, "0.900") {
		t.Errorf("the failed pair must be left out: %q", full)
	}
}

func TestReportPairedWithinRounds(t *testing.T) {
	// nginx ran in a fast spell in rounds 2 and 3, public and full only in
	// round 3: the ratio of the medians (0.24) mixes spells, the median of
	// the ratios within each round (0.48) does not.
	p := resultsFile(t,
		line("nginx", "1", 2000, 10000, 100), line("public", "1", 1000, 20000, 200), line("full", "1", 960, 21000, 220),
		line("nginx", "2", 4000, 10000, 50), line("public", "2", 1000, 20000, 200), line("full", "2", 960, 21000, 220),
		line("nginx", "3", 4000, 10000, 50), line("public", "3", 2000, 20000, 100), line("full", "3", 1920, 21000, 110),
	)
	out, err := captured(t, func() error { return report([]string{p}) })
	if err != nil {
		t.Fatal(err, out)
	}
	paired := out[strings.Index(out, "Paired within each round"):]
	full := lineOf(t, paired, "full ")
	// No goproxy ran: its column says so.
	if f := strings.Fields(full); len(f) != 6 || f[1] != "0.48×" || f[2] != "0.96×" || f[3] != "-" || f[4] != "2.20×" || f[5] != "1.09×" {
		t.Errorf("paired full: %q", full)
	}
}

func lineOf(t *testing.T, out, prefix string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	t.Fatalf("no line %q in:\n%s", prefix, out)
	return ""
}

func TestReportMachineCPU(t *testing.T) {
	// 1,000 requests; nginx: proxy 15 ms, upstream 18 ms, wrk 7 ms, the
	// machine busy 44 ms of 50 ms with 1 ms stolen: 4 µs of other work.
	// For direct the target's CPU is the upstream's.
	machine := func(l string, wrkUS, upUS, busyUS, idleUS, stealUS int) string {
		return l + " wrk_cpu_us=" + itoa(wrkUS) + " up_cpu_us=" + itoa(upUS) + " busy_us=" + itoa(busyUS) + " idle_us=" + itoa(idleUS) + " steal_us=" + itoa(stealUS)
	}
	p := resultsFile(t,
		machine(line("direct", "1", 1000, 20000, 100), 8000, 20000, 30000, 19000, 1000),
		machine(line("nginx", "1", 1000, 15000, 100), 7000, 18000, 44000, 5000, 1000),
	)
	out, err := captured(t, func() error { return report([]string{p}) })
	if err != nil {
		t.Fatal(err, out)
	}
	table := out[strings.Index(out, "Where the machine's CPU went"):]
	for prefix, want := range map[string][]string{
		"nginx ":  {"15.0µs", "18.0µs", "7.0µs", "4.0µs", "44.0µs", "10.0%", "2.0%"},
		"direct ": {"-", "20.0µs", "8.0µs", "2.0µs", "30.0µs", "38.0%", "2.0%"},
	} {
		if f := strings.Fields(lineOf(t, table, prefix)); strings.Join(f[1:], " ") != strings.Join(want, " ") {
			t.Errorf("%s: %q, want %q", prefix, f[1:], want)
		}
	}
	// A results file without the machine's figures prints no such table.
	p = resultsFile(t, line("nginx", "1", 1000, 15000, 100))
	if out, _ := captured(t, func() error { return report([]string{p}) }); strings.Contains(out, "Where the machine") {
		t.Errorf("machine table from a file without its figures:\n%s", out)
	}
}

func TestReportContextSwitches(t *testing.T) {
	// 1,000 requests each; direct's switches are the upstream's own.
	p := resultsFile(t,
		line("direct", "1", 1000, 20000, 100)+" cs=900 up_cs=900",
		line("nginx", "1", 1000, 15000, 100)+" cs=700 up_cs=950",
		line("full", "1", 1000, 40000, 100)+" cs=1000 up_cs=1550",
	)
	out, err := captured(t, func() error { return report([]string{p}) })
	if err != nil {
		t.Fatal(err, out)
	}
	table := out[strings.Index(out, "Context switches per request"):]
	for prefix, want := range map[string]string{"direct ": "- 0.90", "nginx ": "0.70 0.95", "full ": "1.00 1.55"} {
		if f := strings.Fields(lineOf(t, table, prefix)); strings.Join(f[1:], " ") != want {
			t.Errorf("%s: %q, want %q", prefix, f[1:], want)
		}
	}
	// A results file without them prints no such table.
	p = resultsFile(t, line("nginx", "1", 1000, 15000, 100))
	if out, _ := captured(t, func() error { return report([]string{p}) }); strings.Contains(out, "Context switches") {
		t.Errorf("switches table from a file without them:\n%s", out)
	}
}
