package gateway

import (
	"hash/maphash"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/portico-dev/portico/gateway/limits"
)

// Protection are the per-client-IP defences evaluated before
// authentication: a request rate with burst, a cap on concurrent requests,
// and a temporary ban after repeated authentication failures.
type Protection struct {
	// RequestsPerSecond and Burst bound each client IP (0 = off).
	RequestsPerSecond float64
	Burst             int
	// MaxConcurrent caps a client IP's requests in flight (0 = off).
	MaxConcurrent int
	// BanAfter authentication failures within BanWindow ban the IP for
	// BanFor (0 = off).
	BanAfter  int
	BanWindow time.Duration
	BanFor    time.Duration
	// IPs are the global allow and deny lists, checked before anything
	// else; per-version lists are checked after routing.
	IPs IPList
	// TrustedProxies are the load balancers in front of the gateway: for a
	// request from one of them the client is the right-most X-Forwarded-For
	// address that is not a trusted proxy.
	TrustedProxies []netip.Prefix
}

// DefaultProtection is generous enough for real clients behind one NAT and
// tight enough to blunt a flood from one address.
var DefaultProtection = Protection{RequestsPerSecond: 500, Burst: 1000, MaxConcurrent: 256, BanAfter: 50, BanWindow: time.Minute, BanFor: 5 * time.Minute}

// protector keeps per-IP state in shards, each under its own lock, so
// requests from different addresses rarely contend.
type protector struct {
	cfg    Protection
	rate   *limits.GCRA
	seed   maphash.Seed
	shards [protShards]protShard
}

const protShards = 64

type protShard struct {
	mu       sync.Mutex
	inflight map[string]int
	failures map[string]*failWindow
	_        [40]byte // keep shards on separate cache lines
}

type failWindow struct {
	start  time.Time
	count  int
	banned time.Time // until
}

func newProtector(cfg Protection) (*protector, error) {
	p := &protector{cfg: cfg, seed: maphash.MakeSeed()}
	for i := range p.shards {
		p.shards[i].inflight = map[string]int{}
		p.shards[i].failures = map[string]*failWindow{}
	}
	if cfg.RequestsPerSecond > 0 {
		burst := cfg.Burst
		if burst <= 0 {
			burst = int(cfg.RequestsPerSecond)
		}
		g, err := limits.NewGCRA(cfg.RequestsPerSecond, burst)
		if err != nil {
			return nil, err
		}
		p.rate = g
	}
	return p, nil
}

func (p *protector) shard(ip string) *protShard {
	return &p.shards[maphash.String(p.seed, ip)%protShards]
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// enter admits a request from ip, returning "", or writes the refusal and
// returns its problem code; leave(ip) must be called when an admitted
// request ends.
func (p *protector) enter(w http.ResponseWriter, ip string, now time.Time, id string) string {
	sh := p.shard(ip)
	sh.mu.Lock()
	if f := sh.failures[ip]; f != nil && now.Before(f.banned) {
		sh.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(int(f.banned.Sub(now).Seconds())+1))
		writeProblem(w, http.StatusForbidden, "ip-banned", "Too many failed authentications from your address; try again later.", id, nil)
		return "ip-banned"
	}
	if p.cfg.MaxConcurrent > 0 && sh.inflight[ip] >= p.cfg.MaxConcurrent {
		sh.mu.Unlock()
		w.Header().Set("Retry-After", "1")
		writeProblem(w, http.StatusTooManyRequests, "too-many-connections", "Too many requests in flight from your address.", id, nil)
		return "too-many-connections"
	}
	sh.inflight[ip]++
	sh.mu.Unlock()
	if p.rate != nil {
		if d := p.rate.Allow(ip, now); !d.Allowed {
			p.leave(ip)
			limits.WriteRetryAfter(w.Header(), d.RetryAfter)
			writeProblem(w, http.StatusTooManyRequests, "ip-rate-limited", "Too many requests from your address.", id, nil)
			return "ip-rate-limited"
		}
	}
	return ""
}

// leave ends a request enter admitted.
func (p *protector) leave(ip string) {
	sh := p.shard(ip)
	sh.mu.Lock()
	if sh.inflight[ip]--; sh.inflight[ip] <= 0 {
		delete(sh.inflight, ip)
	}
	sh.mu.Unlock()
}

// failed records an authentication failure from ip.
func (p *protector) failed(ip string, now time.Time) {
	if p.cfg.BanAfter <= 0 {
		return
	}
	sh := p.shard(ip)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	f := sh.failures[ip]
	// A window ends when it has passed, but never during a ban: a late
	// failure of a request admitted before the ban must not lift it.
	if f == nil || now.Sub(f.start) > p.cfg.BanWindow && !now.Before(f.banned) {
		if len(sh.failures) > 100_000/protShards { // bound memory under a spray of addresses
			for k, v := range sh.failures {
				if now.After(v.banned) && now.Sub(v.start) > p.cfg.BanWindow {
					delete(sh.failures, k)
				}
			}
		}
		f = &failWindow{start: now}
		sh.failures[ip] = f
	}
	f.count++
	if f.count >= p.cfg.BanAfter {
		f.banned = now.Add(p.cfg.BanFor)
	}
}
