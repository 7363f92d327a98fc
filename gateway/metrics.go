package gateway

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's Prometheus series. Label values are bounded:
// provider and API slugs come from the configuration (unrouted requests are
// labelled "-"), status is the HTTP status, reason a problem type.
type metrics struct {
	// series caches each (provider, api, status)'s children, so a request
	// records without hashing labels or allocating.
	series    sync.Map // seriesKey -> *series
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	rejected  *prometheus.CounterVec
	upstreams *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, store *Store, now func() time.Time) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "portico", Subsystem: "gateway", Name: "requests_total",
			Help: "Requests answered, by provider organisation, API and status."}, []string{"provider", "api", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "portico", Subsystem: "gateway", Name: "request_duration_seconds",
			Help: "Time from request to answer, by provider organisation and API.", Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}},
			[]string{"provider", "api"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "portico", Subsystem: "gateway", Name: "rejections_total",
			Help: "Requests refused by the gateway, by reason (problem type)."}, []string{"reason"}),
		upstreams: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "portico", Subsystem: "gateway", Name: "upstream_errors_total",
			Help: "Failed upstream calls, by provider organisation, API and kind (timeout, unavailable)."}, []string{"provider", "api", "kind"}),
	}
	version := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "portico", Subsystem: "gateway", Name: "config_version",
		Help: "Version of the configuration snapshot being served."}, func() float64 {
		if s := store.Load(); s != nil {
			return float64(s.Version())
		}
		return 0
	})
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "portico", Subsystem: "gateway", Name: "config_age_seconds",
		Help: "Seconds since the configuration being served was generated."}, func() float64 {
		if s := store.Load(); s != nil && !s.GeneratedAt().IsZero() {
			return now().Sub(s.GeneratedAt()).Seconds()
		}
		return 0
	})
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.rejected, m.upstreams, version, age} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// observe records a call answered with status after d, routed to api (nil:
// to none), through the series the version keeps at hand (apiSeries).
func (m *metrics) observe(api *APIVersion, status int, d time.Duration) {
	if m == nil {
		return
	}
	if api == nil {
		m.seriesFor("-", "-", status).record(d)
		return
	}
	c := api.series
	slot := &c.other
	if status == http.StatusOK {
		slot = &c.ok
	}
	if e := slot.Load(); e != nil && e.m == m && e.status == status {
		e.s.record(d)
		return
	}
	s := m.seriesFor(api.OrgSlug, api.APISlug, status)
	slot.Store(&seriesSlot{m: m, status: status, s: s})
	s.record(d)
}

// seriesFor returns the children of (provider, api, status).
func (m *metrics) seriesFor(provider, api string, status int) *series {
	k := seriesKey{provider, api, status}
	v, ok := m.series.Load(k)
	if !ok {
		v, _ = m.series.LoadOrStore(k, &series{
			requests: m.requests.WithLabelValues(provider, api, strconv.Itoa(status)),
			latency:  m.latency.WithLabelValues(provider, api),
		})
	}
	return v.(*series)
}

func (s *series) record(d time.Duration) {
	s.requests.Inc()
	s.latency.Observe(d.Seconds())
}

// apiSeries keeps an API version's metric series at hand for its calls —
// those of the status 200, and of the last other status — so that a call
// records without the series map's lookup (hashing its provider, API and
// status, then the lookup's cache misses: 0.2 µs a call under load).
// Compile makes one for every version it routes. An entry is trusted only
// for the metrics that made it: an APIVersion may be served by more than
// one Handler.
type apiSeries struct {
	ok, other atomic.Pointer[seriesSlot]
}

type seriesSlot struct {
	m      *metrics
	status int
	s      *series
}

type seriesKey struct {
	provider, api string
	status        int
}

type series struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

func (m *metrics) reject(reason string) {
	if m != nil {
		m.rejected.WithLabelValues(reason).Inc()
	}
}

func (m *metrics) upstreamError(provider, api, kind string) {
	if m != nil {
		m.upstreams.WithLabelValues(provider, api, kind).Inc()
	}
}
