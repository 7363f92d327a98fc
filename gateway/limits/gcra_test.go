package limits

import (
	"strconv"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func mustGCRA(t testing.TB, rate float64, burst int, opts ...Option) *GCRA {
	t.Helper()
	g, err := NewGCRA(rate, burst, opts...)
	if err != nil {
		t.Fatalf("NewGCRA(%v, %d): %v", rate, burst, err)
	}
	return g
}

func TestNewGCRAValidates(t *testing.T) {
	cases := []struct {
		name  string
		rate  float64
		burst int
		opts  []Option
		ok    bool
	}{
		{"valid", 10, 5, nil, true},
		{"zero rate", 0, 5, nil, false},
		{"negative rate", -1, 5, nil, false},
		{"zero burst", 10, 0, nil, false},
		{"rate too high", 1e10, 1, nil, false},
		{"zero max keys", 10, 1, []Option{MaxKeys(0)}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewGCRA(c.rate, c.burst, c.opts...)
			if (err == nil) != c.ok {
				t.Fatalf("err = %v, want ok=%v", err, c.ok)
			}
		})
	}
}

func TestGCRABurstThenRefuse(t *testing.T) {
	cases := []struct {
		name      string
		rate      float64
		burst     int
		wantRetry time.Duration
	}{
		{"1rps burst 3", 1, 3, time.Second},
		{"10rps burst 10", 10, 10, 100 * time.Millisecond},
		{"0.5rps burst 1", 0.5, 1, 2 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := mustGCRA(t, c.rate, c.burst)
			for i := range c.burst {
				d := g.Allow("k", t0)
				if !d.Allowed {
					t.Fatalf("request %d refused within burst", i)
				}
				if d.Remaining != c.burst-1-i {
					t.Fatalf("request %d: Remaining = %d, want %d", i, d.Remaining, c.burst-1-i)
				}
			}
			d := g.Allow("k", t0)
			if d.Allowed {
				t.Fatal("request beyond burst admitted")
			}
			if d.RetryAfter != c.wantRetry {
				t.Fatalf("RetryAfter = %v, want %v", d.RetryAfter, c.wantRetry)
			}
			if want := time.Duration(c.burst) * c.wantRetry; d.ResetAfter != want {
				t.Fatalf("ResetAfter = %v, want %v", d.ResetAfter, want)
			}
			if d := g.Allow("k", t0.Add(c.wantRetry-1)); d.Allowed {
				t.Fatal("admitted before RetryAfter elapsed")
			}
			if d := g.Allow("k", t0.Add(c.wantRetry)); !d.Allowed {
				t.Fatal("refused once RetryAfter elapsed")
			}
			if d := g.Allow("other", t0); !d.Allowed || d.Remaining != c.burst-1 {
				t.Fatalf("independent key: %+v", d)
			}
		})
	}
}

func TestGCRASteadyRate(t *testing.T) {
	cases := []struct {
		name   string
		rate   float64
		burst  int
		step   time.Duration // gap between attempts, much faster than rate
		window time.Duration
	}{
		{"10rps burst 1 over 10s", 10, 1, time.Millisecond, 10 * time.Second},
		{"100rps burst 20 over 5s", 100, 20, 100 * time.Microsecond, 5 * time.Second},
		{"3rps burst 5 over 60s", 3, 5, 7 * time.Millisecond, time.Minute},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := mustGCRA(t, c.rate, c.burst)
			// Drain the burst first so that the window sees the steady rate.
			for g.Allow("k", t0).Allowed {
			}
			admitted := 0
			for now := t0; now.Before(t0.Add(c.window)); now = now.Add(c.step) {
				if g.Allow("k", now).Allowed {
					admitted++
				}
			}
			want := int(c.rate * c.window.Seconds())
			if admitted < want-1 || admitted > want+1 {
				t.Fatalf("admitted %d over %v, want %d±1", admitted, c.window, want)
			}
		})
	}
}

func TestGCRABoundedMemory(t *testing.T) {
	g := mustGCRA(t, 1, 1, MaxKeys(shardCount*4))
	for i := range 10000 {
		g.Allow("key-"+strconv.Itoa(i), t0)
	}
	if n := g.Len(); n > shardCount*4 {
		t.Fatalf("Len = %d, want at most %d", n, shardCount*4)
	}
	g.Sweep(t0.Add(2 * time.Second))
	if n := g.Len(); n != 0 {
		t.Fatalf("after Sweep of idle keys Len = %d, want 0", n)
	}
}

func TestGCRAAllowDoesNotAllocate(t *testing.T) {
	g := mustGCRA(t, 1e6, 1000)
	g.Allow("existing", t0)
	now := t0
	allocs := testing.AllocsPerRun(1000, func() {
		now = now.Add(time.Microsecond)
		g.Allow("existing", now)
	})
	if allocs != 0 {
		t.Fatalf("Allow allocates %v times per call for an existing key", allocs)
	}
}

func BenchmarkGCRAAllow(b *testing.B) {
	g := mustGCRA(b, 1e6, 1000)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Microsecond)
		g.Allow("tenant-42:app-7", now)
	}
}

func BenchmarkGCRAAllowParallel(b *testing.B) {
	g := mustGCRA(b, 1e6, 1000)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "tenant:" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			g.Allow(keys[i&1023], t0.Add(time.Duration(i)))
			i++
		}
	})
}
