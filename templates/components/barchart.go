package components

import (
	"strconv"
	"time"
)

// ChartWidth and ChartHeight are the size of a BarChart's viewBox. The SVG
// stretches to its box (width 100%, a height set in CSS): its bars are
// rectangles, so stretching them is harmless, and its labels are HTML
// around it, so they stay readable at any size.
const (
	ChartWidth  = 600.0
	ChartHeight = 200.0
	// minBarHeight keeps a bar with a value above zero visible, however
	// small next to the highest one.
	minBarHeight = 1.0
	// maxBarWidth keeps the bars of a short range from turning into
	// slabs.
	maxBarWidth = 40.0
)

// BarPoint is one bar of a BarChart: its label (a day, "2026-11-01"), its
// value (calls), the part of the value drawn in the alert colour at the
// bottom of the bar (errors, at most the value) and an extra number the
// tooltip and the table show but the bar does not (billable calls).
type BarPoint struct {
	Label string
	Value int64
	Part  int64
	Extra int64
}

// Chart describes a BarChart: a server-rendered SVG bar chart with HTML
// axis labels, a legend and the same numbers in a table for screen
// readers and for copying.
type Chart struct {
	// ID prefixes the ids of the chart's parts; unique on the page.
	ID string
	// Title names the chart ("Calls per day") and its table.
	Title string
	// LabelName heads the labels' column ("Day"); ValueName, PartName and
	// ExtraName name the numbers in plural and lower case ("calls",
	// "errors", "billable"). An empty ExtraName leaves the extra out.
	LabelName string
	ValueName string
	PartName  string
	ExtraName string
	Points    []BarPoint
}

// Bar is the geometry of one bar in viewBox units: the slot it owns
// (SlotX, SlotW, the whole height: what hovering it hits), the bar (X, W,
// Y, H: the whole value, from the baseline up) and its alert part at the
// bottom (PartY, PartH). A zero value has a zero height.
type Bar struct {
	Point        BarPoint
	SlotX, SlotW float64
	X, W         float64
	Y, H         float64
	PartY, PartH float64
}

// BarLayout lays out points as bars over a width × height box, left to
// right, scaled so that the highest value fills the height. It returns the
// bars and that highest value; when it is zero (or there are no points)
// every bar is flat. A value above zero is never drawn lower than
// minBarHeight, and the alert part never exceeds its bar.
func BarLayout(points []BarPoint, width, height float64) ([]Bar, int64) {
	var top int64
	for _, p := range points {
		top = max(top, p.Value)
	}
	bars := make([]Bar, len(points))
	if len(points) == 0 {
		return bars, 0
	}
	slot := width / float64(len(points))
	w := min(slot*0.8, maxBarWidth)
	scale := func(v int64, limit float64) float64 {
		if v <= 0 || top == 0 {
			return 0
		}
		return min(max(float64(v)/float64(top)*height, minBarHeight), limit)
	}
	for i, p := range points {
		b := Bar{Point: p, SlotX: float64(i) * slot, SlotW: slot, W: w}
		b.X = b.SlotX + (slot-w)/2
		b.H = scale(p.Value, height)
		b.PartH = scale(min(p.Part, p.Value), b.H)
		b.Y, b.PartY = height-b.H, height-b.PartH
		bars[i] = b
	}
	return bars, top
}

// FillDays returns one point for each UTC day from first to last, both
// included: the point labelled with that day ("2006-01-02") when there is
// one, else a zero point. Points outside the range are left out; points
// for the same day add up.
func FillDays(first, last time.Time, points []BarPoint) []BarPoint {
	byDay := map[string]BarPoint{}
	for _, p := range points {
		q := byDay[p.Label]
		byDay[p.Label] = BarPoint{Label: p.Label, Value: q.Value + p.Value, Part: q.Part + p.Part, Extra: q.Extra + p.Extra}
	}
	// Whole days since year 1 end at UTC midnights.
	first = first.UTC().Truncate(24 * time.Hour)
	last = last.UTC().Truncate(24 * time.Hour)
	var out []BarPoint
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		label := d.Format(time.DateOnly)
		p, ok := byDay[label]
		if !ok {
			p = BarPoint{Label: label}
		}
		out = append(out, p)
	}
	return out
}

// Count writes a whole number with thousands separators: "10,000".
func Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return sign + s
}

// units writes a viewBox coordinate with at most two decimals.
func units(f float64) string {
	return strconv.FormatFloat(float64(int64(f*100+0.5))/100, 'f', -1, 64)
}

// layout lays the chart's bars out in its viewBox.
func (c Chart) layout() []Bar {
	bars, _ := BarLayout(c.Points, ChartWidth, ChartHeight)
	return bars
}

// top is the highest value, the top of the chart.
func (c Chart) top() int64 {
	_, top := BarLayout(c.Points, ChartWidth, ChartHeight)
	return top
}

func (c Chart) viewBox() string {
	return "0 0 " + units(ChartWidth) + " " + units(ChartHeight)
}

// tooltip is a bar's <title>: "2026-11-01: 1,204 calls (1,100 billable),
// 3 errors".
func (c Chart) tooltip(p BarPoint) string {
	s := p.Label + ": " + Count(p.Value) + " " + c.ValueName
	if c.ExtraName != "" {
		s += " (" + Count(p.Extra) + " " + c.ExtraName + ")"
	}
	return s + ", " + Count(p.Part) + " " + c.PartName
}

// description sums the chart up for assistive technology.
func (c Chart) description() string {
	if len(c.Points) == 0 {
		return "No data."
	}
	first, last := c.Points[0].Label, c.Points[len(c.Points)-1].Label
	n := strconv.Itoa(len(c.Points))
	best := c.Points[0]
	for _, p := range c.Points {
		if p.Value > best.Value {
			best = p
		}
	}
	s := n + " bars from " + first + " to " + last + ". "
	if len(c.Points) == 1 {
		s = "1 bar, " + first + ". "
	}
	if best.Value == 0 {
		return s + "All zero."
	}
	return s + "Highest: " + Count(best.Value) + " " + c.ValueName + " on " + best.Label + ". The table under the chart has every number."
}

func (c Chart) firstLabel() string {
	if len(c.Points) == 0 {
		return ""
	}
	return c.Points[0].Label
}

func (c Chart) lastLabel() string {
	if len(c.Points) < 2 {
		return ""
	}
	return c.Points[len(c.Points)-1].Label
}
