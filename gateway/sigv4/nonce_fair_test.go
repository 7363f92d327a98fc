package sigv4

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The audit behind these tests: the nonce store is shared by every tenant,
// and one key sending presigned URLs with nonces and X-Amz-Expires=604800
// could fill it for a week. Each access key now has a share.

// testKeyShare runs the per-key limit scenarios against s, whose limit is
// share (at least 4). wait lets the store's clock move on by d.
func testKeyShare(t *testing.T, s NonceStore, share int, wait func(d time.Duration)) {
	ctx := context.Background()
	const a, b = "PKSHAREA000000000001", "PKSHAREB000000000002"
	claim := func(ak, nonce string, ttl time.Duration) (bool, error) {
		t.Helper()
		return s.Claim(ctx, ak, nonce, ttl)
	}
	mustClaim := func(ak, nonce string, ttl time.Duration) {
		t.Helper()
		if ok, err := claim(ak, nonce, ttl); !ok || err != nil {
			t.Fatalf("claim %s %s = %v, %v, want true", ak, nonce, ok, err)
		}
	}
	// mustRefuse also checks when the store says a place frees up: when
	// the key's oldest nonce expires, after lo and no later than hi.
	mustRefuse := func(ak, nonce string, lo, hi time.Duration) {
		t.Helper()
		ok, err := claim(ak, nonce, time.Minute)
		if ok || !errors.Is(err, ErrNonceKeyLimit) {
			t.Fatalf("claim %s %s over the key's share = %v, %v, want ErrNonceKeyLimit", ak, nonce, ok, err)
		}
		var le *NonceKeyLimitError
		if !errors.As(err, &le) || le.RetryAfter <= lo || le.RetryAfter > hi {
			t.Fatalf("claim %s %s over the key's share: %#v, want RetryAfter in (%v, %v]", ak, nonce, err, lo, hi)
		}
	}
	mustReplay := func(ak, nonce string) {
		t.Helper()
		if ok, err := claim(ak, nonce, time.Minute); ok || err != nil {
			t.Fatalf("replay of %s %s = %v, %v, want false, nil", ak, nonce, ok, err)
		}
	}

	// Half of a's share lives 1 s, half 1 h.
	short := share / 2
	for i := range share {
		ttl := time.Hour
		if i < short {
			ttl = time.Second
		}
		mustClaim(a, "n"+strconv.Itoa(i), ttl)
	}
	mustRefuse(a, "over", 0, time.Second)
	mustRefuse(a, "over", 0, time.Second) // refusing does not count either
	// A replay is still a replay at the limit, not a limit error.
	mustReplay(a, "n0")
	mustReplay(a, "n"+strconv.Itoa(share-1))
	// Other keys are unaffected, up to their own share.
	for i := range share {
		mustClaim(b, "n"+strconv.Itoa(i), time.Hour)
	}
	mustRefuse(b, "over", 59*time.Minute, time.Hour)

	// The short-lived half expires: exactly that many new nonces fit, at
	// once (not after some sweep), and the long-lived ones still count.
	wait(1100 * time.Millisecond)
	for i := range short {
		mustClaim(a, "m"+strconv.Itoa(i), time.Hour)
	}
	mustRefuse(a, "over2", 58*time.Minute, time.Hour)
	// Expired nonces can be claimed again; live ones are still replays.
	mustReplay(a, "n"+strconv.Itoa(share-1))
	mustReplay(a, "m0")
	mustRefuse(a, "n0", 58*time.Minute, time.Hour) // expired, so a new claim: over the share
}

func TestMemoryNoncesKeyShare(t *testing.T) {
	m := NewMemoryNonces(1000, MaxNoncesPerKey(10))
	now := testTime
	m.now = func() time.Time { return now }
	testKeyShare(t, m, 10, func(d time.Duration) { now = now.Add(d) })
	if n := m.live("PKSHAREA000000000001"); n != 10 {
		t.Fatalf("live nonces of the key = %d, want 10", n)
	}
}

func TestRedisNoncesKeyShare(t *testing.T) {
	rdb, prefix := testRedis(t)
	s := NewRedisNonces(rdb, prefix, MaxNoncesPerKey(10))
	testKeyShare(t, s, 10, time.Sleep)

	// The pair's key is still the one nodes before the limit use (SET NX
	// EX), and the key's set expires with its last nonce.
	ctx := context.Background()
	if ttl, err := rdb.TTL(ctx, prefix+"20:PKSHAREA000000000001:m0").Result(); err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("pair TTL = %v, %v, want 1h", ttl, err)
	}
	set := prefix + "k:PKSHAREA000000000001"
	if n, err := rdb.ZCard(ctx, set).Result(); err != nil || n != 10 {
		t.Fatalf("ZCARD of the key's set = %d, %v, want 10 (expired members pruned)", n, err)
	}
	if ttl, err := rdb.PTTL(ctx, set).Result(); err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("set PTTL = %v, %v, want about 1h (its latest member)", ttl, err)
	}
}

// TestRedisNoncesRollingUpgrade: a nonce claimed by a node that predates the
// limit (plain SET NX EX) is a replay for a new node, and the reverse.
func TestRedisNoncesRollingUpgrade(t *testing.T) {
	rdb, prefix := testRedis(t)
	s := NewRedisNonces(rdb, prefix)
	ctx := context.Background()
	oldClaim := func(ak, nonce string) bool {
		ok, err := rdb.SetNX(ctx, prefix+strconv.Itoa(len(ak))+":"+ak+":"+nonce, "1", time.Minute).Result()
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !oldClaim(testAK, "old") {
		t.Fatal("old claim")
	}
	if ok, err := s.Claim(ctx, testAK, "old", time.Minute); ok || err != nil {
		t.Fatalf("new node on an old node's nonce = %v, %v, want a replay", ok, err)
	}
	if ok, err := s.Claim(ctx, testAK, "new", time.Minute); !ok || err != nil {
		t.Fatalf("new claim = %v, %v", ok, err)
	}
	if oldClaim(testAK, "new") {
		t.Fatal("old node accepted a new node's nonce")
	}
}

// testKeyShareConcurrent: goroutines race to claim overlapping nonces of one
// key (and of another): exactly share nonces are won per key, none twice.
func testKeyShareConcurrent(t *testing.T, s NonceStore, share, workers, pool int) {
	ctx := context.Background()
	keys := []string{"PKRACEA0000000000001", "PKRACEB0000000000002"}
	wins := make([][]atomic.Int32, len(keys))
	for k := range wins {
		wins[k] = make([]atomic.Int32, pool)
	}
	var limited atomic.Int32
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range pool * len(keys) {
				// Each worker goes through every (key, nonce) in its own order.
				i := (j*7 + w*13) % (pool * len(keys))
				k, n := i%len(keys), i/len(keys)
				ok, err := s.Claim(ctx, keys[k], "race-"+strconv.Itoa(n), time.Minute)
				switch {
				case errors.Is(err, ErrNonceKeyLimit):
					limited.Add(1)
				case err != nil:
					t.Error(err)
					return
				case ok:
					wins[k][n].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	for k := range keys {
		total := 0
		for n := range wins[k] {
			c := int(wins[k][n].Load())
			if c > 1 {
				t.Errorf("%s nonce %d accepted %d times", keys[k], n, c)
			}
			total += c
		}
		if total != share {
			t.Errorf("%s won %d nonces, want exactly its share %d", keys[k], total, share)
		}
	}
	if limited.Load() == 0 {
		t.Error("no claim was refused for the key's share")
	}
}

func TestMemoryNoncesKeyShareConcurrent(t *testing.T) {
	for round := range 20 {
		m := NewMemoryNonces(1<<14, MaxNoncesPerKey(50))
		testKeyShareConcurrent(t, m, 50, 8, 200)
		if t.Failed() {
			t.Fatalf("round %d", round)
		}
	}
}

func TestRedisNoncesKeyShareConcurrent(t *testing.T) {
	rdb, prefix := testRedis(t)
	testKeyShareConcurrent(t, NewRedisNonces(rdb, prefix, MaxNoncesPerKey(20)), 20, 8, 60)
}

// TestMemoryNoncesDefaultShare: NewMemoryNonces(n) lets a key hold a quarter
// of n.
func TestMemoryNoncesDefaultShare(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryNonces(400)
	for i := range 100 {
		if ok, err := m.Claim(ctx, testAK, "n"+strconv.Itoa(i), time.Minute); !ok || err != nil {
			t.Fatalf("claim %d = %v, %v", i, ok, err)
		}
	}
	if _, err := m.Claim(ctx, testAK, "n100", time.Minute); !errors.Is(err, ErrNonceKeyLimit) {
		t.Fatalf("claim 101 = %v, want ErrNonceKeyLimit", err)
	}
	if ok, err := m.Claim(ctx, otherAK, "n0", time.Minute); !ok || err != nil {
		t.Fatalf("other key = %v, %v", ok, err)
	}
}

// fnvShard is the unkeyed shard hash MemoryNonces used to have.
func fnvShard(ak, nonce string) uint32 {
	key := ak + "\x00" + nonce
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return h % nonceShards
}

// TestMemoryNoncesKeyedShards: nonces chosen to share a shard under a
// public hash do not fill one shard early, and two stores place the same
// nonces differently (the seed is the store's own).
func TestMemoryNoncesKeyedShards(t *testing.T) {
	ctx := context.Background()
	const capacity = 64 * nonceShards // 64 a shard
	var aimed []string
	for i := 0; len(aimed) < capacity/4; i++ {
		if n := "aim" + strconv.Itoa(i); fnvShard(testAK, n) == 0 {
			aimed = append(aimed, n)
		}
	}
	m := NewMemoryNonces(capacity, MaxNoncesPerKey(capacity))
	for i, n := range aimed {
		if ok, err := m.Claim(ctx, testAK, n, time.Hour); !ok || err != nil {
			t.Fatalf("claim %d of %d nonces aimed at one shard = %v, %v (store of %d)", i, len(aimed), ok, err, capacity)
		}
	}
	shardLens := func(m *MemoryNonces) []int {
		l := make([]int, len(m.shards))
		for i := range m.shards {
			l[i] = len(m.shards[i].expiries)
		}
		return l
	}
	m2 := NewMemoryNonces(capacity, MaxNoncesPerKey(capacity))
	for _, n := range aimed {
		m2.Claim(ctx, testAK, n, time.Hour)
	}
	if slices.Equal(shardLens(m), shardLens(m2)) {
		t.Fatalf("two stores spread the same nonces alike: %v", shardLens(m))
	}
}

// TestVerifyNonceCapacity: through Verify, a key over its share gets 429
// nonce-capacity, a replay is still replayed-nonce, and other keys go on.
func TestVerifyNonceCapacity(t *testing.T) {
	run := func(t *testing.T, store NonceStore) {
		v := newTestVerifier(t, func(c *Config) { c.Nonces = store })
		ctx := context.Background()
		presigned := func(nonce string) *http.Request {
			t.Helper()
			r, _ := http.NewRequest("GET", base+"/f", nil)
			r.Header.Set(NonceHeader, nonce)
			u, err := (&Signer{}).Presign(r, testAK, testSecret, "", testTime, MaxPresignExpiry)
			if err != nil {
				t.Fatal(err)
			}
			r, _ = http.NewRequest("GET", u, nil)
			r.Header.Set(NonceHeader, nonce)
			return toServer(t, r)
		}
		n1, n2 := "cap-"+randomHex(8), "cap-"+randomHex(8)
		for _, n := range []string{n1, n2} {
			if _, err := v.Verify(ctx, presigned(n), "", VerifyOptions{}); err != nil {
				t.Fatalf("claim %s: %v", n, err)
			}
		}
		_, err := v.Verify(ctx, nonceRequest(t, testAK, testSecret, "cap-"+randomHex(8)), "", VerifyOptions{})
		e := wantProblem(t, err, TypeNonceCapacity, http.StatusTooManyRequests)
		// A place frees up when the first presigned URL's nonce expires,
		// seven days on.
		if e.ProblemType() != ProblemTypeBase+"nonce-capacity" || e.Title == "" || !containsAll(e.Detail, "X-Amz-Expires", "15m0s") ||
			e.RetryAfter <= MaxPresignExpiry-time.Minute || e.RetryAfter > MaxPresignExpiry+time.Second {
			t.Fatalf("problem = %+v", e)
		}
		_, err = v.Verify(ctx, presigned(n1), "", VerifyOptions{})
		wantProblem(t, err, TypeReplayedNonce, http.StatusForbidden)
		if _, err := v.Verify(ctx, nonceRequest(t, otherAK, testSecret+"x", "cap-"+randomHex(8)), "", VerifyOptions{}); err != nil {
			t.Fatalf("other key: %v", err)
		}
	}
	t.Run("memory", func(t *testing.T) { run(t, NewMemoryNonces(1000, MaxNoncesPerKey(2))) })
	t.Run("redis", func(t *testing.T) {
		rdb, prefix := testRedis(t)
		run(t, NewRedisNonces(rdb, prefix, MaxNoncesPerKey(2)))
	})
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// BenchmarkMemoryNoncesClaimFresh: every claim is of a nonce not held, by a
// heavy key: the fake clock moves 1 ms a claim (1000 claims a second) and
// nonces live 100 s, so about 100,000 are live and a nonce comes round
// again only after it expired. The insert path, with its sweeps.
func BenchmarkMemoryNoncesClaimFresh(b *testing.B) {
	m := NewMemoryNonces(1 << 22)
	var clk int64
	m.now = func() time.Time { clk += int64(time.Millisecond); return time.Unix(0, clk) }
	ctx := context.Background()
	nonces := make([]string, 1<<17)
	for i := range nonces {
		nonces[i] = NewNonce()
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if ok, err := m.Claim(ctx, testAK, nonces[i&(len(nonces)-1)], 100*time.Second); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkMemoryNoncesClaimParallel: fresh claims from several access keys
// at once (as above, but the 1 ms steps are shared), for the contention
// between shards and per-key counts.
func BenchmarkMemoryNoncesClaimParallel(b *testing.B) {
	m := NewMemoryNonces(1 << 22)
	var clk atomic.Int64
	m.now = func() time.Time { return time.Unix(0, clk.Add(int64(time.Millisecond))) }
	ctx := context.Background()
	nonces := make([]string, 1<<17)
	for i := range nonces {
		nonces[i] = NewNonce()
	}
	aks := make([]string, 64)
	for i := range aks {
		aks[i] = "PKBENCH" + strconv.Itoa(100000+i)
	}
	var g atomic.Int32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ak := aks[int(g.Add(1))%len(aks)]
		for i := 0; pb.Next(); i++ {
			m.Claim(ctx, ak, nonces[i&(len(nonces)-1)], 100*time.Second)
		}
	})
}

// TestMemoryNoncesSweepForgetsIdleKeys: the periodic sweep drops the
// expired nonces of keys that no longer claim any, and then the keys.
func TestMemoryNoncesSweepForgetsIdleKeys(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryNonces(1000) // one shard
	now := testTime
	m.now = func() time.Time { return now }
	for i := range 3 {
		ak := "PKIDLE00000000000000"[:19] + strconv.Itoa(i)
		for j := range 5 {
			m.Claim(ctx, ak, "n"+strconv.Itoa(j), time.Second)
		}
	}
	now = now.Add(nonceSweepInterval)
	if ok, err := m.Claim(ctx, testAK, "n", time.Minute); !ok || err != nil {
		t.Fatalf("claim = %v, %v", ok, err)
	}
	ks := &m.keys[0]
	if len(ks.keys) != 1 || ks.keys[testAK] == nil || len(ks.keys[testAK].exp) != 1 {
		t.Fatalf("keys after the sweep: %d (%v), want only %s", len(ks.keys), ks.keys, testAK)
	}
	if m.Len() != 1 {
		t.Fatalf("Len = %d, want 1", m.Len())
	}
}

// testShareOfKeys: keys claiming under one share (an organisation) share
// its limit, the same nonce from two keys is two pairs that both count,
// and keys outside the share, or claiming alone, are unaffected.
func testShareOfKeys(t *testing.T, s NonceShareStore) {
	ctx := context.Background()
	const a, b, c = "PKSHAREA000000000011", "PKSHAREB000000000012", "PKSHAREC000000000013"
	const org, other = "0193a3c0-7e2a-7000-8000-000000000001", "0193a3c0-7e2a-7000-8000-000000000002"
	claim := func(share, ak, nonce string) (bool, error) { return s.ClaimShare(ctx, share, ak, nonce, time.Hour) }
	for _, c := range []struct{ ak, nonce string }{{a, "same"}, {b, "same"}, {a, "a1"}, {b, "b1"}} {
		if ok, err := claim(org, c.ak, c.nonce); !ok || err != nil {
			t.Fatalf("claim %s %s = %v, %v", c.ak, c.nonce, ok, err)
		}
	}
	for _, ak := range []string{a, b} {
		if ok, err := claim(org, ak, "over"); ok || !errors.Is(err, ErrNonceKeyLimit) {
			t.Fatalf("claim by %s over the share = %v, %v, want ErrNonceKeyLimit", ak, ok, err)
		}
		// A replay is still a replay, pair by pair.
		if ok, err := claim(org, ak, "same"); ok || err != nil {
			t.Fatalf("replay by %s = %v, %v, want false, nil", ak, ok, err)
		}
	}
	if ok, err := claim(other, c, "c1"); !ok || err != nil {
		t.Fatalf("another share = %v, %v", ok, err)
	}
	// Claim counts against the access key alone, as before.
	if ok, err := s.Claim(ctx, a, "alone", time.Hour); !ok || err != nil {
		t.Fatalf("Claim by the key alone = %v, %v", ok, err)
	}
}

func TestMemoryNoncesShareOfKeys(t *testing.T) {
	testShareOfKeys(t, NewMemoryNonces(1000, MaxNoncesPerKey(4)))
}

func TestRedisNoncesShareOfKeys(t *testing.T) {
	rdb, prefix := testRedis(t)
	testShareOfKeys(t, NewRedisNonces(rdb, prefix, MaxNoncesPerKey(4)))
}

// An empty share is the access key's own: both stores count such a claim
// against the key, not against one set every unshared key would fill.
func TestClaimShareEmptyIsTheKey(t *testing.T) {
	ctx := context.Background()
	check := func(t *testing.T, s NonceShareStore) {
		for i := range 2 {
			if ok, err := s.ClaimShare(ctx, "", "PKA", "a"+strconv.Itoa(i), time.Minute); !ok || err != nil {
				t.Fatalf("PKA claim %d: %v %v", i, ok, err)
			}
		}
		if _, err := s.ClaimShare(ctx, "", "PKA", "a9", time.Minute); !errors.Is(err, ErrNonceKeyLimit) {
			t.Fatalf("PKA beyond its limit: %v", err)
		}
		// Another key with no share has a limit of its own.
		if ok, err := s.ClaimShare(ctx, "", "PKB", "b0", time.Minute); !ok || err != nil {
			t.Fatalf("PKB: %v %v", ok, err)
		}
	}
	t.Run("memory", func(t *testing.T) { check(t, NewMemoryNonces(1000, MaxNoncesPerKey(2))) })
	t.Run("redis", func(t *testing.T) {
		rdb, prefix := testRedis(t)
		check(t, NewRedisNonces(rdb, prefix, MaxNoncesPerKey(2)))
	})
}
