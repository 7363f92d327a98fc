package limits

import (
	"strconv"
	"testing"
	"time"
)

// A cell decides exactly as its key does, shares the key's state both
// ways, and says when it has been dropped instead of counting on its own.
func TestGCRACell(t *testing.T) {
	g := mustGCRA(t, 10, 3)
	ref := mustGCRA(t, 10, 3) // the same calls by key only
	c := g.Cell("sub", t0)
	for i := range 40 {
		now := t0.Add(time.Duration(i) * 23 * time.Millisecond)
		var got Decision
		if i%3 == 2 {
			got = g.Allow("sub", now) // the key's path and the cell's count together
		} else {
			d, ok := g.AllowCell(c, now)
			if !ok {
				t.Fatalf("call %d: live cell reported dropped", i)
			}
			got = d
		}
		if want := ref.Allow("sub", now); got != want {
			t.Fatalf("call %d: %+v, want %+v", i, got, want)
		}
	}
	if other := mustGCRA(t, 10, 3); func() bool { _, ok := other.AllowCell(c, t0); return ok }() {
		t.Fatal("another limiter accepted the cell")
	}
	// Idle and swept: the cell is dead, the key's new cell starts afresh.
	later := t0.Add(time.Hour)
	g.Sweep(later)
	if _, ok := g.AllowCell(c, later); ok {
		t.Fatal("swept cell still decides")
	}
	c2 := g.Cell("sub", later)
	if c2 == c {
		t.Fatal("Cell returned the dropped cell")
	}
	if d, ok := g.AllowCell(c2, later); !ok || !d.Allowed || d.Remaining != 2 {
		t.Fatalf("fresh cell: %+v %v", d, ok)
	}
	if d := g.Allow("sub", later); d.Remaining != 1 {
		t.Fatalf("the key does not see the new cell's state: %+v", d)
	}
}

// Evicting a key to bound memory kills its cell too.
func TestGCRACellEvicted(t *testing.T) {
	g := mustGCRA(t, 1, 1, MaxKeys(shardCount))
	c := g.Cell("victim", t0)
	if _, ok := g.AllowCell(c, t0); !ok {
		t.Fatal("new cell dropped")
	}
	// Busy keys (TAT in the future) fill every shard until the victim's
	// shard evicts it.
	for i := 0; i < 100*shardCount; i++ {
		g.Allow("k"+strconv.Itoa(i), t0)
	}
	if _, ok := g.AllowCell(c, t0); ok {
		t.Fatal("evicted cell still decides")
	}
}

func TestGCRAAllowCellDoesNotAllocate(t *testing.T) {
	g := mustGCRA(t, 1e9, 1<<20)
	c := g.Cell("existing", t0)
	now := t0
	if allocs := testing.AllocsPerRun(1000, func() {
		now = now.Add(time.Microsecond)
		g.AllowCell(c, now)
	}); allocs != 0 {
		t.Fatalf("AllowCell allocates %v times per call", allocs)
	}
}

// A counter counts what Take counts under its key, both ways; it is tied to
// its kind of window and its Quotas, and dies with its window.
func TestQuotaCounter(t *testing.T) {
	q := mustQuotas(t)
	day := Day()
	c := q.Counter("sub:day", day, t0)
	for i := range 5 {
		ok, used, _, live := q.TakeCounter(c, 1, 4, day, t0)
		if !live || ok != (i < 4) || used != min(int64(i+1), 4) {
			t.Fatalf("take %d: ok %v used %d live %v", i, ok, used, live)
		}
	}
	if ok, used, _ := q.Take("sub:day", 1, 5, day, t0); !ok || used != 5 {
		t.Fatalf("the key's count is not the counter's: ok %v used %d", ok, used)
	}
	q.Raise("sub:day", 9, day, t0)
	if _, used, _, _ := q.TakeCounter(c, 0, 100, day, t0); used != 9 {
		t.Fatalf("the counter does not see Raise: used %d", used)
	}
	q.Release("sub:day", 2, day, t0)
	if _, used, _, _ := q.TakeCounter(c, 0, 100, day, t0); used != 7 {
		t.Fatalf("the counter does not see Release: used %d", used)
	}
	if _, _, _, live := q.TakeCounter(c, 1, 100, Period(t0, t0.Add(time.Hour)), t0); live {
		t.Fatal("a day counter took from a period")
	}
	if _, _, _, live := mustQuotas(t).TakeCounter(c, 1, 100, day, t0); live {
		t.Fatal("another Quotas took from the counter")
	}
	// The next day the counter starts over in place; once swept it is dead.
	next := t0.Add(24 * time.Hour)
	if ok, used, _, live := q.TakeCounter(c, 1, 4, day, next); !ok || used != 1 || !live {
		t.Fatalf("next day: ok %v used %d live %v", ok, used, live)
	}
	q.Sweep(next.Add(24 * time.Hour))
	if _, _, _, live := q.TakeCounter(c, 1, 4, day, next.Add(24*time.Hour)); live {
		t.Fatal("swept counter still counts")
	}
	if c2 := q.Counter("sub:day", day, next); c2 == c {
		t.Fatal("Counter returned the dropped counter")
	}
}

// admittedBy runs workers goroutines that each call try 200 times, and
// returns how many calls it admitted in all.
func admittedBy(workers int, try func(worker int) bool) int {
	admitted := make(chan int, workers)
	for w := range workers {
		go func() {
			n := 0
			for range 200 {
				if try(w) {
					n++
				}
			}
			admitted <- n
		}()
	}
	total := 0
	for range workers {
		total += <-admitted
	}
	return total
}

// A hard quota taken through counters and keys at once, from many
// goroutines, is never exceeded.
func TestQuotaCounterConcurrentHard(t *testing.T) {
	q := mustQuotas(t)
	const limit = 1000
	c := q.Counter("hard", Day(), t0)
	total := admittedBy(16, func(w int) bool {
		if w%2 == 0 {
			ok, _, _, _ := q.TakeCounter(c, 1, limit, Day(), t0)
			return ok
		}
		ok, _, _ := q.Take("hard", 1, limit, Day(), t0)
		return ok
	})
	if total != limit {
		t.Fatalf("admitted %d, want exactly %d", total, limit)
	}
}

// Decisions through one cell from many goroutines at once, while sweeps and
// key lookups run, admit exactly the burst: the compare-and-swap loses no
// call and a sweep never drops a busy cell.
func TestGCRACellConcurrent(t *testing.T) {
	g := mustGCRA(t, 1, 500)
	c := g.Cell("k", t0)
	total := admittedBy(8, func(w int) bool {
		if w == 0 {
			ok := g.Allow("k", t0).Allowed
			g.Sweep(t0)
			return ok
		}
		d, live := g.AllowCell(c, t0)
		if !live {
			panic("busy cell dropped")
		}
		return d.Allowed
	})
	if total != 500 {
		t.Fatalf("admitted %d, want exactly the burst of 500", total)
	}
}
