package bench

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-dev/portico/bench/loadgen"
)

// BenchmarkLoopbackShares runs BenchmarkLoopback's modes against each
// other in alternating rounds, in one process, and reports each mode's
// throughput relative to public's in the same round: where the full
// chain's cost goes in wall time (bench/instr says it in instructions).
// b.N is the requests per mode per round:
//
//	go test -run '^$' -bench LoopbackShares -benchtime 60000x -v ./bench
//
// Rounds (8) rotate the order of the modes; the metrics are the medians
// over the rounds of each mode's ratio to public in the same round, and
// the log adds the middle half of the rounds' ratios.
func BenchmarkLoopbackShares(b *testing.B) {
	const rounds, conns = 8, 16
	up := startLoopbackUpstream(b)
	addrs := make([]string, len(loopbackModes))
	reqs := make([][][]byte, len(loopbackModes))
	for i, mode := range loopbackModes {
		addrs[i] = startLoopbackGateway(b, loopbackHandler(b, up, mode.limits, mode.meter))
		reqs[i] = loopbackRequests(b, addrs[i], mode.api, SmallKeys)
	}
	n := int64(b.N)
	run := func(i int) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range conns {
			wg.Go(func() {
				c, err := loadgen.Dial(addrs[i])
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				for k := next.Add(1); k <= n; k = next.Add(1) {
					if status, _, err := c.Do(reqs[i][k%int64(len(reqs[i]))]); err != nil || status != 200 {
						b.Errorf("%s: status %d, %v", loopbackModes[i].name, status, err)
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
	b.ResetTimer()
	for r := range rounds {
		took := make([]time.Duration, len(loopbackModes))
		for j := range loopbackModes {
			i := (j + r) % len(loopbackModes)
			took[i] = run(i)
		}
		if b.Failed() {
			return
		}
		for i := range loopbackModes {
			ratios[i] = append(ratios[i], float64(took[public])/float64(took[i]))
		}
	}
	var log strings.Builder
	fmt.Fprintf(&log, "%d rounds × %d requests per mode on %d connections; throughput ÷ public in the same round:\n", rounds, n, conns)
	for i, mode := range loopbackModes {
		x := slices.Clone(ratios[i])
		slices.Sort(x)
		median := (x[len(x)/2-1] + x[len(x)/2]) / 2
		fmt.Fprintf(&log, "  %-7s %.3f [%.3f–%.3f]\n", mode.name, median, x[len(x)/4], x[len(x)*3/4-1])
		if i != public {
			b.ReportMetric(median, mode.name+"÷public")
		}
	}
	b.Log(log.String())
}
