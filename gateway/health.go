package gateway

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RunHealthChecks probes the targets of every upstream that sets a
// HealthCheckPath, every Options.HealthCheckInterval, until ctx is done. A
// target that fails two probes in a row leaves the rotation; two successes
// bring it back. A probe succeeds on any 2xx or 3xx answer within the
// interval (at most 5 s). Call it once, in its own goroutine; without it
// only the passive checks (the circuit breakers) run.
func (h *Handler) RunHealthChecks(ctx context.Context) {
	tick := time.NewTicker(h.healthInterval)
	defer tick.Stop()
	for {
		h.checkHealth(ctx)
		if h.idle != nil {
			h.idle.closeIdle(time.Now())
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// checkHealth runs one round of probes, one per probe URL, concurrently.
// Each version's targets have states of their own (see upstreams), probed
// at that version's HealthCheckPath; versions that probe the same URL
// share the request and its result.
func (h *Handler) checkHealth(ctx context.Context) {
	snap := h.store.Load()
	if snap == nil {
		return
	}
	tbl := h.ups.tableFor(snap)
	probes := map[string][]*targetState{}
	// probed: a state is recorded by one probe only (recordProbe's
	// streaks are not shared between goroutines).
	probed := map[*targetState]bool{}
	for _, p := range tbl.pools {
		if p.healthPath == "" {
			continue
		}
		path := p.healthPath // a path starting with "/": Compile checks
		for _, t := range p.targets {
			if !probed[t.targetState] {
				probed[t.targetState] = true
				u := t.scheme + "://" + t.host + t.basePath + path
				probes[u] = append(probes[u], t.targetState)
			}
		}
	}
	// A target whose upstream stopped asking for checks is back in.
	for _, p := range tbl.pools {
		for _, t := range p.targets {
			if !probed[t.targetState] {
				t.probeFails, t.probeOKs = 0, 0
				if t.activeDown.Swap(false) {
					h.log.Info("upstream target back in rotation: health check removed", "target", t.url, "api", t.api)
				}
			}
		}
	}
	var wg sync.WaitGroup
	for u, ts := range probes {
		wg.Go(func() {
			ok := h.probe(ctx, u)
			for _, t := range ts {
				h.recordProbe(t, ok)
			}
		})
	}
	wg.Wait()
}

func (h *Handler) probe(ctx context.Context, u string) bool {
	ctx, cancel := context.WithTimeout(ctx, min(h.healthInterval, 5*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false
	}
	req.Header.Set("User-Agent", "portico-health-check")
	res, err := h.healthClient.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	return res.StatusCode >= 200 && res.StatusCode < 400
}

// recordProbe updates a target's streaks; only the checker calls it, and
// for one target at a time.
func (h *Handler) recordProbe(t *targetState, ok bool) {
	if ok {
		t.probeFails = 0
		t.probeOKs++
		if t.probeOKs >= healthThreshold && t.activeDown.Swap(false) {
			h.log.Info("upstream target healthy again: back in rotation", "target", t.url, "api", t.api)
		}
		return
	}
	t.probeOKs = 0
	t.probeFails++
	if t.probeFails >= healthThreshold && !t.activeDown.Swap(true) {
		h.log.Warn("upstream target failed its health checks: out of rotation", "target", t.url, "api", t.api, "failures", t.probeFails)
	}
}

// healthCollector exports every known target's health and breaker state,
// read at scrape time. A URL several API versions use is one series, at its
// worst: out of rotation if it is for any of them, its breaker open if any
// is open, else half-open if any is.
type healthCollector struct {
	ups             *upstreams
	healthy, broken *prometheus.Desc
}

func newHealthCollector(u *upstreams) *healthCollector {
	return &healthCollector{ups: u,
		healthy: prometheus.NewDesc("portico_gateway_upstream_target_healthy",
			"1 while an upstream target is in rotation (health checks pass and its circuit breaker is closed) for every API version that uses it, else 0.", []string{"target"}, nil),
		broken: prometheus.NewDesc("portico_gateway_upstream_breaker_state",
			"An upstream target's circuit breaker: 0 closed, 1 open, 2 half-open; the worst over the API versions that use it (open before half-open).", []string{"target"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.healthy
	ch <- c.broken
}

// Collect implements prometheus.Collector.
func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	type worst struct {
		healthy bool
		state   int32
	}
	byURL := map[string]worst{}
	c.ups.each(func(t *targetState) {
		w, seen := byURL[t.url]
		if !seen {
			w.healthy = true
		}
		w.healthy = w.healthy && t.healthy()
		if st := t.state.Load(); w.state != breakerOpen && st != breakerClosed {
			w.state = st
		}
		byURL[t.url] = w
	})
	for url, w := range byURL {
		v := 0.0
		if w.healthy {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.healthy, prometheus.GaugeValue, v, url)
		ch <- prometheus.MustNewConstMetric(c.broken, prometheus.GaugeValue, float64(w.state), url)
	}
}
