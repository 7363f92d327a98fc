package gateway

// Per-IP protection keyed by network: an IPv6 client rotating through its
// /64 is one client, a mapped IPv4 address is its IPv4 address, a zone
// changes nothing; and the failure windows stay within a hard cap under a
// spray of addresses without lifting a ban.

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// v6remote is RemoteAddr for address a.
func v6remote(a string) string {
	return netip.AddrPortFrom(netip.MustParseAddr(a), 4711).String()
}

// TestProtectIPv6BanSharedByPrefix: failures from addresses rotated
// within one /64 add up to a ban of the whole /64; another /64 and IPv4
// are not affected.
func TestProtectIPv6BanSharedByPrefix(t *testing.T) {
	g := newBanGW(t, Protection{BanAfter: 3, BanWindow: time.Minute, BanFor: 5 * time.Minute})
	for _, a := range []string{"2001:db8::1", "2001:db8::2", "2001:db8::ffff:ffff:ffff:ffff"} {
		if w := g.serve(g.req(t, v6remote(a), false, nil)); w.Code != 403 || problemType(w.Body.String()) == "ip-banned" {
			t.Fatalf("failure from %s: %d %s", a, w.Code, w.Body)
		}
	}
	for _, a := range []string{"2001:db8::1", "2001:db8::4", "2001:db8::1234:5678:9abc:def0"} {
		w := g.serve(g.req(t, v6remote(a), true, nil))
		if w.Code != 403 || problemType(w.Body.String()) != "ip-banned" || w.Header().Get("Retry-After") != "301" {
			t.Errorf("%s, in the banned /64: %d %v %s", a, w.Code, w.Header(), w.Body)
		}
	}
	for _, a := range []string{"2001:db8:0:1::1", "2001:db9::1", "192.0.2.1"} {
		if w := g.serve(g.req(t, v6remote(a), true, nil)); w.Code != 200 {
			t.Errorf("%s, outside the banned /64: %d %s", a, w.Code, w.Body)
		}
	}
	g.clk.Add(5 * time.Minute)
	if w := g.serve(g.req(t, v6remote("2001:db8::9"), true, nil)); w.Code != 200 {
		t.Fatalf("after the ban: %d %s", w.Code, w.Body)
	}
}

// TestProtectIPv6RateSharedByPrefix: the request rate of a /64 is one
// budget, whichever of its addresses calls.
func TestProtectIPv6RateSharedByPrefix(t *testing.T) {
	g := newBanGW(t, Protection{RequestsPerSecond: 1, Burst: 3})
	for i, a := range []string{"2001:db8::1", "2001:db8::2", "2001:db8::3"} {
		if w := g.serve(g.req(t, v6remote(a), true, nil)); w.Code != 200 {
			t.Fatalf("call %d from %s: %d %s", i+1, a, w.Code, w.Body)
		}
	}
	w := g.serve(g.req(t, v6remote("2001:db8::4"), true, nil))
	if w.Code != 429 || problemType(w.Body.String()) != "ip-rate-limited" || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("4th call from the /64, a new address: %d %v %s", w.Code, w.Header(), w.Body)
	}
	if w := g.serve(g.req(t, v6remote("2001:db8:0:1::1"), true, nil)); w.Code != 200 {
		t.Fatalf("another /64: %d %s", w.Code, w.Body)
	}
	if a, n := protInflight(g.h.protect); a != 0 || n != 0 {
		t.Fatalf("in flight: %d %d", a, n)
	}
}

// TestProtectIPv6ConcurrencySharedByPrefix: with one request in flight
// from a /64 and MaxConcurrent 1, another address of the /64 is refused
// and another /64 is not; afterwards nothing is left in flight.
func TestProtectIPv6ConcurrencySharedByPrefix(t *testing.T) {
	g := newBanGW(t, Protection{MaxConcurrent: 1})
	body := []byte("slow body")
	slow := g.req(t, v6remote("2001:db8::1"), true, body)
	slow.Body = &hookBody{r: bytes.NewReader(body), hook: func() {
		// While the first request's body trickles in.
		w := g.serve(g.req(t, v6remote("2001:db8::2"), true, nil))
		if w.Code != 429 || problemType(w.Body.String()) != "too-many-connections" || w.Header().Get("Retry-After") != "1" {
			t.Errorf("a second request from the /64: %d %v %s", w.Code, w.Header(), w.Body)
		}
		if w := g.serve(g.req(t, v6remote("2001:db8:0:1::2"), true, nil)); w.Code != 200 {
			t.Errorf("another /64: %d %s", w.Code, w.Body)
		}
	}}
	if w := g.serve(slow); w.Code != 200 {
		t.Fatalf("the slow request: %d %s", w.Code, w.Body)
	}
	if a, n := protInflight(g.h.protect); a != 0 || n != 0 {
		t.Fatalf("in flight: %d %d", a, n)
	}
	if w := g.serve(g.req(t, v6remote("2001:db8::2"), true, nil)); w.Code != 200 {
		t.Fatalf("after the slow request ended: %d %s", w.Code, w.Body)
	}
}

// TestProtectMappedAndZonedShareState: ::ffff:192.0.2.1 is 192.0.2.1,
// and an IPv6 zone (even with per-address keys) is no new client.
func TestProtectMappedAndZonedShareState(t *testing.T) {
	prot := Protection{BanAfter: 2, BanWindow: time.Minute, BanFor: time.Minute}
	t.Run("mapped", func(t *testing.T) {
		g := newBanGW(t, prot)
		g.serve(g.req(t, "[::ffff:192.0.2.1]:1", false, nil))
		g.serve(g.req(t, "192.0.2.1:2", false, nil))
		for _, remote := range []string{"192.0.2.1:3", "[::ffff:192.0.2.1]:4"} {
			if w := g.serve(g.req(t, remote, true, nil)); problemType(w.Body.String()) != "ip-banned" {
				t.Errorf("%s after a failure from each form: %d %s", remote, w.Code, w.Body)
			}
		}
		if w := g.serve(g.req(t, "192.0.2.2:1", true, nil)); w.Code != 200 {
			t.Errorf("the next IPv4 address: %d %s", w.Code, w.Body)
		}
	})
	for _, bits := range []int{0, 128} {
		t.Run("zoned/"+strconv.Itoa(bits), func(t *testing.T) {
			p := prot
			p.IPv6PrefixLen = bits
			g := newBanGW(t, p)
			g.serve(g.req(t, "[fe80::1%eth0]:1", false, nil))
			g.serve(g.req(t, "[fe80::1%eth1]:1", false, nil))
			for _, remote := range []string{"[fe80::1]:1", "[fe80::1%eth0]:1", "[fe80::1%eth2]:1"} {
				if w := g.serve(g.req(t, remote, true, nil)); problemType(w.Body.String()) != "ip-banned" {
					t.Errorf("%s after failures from two zones: %d %s", remote, w.Code, w.Body)
				}
			}
		})
	}
}

// TestProtectIPv6PrefixLen: 128 keys each address on its own, 48 joins
// the /64s of a /48, and out-of-range lengths are refused.
func TestProtectIPv6PrefixLen(t *testing.T) {
	prot := Protection{BanAfter: 1, BanWindow: time.Minute, BanFor: time.Minute}
	for _, c := range []struct {
		bits   int
		banned []string
		free   []string
	}{
		{128, []string{"2001:db8::1", "2001:db8::1%eth0"}, []string{"2001:db8::2", "2001:db8:0:1::1"}},
		{64, []string{"2001:db8::1", "2001:db8::2"}, []string{"2001:db8:0:1::1", "2001:db8:1::1"}},
		{48, []string{"2001:db8::1", "2001:db8::2", "2001:db8:0:1::1", "2001:db8:0:ffff::1"}, []string{"2001:db8:1::1"}},
		{1, []string{"2001:db8::1", "::1", "7fff::1"}, []string{"8000::1", "192.0.2.1"}},
	} {
		p := prot
		p.IPv6PrefixLen = c.bits
		g := newBanGW(t, p)
		g.serve(g.req(t, v6remote("2001:db8::1"), false, nil))
		for _, a := range c.banned {
			if w := g.serve(g.req(t, "["+a+"]:1", true, nil)); problemType(w.Body.String()) != "ip-banned" {
				t.Errorf("/%d: %s not banned with 2001:db8::1: %d %s", c.bits, a, w.Code, w.Body)
			}
		}
		for _, a := range c.free {
			if w := g.serve(g.req(t, v6remote(a), true, nil)); w.Code != 200 {
				t.Errorf("/%d: %s banned with 2001:db8::1: %d %s", c.bits, a, w.Code, w.Body)
			}
		}
	}
	for _, bits := range []int{-1, 129, 1000} {
		snap, _ := Compile(demoConfig(Limits{}, SubActive, time.Now()))
		if _, err := NewHandler(NewStore(snap), Options{Region: "local", Protection: &Protection{IPv6PrefixLen: bits}}); err == nil || !strings.Contains(err.Error(), "IPv6 prefix") {
			t.Errorf("IPv6PrefixLen %d: %v", bits, err)
		}
	}
	p, err := newProtector(Protection{})
	if err != nil || p.v6bits != 64 {
		t.Fatalf("default: %v %d", err, p.v6bits)
	}
}

// TestProtectIPv6ThroughProxy: behind a trusted proxy the forwarded
// address's /64 is the client; the access log still shows each address
// whole.
func TestProtectIPv6ThroughProxy(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	g := newBanGW(t, Protection{BanAfter: 2, BanWindow: time.Minute, BanFor: time.Minute,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	g.h.log = slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	call := func(fwd string, good bool) *httptest.ResponseRecorder {
		r := g.req(t, "10.0.0.1:1", good, nil)
		r.Header.Set("X-Forwarded-For", fwd)
		return g.serve(r)
	}
	call("2001:db8::a", false)
	call("[2001:db8::b]:4711", false)
	if w := call("2001:db8::c, 10.0.0.2", true); problemType(w.Body.String()) != "ip-banned" {
		t.Errorf("another address of the /64: %d %s", w.Code, w.Body)
	}
	if w := call("2001:db8:0:1::c", true); w.Code != 200 {
		t.Errorf("another /64: %d %s", w.Code, w.Body)
	}
	if w := g.serve(g.req(t, "10.0.0.1:1", true, nil)); w.Code != 200 {
		t.Errorf("the proxy itself: %d %s", w.Code, w.Body)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{`"client_ip":"2001:db8::a"`, `"client_ip":"2001:db8::b"`, `"client_ip":"2001:db8::c"`, `"client_ip":"2001:db8:0:1::c"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("access log lacks %s:\n%s", want, logs.String())
		}
	}
}

// TestProtectKey: what state an address is kept under.
func TestProtectKey(t *testing.T) {
	p, err := newProtector(Protection{})
	if err != nil {
		t.Fatal(err)
	}
	p56, err := newProtector(Protection{IPv6PrefixLen: 56})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p         *protector
		addr, key string
	}{
		{p, "192.0.2.1", "192.0.2.1"},
		{p, "::ffff:192.0.2.1", "192.0.2.1"},
		{p, "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::"},
		{p, "2001:db8:1:2:3:4:5:6%eth0", "2001:db8:1:2::"},
		{p, "fe80::1%eth0", "fe80::"},
		{p, "::1", "::"},
		{p56, "2001:db8:1:2ff:3:4:5:6", "2001:db8:1:200::"},
		{p56, "198.51.100.7", "198.51.100.7"},
	} {
		if got := c.p.key(netip.MustParseAddr(c.addr)); got.net.String() != c.key {
			t.Errorf("/%d key(%s) = %v, want %s", c.p.v6bits, c.addr, got.net, c.key)
		}
	}
	if k := p.key(netip.Addr{}); k != (clientKey{}) {
		t.Errorf("key of no address: %v", k)
	}
	// IPv4 and IPv6 keys never meet in the rate limiter.
	var b1, b2 [16]byte
	if k1, k2 := p.key(netip.MustParseAddr("192.0.2.1")), p.key(netip.MustParseAddr("::c000:201")); string(k1.bytes(&b1)) == string(k2.bytes(&b2)) {
		t.Error("an IPv4 and an IPv6 key share their rate-limiter key")
	}
}

// TestProtectHotPathDoesNotAllocate: admitting and ending a request of a
// known client, IPv4 or IPv6, allocates nothing (the key is a value; the
// rate limiter's string key is converted on the stack).
func TestProtectHotPathDoesNotAllocate(t *testing.T) {
	p, err := newProtector(Protection{RequestsPerSecond: 1e6, Burst: 1e6, MaxConcurrent: 4, BanAfter: 5, BanWindow: time.Minute, BanFor: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	w := httptest.NewRecorder()
	for _, a := range []string{"192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1"} {
		addr := netip.MustParseAddr(a)
		p.leave(p.key(addr)) // nothing in flight: a no-op that must not go negative
		p.enter(w, p.key(addr), now, "id")
		p.leave(p.key(addr))
		if n := testing.AllocsPerRun(1000, func() {
			k := p.key(addr)
			if code := p.enter(w, k, now, "id"); code != "" {
				t.Fatal(code)
			}
			p.leave(k)
		}); n != 0 {
			t.Errorf("%s: %v allocations per request", a, n)
		}
	}
	if a, n := protInflight(p); a != 0 || n != 0 {
		t.Fatalf("in flight: %d %d", a, n)
	}
}

// TestProtectFailureCapUnderSpray: a spray of failures from 1,000,000
// distinct clients (IPv4 addresses and IPv6 /64s), all within one window,
// leaves each shard at most its cap; a client banned before the spray
// stays banned, and one a failure short of a ban keeps its count.
func TestProtectFailureCapUnderSpray(t *testing.T) {
	p, err := newProtector(Protection{BanAfter: 3, BanWindow: time.Minute, BanFor: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	p.failCap = 16
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	banned := []netip.Addr{netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("2001:db8:bad::1")}
	near := []netip.Addr{netip.MustParseAddr("203.0.113.2"), netip.MustParseAddr("2001:db8:bad:1::1")}
	for _, a := range banned {
		for range 3 {
			p.failed(p.key(a), now)
		}
	}
	for _, a := range near {
		for range 2 {
			p.failed(p.key(a), now)
		}
	}
	w := httptest.NewRecorder()
	const n = 1_000_000
	for i := range n {
		at := now.Add(time.Duration(i) * 50 * time.Microsecond) // 50 s in all: every window stays live
		var a netip.Addr
		if i%2 == 0 {
			a = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		} else {
			a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(i >> 16), byte(i >> 8), byte(i), 15: 1})
		}
		p.failed(p.key(a), at)
		if i%4096 == 0 || i == n-1 {
			for s := range p.shards {
				if l := len(p.shards[s].failures); l > p.failCap {
					t.Fatalf("after %d clients shard %d holds %d failure windows, cap %d", i+1, s, l, p.failCap)
				}
			}
		}
	}
	if got := protFailures(p); got > protShards*p.failCap {
		t.Fatalf("%d failure windows", got)
	}
	later := now.Add(55 * time.Second)
	for _, a := range banned {
		code := p.enter(w, p.key(a), later, "id")
		if code == "" {
			p.leave(p.key(a))
		}
		if code != "ip-banned" {
			t.Errorf("%s, banned before the spray: %q", a, code)
		}
	}
	for _, a := range near {
		p.failed(p.key(a), later)
		if code := p.enter(w, p.key(a), later, "id"); code != "ip-banned" {
			t.Errorf("%s, a failure short of a ban before the spray, not banned by one more: %q", a, code)
		}
	}
	t.Logf("after %d sprayed clients: %d failure windows (cap %d per shard)", n, protFailures(p), p.failCap)
}

// TestProtectFailureCapAllBanned: when a shard holds nothing but live
// bans, a new client's failure is not recorded (no ban is lifted), the
// shard does not scan again on every failure, and once the first ban ends
// new clients are recorded again.
func TestProtectFailureCapAllBanned(t *testing.T) {
	p, err := newProtector(Protection{BanAfter: 1, BanWindow: time.Minute, BanFor: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	p.failCap = 8
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Clients of shard 0, in order.
	var keys []clientKey
	for i := 0; len(keys) < 20; i++ {
		k := p.key(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
		if p.shard(k) == &p.shards[0] {
			keys = append(keys, k)
		}
	}
	sh := &p.shards[0]
	for i, k := range keys[:8] {
		p.failed(k, now.Add(time.Duration(i)*time.Second)) // banned until +10m+i s
	}
	w := httptest.NewRecorder()
	isBanned := func(k clientKey, at time.Time) bool {
		code := p.enter(w, k, at, "id")
		if code == "" {
			p.leave(k)
		}
		return code == "ip-banned"
	}
	at := now.Add(time.Minute)
	p.failed(keys[8], at)
	if len(sh.failures) != 8 || sh.failures[keys[8]] != nil || isBanned(keys[8], at) {
		t.Fatalf("a full shard of bans took a new client: %d windows", len(sh.failures))
	}
	if !sh.fullUntil.Equal(now.Add(10 * time.Minute)) {
		t.Fatalf("fullUntil %v, want the first ban's end", sh.fullUntil)
	}
	for _, k := range keys[:8] {
		if !isBanned(k, at) {
			t.Fatalf("%v: ban lifted", k.net)
		}
	}
	// Until the first ban ends, no scan: a window planted now would be
	// swept by one (its window has passed), but stays.
	sh.failures[keys[19]] = &failWindow{start: now.Add(-time.Hour), count: 1}
	p.failed(keys[9], at.Add(time.Second))
	if sh.failures[keys[19]] == nil || sh.failures[keys[9]] != nil {
		t.Fatal("the shard was scanned again before any ban ended")
	}
	delete(sh.failures, keys[19])
	// The first ban ends: its window has passed, so it goes, and the next
	// client is recorded (and banned).
	end := now.Add(10*time.Minute + time.Millisecond)
	p.failed(keys[10], end)
	if sh.failures[keys[0]] != nil || sh.failures[keys[10]] == nil || !isBanned(keys[10], end) || len(sh.failures) != 8 {
		t.Fatalf("after the first ban ended: %d windows", len(sh.failures))
	}
	for _, k := range keys[1:8] {
		if !isBanned(k, end) {
			t.Fatalf("%v: ban lifted", k.net)
		}
	}
}

// TestProtectFailureCapEvictsFewestFailures: a full shard without bans
// forgets a batch of the windows with the fewest failures, oldest first,
// never a ban.
func TestProtectFailureCapEvictsFewestFailures(t *testing.T) {
	p, err := newProtector(Protection{BanAfter: 5, BanWindow: time.Hour, BanFor: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	p.failCap = 16 // batch 2
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var keys []clientKey
	for i := 0; len(keys) < 17; i++ {
		k := p.key(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, byte(i >> 8), byte(i), 15: 1}))
		if p.shard(k) == &p.shards[3] {
			keys = append(keys, k)
		}
	}
	sh := &p.shards[3]
	// keys[0]: banned (5 failures); keys[1..15]: i%4+1 failures, at
	// +i s each.
	for range 5 {
		p.failed(keys[0], now)
	}
	for i := 1; i < 16; i++ {
		for range i%4 + 1 {
			p.failed(keys[i], now.Add(time.Duration(i)*time.Second))
		}
	}
	p.failed(keys[16], now.Add(time.Minute))
	// One failure each: keys 4, 8, 12 (and 16, new). The cap leaves 14,
	// then keys[16] makes 15: keys 4 and 8 (the oldest) go.
	var gone []int
	for i, k := range keys {
		if sh.failures[k] == nil {
			gone = append(gone, i)
		}
	}
	if !slices.Equal(gone, []int{4, 8}) || len(sh.failures) != 15 {
		t.Fatalf("forgot %v, %d left", gone, len(sh.failures))
	}
}
