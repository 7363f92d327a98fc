package bench

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-dev/portico/bench/loadgen"
)

// TestLoopbackShares runs BenchmarkLoopback's modes against each other in
// alternating rounds, in one process, and prints each mode's throughput
// relative to public's in the same round: where the full chain's cost goes
// in wall time (bench/instr says it in instructions). It runs only with
// PORTICO_BENCH_SHARES=N, N requests per mode per round:
//
//	PORTICO_BENCH_SHARES=60000 go test -run TestLoopbackShares -v ./bench
//
// Rounds (8) rotate the order of the modes; the figures are the medians
// over the rounds of each mode's ratio to public in the same round, with
// the middle half of the rounds' ratios in brackets.
func TestLoopbackShares(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PORTICO_BENCH_SHARES"))
	if n <= 0 {
		t.Skip("set PORTICO_BENCH_SHARES to the requests per mode and round")
	}
	const rounds, conns = 8, 16
	up := startLoopbackUpstream(t)
	addrs := make([]string, len(loopbackModes))
	reqs := make([][][]byte, len(loopbackModes))
	for i, mode := range loopbackModes {
		addrs[i] = startLoopbackGateway(t, loopbackHandler(t, up, mode.limits, mode.meter))
		reqs[i] = loopbackRequests(t, addrs[i], mode.api, SmallKeys)
	}
	run := func(i int) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range conns {
			wg.Go(func() {
				c, err := loadgen.Dial(addrs[i])
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				for k := next.Add(1); k <= int64(n); k = next.Add(1) {
					if status, _, err := c.Do(reqs[i][k%int64(len(reqs[i]))]); err != nil || status != 200 {
						t.Errorf("%s: status %d, %v", loopbackModes[i].name, status, err)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	public := slices.IndexFunc(loopbackModes, func(m loopbackMode) bool { return m.name == "public" })
	ratios := make([][]float64, len(loopbackModes)) // public's time ÷ the mode's: throughput ratio
	for r := range rounds {
		took := make([]time.Duration, len(loopbackModes))
		for j := range loopbackModes {
			i := (j + r) % len(loopbackModes)
			took[i] = run(i)
		}
		if t.Failed() {
			return
		}
		for i := range loopbackModes {
			ratios[i] = append(ratios[i], float64(took[public])/float64(took[i]))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d rounds × %d requests per mode on %d connections; throughput ÷ public in the same round:\n", rounds, n, conns)
	for i, mode := range loopbackModes {
		x := slices.Clone(ratios[i])
		slices.Sort(x)
		fmt.Fprintf(&b, "  %-7s %.3f [%.3f–%.3f]\n", mode.name, (x[len(x)/2-1]+x[len(x)/2])/2, x[len(x)/4], x[len(x)*3/4-1])
	}
	t.Log(b.String())
}
