package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/portico-dev/portico/gateway/limits"
)

// redisState watches the Redis that shares limits across nodes: it counts
// failed round trips, says in the logs when the node falls back to local
// limits and when Redis answers again (at most one warning per
// logEvery, so an outage does not flood the log), and exposes both as
// metrics.
type redisState struct {
	log      *slog.Logger
	mode     limits.FailMode
	errors   atomic.Int64
	degraded atomic.Bool
	// lost counts quota counters found gone from Redis; restore, set
	// once the handler exists, raises them again from the usage ledger.
	lost    atomic.Int64
	restore atomic.Pointer[func()]

	mu      sync.Mutex
	lastLog time.Time
	quiet   int // errors not logged since lastLog
}

const redisLogEvery = 10 * time.Second

func (s *redisState) onError(key string, mode limits.FailMode, err error) {
	s.errors.Add(1)
	first := !s.degraded.Swap(true)
	s.mu.Lock()
	now := time.Now()
	if !first && now.Sub(s.lastLog) < redisLogEvery {
		s.quiet++
		s.mu.Unlock()
		return
	}
	quiet := s.quiet
	s.quiet, s.lastLog = 0, now
	s.mu.Unlock()
	fallback := "serving under each node's own limits"
	if mode == limits.FailClosed {
		fallback = "refusing calls beyond budget already leased"
	}
	s.log.Warn("redis unreachable for shared limits: "+fallback, "mode", mode.String(), "err", err, "errors_since_last_log", quiet)
}

// onLost is told that Redis lost a quota counter this node had seen: a
// restart without persistence or a flush, which likely took every other
// counter too.
func (s *redisState) onLost(string) {
	s.lost.Add(1)
	if f := s.restore.Load(); f != nil {
		(*f)()
	}
}

func (s *redisState) onRecover(string) {
	if s.degraded.Swap(false) {
		s.log.Info("redis reachable again: limits are shared across nodes")
	}
}

// ConnectRedis opens the Redis client gateway nodes share, with timeouts
// go-redis really applies (ContextTimeoutEnabled): a slow Redis must not
// hold requests. It pings before returning.
//
// url is redis:// or rediss:// for one Redis (its primary), or
// redis+cluster:// or rediss+cluster:// for Redis Cluster: the host is any
// node (a configuration endpoint will do), addr= parameters name more seed
// nodes, and the client follows the cluster's slots from there. Every key
// a script touches hashes to one slot (see sigv4.RedisNonces), so
// everything the gateway shares works on a cluster.
func ConnectRedis(ctx context.Context, url string) (redis.UniversalClient, error) {
	const (
		timeout     = 250 * time.Millisecond
		dialTimeout = time.Second
	)
	var rdb redis.UniversalClient
	if rest, ok := cutClusterScheme(url); ok {
		opt, err := redis.ParseClusterURL(rest)
		if err != nil {
			return nil, err
		}
		opt.ContextTimeoutEnabled = true
		opt.ReadTimeout, opt.WriteTimeout, opt.DialTimeout = timeout, timeout, dialTimeout
		rdb = redis.NewClusterClient(opt)
	} else {
		opt, err := redis.ParseURL(url)
		if err != nil {
			return nil, err
		}
		opt.ContextTimeoutEnabled = true
		opt.ReadTimeout, opt.WriteTimeout, opt.DialTimeout = timeout, timeout, dialTimeout
		rdb = redis.NewClient(opt)
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	ping := func(ctx context.Context, c *redis.Client) error { return c.Ping(ctx).Err() }
	var err error
	if c, ok := rdb.(*redis.ClusterClient); ok {
		// Every primary must answer: a node the client cannot reach
		// would fail the calls whose keys it holds.
		err = c.ForEachMaster(pctx, ping)
	} else {
		err = ping(pctx, rdb.(*redis.Client))
	}
	if err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis %s: %w", RedisAddr(rdb), err)
	}
	return rdb, nil
}

// cutClusterScheme turns a redis+cluster:// or rediss+cluster:// URL into
// the redis:// or rediss:// one go-redis parses.
func cutClusterScheme(url string) (string, bool) {
	for _, s := range []string{"redis", "rediss"} {
		if rest, ok := strings.CutPrefix(url, s+"+cluster://"); ok {
			return s + "://" + rest, true
		}
	}
	return url, false
}

// RedisAddr describes a client's Redis for logs: its address, or its
// cluster's seed nodes.
func RedisAddr(rdb redis.UniversalClient) string {
	switch c := rdb.(type) {
	case *redis.Client:
		return c.Options().Addr
	case *redis.ClusterClient:
		return "cluster " + strings.Join(c.Options().Addrs, ",")
	}
	return fmt.Sprintf("%T", rdb)
}

// newSharedLimits builds the Redis leasers for Options.Redis.
func newSharedLimits(o Options, st *redisState) (*limits.RateLeaser, *limits.Leaser, error) {
	mode := limits.FailOpen
	if o.RedisFailClosed {
		mode = limits.FailClosed
	}
	st.mode = mode
	prefix := o.RedisPrefix
	if prefix == "" {
		prefix = "portico:"
	}
	rates, err := limits.NewRateLeaser(limits.RateLeaseConfig{Client: o.Redis, Prefix: prefix + "rate:", Timeout: o.RedisTimeout, Mode: mode,
		OnError: st.onError, OnRecover: st.onRecover})
	if err != nil {
		return nil, nil, err
	}
	quotas, err := limits.NewLeaser(limits.LeaseConfig{Client: o.Redis, Prefix: prefix + "quota:", Timeout: o.RedisTimeout, Mode: mode,
		OnError: st.onError, OnRecover: st.onRecover, OnLost: st.onLost, Nodes: rates.Nodes})
	if err != nil {
		return nil, nil, err
	}
	return rates, quotas, nil
}

// register exposes the shared limits' health on reg.
func (s *redisState) register(reg prometheus.Registerer, rates *limits.RateLeaser, quotas *limits.Leaser) error {
	cs := []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "portico", Subsystem: "gateway", Name: "redis_errors_total",
			Help: "Failed or timed-out Redis round trips for shared limits."}, func() float64 { return float64(s.errors.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "portico", Subsystem: "gateway", Name: "redis_degraded",
			Help: "1 while Redis is failing and limits run on the fail-open/fail-closed fallback."}, func() float64 {
			if s.degraded.Load() {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "portico", Subsystem: "gateway", Name: "redis_quota_counters_lost_total",
			Help: "Quota counters found gone from Redis (a restart without persistence, a flush); each sets off a restore from the usage ledger."}, func() float64 {
			return float64(s.lost.Load())
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "portico", Subsystem: "gateway", Name: "redis_round_trips_total",
			Help: "Redis round trips made to lease rate tokens and quota units (far fewer than requests)."}, func() float64 {
			return float64(rates.RoundTrips() + quotas.RoundTrips())
		}),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
