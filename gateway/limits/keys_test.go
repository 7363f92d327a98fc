package limits

import (
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// TestEntriesKeepTheirOwnKeys: the state kept per key holds its own copy of
// the key, so a key that is a slice of a large buffer does not keep the
// buffer alive (the gateway's keys are slices of its configuration arena,
// which every reload replaces) — neither after the call that created the
// entry nor after later ones that update it.
func TestEntriesKeepTheirOwnKeys(t *testing.T) {
	now := time.Now()
	g, _ := NewGCRA(10, 10)
	q, _ := NewQuotas()
	keepers := map[string]func(key string){
		"GCRA":   func(key string) { g.Allow(key, now) },
		"Quotas": func(key string) { q.Take(key, 1, 100, Day(), now) },
	}
	if !testing.Short() {
		rdb := testRedis(t)
		l, err := NewLeaser(LeaseConfig{Client: rdb, Prefix: "portico:test:" + t.Name() + ":"})
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewRateLeaser(RateLeaseConfig{Client: rdb, Prefix: "portico:test:" + t.Name() + ":"})
		if err != nil {
			t.Fatal(err)
		}
		keepers["Leaser"] = func(key string) { l.Lease(key, 100, Day()) }
		keepers["RateLeaser"] = func(key string) { r.Lease(key, 10, 10) }
	}
	for name, keep := range keepers {
		t.Run(name, func(t *testing.T) {
			for call := range 3 { // the first call makes the entry, the others find it
				buf := strings.Repeat("x", 1<<20) + "sub-1"
				freed := make(chan struct{})
				runtime.AddCleanup(unsafe.StringData(buf), func(ch chan struct{}) { close(ch) }, freed)
				keep(buf[len(buf)-len("sub-1"):])
				buf = ""
				if !collected(freed) {
					t.Fatalf("call %d: the entry keeps its key's buffer alive", call+1)
				}
			}
		})
	}
}

// collected runs the collector until freed is closed, for up to 10 s.
func collected(freed chan struct{}) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		runtime.GC()
		select {
		case <-freed:
			return true
		case <-time.After(10 * time.Millisecond):
		}
	}
	return false
}
