package limits

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestWriteHeaders(t *testing.T) {
	cases := []struct {
		name                string
		policies            []Policy
		wantPolicy, wantNow string
	}{
		{
			"burst and day",
			[]Policy{
				{Name: "burst", Quota: 10, Window: time.Second, Remaining: 7, Reset: 300 * time.Millisecond},
				{Name: "day", Quota: 1000, Window: 24 * time.Hour, Remaining: 990, Reset: time.Hour},
			},
			`"burst";q=10;w=1, "day";q=1000;w=86400`,
			`"burst";r=7;t=1, "day";r=990;t=3600`,
		},
		{
			"negative remaining and reset clamp to zero",
			[]Policy{{Name: "period", Quota: 5, Window: 30 * 24 * time.Hour, Remaining: -3, Reset: -time.Second}},
			`"period";q=5;w=2592000`,
			`"period";r=0;t=0`,
		},
		{
			"name is escaped as an sf-string",
			[]Policy{{Name: "a\"b\\c\né", Quota: 1, Window: 1500 * time.Millisecond, Remaining: 1, Reset: 1}},
			`"a\"b\\c???";q=1;w=2`,
			`"a\"b\\c???";r=1;t=1`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			WriteHeaders(h, c.policies...)
			if got := h.Get(HeaderPolicy); got != c.wantPolicy {
				t.Errorf("RateLimit-Policy = %q, want %q", got, c.wantPolicy)
			}
			if got := h.Get(HeaderRateLimit); got != c.wantNow {
				t.Errorf("RateLimit = %q, want %q", got, c.wantNow)
			}
		})
	}
	h := http.Header{}
	WriteHeaders(h)
	if len(h) != 0 {
		t.Fatalf("no policies wrote %v", h)
	}
}

func TestWriteRetryAfter(t *testing.T) {
	cases := []struct {
		name string
		d    time.Duration
		want string
	}{
		{"whole seconds", 3 * time.Second, "3"},
		{"rounds up", 1100 * time.Millisecond, "2"},
		{"never zero", 0, "1"},
		{"sub-second", time.Millisecond, "1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			WriteRetryAfter(h, c.d)
			if got := h.Get(HeaderRetryAfter); got != c.want {
				t.Fatalf("Retry-After = %q, want %q", got, c.want)
			}
		})
	}
}

func TestWriteRefusal(t *testing.T) {
	cases := []struct {
		name     string
		reason   Reason
		wantType string
	}{
		{"rate limited", RateLimited, "https://portico.dev/problems/rate-limited"},
		{"quota exceeded", QuotaExceeded, "https://portico.dev/problems/quota-exceeded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteRefusal(rec, c.reason, 2500*time.Millisecond, "req-1",
				Policy{Name: "burst", Quota: 10, Window: time.Second, Remaining: 0, Reset: time.Second})
			if rec.Code != http.StatusTooManyRequests {
				t.Fatalf("status %d", rec.Code)
			}
			if got := rec.Header().Get("Retry-After"); got != "3" {
				t.Fatalf("Retry-After = %q", got)
			}
			if got := rec.Header().Get("RateLimit"); got != `"burst";r=0;t=1` {
				t.Fatalf("RateLimit = %q", got)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json; charset=utf-8" {
				t.Fatalf("Content-Type = %q", ct)
			}
			var p struct {
				Type      string `json:"type"`
				Status    int    `json:"status"`
				RequestID string `json:"request_id"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			if p.Type != c.wantType || p.Status != 429 || p.RequestID != "req-1" {
				t.Fatalf("problem = %+v", p)
			}
		})
	}
}

func BenchmarkWriteHeaders(b *testing.B) {
	h := http.Header{}
	ps := []Policy{
		{Name: "burst", Quota: 10, Window: time.Second, Remaining: 7, Reset: time.Second},
		{Name: "day", Quota: 1000, Window: 24 * time.Hour, Remaining: 990, Reset: time.Hour},
	}
	b.ReportAllocs()
	for b.Loop() {
		WriteHeaders(h, ps...)
	}
}

func TestCanonicalHeaderNames(t *testing.T) {
	for name, canon := range map[string]string{HeaderPolicy: canonicalPolicy, HeaderRateLimit: canonicalRateLimit} {
		if got := http.CanonicalHeaderKey(name); got != canon {
			t.Errorf("CanonicalHeaderKey(%q) = %q, constant says %q", name, got, canon)
		}
	}
}

// TestPolicyCache: RateLimit-Policy values come from a cache of formatted
// ones; whatever the sets of terms, and however they collide in its
// slots, the value is the one formatting them gives, and a hit costs the
// call only RateLimit's value.
func TestPolicyCache(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"burst", "day", "month", "included", "dax", "b\"x"}
	var sets [][]Policy
	for range 4 * policyCacheSize { // more sets than slots: slots are shared and replaced
		ps := make([]Policy, 1+rng.IntN(5)) // up to 5: one more than the cache keeps
		for i := range ps {
			ps[i] = Policy{Name: names[rng.IntN(len(names))], Quota: rng.Int64N(3) * rng.Int64N(1_000_000_000),
				Window:    time.Duration(rng.Int64N(3*24*3600)) * time.Second / time.Duration(1+rng.IntN(3)),
				Remaining: rng.Int64N(1000), Reset: time.Duration(rng.Int64N(1e12))}
		}
		sets = append(sets, ps)
	}
	for round := range 3 {
		for i, ps := range sets {
			h := http.Header{}
			var vals [2]string
			WriteHeadersTo(h, &vals, ps...)
			if got, want := h.Get(HeaderPolicy), formatPolicy(ps); got != want {
				t.Fatalf("round %d, set %d: RateLimit-Policy %q, want %q", round, i, got, want)
			}
			if got, want := h.Get(HeaderRateLimit), formatState(ps); got != want {
				t.Fatalf("round %d, set %d: RateLimit %q, want %q", round, i, got, want)
			}
		}
	}
	// Terms that differ only where a weak cache would not look.
	base := Policy{Name: "day", Quota: 1000, Window: 24 * time.Hour}
	for _, other := range []Policy{
		{Name: "dax", Quota: 1000, Window: 24 * time.Hour},
		{Name: "day", Quota: 1001, Window: 24 * time.Hour},
		{Name: "day", Quota: 1000, Window: 24*time.Hour + time.Second},
	} {
		for _, p := range []Policy{base, other, base} {
			h := http.Header{}
			WriteHeaders(h, p)
			if got, want := h.Get(HeaderPolicy), formatPolicy([]Policy{p}); got != want {
				t.Fatalf("%+v: %q, want %q", p, got, want)
			}
		}
	}
	ps := []Policy{{Name: "burst", Quota: 10, Window: time.Second, Remaining: 7, Reset: time.Second}}
	h := http.Header{}
	var vals [2]string
	WriteHeadersTo(h, &vals, ps...)
	if n := testing.AllocsPerRun(100, func() { WriteHeadersTo(h, &vals, ps...) }); n != 1 {
		t.Fatalf("%v allocations per call with the policy cached, want 1 (RateLimit's value)", n)
	}
}

// TestPolicyCacheConcurrent: calls with different terms share slots from
// several goroutines (run with -race).
func TestPolicyCacheConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				p := Policy{Name: "burst", Quota: int64(g*10_000 + i%300), Window: time.Second}
				h := http.Header{}
				WriteHeaders(h, p)
				if got, want := h.Get(HeaderPolicy), formatPolicy([]Policy{p}); got != want {
					t.Errorf("%q, want %q", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// formatState is RateLimit's value as the draft spells it.
func formatState(ps []Policy) string {
	var items []string
	for _, p := range ps {
		items = append(items, string(appendSFString(nil, p.Name))+";r="+strconv.FormatInt(max(0, p.Remaining), 10)+";t="+strconv.FormatInt(ceilSeconds(p.Reset), 10))
	}
	return strings.Join(items, ", ")
}
