package gateway

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// requestsCounted is portico_gateway_requests_total for acme/echo and
// status in reg, and the number of latency series there.
func requestsCounted(t *testing.T, reg *prometheus.Registry, status string) (calls float64, latencies int) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		switch mf.GetName() {
		case "portico_gateway_requests_total":
			for _, m := range mf.GetMetric() {
				l := map[string]string{}
				for _, p := range m.GetLabel() {
					l[p.GetName()] = p.GetValue()
				}
				if l["provider"] == "acme" && l["api"] == "echo" && l["status"] == status {
					calls += m.GetCounter().GetValue()
				}
			}
		case "portico_gateway_request_duration_seconds":
			latencies = len(mf.GetMetric())
		}
	}
	return calls, latencies
}

// A routed call records through the series its API version keeps at hand,
// into the same children a lookup by labels finds; the entry is reused while the
// status repeats, replaced when another status comes, and never used by
// the metrics of another Handler serving the same version.
func TestObserveKeepsSeries(t *testing.T) {
	snap, err := Compile(demoConfig(Limits{}, SubActive, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	api := &snap.APIs()[0]
	if api.series == nil {
		t.Fatal("Compile made no series slots")
	}
	newM := func() (*metrics, *prometheus.Registry) {
		reg := prometheus.NewRegistry()
		m, err := newMetrics(reg, NewStore(snap), time.Now)
		if err != nil {
			t.Fatal(err)
		}
		return m, reg
	}
	m1, reg1 := newM()
	m2, reg2 := newM()
	m1.observe(api, 200, time.Millisecond)
	first := api.series.ok.Load()
	for range 4 {
		m1.observe(api, 200, time.Millisecond)
	}
	if api.series.ok.Load() != first || first.s != m1.seriesFor("acme", "echo", 200) {
		t.Fatal("the kept series was not reused, or is not observe's")
	}
	m1.seriesFor("acme", "echo", 200).record(time.Millisecond) // what a lookup by labels records into
	m1.observe(api, 429, time.Millisecond)
	m1.observe(api, 404, time.Millisecond)
	m1.observe(api, 404, time.Millisecond)
	m2.observe(api, 200, time.Millisecond)
	m2.observe(api, 200, time.Millisecond)
	for _, c := range []struct {
		reg    *prometheus.Registry
		status string
		want   float64
	}{{reg1, "200", 6}, {reg1, "429", 1}, {reg1, "404", 2}, {reg2, "200", 2}, {reg2, "404", 0}} {
		if got, lat := requestsCounted(t, c.reg, c.status); got != c.want || lat != 1 {
			t.Errorf("status %s: %v calls counted (want %v), %d latency series (want 1)", c.status, got, c.want, lat)
		}
	}
}
