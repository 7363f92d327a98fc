package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// result is one wrk run as the run script records it: a line
// "target round RESULT key=value …".
type result struct {
	rps, p50, p99 float64
	// cpu is the proxy's CPU time per request in µs (for direct, the
	// upstream's): what the target itself costs, which contention between
	// the processes on the machine moves much less than req/s.
	cpu float64
	// The rest of the machine per request, in µs of CPU time: wrk's,
	// the upstream's (zero for direct, where it is the target), and the
	// machine's busy time not spent in any of the three (the kernel's
	// network work outside process context, other processes); idle and
	// steal are fractions of the machine's time. Zero when not recorded.
	wrk, up, other float64
	idle, steal    float64
	// cs and upCS are the context switches per request of the proxy's
	// threads and of the upstream's (for direct, cs is the upstream's),
	// voluntary and not; -1 when not recorded.
	cs, upCS float64
	bad      bool
	round    string
}

// report reads the run script's results file and prints, per target, the
// median req/s and latencies over the rounds and the ratios to nginx and to
// the upstream served directly, flagging runs with errors or non-2xx
// answers.
func report(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: gwbench report RESULTS")
	}
	order, runs, flagged, err := readResults(args[0])
	if err != nil {
		return err
	}
	if len(order) == 0 {
		return errors.New("report: no results")
	}
	med := map[string]result{}
	for _, t := range order {
		med[t] = median(runs[t])
	}
	times := func(a, b float64) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f×", a/b)
	}
	fmt.Printf("\n%-14s %6s %10s %9s %9s %9s %9s %9s %9s %9s\n", "target", "runs", "req/s", "p50", "p99", "÷nginx", "÷direct", "÷public", "p99÷nginx", "CPU/req")
	for _, t := range order {
		m := med[t]
		cpu := "-"
		if m.cpu > 0 {
			cpu = fmt.Sprintf("%.1fµs", m.cpu)
		}
		fmt.Printf("%-14s %6d %10.0f %9s %9s %9s %9s %9s %9s %9s\n", t, len(runs[t]), m.rps, us(m.p50), us(m.p99),
			times(m.rps, med["nginx"].rps), times(m.rps, med["direct"].rps), times(m.rps, med["public"].rps), times(m.p99, med["nginx"].p99), cpu)
	}
	fmt.Println("\nreq/s, p50 and p99 are medians over the rounds; ratios are of those medians. CPU/req is the median CPU time the")
	fmt.Println("proxy process spent per request answered (for direct, the upstream's), all threads, user + system.")
	printMachine(order, med)
	printSwitches(order, med)
	printPaired(order, runs)
	if err := printFlagged(flagged, "FLAGGED runs (errors or non-2xx answers; their figures are suspect):"); err != nil {
		return err
	}
	fmt.Println("\nAll answers were 2xx; no socket errors.")
	return nil
}

// printMachine prints where the whole machine's CPU went per request
// answered, target by target. On a machine the load generator, the
// upstream and the proxy share, req/s is the machine's CPU divided by what
// one request costs all of them together, so this shows what a ratio of
// req/s is made of.
func printMachine(order []string, med map[string]result) {
	if med[order[0]].wrk == 0 && med[order[0]].idle == 0 {
		return // an older results file
	}
	fmt.Printf("\nWhere the machine's CPU went, per request answered (medians over the rounds):\n")
	fmt.Printf("%-14s %9s %9s %9s %9s %9s %7s %7s\n", "target", "proxy", "upstream", "wrk", "other", "all", "idle", "steal")
	for _, t := range order {
		m := med[t]
		proxy := fmt.Sprintf("%.1fµs", m.cpu)
		up := fmt.Sprintf("%.1fµs", m.up)
		if t == "direct" {
			proxy, up = "-", fmt.Sprintf("%.1fµs", m.cpu)
		}
		fmt.Printf("%-14s %9s %9s %9s %9s %9s %6.1f%% %6.1f%%\n", t, proxy, up, fmt.Sprintf("%.1fµs", m.wrk), fmt.Sprintf("%.1fµs", m.other),
			fmt.Sprintf("%.1fµs", m.cpu+m.up+m.wrk+m.other), 100*m.idle, 100*m.steal)
	}
	fmt.Println("\nproxy, upstream and wrk are each process's CPU time; other is the rest of the machine's busy time (mostly the")
	fmt.Println("kernel's loopback network work outside process context); all is their sum. With idle near zero the machine is")
	fmt.Println("CPU-bound: req/s ≈ CPUs ÷ all, so a proxy's req/s ratio to another is the inverse ratio of their `all`, not of")
	fmt.Println("their proxy CPU alone — and the upstream and wrk cost more per request the fewer requests each wake-up carries.")
}

// printSwitches prints the context switches per request answered of the
// proxy's and the upstream's threads: how many times a request made each
// give up a CPU. A proxy that hands the upstream its requests one at a
// time makes it wake up (and switch) for each, which is much of why the
// upstream costs more behind a slower proxy.
func printSwitches(order []string, med map[string]result) {
	if med[order[0]].cs < 0 {
		return // an older results file
	}
	fmt.Printf("\nContext switches per request answered (medians over the rounds; all threads, voluntary and not):\n")
	fmt.Printf("%-14s %9s %9s\n", "target", "proxy", "upstream")
	for _, t := range order {
		m := med[t]
		proxy, up := fmt.Sprintf("%.2f", m.cs), fmt.Sprintf("%.2f", m.upCS)
		if t == "direct" {
			proxy, up = "-", fmt.Sprintf("%.2f", m.cs)
		} else if m.upCS < 0 {
			up = "-"
		}
		fmt.Printf("%-14s %9s %9s\n", t, proxy, up)
	}
}

// printPaired prints, per target, the median over the rounds of its ratio
// to nginx and to public *in the same round*. Each round runs the targets
// back to back, so a ratio within a round compares them under the same
// conditions on a machine whose speed drifts between rounds; the median of
// those ratios is steadier than the ratio of the medians above.
func printPaired(order []string, runs map[string][]result) {
	rounds := byRound(runs)
	paired := func(t, base string, m metric) string {
		var v []float64
		for _, at := range rounds {
			if x, y, ok := pair(at, base, t); ok && t != base {
				v = append(v, ratio(y, x, m))
			}
		}
		if len(v) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f×", quantile(v, 0.5))
	}
	fmt.Printf("\nPaired within each round (median over the rounds of the ratio to the target run in the same round):\n")
	fmt.Printf("%-14s %9s %9s %9s %9s %11s\n", "target", "÷nginx", "÷public", "÷goproxy", "p99÷nginx", "CPU÷public")
	for _, t := range order {
		fmt.Printf("%-14s %9s %9s %9s %9s %11s\n", t, paired(t, "nginx", rpsOf), paired(t, "public", rpsOf), paired(t, "goproxy", rpsOf),
			paired(t, "nginx", p99Of), paired(t, "public", cpuOf))
	}
	fmt.Println("\n÷goproxy is the ratio to Go's stock httputil.ReverseProxy in the same round: how far Portico's forwarding is")
	fmt.Println("from the proxy it is built on, a ratio that moves less between machines than the ratio to nginx does.")
}

// metric reads one figure of a run.
type metric func(result) float64

func rpsOf(r result) float64 { return r.rps }
func p99Of(r result) float64 { return r.p99 }
func cpuOf(r result) float64 { return r.cpu }

// cpuPerUpstream is the proxy's CPU per request over the upstream's in the
// same run. The upstream answers the same way behind either target of a
// pair, so its CPU per request tracks the machine's momentary speed: on
// this VM a run can cost every process a third more than one seconds
// before it, which this ratio divides out (less the upstream's own share
// of the difference, such as the extra fields the full chain forwards).
func cpuPerUpstream(r result) float64 { return r.cpu / r.up }

// ratio is y's figure over x's.
func ratio(y, x result, m metric) float64 { return m(y) / m(x) }

// byRound groups the runs by round id: round → target → run.
func byRound(runs map[string][]result) map[string]map[string]result {
	at := map[string]map[string]result{}
	for t, rs := range runs {
		for _, r := range rs {
			if at[r.round] == nil {
				at[r.round] = map[string]result{}
			}
			at[r.round][t] = r
		}
	}
	return at
}

// pair returns the runs of targets a and b in one round, if both ran
// without errors and a's figures can divide.
func pair(at map[string]result, a, b string) (x, y result, ok bool) {
	x, okA := at[a]
	y, okB := at[b]
	return x, y, okA && okB && !x.bad && !y.bad && x.rps > 0 && x.cpu > 0 && x.p99 > 0
}

// printFlagged lists the runs with errors and reports them as an error.
func printFlagged(flagged []string, heading string) error {
	if len(flagged) == 0 {
		return nil
	}
	fmt.Println("\n" + heading)
	for _, s := range flagged {
		fmt.Println("  " + s)
	}
	return errors.New("some runs had errors")
}

// readResults reads a results file of the run script: lines
// "target round RESULT key=value …", in the order the targets first appear.
// flagged describes the runs with errors or non-2xx answers.
func readResults(path string) (order []string, runs map[string][]result, flagged []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.Close()
	runs = map[string][]result{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || fields[2] != "RESULT" {
			continue
		}
		target, round := fields[0], fields[1]
		kv := map[string]float64{}
		for _, p := range fields[3:] {
			k, v, _ := strings.Cut(p, "=")
			kv[k], _ = strconv.ParseFloat(v, 64)
		}
		r := result{p50: kv["p50_us"], p99: kv["p99_us"], round: round, cs: -1, upCS: -1}
		if d := kv["duration_us"]; d > 0 {
			r.rps = kv["requests"] / (d / 1e6)
		}
		if n := kv["requests"]; n > 0 {
			r.cpu = kv["cpu_us"] / n
			r.wrk = kv["wrk_cpu_us"] / n
			if target != "direct" {
				r.up = kv["up_cpu_us"] / n
			}
			if b := kv["busy_us"]; b > 0 {
				r.other = max(0, b/n-r.cpu-r.up-r.wrk)
			}
			if v, ok := kv["cs"]; ok {
				r.cs = v / n
			}
			if v, ok := kv["up_cs"]; ok && target != "direct" {
				r.upCS = v / n
			}
		}
		if all := kv["busy_us"] + kv["idle_us"] + kv["steal_us"]; all > 0 {
			r.idle, r.steal = kv["idle_us"]/all, kv["steal_us"]/all
		}
		if errs := kv["non2xx"] + kv["connect"] + kv["read"] + kv["write"] + kv["timeout"]; errs > 0 || kv["requests"] == 0 {
			r.bad = true
			flagged = append(flagged, fmt.Sprintf("%s round %s: %.0f non-2xx, %.0f connect, %.0f read, %.0f write, %.0f timeout errors of %.0f requests",
				target, round, kv["non2xx"], kv["connect"], kv["read"], kv["write"], kv["timeout"], kv["requests"]))
		}
		if _, ok := runs[target]; !ok {
			order = append(order, target)
		}
		runs[target] = append(runs[target], r)
	}
	return order, runs, flagged, sc.Err()
}

// pairs reads the run script's pairs file — short runs of two targets back
// to back, "target pairN RESULT …", the order alternating from pair to pair
// — and prints, per pair of targets, the median over the pairs of the
// second's req/s, CPU per request and p99 relative to the first's. Runs
// seconds apart share the machine's momentary speed, which on a shared VM
// drifts by more than the differences measured here.
func pairs(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: gwbench pairs PAIRS")
	}
	_, runs, flagged, err := readResults(args[0])
	if err != nil {
		return err
	}
	// A round id is "<first>-<second>/<n>": which comparison, which pair.
	type cmp struct{ a, b string }
	var cmps []cmp
	seen := map[cmp]bool{}
	at := byRound(runs)
	ids := make([]string, 0, len(at))
	for id := range at {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		name, _, _ := strings.Cut(id, "/")
		a, b, ok := strings.Cut(name, "-")
		if c := (cmp{a, b}); ok && !seen[c] {
			seen[c] = true
			cmps = append(cmps, c)
		}
	}
	// The no-policy comparison first, then the ones relative to the full chain.
	slices.SortStableFunc(cmps, func(x, y cmp) int {
		if (x.a == "public") != (y.a == "public") {
			if x.a == "public" {
				return -1
			}
			return 1
		}
		return 0
	})
	fmt.Printf("\n%-16s %6s %18s %18s %18s %18s\n", "comparison", "pairs", "req/s ratio", "CPU/req ratio", "p99 ratio", "CPU ÷ upstream's")
	for _, c := range cmps {
		var rps, cpu, p99, norm []float64
		for _, id := range ids {
			if !strings.HasPrefix(id, c.a+"-"+c.b+"/") {
				continue
			}
			if x, y, ok := pair(at[id], c.a, c.b); ok {
				rps, cpu, p99 = append(rps, ratio(y, x, rpsOf)), append(cpu, ratio(y, x, cpuOf)), append(p99, ratio(y, x, p99Of))
				if x.up > 0 && y.up > 0 {
					norm = append(norm, ratio(y, x, cpuPerUpstream))
				}
			}
		}
		if len(rps) == 0 {
			continue
		}
		n := "-"
		if len(norm) > 0 {
			n = spread(norm)
		}
		fmt.Printf("%-16s %6d %18s %18s %18s %18s\n", c.b+" ÷ "+c.a, len(rps), spread(rps), spread(cpu), spread(p99), n)
	}
	fmt.Println("\nEach figure is the median over the pairs, with the middle half of the pairs' ratios in brackets. CPU ÷ upstream's is")
	fmt.Println("the CPU/req ratio with each run's CPU per request divided by the upstream's in the same run: the machine's")
	fmt.Println("momentary speed, which moves every process's CPU per request together, divided out.")
	return printFlagged(flagged, "FLAGGED runs (errors or non-2xx answers; left out):")
}

// spread formats the median of v with its interquartile range.
func spread(v []float64) string {
	return fmt.Sprintf("%.3f [%.2f–%.2f]", quantile(v, 0.5), quantile(v, 0.25), quantile(v, 0.75))
}

// quantile is the p-quantile of v (which it sorts), interpolated between
// neighbours: quantile(v, 0.5) is the median.
func quantile(v []float64, p float64) float64 {
	slices.Sort(v)
	x := p * float64(len(v)-1)
	i := int(x)
	if i+1 >= len(v) {
		return v[len(v)-1]
	}
	return v[i] + (x-float64(i))*(v[i+1]-v[i])
}

// median is each figure's median over the runs.
func median(rs []result) result {
	pick := func(m metric) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = m(r)
		}
		return quantile(v, 0.5)
	}
	return result{rps: pick(rpsOf), p50: pick(func(r result) float64 { return r.p50 }), p99: pick(p99Of), cpu: pick(cpuOf),
		wrk: pick(func(r result) float64 { return r.wrk }), up: pick(func(r result) float64 { return r.up }),
		other: pick(func(r result) float64 { return r.other }), idle: pick(func(r result) float64 { return r.idle }),
		steal: pick(func(r result) float64 { return r.steal }), cs: pick(func(r result) float64 { return r.cs }),
		upCS: pick(func(r result) float64 { return r.upCS })}
}

func us(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.2fms", v/1000)
	}
	return fmt.Sprintf("%.0fµs", v)
}
