package gwconfig

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestTunedPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name    string
		live    uint64
		want    int
		serving int
	}{
		{"unknown live heap", 0, 200, 200},
		{"above the floor", 40 * mib, 200, 200},
		{"goal exactly at the floor", 64 * mib / 3, 200, 200},
		{"small heap", 4 * mib, 1500, 200},
		{"rounded up to a step of 50", 5 * mib, 1200, 200}, // 1180
		{"nearly empty", 1024, maxTunedPercent, 200},
		{"never below serving", 30 * mib, 300, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tunedPercent(tc.serving, 64*mib, tc.live); got != tc.want {
				t.Fatalf("tunedPercent(%d, 64 MiB, %d) = %d; want %d", tc.serving, tc.live, got, tc.want)
			}
		})
	}
}

// TestTuneCollector: after a collection the tuner raises GOGC so the heap
// goal reaches the floor; a rebuild's setting holds through collections
// and the tuned one is back after it; stop ends the tuning.
func TestTuneCollector(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	const floor = 256 << 20 // far above this test's live heap
	stop := TuneCollector(200, floor)
	defer stop()
	waitPercent(t, "tuned", func(p int) bool { return p > 200 })
	tuned := currentPercent()

	done := Rebuilding(37)
	if p := currentPercent(); p != 37 {
		t.Fatalf("GOGC %d while rebuilding; want 37", p)
	}
	for range 3 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // the tuner's hook runs after the collection
		if p := currentPercent(); p != 37 {
			t.Fatalf("GOGC %d after a collection during the rebuild; want 37", p)
		}
	}
	done()
	done() // a second call changes nothing
	if p := currentPercent(); p != tuned {
		t.Fatalf("GOGC %d after the rebuild; want the tuned %d back", p, tuned)
	}

	stop()
	debug.SetGCPercent(150)
	for range 3 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if p := currentPercent(); p != 150 {
		t.Fatalf("GOGC %d after stop; the tuner changed it again", p)
	}
}

// waitPercent collects until GOGC satisfies ok, for up to 5 s.
func waitPercent(t *testing.T, what string, ok func(int) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok(currentPercent()) {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC still %d: not %s after 5 s of collections", currentPercent(), what)
		}
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
}

func currentPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}
