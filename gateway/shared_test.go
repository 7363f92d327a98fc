package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/portico-dev/portico/gateway/limits"

	"github.com/portico-dev/portico/gateway/sigv4"
	"github.com/portico-dev/portico/migrations/testdb/testenv"
)

// sharedRedis connects to PORTICO_TEST_REDIS_URL through addr (or directly
// when addr is empty) and returns a client and a key prefix whose keys are
// deleted when the test ends. Without the variable the test is skipped,
// except under PORTICO_TEST_STRICT=1.
func sharedRedis(t *testing.T, addr string) (*redis.Client, string) {
	t.Helper()
	u := testenv.Env(t, "PORTICO_TEST_REDIS_URL")
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	opt.ContextTimeoutEnabled = true
	opt.MaxRetries = -1
	direct := redis.NewClient(opt)
	if err := direct.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis: %v", err)
	}
	prefix := "portico-test:gw:" + t.Name() + ":" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := direct.Keys(ctx, "*"+prefix+"*").Result()
		if len(keys) > 0 {
			direct.Del(ctx, keys...)
		}
		direct.Close()
	})
	if addr == "" {
		return direct, prefix
	}
	opt.Addr = addr
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c, prefix
}

// cluster is several gateway nodes on one configuration and one Redis.
type cluster struct {
	nodes []*Handler
	regs  []*prometheus.Registry
}

func newCluster(t *testing.T, n int, cfg *Config, rdb redis.UniversalClient, prefix string, failClosed bool, log *slog.Logger, adjust ...func(*Options)) *cluster {
	t.Helper()
	snap, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := &cluster{}
	for range n {
		reg := prometheus.NewRegistry()
		opts := Options{Region: "local", RedisPrefix: prefix, RedisFailClosed: failClosed,
			RedisTimeout: 200 * time.Millisecond, Registry: reg, Logger: log, Protection: &Protection{}}
		if rdb != nil { // nil: counters in process
			opts.Redis = rdb
		}
		for _, f := range adjust {
			f(&opts)
		}
		h, err := NewHandler(NewStore(snap), opts)
		if err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, h)
		c.regs = append(c.regs, reg)
	}
	return c
}

// redisErrors is each node's portico_gateway_redis_errors_total.
func (c *cluster) redisErrors(t *testing.T) []float64 {
	var out []float64
	for _, reg := range c.regs {
		out = append(out, gatherValue(t, reg, "portico_gateway_redis_errors_total"))
	}
	return out
}

// call sends one signed request to node i and returns the status and the
// problem type of a refusal.
func (c *cluster) call(t *testing.T, i int) (int, string) {
	req := httptest.NewRequest("GET", "http://gw.test/acme/echo/v1/things/1", nil)
	if err := (&sigv4.Signer{Region: "local"}).Sign(req, "PKTESTTESTTESTTEST01", "secretsecretsecretsecretsecretsecret1234", "", time.Now()); err != nil {
		t.Error(err)
		return 0, ""
	}
	req.RemoteAddr = "192.0.2." + strconv.Itoa(1+i%200) + ":1234"
	rec := httptest.NewRecorder()
	c.nodes[i%len(c.nodes)].ServeHTTP(rec, req)
	var p struct{ Type string }
	if rec.Code != 200 {
		json.Unmarshal(rec.Body.Bytes(), &p)
	}
	return rec.Code, p.Type
}

// A hard day quota shared by three nodes under concurrency: exactly the
// quota is admitted, never one more.
func TestSharedQuotaAcrossNodes(t *testing.T) {
	rdb, prefix := sharedRedis(t, "")
	sharedQuotaAcrossNodes(t, rdb, prefix)
}

// The same on Redis Cluster (three primaries), connected as portico
// connects to a redis+cluster:// URL.
func TestSharedQuotaAcrossNodesOnRedisCluster(t *testing.T) {
	addrs := testenv.RedisCluster(t)
	rdb, err := ConnectRedis(context.Background(), "redis+cluster://"+addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if _, ok := rdb.(*redis.ClusterClient); !ok {
		t.Fatalf("redis+cluster:// gave a %T", rdb)
	}
	sharedQuotaAcrossNodes(t, rdb, "portico-test:")
}

// allKeys lists the keys matching pattern on every primary of rdb.
func allKeys(t *testing.T, rdb redis.UniversalClient, pattern string) []string {
	ctx := context.Background()
	c, ok := rdb.(*redis.ClusterClient)
	if !ok {
		keys, err := rdb.Keys(ctx, pattern).Result()
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}
	var mu sync.Mutex
	var keys []string
	err := c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		k, err := n.Keys(ctx, pattern).Result()
		mu.Lock()
		keys = append(keys, k...)
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func sharedQuotaAcrossNodes(t *testing.T, rdb redis.UniversalClient, prefix string) {
	now := time.Now()
	// What this checks is the leasing, not the fallback: a Redis call
	// that outlasts RedisTimeout on a loaded machine would let a node
	// serve under local limits (fail open, as configured here), which
	// admits beyond the shared quota by design. The fallback has tests
	// of its own (Redis down mid-run).
	c := newCluster(t, 3, demoConfig(Limits{DayQuota: 300}, SubActive, now), rdb, prefix, false, nil,
		func(o *Options) { o.RedisTimeout = 10 * time.Second })
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for g := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				switch st, typ := c.call(t, g); {
				case st == 200:
					ok.Add(1)
				case st == 429 && strings.HasSuffix(typ, "/quota-exceeded"):
					refused.Add(1)
				default:
					t.Errorf("unexpected answer %d %s", st, typ)
				}
			}
		}()
	}
	wg.Wait()
	if ok.Load() > 300 {
		t.Fatalf("admitted %d calls against a hard quota of 300 (Redis errors on the nodes: %v)", ok.Load(), c.redisErrors(t))
	}
	if ok.Load() < 290 {
		t.Fatalf("admitted only %d of a quota of 300 (units stranded on nodes)", ok.Load())
	}
	// Nodes hand their leftovers back when they stop.
	for _, n := range c.nodes {
		n.Shutdown(context.Background())
	}
	keys := allKeys(t, rdb, prefix+"quota:*")
	if len(keys) != 1 {
		t.Fatalf("quota keys %v", keys)
	}
	if used, _ := rdb.Get(context.Background(), keys[0]).Int64(); used != ok.Load() {
		t.Fatalf("Redis counts %d used after release, the nodes admitted %d", used, ok.Load())
	}
	t.Logf("admitted %d, refused %d", ok.Load(), refused.Load())
}

// A rate limit shared by three nodes: together they admit burst +
// rate×elapsed within 10%, with far fewer Redis round trips than calls.
func TestSharedRateAcrossNodes(t *testing.T) {
	rdb, prefix := sharedRedis(t, "")
	now := time.Now()
	const rate, burst = 100, 100
	c := newCluster(t, 3, demoConfig(Limits{RequestsPerSecond: rate, Burst: burst}, SubActive, now), rdb, prefix, false, nil)
	var ok, calls atomic.Int64
	start := time.Now()
	deadline := start.Add(1200 * time.Millisecond)
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				calls.Add(1)
				if st, typ := c.call(t, g); st == 200 {
					ok.Add(1)
				} else if st != 429 || !strings.HasSuffix(typ, "/rate-limited") {
					t.Errorf("unexpected answer %d %s", st, typ)
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	want := burst + rate*el
	if got := float64(ok.Load()); got < 0.9*want || got > 1.1*want {
		t.Fatalf("admitted %v in %.2fs across 3 nodes, want %.0f ± 10%%", got, el, want)
	}
	var trips float64
	for _, reg := range c.regs {
		trips += gatherValue(t, reg, "portico_gateway_redis_round_trips_total")
	}
	if trips*5 > float64(calls.Load()) {
		t.Fatalf("%v Redis round trips for %d calls", trips, calls.Load())
	}
	t.Logf("admitted %d of %d calls in %.2fs (want %.0f); %v Redis round trips", ok.Load(), calls.Load(), el, want, trips)
}

func gatherValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// cuttableProxy forwards TCP to target until cut, after which it drops
// every connection and refuses new ones, like a Redis that went away.
type cuttableProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newCuttableProxy(t *testing.T, target string) *cuttableProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttableProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.down {
				p.mu.Unlock()
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *cuttableProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cuttableProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// Redis goes away in the middle of a run: fail open keeps serving under
// the node's own limits, fail closed serves only what was leased; both say
// so in the logs and metrics, and both share again once Redis is back.
func TestSharedLimitsRedisDownMidRun(t *testing.T) {
	for _, failClosed := range []bool{false, true} {
		name := "fail-open"
		if failClosed {
			name = "fail-closed"
		}
		t.Run(name, func(t *testing.T) {
			probe, _ := sharedRedis(t, "")
			proxy := newCuttableProxy(t, probe.Options().Addr)
			rdb, prefix := sharedRedis(t, proxy.ln.Addr().String())
			var logs syncLog
			log := slog.New(slog.NewTextHandler(&logs, nil))
			c := newCluster(t, 1, demoConfig(Limits{DayQuota: 1_000_000}, SubActive, time.Now()), rdb, prefix, failClosed, log)
			for i := range 20 {
				if st, typ := c.call(t, 0); st != 200 {
					t.Fatalf("call %d before the outage: %d %s", i, st, typ)
				}
			}
			proxy.cut()
			// Fail open serves on; fail closed serves what it had leased
			// (blocks grow with the rate, up to 10,000 units) and then refuses.
			var ok, n int
			for n = 0; n < 30000; n++ {
				st, typ := c.call(t, 0)
				if st == 200 {
					ok++
					continue
				}
				if !failClosed || st != 429 || !strings.HasSuffix(typ, "/quota-exceeded") {
					t.Fatalf("call %d during the outage: %d %s", n, st, typ)
				}
				if n > 10000 {
					t.Fatalf("fail closed admitted %d calls during the outage, more than one block", ok)
				}
				break
			}
			if failClosed && n == 30000 {
				t.Fatalf("fail closed admitted all %d calls during the outage", n)
			}
			if v := gatherValue(t, c.regs[0], "portico_gateway_redis_degraded"); v != 1 {
				t.Fatalf("redis_degraded = %v during the outage", v)
			}
			if v := gatherValue(t, c.regs[0], "portico_gateway_redis_errors_total"); v < 1 {
				t.Fatalf("redis_errors_total = %v during the outage", v)
			}
			if !strings.Contains(logs.String(), "redis unreachable") {
				t.Fatalf("no log line about the outage:\n%s", logs.String())
			}
			proxy.restore()
			deadline := time.Now().Add(10 * time.Second)
			for gatherValue(t, c.regs[0], "portico_gateway_redis_degraded") != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("still degraded 10s after Redis came back; logs:\n%s", logs.String())
				}
				c.call(t, 0)
				time.Sleep(50 * time.Millisecond)
			}
			if !strings.Contains(logs.String(), "redis reachable again") {
				t.Fatalf("no log line about the recovery:\n%s", logs.String())
			}
		})
	}
}

// Three nodes that counted each other lose Redis together: fail open, each
// admits its share of the plan's burst, so together they admit about the
// plan's burst, not three times it.
func TestSharedRateRedisDownShares(t *testing.T) {
	probe, _ := sharedRedis(t, "")
	proxy := newCuttableProxy(t, probe.Options().Addr)
	rdb, prefix := sharedRedis(t, proxy.ln.Addr().String())
	const nodes, rate, burst = 3, 1, 12
	c := newCluster(t, nodes, demoConfig(Limits{RequestsPerSecond: rate, Burst: burst}, SubActive, time.Now()), rdb, prefix, false, nil)
	ctx := context.Background()
	for _, h := range c.nodes { // what their sweeps do every ten seconds
		if err := h.limits.rates.Announce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i, h := range c.nodes { // the early ones learn of the later
		h.limits.rates.Announce(ctx)
		if n := h.limits.rates.Nodes(); n != nodes {
			t.Fatalf("node %d counts %d nodes, want %d", i, n, nodes)
		}
	}
	proxy.cut()
	admitted := 0
	for i := range nodes * 2 * burst {
		if st, _ := c.call(t, i); st == 200 {
			admitted++
		}
	}
	// Each node's share is 4 at once, plus a token every second of the
	// run (its share of the rate, rounded up, is 1/s).
	if admitted < burst || admitted > burst+nodes {
		t.Fatalf("%d nodes admitted %d calls on their fallbacks, want about the burst of %d", nodes, admitted, burst)
	}
}

// With shared quotas the RateLimit header counts the whole cluster's use:
// after one call of a 300-call day quota, 299 are left, however many units
// the node leased.
func TestSharedQuotaHeaders(t *testing.T) {
	rdb, prefix := sharedRedis(t, "")
	c := newCluster(t, 1, demoConfig(Limits{DayQuota: 300}, SubActive, time.Now()), rdb, prefix, false, nil)
	req := httptest.NewRequest("GET", "http://gw.test/acme/echo/v1/things/1", nil)
	if err := (&sigv4.Signer{Region: "local"}).Sign(req, "PKTESTTESTTESTTEST01", "secretsecretsecretsecretsecretsecret1234", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	c.nodes[0].ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.Contains(rec.Header().Get("RateLimit"), `"day";r=299;`) {
		t.Fatalf("%d RateLimit %q", rec.Code, rec.Header().Get("RateLimit"))
	}
}

// ConnectRedis tells the two URL forms apart and says which Redis it could
// not reach.
func TestConnectRedisURLs(t *testing.T) {
	if rest, ok := cutClusterScheme("rediss+cluster://u:p@h:1?addr=h2:2"); !ok || rest != "rediss://u:p@h:1?addr=h2:2" {
		t.Fatalf("rediss+cluster: %q %v", rest, ok)
	}
	if _, ok := cutClusterScheme("redis://h:1/2"); ok {
		t.Fatal("redis:// taken for a cluster")
	}
	ctx := context.Background()
	for url, want := range map[string]string{
		"redis://127.0.0.1:1/0":         "redis 127.0.0.1:1",
		"redis+cluster://127.0.0.1:1":   "redis cluster 127.0.0.1:1",
		"redis+cluster://127.0.0.1:1/3": "",
		"http://127.0.0.1:1":            "",
	} {
		_, err := ConnectRedis(ctx, url)
		if err == nil || want != "" && !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming %q", url, err, want)
		}
	}
}

// With Redis a subscription's compiled record keeps its rate and quota
// leases after its first call, and the calls after it use them; a lease
// the leaser forgets is replaced at the next call.
func TestSharedLeasesKeptInCells(t *testing.T) {
	rdb, prefix := sharedRedis(t, "")
	now := time.Now()
	c := newCluster(t, 1, demoConfig(Limits{RequestsPerSecond: 1000, Burst: 1000, DayQuota: 1000}, SubActive, now), rdb, prefix, false, nil)
	h := c.nodes[0]
	sub := h.store.Load().subscriptionRef("app1", "a1")
	if sub == nil || sub.cells == nil {
		t.Fatal("no compiled record with cells")
	}
	if sub.cells.rateLease.Load() != nil || sub.cells.quotaLease[0].Load() != nil {
		t.Fatal("leases kept before any call")
	}
	for i := range 3 {
		if st, typ := c.call(t, 0); st != 200 {
			t.Fatalf("call %d: %d %s", i, st, typ)
		}
	}
	e := h.limits
	rl, ql := sub.cells.rateLease.Load(), sub.cells.quotaLease[0].Load()
	if rl == nil || rl != e.rates.Lease("s1", 1000, 1000) || ql == nil || ql != e.leaser.Lease("s1:day", 1000, limits.Day()) {
		t.Fatal("the record does not keep the subscription's current leases")
	}
	e.rates.Sweep(time.Now().Add(time.Hour)) // the rate lease is idle by then
	if st, typ := c.call(t, 0); st != 200 {
		t.Fatalf("after the sweep: %d %s", st, typ)
	}
	if got := sub.cells.rateLease.Load(); got == rl || got != e.rates.Lease("s1", 1000, 1000) || !e.rates.Holds(got) {
		t.Fatal("a forgotten rate lease was not replaced in the record")
	}
	if sub.cells.quotaLease[0].Load() != ql {
		t.Fatal("a quota lease still held was replaced")
	}
}
