package gwconfig

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// DefaultHeapFloor is the smallest heap goal portico lets the collector
// aim for while it serves, when it picks the collector's settings itself
// (GOGC unset). The data plane allocates a few kilobytes per request over
// a resting heap of a few megabytes with a small configuration: at GOGC
// 200 alone the collector would run a dozen times a second at 20,000
// requests a second, each run a fixed cost (waking its workers, the two
// pauses, sweeping). With the goal held at 64 MiB it runs a couple of times
// a second, for about 6–9% less CPU per request in an A/B run of the
// benchmark gateway (bench/README.md). A large configuration's heap is
// above the floor anyway, so the floor costs nothing there; a small one
// pays at most this much memory at its peak.
const DefaultHeapFloor = 64 << 20

// maxTunedPercent bounds the GOGC the floor asks for, so a nearly empty
// heap does not turn into an unbounded setting.
const maxTunedPercent = 10000

// collector is the process's collector tuning: the garbage collector's
// settings are process-wide, so this is one value per process. mu orders
// the tuner's changes and the rebuilds', so that neither undoes the other.
var collector struct {
	mu sync.Mutex
	// serving and floor are what TuneCollector was given.
	serving int
	floor   uint64
	// tuned is the GOGC the tuner last set.
	tuned int
	// rebuilds counts the configuration builds under way; while any is,
	// the tuner leaves the setting to them. saved is what the first of
	// them replaced.
	rebuilds int
	saved    int
	// gen is the running tuner's generation: a per-cycle hook of another
	// one (replaced, or stopped, which moves gen on) stops.
	gen uint64
}

// TuneCollector keeps the collector at GOGC serving but never aiming
// below floor bytes of heap: after every collection it derives the GOGC
// that puts the next goal at floor for the live heap it measured, when
// that is more than serving. Rebuilding suspends it. The returned stop
// ends the tuning (GOGC stays where it is). Call it only when the
// operator left GOGC unset (CollectorSettings).
func TuneCollector(serving int, floor uint64) (stop func()) {
	collector.mu.Lock()
	collector.gen++
	gen := collector.gen
	collector.serving, collector.floor = serving, floor
	collector.mu.Unlock()
	tune(gen)
	arm(gen)
	return func() {
		collector.mu.Lock()
		if collector.gen == gen {
			collector.gen++
		}
		collector.mu.Unlock()
	}
}

// arm runs tune after the next collection: the cleanup of an object
// nothing references runs once a collection has found it unreachable,
// and re-arms itself. The object is 64 bytes of pointer-free memory, not a
// tiny allocation, whose block other objects could keep alive.
func arm(gen uint64) {
	runtime.AddCleanup(new([64]byte), func(gen uint64) {
		if tune(gen) {
			arm(gen)
		}
	}, gen)
}

// tune sets GOGC for the live heap; false once the tuner of generation
// gen has been stopped or replaced.
func tune(gen uint64) bool {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	var live uint64
	if s[0].Value.Kind() == metrics.KindUint64 {
		live = s[0].Value.Uint64()
	}
	collector.mu.Lock()
	defer collector.mu.Unlock()
	if collector.gen != gen {
		return false
	}
	if collector.rebuilds > 0 {
		return true
	}
	p := tunedPercent(collector.serving, collector.floor, live)
	if p != collector.tuned {
		debug.SetGCPercent(p)
		collector.tuned = p
	}
	return true
}

// tunedPercent is the GOGC that makes the heap goal, live × (1 + GOGC/100),
// at least floor, and never less than serving. It moves in steps of 50 so
// that a live heap that wobbles between collections does not change the
// setting every time.
func tunedPercent(serving int, floor, live uint64) int {
	if live == 0 || live*uint64(100+serving)/100 >= floor {
		return serving
	}
	p := int(floor*100/live) - 100
	p = (p + 49) / 50 * 50
	return max(serving, min(p, maxTunedPercent))
}

// Rebuilding sets GOGC to percent (when positive) while a configuration
// is built, suspending TuneCollector's changes, and returns what puts back
// the setting from before once the last concurrent build is done. While
// it rebuilds, what is live is briefly several times the resting heap,
// and the serving headroom would multiply that peak.
func Rebuilding(percent int) (done func()) {
	if percent <= 0 {
		return func() {}
	}
	collector.mu.Lock()
	collector.rebuilds++
	if collector.rebuilds == 1 {
		collector.saved = debug.SetGCPercent(percent)
	}
	collector.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			collector.mu.Lock()
			collector.rebuilds--
			if collector.rebuilds == 0 {
				debug.SetGCPercent(collector.saved)
			}
			collector.mu.Unlock()
		})
	}
}
