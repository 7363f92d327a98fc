package gateway

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/portico-dev/portico/gateway/limits"
)

// Protection are the per-client-IP defences evaluated before
// authentication: a request rate with burst, a cap on concurrent requests,
// and a temporary ban after repeated authentication failures.
//
// "Client IP" is a network, not one address: an IPv4 client is its
// address, but an IPv6 client normally holds a whole /64 (2^64 addresses)
// and could otherwise rotate through it to escape every per-IP limit and
// ban, so its state is kept under its address's first IPv6PrefixLen bits.
// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is its IPv4 address, and an
// IPv6 zone (fe80::1%eth0) is ignored.
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
	// IPv6PrefixLen is how many leading bits of an IPv6 address make one
	// client for the limits and bans above: 1 to 128, 0 for
	// DefaultIPv6PrefixLen (a /64, what one site or device is normally
	// given); 128 keys each address on its own, a shorter prefix (56, 48)
	// also catches clients that hold more than a /64. IPv4 addresses are
	// always keyed whole.
	IPv6PrefixLen int
	// IPs are the global allow and deny lists, checked before anything
	// else; per-version lists are checked after routing.
	IPs IPList
	// TrustedProxies are the load balancers in front of the gateway: for a
	// request from one of them the client is the right-most X-Forwarded-For
	// address that is not a trusted proxy.
	TrustedProxies []netip.Prefix
}

// DefaultIPv6PrefixLen is the IPv6 network one client is assumed to hold
// when Protection.IPv6PrefixLen is 0.
const DefaultIPv6PrefixLen = 64

// DefaultProtection is generous enough for real clients behind one NAT and
// tight enough to blunt a flood from one address.
var DefaultProtection = Protection{RequestsPerSecond: 500, Burst: 1000, MaxConcurrent: 256, BanAfter: 50, BanWindow: time.Minute, BanFor: 5 * time.Minute}

// protector keeps per-IP state in shards, each under its own lock, so
// requests from different addresses rarely contend.
type protector struct {
	cfg    Protection
	v6bits int // cfg.IPv6PrefixLen, defaulted
	// failCap bounds each shard's failure windows (protFailCap; tests
	// lower it).
	failCap int
	rate    *limits.GCRA
	seed    maphash.Seed
	shards  [protShards]protShard
}

const protShards = 64

// protFailCap is the most failure windows one shard keeps: about 100,000
// in all, some 10 MB.
const protFailCap = 100_000 / protShards

type protShard struct {
	mu       sync.Mutex
	inflight map[clientKey]int
	failures map[clientKey]*failWindow
	// fullUntil: the last attempt to make room in failures found only live
	// bans beyond what it frees at once; until the first of them ends,
	// new addresses are not recorded without looking again (makeRoom).
	fullUntil time.Time
	_         [16]byte // keep shards on separate cache lines
}

type failWindow struct {
	start  time.Time
	count  int
	banned time.Time // until
}

// clientKey is what a client's per-IP state is kept under: its IPv4
// address, or its IPv6 address cut to the protector's prefix length,
// without zone. It is comparable, so it keys the maps directly, and is
// made without allocating. Addresses that cannot be parsed (no real TCP
// peer) share the zero key.
type clientKey struct{ net netip.Addr }

func newProtector(cfg Protection) (*protector, error) {
	p := &protector{cfg: cfg, v6bits: cfg.IPv6PrefixLen, failCap: protFailCap, seed: maphash.MakeSeed()}
	switch {
	case p.v6bits == 0:
		p.v6bits = DefaultIPv6PrefixLen
	case p.v6bits < 1 || p.v6bits > 128:
		return nil, fmt.Errorf("protection: IPv6 prefix length %d: use 1 to 128, or 0 for %d", cfg.IPv6PrefixLen, DefaultIPv6PrefixLen)
	}
	for i := range p.shards {
		p.shards[i].inflight = map[clientKey]int{}
		p.shards[i].failures = map[clientKey]*failWindow{}
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

// key is the per-IP key of a client address (Handler.client's).
func (p *protector) key(a netip.Addr) clientKey { return clientKey{clientNet(a, p.v6bits)} }

// clientNet is the network a client address counts under for per-client
// limits: an IPv4 address (IPv4-mapped ones too) alone, an IPv6 one by its
// first v6bits bits (1..128), without its zone.
func clientNet(a netip.Addr, v6bits int) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		pf, _ := a.Prefix(v6bits) // drops the zone; 1..128 bits never fail
		a = pf.Addr()
	}
	return a
}

// bytes writes k's address into b: 4 bytes for IPv4, 16 for IPv6, none
// for the zero key.
func (k clientKey) bytes(b *[16]byte) []byte {
	switch {
	case k.net.Is4():
		a := k.net.As4()
		copy(b[:], a[:])
		return b[:4]
	case k.net.Is6():
		*b = k.net.As16()
		return b[:]
	}
	return b[:0]
}

func (p *protector) shard(k clientKey) *protShard {
	var b [16]byte
	return &p.shards[maphash.Bytes(p.seed, k.bytes(&b))%protShards]
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// enter admits a request from k, returning "", or writes the refusal and
// returns its problem code; leave(k) must be called when an admitted
// request ends.
func (p *protector) enter(w http.ResponseWriter, k clientKey, now time.Time, id string) string {
	sh := p.shard(k)
	sh.mu.Lock()
	if f := sh.failures[k]; f != nil && now.Before(f.banned) {
		sh.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(int(f.banned.Sub(now).Seconds())+1))
		writeProblem(w, http.StatusForbidden, "ip-banned", "Too many failed authentications from your address; try again later.", id, nil)
		return "ip-banned"
	}
	if p.cfg.MaxConcurrent > 0 && sh.inflight[k] >= p.cfg.MaxConcurrent {
		sh.mu.Unlock()
		w.Header().Set("Retry-After", "1")
		writeProblem(w, http.StatusTooManyRequests, "too-many-connections", "Too many requests in flight from your address.", id, nil)
		return "too-many-connections"
	}
	sh.inflight[k]++
	sh.mu.Unlock()
	if p.rate != nil {
		var b [16]byte
		// The conversion does not allocate: Allow does not keep its key
		// (it copies a new one), and the key is at most 16 bytes.
		if d := p.rate.Allow(string(k.bytes(&b)), now); !d.Allowed {
			p.leave(k)
			limits.WriteRetryAfter(w.Header(), d.RetryAfter)
			writeProblem(w, http.StatusTooManyRequests, "ip-rate-limited", "Too many requests from your address.", id, nil)
			return "ip-rate-limited"
		}
	}
	return ""
}

// leave ends a request enter admitted.
func (p *protector) leave(k clientKey) {
	sh := p.shard(k)
	sh.mu.Lock()
	if sh.inflight[k]--; sh.inflight[k] <= 0 {
		delete(sh.inflight, k)
	}
	sh.mu.Unlock()
}

// failed records an authentication failure from k.
func (p *protector) failed(k clientKey, now time.Time) {
	if p.cfg.BanAfter <= 0 {
		return
	}
	sh := p.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	f := sh.failures[k]
	switch {
	case f == nil:
		if len(sh.failures) >= p.failCap && !sh.makeRoom(now, p.cfg.BanWindow, p.failCap) {
			return // only live bans: see makeRoom
		}
		f = &failWindow{start: now}
		sh.failures[k] = f
	case (now.Sub(f.start) > p.cfg.BanWindow || !f.banned.IsZero()) && !now.Before(f.banned):
		// A window ends when it has passed or its ban has (a ban served
		// wipes the slate: with BanFor shorter than BanWindow, one
		// failure after it would otherwise ban again), but never during
		// a ban: a late failure of a request admitted before the ban
		// must not lift it.
		*f = failWindow{start: now}
	}
	f.count++
	if f.count >= p.cfg.BanAfter {
		f.banned = now.Add(p.cfg.BanFor)
	}
}

// makeRoom is called with the shard locked when a failure from a new
// client finds limit windows in it; it reports whether one more fits. The
// cap is hard: failures are cheap to produce, and an attacker with many
// addresses (an IPv6 /48 alone holds 65,536 /64s) must not grow the map
// without bound.
//
// It forgets, in this order:
//
//   - windows that have passed outside a ban (forgotten anyway);
//   - then, down to limit minus a batch (limit/8), the windows with the
//     fewest failures, the oldest first among equals. Forgetting a window
//     forgives its failures, and those with the fewest matter least: a
//     spray of failures from many addresses makes windows of one failure
//     each, which then displace one another, while a window close to a
//     ban (someone guessing from one address) stays unless a whole shard
//     of other addresses are as close to a ban themselves. Among equals
//     the oldest is nearest its end anyway.
//
// A live ban is never forgotten: otherwise whoever can get many addresses
// banned could lift the ban on the one they care about. So when every
// window left is a live ban, the new client's failure is not recorded —
// it goes uncounted, the lesser harm, and only until the first of those
// bans ends (fullUntil): getting there takes a shard's worth of addresses
// banned (about limit*64 in all, since an attacker cannot tell which
// shard an address falls in), and every address so banned stays banned.
//
// Each look is one pass over the shard, O(limit), and either frees a
// batch (amortised O(8) per new client) or waits for the first live ban
// to end before looking again; it never runs on every failure.
func (sh *protShard) makeRoom(now time.Time, window time.Duration, limit int) bool {
	if now.Before(sh.fullUntil) {
		return false
	}
	target := limit - max(1, limit/8)
	var firstEnd time.Time // of the live bans
	var cands []evictable
	for k, f := range sh.failures {
		switch {
		case now.Before(f.banned):
			if firstEnd.IsZero() || f.banned.Before(firstEnd) {
				firstEnd = f.banned
			}
		case now.Sub(f.start) > window:
			delete(sh.failures, k)
		default:
			cands = append(cands, evictable{k, f})
		}
	}
	if n := min(len(sh.failures)-target, len(cands)); n > 0 {
		// pdqsort: O(n log n) whatever order the attacker's windows
		// come in, once per batch.
		slices.SortFunc(cands, func(a, b evictable) int { return cmpWindow(a.f, b.f) })
		for _, c := range cands[:n] {
			delete(sh.failures, c.k)
		}
	}
	sh.fullUntil = time.Time{}
	if len(sh.failures) > target { // every window left beyond target is a live ban
		sh.fullUntil = firstEnd
	}
	return len(sh.failures) < limit
}

type evictable struct {
	k clientKey
	f *failWindow
}

// cmpWindow orders windows by failures, then start.
func cmpWindow(a, b *failWindow) int {
	if c := cmp.Compare(a.count, b.count); c != 0 {
		return c
	}
	return a.start.Compare(b.start)
}
