package gwconfig

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/migrations"
)

// The intervals a Reloader runs with unless told otherwise.
const (
	// DefaultPollInterval is how often a Reloader compares the database's
	// configuration version with the one it serves. It bounds propagation
	// when a notification is lost or the LISTEN connection is down.
	DefaultPollInterval = time.Second
	// DefaultFullInterval is how often a Reloader rebuilds even though the
	// version did not move: a safety net for a change whose announcement
	// failed (the process died between its commit and its bump) and for
	// state that changes with time alone.
	DefaultFullInterval = time.Minute
)

// DefaultRebuildGCPercent is the GOGC portico rebuilds with when it picks
// the collector's settings itself (GOGC unset; it serves with 200). While
// it rebuilds, what is live is briefly several times the resting heap (the
// snapshot serving, the next Config and snapshot, the rows being read), and
// the heap may grow to (1 + GOGC/100) times that: 1.5 rather than 3. With
// 100,000 keys and subscriptions that takes the reload's peak RSS from
// about 225 MB above the resting size to 165, for 0.15 s more of the
// collector's CPU per rebuild (BenchmarkBuildLarge).
const DefaultRebuildGCPercent = 50

// ServingGCPercent is the collector's GOGC while portico serves, when it
// picks the setting itself: the gateway allocates a little per request,
// and twice Go's default headroom halves how often the collector runs.
const ServingGCPercent = 200

// CollectorSettings is the one place that decides whether a process tunes
// the garbage collector: only when GOGC is unset. It returns the GOGC to
// serve with and the one to rebuild the configuration with (a Reloader's
// RebuildGCPercent); 0 leaves the collector as the environment set it.
func CollectorSettings(getenv func(string) string) (serving, rebuild int) {
	if getenv("GOGC") != "" {
		return 0, 0
	}
	return ServingGCPercent, DefaultRebuildGCPercent
}

// Rebuild reasons, as the rebuild metric labels them.
const (
	reasonStart   = "start"   // Reload called directly
	reasonChange  = "change"  // Trigger: a change made in this process
	reasonVersion = "version" // the database's version moved (notification or poll)
	reasonFull    = "full"    // the safety-net interval
	reasonRetry   = "retry"   // the version check after a failed rebuild
)

// Reloader keeps a gateway Store current. It rebuilds the configuration
//
//   - when the database's configuration version differs from the one it
//     serves: checked at once after a change made in this process (Check,
//     from the Notifier), on every notification (Listen, PostgreSQL) and
//     every PollInterval;
//   - at once on Trigger (a change this process could not announce);
//   - every FullInterval, whatever the version says.
//
// Triggers and notifications that arrive during a rebuild collapse into
// one more rebuild or check. A failed build keeps the previous snapshot
// serving, is logged, and is retried by the version checks even when the
// version did not move (a Trigger's change is in no version), backing off
// from 250 ms to a minute while it keeps failing. The configuration's Version is the database's, so
// every node serving the same state reports the same number.
type Reloader struct {
	Sources Sources
	Store   *gateway.Store
	// DB holds the configuration version (Bump, CurrentVersion). Nil numbers
	// configurations with a counter of this process and never polls.
	DB *migrations.DB
	// PollInterval is how often the version is compared (0 never).
	PollInterval time.Duration
	// FullInterval is how often the configuration is rebuilt regardless
	// (0 never).
	FullInterval time.Duration
	// RebuildGCPercent, when positive, is the garbage collector's GOGC
	// while a configuration is built; the setting before is restored
	// after. A process that serves with a generous GOGC (portico uses 200)
	// would otherwise let a rebuild — the next Config and snapshot beside
	// the one serving, and the garbage of reading them — grow the heap to
	// three times that: the reload peak, not the resting size, is what a
	// node's memory must be sized for. 0 leaves the collector alone.
	RebuildGCPercent int
	Logger           *slog.Logger

	kick, check chan struct{}
	mu          sync.Mutex // one rebuild at a time, swapped in order
	served      atomic.Uint64
	stale       atomic.Bool // the last rebuild failed: a check retries
	// failStreak counts rebuilds failed in a row and retryAt (unix ns) is
	// when a check may retry: 250 ms after the first failure, doubling to
	// a minute, so a failure that persists (a key the master key cannot
	// open) does not rebuild every second on every node.
	failStreak  atomic.Int32
	retryAt     atomic.Int64
	local       uint64
	pollFailing bool
	m           reloadMetrics
}

// reloadMetrics are the Reloader's Prometheus series; Register puts them
// on a registry.
type reloadMetrics struct {
	rebuilds      *prometheus.CounterVec
	duration      prometheus.Histogram
	latest        prometheus.Gauge
	notifications prometheus.Counter
	listening     prometheus.Gauge
}

// NewReloader returns a Reloader over store with the default intervals;
// db may be nil (see Reloader.DB). Run starts it.
func NewReloader(store *gateway.Store, db *migrations.DB) *Reloader {
	r := &Reloader{Store: store, DB: db, PollInterval: DefaultPollInterval, FullInterval: DefaultFullInterval,
		kick: make(chan struct{}, 1), check: make(chan struct{}, 1)}
	r.m = reloadMetrics{
		rebuilds: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "portico", Subsystem: "gateway", Name: "config_rebuilds_total",
			Help: "Configuration rebuilds, by reason (start, change, version, full, retry) and result (ok, error)."}, []string{"reason", "result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "portico", Subsystem: "gateway", Name: "config_rebuild_duration_seconds",
			Help: "Time to read and compile the gateway configuration.", Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 5, 10, 30}}),
		latest: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "portico", Subsystem: "gateway", Name: "config_latest_version",
			Help: "Newest configuration version seen in the database; above config_version while a rebuild is due."}),
		notifications: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "portico", Subsystem: "gateway", Name: "config_notifications_total",
			Help: "Configuration change notifications received over PostgreSQL LISTEN."}),
		listening: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "portico", Subsystem: "gateway", Name: "config_listen_connected",
			Help: "1 while the PostgreSQL LISTEN connection for configuration changes is up, else 0."}),
	}
	return r
}

// Register adds the reloader's metrics to reg.
func (r *Reloader) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{r.m.rebuilds, r.m.duration, r.m.latest, r.m.notifications, r.m.listening} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Trigger asks for a rebuild soon whatever the version says; it never
// blocks.
func (r *Reloader) Trigger(context.Context) { signal(r.kick) }

// Check asks for a version check soon; it never blocks.
func (r *Reloader) Check() { signal(r.check) }

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Served returns the version of the configuration being served (0 before
// the first build).
func (r *Reloader) Served() uint64 { return r.served.Load() }

// Reload rebuilds and swaps the configuration now.
func (r *Reloader) Reload(ctx context.Context) error { return r.reload(ctx, reasonStart) }

func (r *Reloader) reload(ctx context.Context, reason string) (err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer func() {
		r.stale.Store(err != nil)
		if err == nil {
			r.failStreak.Store(0)
			return
		}
		n := min(r.failStreak.Add(1), 9) // 250 ms << 8 ≈ a minute
		r.retryAt.Store(time.Now().Add(min(250*time.Millisecond<<(n-1), time.Minute)).UnixNano())
	}()
	start := time.Now()
	// The version is read before the state: a change committed while Build
	// reads is then either in this build or announced by a newer version.
	var version uint64
	if r.DB != nil {
		v, _, err := CurrentVersion(ctx, r.DB)
		if err != nil {
			r.m.rebuilds.WithLabelValues(reason, "error").Inc()
			return err
		}
		version = v
		r.m.latest.Set(float64(v))
	} else {
		r.local++
		version = r.local
	}
	snap, err := r.build(ctx, version)
	if err != nil {
		r.m.rebuilds.WithLabelValues(reason, "error").Inc()
		return err
	}
	r.Store.Swap(snap)
	r.served.Store(version)
	d := time.Since(start)
	r.m.rebuilds.WithLabelValues(reason, "ok").Inc()
	r.m.duration.Observe(d.Seconds())
	if r.Logger != nil {
		lvl := slog.LevelInfo
		if reason == reasonFull {
			lvl = slog.LevelDebug
		}
		r.Logger.Log(ctx, lvl, "gateway configuration rebuilt", "version", version, "reason", reason, "duration", d.Round(time.Millisecond))
	}
	return nil
}

// build runs Build under RebuildGCPercent.
func (r *Reloader) build(ctx context.Context, version uint64) (*gateway.Snapshot, error) {
	defer Rebuilding(r.RebuildGCPercent)()
	_, snap, err := Build(ctx, r.Sources, version)
	return snap, err
}

// checkVersion rebuilds when the database's version is not the one served.
func (r *Reloader) checkVersion(ctx context.Context) {
	if r.DB == nil {
		return
	}
	v, _, err := CurrentVersion(ctx, r.DB)
	if err != nil {
		// Said once per outage, not every second.
		if !r.pollFailing && ctx.Err() == nil && r.Logger != nil {
			r.Logger.Error("gateway configuration version check failed; the current configuration keeps serving", "err", err)
		}
		r.pollFailing = true
		return
	}
	if r.pollFailing && r.Logger != nil {
		r.Logger.Info("gateway configuration version check works again")
	}
	r.pollFailing = false
	r.m.latest.Set(float64(v))
	switch {
	case v != r.served.Load():
		r.run(ctx, reasonVersion)
	case r.stale.Load() && time.Now().UnixNano() >= r.retryAt.Load():
		r.run(ctx, reasonRetry)
	}
}

// run rebuilds and logs a failure.
func (r *Reloader) run(ctx context.Context, reason string) {
	if err := r.reload(ctx, reason); err != nil && ctx.Err() == nil && r.Logger != nil {
		r.Logger.Error("gateway configuration rebuild failed; the previous one keeps serving", "reason", reason, "version", r.served.Load(), "err", err)
	}
}

// Run rebuilds on Trigger, on a moved version and every FullInterval until
// ctx ends.
func (r *Reloader) Run(ctx context.Context) {
	var poll, full <-chan time.Time // nil: never
	if r.PollInterval > 0 && r.DB != nil {
		t := time.NewTicker(r.PollInterval)
		defer t.Stop()
		poll = t.C
	}
	if r.FullInterval > 0 {
		t := time.NewTicker(r.FullInterval)
		defer t.Stop()
		full = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
			r.run(ctx, reasonChange)
		case <-r.check:
			r.checkVersion(ctx)
		case <-poll:
			r.checkVersion(ctx)
		case <-full:
			r.run(ctx, reasonFull)
		}
	}
}
