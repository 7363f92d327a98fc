//go:build !race

// Allocation counts do not hold in a race build, where sync.Pool drops
// items at random: this file is left out of those.

package backendsig

import (
	"testing"
	"time"
)

// A signature allocates its value and nothing else, query or no query:
// the keyed states, buffers and the query's sort space are reused.
func TestSignerValueAllocs(t *testing.T) {
	s := NewSigner("bk1", []byte("backend secret"))
	f := Facts{Consumer: "org", App: "app", Plan: "plan", RequestID: "id", BodySHA256: hexSum(""), Timestamp: time.Now()}
	for _, q := range []string{"", "b=2&a=1&c=x%20y"} {
		s.Value("GET", "/items/1", q, f)
		if n := testing.AllocsPerRun(200, func() { s.Value("GET", "/items/1", q, f) }); n != 1 {
			t.Errorf("query %q: %v allocations per signature, want 1", q, n)
		}
	}
}
