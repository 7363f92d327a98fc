package components

import (
	"context"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestBarLayoutScales: the highest value fills the height, the others in
// proportion, from the baseline up; the alert part sits at the bottom of
// its bar; bars share the width in equal slots, centred in them.
func TestBarLayoutScales(t *testing.T) {
	bars, top := BarLayout([]BarPoint{
		{Label: "a", Value: 50, Part: 10},
		{Label: "b", Value: 200, Part: 200},
		{Label: "c", Value: 0},
		{Label: "d", Value: 100, Part: 0},
	}, 400, 100)
	if top != 200 || len(bars) != 4 {
		t.Fatalf("top %d, %d bars", top, len(bars))
	}
	want := []struct{ h, partH float64 }{{25, 5}, {100, 100}, {0, 0}, {50, 0}}
	for i, b := range bars {
		if !near(b.H, want[i].h) || !near(b.PartH, want[i].partH) {
			t.Errorf("bar %d: height %v part %v, want %v and %v", i, b.H, b.PartH, want[i].h, want[i].partH)
		}
		if !near(b.Y+b.H, 100) || !near(b.PartY+b.PartH, 100) {
			t.Errorf("bar %d does not stand on the baseline: y %v h %v, part y %v h %v", i, b.Y, b.H, b.PartY, b.PartH)
		}
		if !near(b.SlotX, float64(i)*100) || !near(b.SlotW, 100) {
			t.Errorf("bar %d: slot %v+%v", i, b.SlotX, b.SlotW)
		}
		if !near(b.W, maxBarWidth) || !near(b.X-b.SlotX, (b.SlotW-b.W)/2) {
			t.Errorf("bar %d: x %v width %v, not centred in its slot", i, b.X, b.W)
		}
	}
	// Narrow slots: the bar takes 80% of its slot.
	bars, _ = BarLayout(make([]BarPoint, 30), 600, 200)
	if !near(bars[0].W, 16) || !near(bars[29].SlotX+bars[29].SlotW, 600) {
		t.Fatalf("30 bars over 600: width %v, last slot ends at %v", bars[0].W, bars[29].SlotX+bars[29].SlotW)
	}
}

// TestBarLayoutEdges: all zeros (or nothing) draw flat bars without
// dividing by zero; a tiny value stays visible; a part larger than its
// value (bad data) never pokes out of its bar.
func TestBarLayoutEdges(t *testing.T) {
	bars, top := BarLayout([]BarPoint{{Label: "a"}, {Label: "b"}}, 600, 200)
	if top != 0 {
		t.Fatalf("top %d", top)
	}
	for _, b := range bars {
		if b.H != 0 || b.PartH != 0 || b.Y != 200 || math.IsNaN(b.Y) {
			t.Fatalf("zero bar %+v", b)
		}
	}
	if bars, top := BarLayout(nil, 600, 200); len(bars) != 0 || top != 0 {
		t.Fatalf("no points: %v %d", bars, top)
	}
	bars, _ = BarLayout([]BarPoint{{Value: 1_000_000}, {Value: 1, Part: 1}, {Value: 10, Part: 50}}, 600, 200)
	if !near(bars[1].H, minBarHeight) || !near(bars[1].PartH, minBarHeight) {
		t.Fatalf("tiny bar: height %v part %v, want %v", bars[1].H, bars[1].PartH, minBarHeight)
	}
	if bars[2].PartH > bars[2].H {
		t.Fatalf("part %v taller than its bar %v", bars[2].PartH, bars[2].H)
	}
	// One point: a single bar, not a slab.
	bars, _ = BarLayout([]BarPoint{{Value: 3}}, 600, 200)
	if !near(bars[0].W, maxBarWidth) || !near(bars[0].H, 200) {
		t.Fatalf("single bar %+v", bars[0])
	}
}

// TestFillDays: one point per day of the range, both ends included, the
// days without data as zeros, points outside the range left out.
func TestFillDays(t *testing.T) {
	from := time.Date(2026, 2, 27, 15, 0, 0, 0, time.UTC) // the time of day does not matter
	to := time.Date(2026, 3, 2, 0, 0, 0, 0, time.FixedZone("x", -3600))
	got := FillDays(from, to, []BarPoint{
		{Label: "2026-02-26", Value: 9},
		{Label: "2026-02-28", Value: 4, Part: 1, Extra: 3},
		{Label: "2026-03-02", Value: 7},
		{Label: "2026-03-02", Value: 1, Part: 1},
		{Label: "2026-03-03", Value: 5},
	})
	want := []BarPoint{
		{Label: "2026-02-27"},
		{Label: "2026-02-28", Value: 4, Part: 1, Extra: 3},
		{Label: "2026-03-01"},
		{Label: "2026-03-02", Value: 8, Part: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("FillDays =\n%+v\nwant\n%+v", got, want)
	}
	if got := FillDays(from, from, nil); len(got) != 1 || got[0].Label != "2026-02-27" {
		t.Fatalf("one day: %+v", got)
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -12345: "-12,345"} {
		if got := Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestBarChartRenders: a bar, tooltip and table row per point, the axis
// labels, and an SVG that scales (viewBox) and is named.
func TestBarChartRenders(t *testing.T) {
	c := Chart{ID: "usage-chart", Title: "Calls per day", LabelName: "Day", ValueName: "calls", PartName: "errors", ExtraName: "billable",
		Points: []BarPoint{{Label: "2026-11-01", Value: 1204, Part: 3, Extra: 1100}, {Label: "2026-11-02"}, {Label: "2026-11-03", Value: 10}}}
	var b strings.Builder
	if err := BarChart(c).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{
		`viewBox="0 0 600 200"`, `role="img"`, `aria-labelledby="usage-chart-title usage-chart-desc"`,
		`<title>2026-11-01: 1,204 calls (1,100 billable), 3 errors</title>`,
		`<title>2026-11-02: 0 calls (0 billable), 0 errors</title>`,
		`<span class="chart-y-max">1,204</span>`, `<span>2026-11-01</span>`, `<span>2026-11-03</span>`,
		`Highest: 1,204 calls on 2026-11-01.`,
		`<th scope="row" class="nowrap">2026-11-02</th><td class="num">0</td><td class="num">0</td><td class="num">0</td>`,
		`<th scope="col" class="num">Billable</th>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("chart lacks %s\n%s", want, html)
		}
	}
	if n := strings.Count(html, `<g class="chart-bar">`); n != 3 {
		t.Errorf("%d bars, want 3", n)
	}
	// The zero day has its hit area and tooltip but no drawn bar.
	if n := strings.Count(html, `class="chart-value"`); n != 2 {
		t.Errorf("%d drawn bars, want 2", n)
	}
	if n := strings.Count(html, `class="chart-part"`); n != 1 {
		t.Errorf("%d error parts, want 1", n)
	}
}
