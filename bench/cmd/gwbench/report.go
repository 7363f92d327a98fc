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
	cpu   float64
	bad   bool
	round string
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
	ratio := func(a, b float64) string {
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
			ratio(m.rps, med["nginx"].rps), ratio(m.rps, med["direct"].rps), ratio(m.rps, med["public"].rps), ratio(m.p99, med["nginx"].p99), cpu)
	}
	fmt.Println("\nreq/s, p50 and p99 are medians over the rounds; ratios are of those medians. CPU/req is the median CPU time the")
	fmt.Println("proxy process spent per request answered (for direct, the upstream's), all threads, user + system.")
	printPaired(order, runs)
	if len(flagged) > 0 {
		fmt.Println("\nFLAGGED runs (errors or non-2xx answers; their figures are suspect):")
		for _, s := range flagged {
			fmt.Println("  " + s)
		}
		return errors.New("some runs had errors")
	}
	fmt.Println("\nAll answers were 2xx; no socket errors.")
	return nil
}

// printPaired prints, per target, the median over the rounds of its ratio
// to nginx and to public *in the same round*. Each round runs the targets
// back to back, so a ratio within a round compares them under the same
// conditions on a machine whose speed drifts between rounds; the median of
// those ratios is steadier than the ratio of the medians above.
func printPaired(order []string, runs map[string][]result) {
	byRound := func(t string) map[string]result {
		m := map[string]result{}
		for _, r := range runs[t] {
			if !r.bad {
				m[r.round] = r
			}
		}
		return m
	}
	paired := func(t, base string, get func(a, b result) float64) string {
		bs := byRound(base)
		var v []float64
		for round, a := range byRound(t) {
			if b, ok := bs[round]; ok && get(a, b) > 0 {
				v = append(v, get(a, b))
			}
		}
		if len(v) == 0 || t == base {
			return "-"
		}
		slices.Sort(v)
		m := v[len(v)/2]
		if len(v)%2 == 0 {
			m = (v[len(v)/2-1] + m) / 2
		}
		return fmt.Sprintf("%.2f×", m)
	}
	rps := func(a, b result) float64 {
		if b.rps == 0 {
			return 0
		}
		return a.rps / b.rps
	}
	p99 := func(a, b result) float64 {
		if b.p99 == 0 {
			return 0
		}
		return a.p99 / b.p99
	}
	cpu := func(a, b result) float64 {
		if b.cpu == 0 {
			return 0
		}
		return a.cpu / b.cpu
	}
	fmt.Printf("\nPaired within each round (median over the rounds of the ratio to the target run in the same round):\n")
	fmt.Printf("%-14s %9s %9s %9s %11s\n", "target", "÷nginx", "÷public", "p99÷nginx", "CPU÷public")
	for _, t := range order {
		fmt.Printf("%-14s %9s %9s %9s %11s\n", t, paired(t, "nginx", rps), paired(t, "public", rps), paired(t, "nginx", p99), paired(t, "public", cpu))
	}
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
		r := result{p50: kv["p50_us"], p99: kv["p99_us"], round: round}
		if d := kv["duration_us"]; d > 0 {
			r.rps = kv["requests"] / (d / 1e6)
		}
		if n := kv["requests"]; n > 0 {
			r.cpu = kv["cpu_us"] / n
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
	at := map[string]map[string]result{} // round id → target → run
	for t, rs := range runs {
		for _, r := range rs {
			if at[r.round] == nil {
				at[r.round] = map[string]result{}
			}
			at[r.round][t] = r
		}
	}
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
	fmt.Printf("\n%-16s %6s %18s %18s %18s\n", "comparison", "pairs", "req/s ratio", "CPU/req ratio", "p99 ratio")
	for _, c := range cmps {
		var rps, cpu, p99 []float64
		for _, id := range ids {
			if !strings.HasPrefix(id, c.a+"-"+c.b+"/") {
				continue
			}
			x, okA := at[id][c.a]
			y, okB := at[id][c.b]
			if !okA || !okB || x.bad || y.bad || x.rps == 0 || x.cpu == 0 || x.p99 == 0 {
				continue
			}
			rps, cpu, p99 = append(rps, y.rps/x.rps), append(cpu, y.cpu/x.cpu), append(p99, y.p99/x.p99)
		}
		if len(rps) == 0 {
			continue
		}
		fmt.Printf("%-16s %6d %18s %18s %18s\n", c.b+" ÷ "+c.a, len(rps), spread(rps), spread(cpu), spread(p99))
	}
	fmt.Println("\nEach figure is the median over the pairs, with the middle half of the pairs' ratios in brackets.")
	if len(flagged) > 0 {
		fmt.Println("\nFLAGGED runs (errors or non-2xx answers; left out):")
		for _, s := range flagged {
			fmt.Println("  " + s)
		}
		return errors.New("some runs had errors")
	}
	return nil
}

// spread formats the median of v with its interquartile range.
func spread(v []float64) string {
	slices.Sort(v)
	q := func(p float64) float64 {
		x := p * float64(len(v)-1)
		i := int(x)
		if i+1 >= len(v) {
			return v[len(v)-1]
		}
		return v[i] + (x-float64(i))*(v[i+1]-v[i])
	}
	return fmt.Sprintf("%.3f [%.2f–%.2f]", q(0.5), q(0.25), q(0.75))
}

func median(rs []result) result {
	pick := func(get func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = get(r)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return result{rps: pick(func(r result) float64 { return r.rps }), p50: pick(func(r result) float64 { return r.p50 }), p99: pick(func(r result) float64 { return r.p99 }),
		cpu: pick(func(r result) float64 { return r.cpu })}
}

func us(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.2fms", v/1000)
	}
	return fmt.Sprintf("%.0fµs", v)
}
