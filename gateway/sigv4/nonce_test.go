package sigv4

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portico-dev/portico/migrations/testdb/testenv"
)

// nonceRequest signs GET /f carrying nonce with access key ak.
func nonceRequest(t *testing.T, ak, secret, nonce string) *http.Request {
	t.Helper()
	r, _ := http.NewRequest("GET", base+"/f", nil)
	r.Header.Set(NonceHeader, nonce)
	if err := (&Signer{}).Sign(r, ak, secret, "", testTime); err != nil {
		t.Fatal(err)
	}
	return toServer(t, r)
}

// testReplay runs the replay scenarios against a verifier built on store.
func testReplay(t *testing.T, store NonceStore) {
	keys := testKeyStore()
	mk := func() *Verifier {
		v, err := New(Config{Keys: keys, Nonces: store, Now: func() time.Time { return testTime }})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	v := mk()
	nonce := "nonce-" + randomHex(8)
	ctx := context.Background()
	if _, err := v.Verify(ctx, nonceRequest(t, testAK, testSecret, nonce), "", VerifyOptions{RequireNonce: true}); err != nil {
		t.Fatalf("first use: %v", err)
	}
	_, err := v.Verify(ctx, nonceRequest(t, testAK, testSecret, nonce), "", VerifyOptions{})
	wantProblem(t, err, TypeReplayedNonce, 403)

	// Another node sharing the store refuses it too.
	_, err = mk().Verify(ctx, nonceRequest(t, testAK, testSecret, nonce), "", VerifyOptions{})
	wantProblem(t, err, TypeReplayedNonce, 403)

	// The same nonce under another access key is a different pair.
	if _, err := v.Verify(ctx, nonceRequest(t, otherAK, testSecret+"x", nonce), "", VerifyOptions{}); err != nil {
		t.Fatalf("other key: %v", err)
	}
	// A request that fails its signature does not burn the nonce.
	fresh := "nonce-" + randomHex(8)
	_, err = v.Verify(ctx, nonceRequest(t, testAK, "bad-secret", fresh), "", VerifyOptions{})
	wantProblem(t, err, TypeSignatureMismatch, 403)
	if _, err := v.Verify(ctx, nonceRequest(t, testAK, testSecret, fresh), "", VerifyOptions{}); err != nil {
		t.Fatalf("nonce burnt by a forged request: %v", err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func TestReplayMemory(t *testing.T) { testReplay(t, NewMemoryNonces(100)) }

func TestReplayRedis(t *testing.T) {
	rdb, prefix := testRedis(t)
	testReplay(t, NewRedisNonces(rdb, prefix))
}

// testRedis connects to PORTICO_TEST_REDIS_URL and returns a client and a
// key prefix unique to the test, whose keys are removed afterwards. Without
// the variable the test is skipped, except under PORTICO_TEST_STRICT=1,
// where that is a failure.
func testRedis(t *testing.T) (*redis.Client, string) {
	t.Helper()
	u := testenv.Env(t, "PORTICO_TEST_REDIS_URL")
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("PORTICO_TEST_REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opt)
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis ping: %v", err)
	}
	prefix := "portico-test:sigv4:" + t.Name() + ":" + randomHex(6) + ":"
	t.Cleanup(func() {
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		rdb.Close()
	})
	return rdb, prefix
}

func TestRedisNonces(t *testing.T) {
	rdb, prefix := testRedis(t)
	s := NewRedisNonces(rdb, prefix)
	ctx := context.Background()

	ok, err := s.Claim(ctx, "AK", "n1", 1500*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("first claim = %v, %v", ok, err)
	}
	ttl, err := rdb.TTL(ctx, prefix+"2:AK:n1").Result()
	if err != nil || ttl <= time.Second || ttl > 2*time.Second {
		t.Fatalf("TTL = %v, %v; want 2s (1.5s rounded up, EX)", ttl, err)
	}
	if ok, err := s.Claim(ctx, "AK", "n1", time.Minute); ok || err != nil {
		t.Fatalf("second claim = %v, %v, want false", ok, err)
	}
	// "A" + "K:n1" must not collide with "AK" + "n1".
	if ok, err := s.Claim(ctx, "A", "K:n1", time.Minute); !ok || err != nil {
		t.Fatalf("claim of a different pair = %v, %v", ok, err)
	}
	// Expired pairs can be claimed again.
	if ok, _ := s.Claim(ctx, "AK", "short", time.Millisecond); !ok {
		t.Fatal("claim short")
	}
	time.Sleep(1100 * time.Millisecond)
	if ok, err := s.Claim(ctx, "AK", "short", time.Second); !ok || err != nil {
		t.Fatalf("claim after expiry = %v, %v", ok, err)
	}
	// Exactly one of many concurrent claims wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := s.Claim(ctx, "AK", "race", time.Minute); ok && err == nil {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent claims won, want 1", wins.Load())
	}
}

func TestRedisUnavailableFailsClosed(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	v := newTestVerifier(t, func(c *Config) { c.Nonces = NewRedisNonces(rdb, "") })
	_, err := v.Verify(context.Background(), nonceRequest(t, testAK, testSecret, "n"), "", VerifyOptions{})
	var perr *Error
	if err == nil || errors.As(err, &perr) {
		t.Fatalf("err = %v, want an infrastructure error (not *Error)", err)
	}
}

func TestMemoryNonces(t *testing.T) {
	ctx := context.Background()
	t.Run("claim-once", func(t *testing.T) {
		m := NewMemoryNonces(10)
		if ok, err := m.Claim(ctx, "AK", "n", time.Minute); !ok || err != nil {
			t.Fatalf("first = %v, %v", ok, err)
		}
		if ok, _ := m.Claim(ctx, "AK", "n", time.Minute); ok {
			t.Fatal("second claim succeeded")
		}
		if ok, _ := m.Claim(ctx, "AK2", "n", time.Minute); !ok {
			t.Fatal("same nonce, other key refused")
		}
	})
	t.Run("expiry", func(t *testing.T) {
		m := NewMemoryNonces(10)
		now := testTime
		m.now = func() time.Time { return now }
		m.Claim(ctx, "AK", "n", 2*time.Second)
		now = now.Add(2*time.Second - time.Nanosecond)
		if ok, _ := m.Claim(ctx, "AK", "n", time.Minute); ok {
			t.Fatal("claimed before expiry")
		}
		now = now.Add(time.Nanosecond)
		if ok, _ := m.Claim(ctx, "AK", "n", time.Minute); !ok {
			t.Fatal("not claimable at expiry")
		}
	})
	t.Run("bounded-fails-closed-then-sweeps", func(t *testing.T) {
		m := NewMemoryNonces(3, MaxNoncesPerKey(4)) // the store's bound, not the key's share
		now := testTime
		m.now = func() time.Time { return now }
		for _, n := range []string{"a", "b", "c"} {
			if ok, err := m.Claim(ctx, "AK", n, time.Minute); !ok || err != nil {
				t.Fatalf("claim %s = %v, %v", n, ok, err)
			}
		}
		if _, err := m.Claim(ctx, "AK", "d", time.Minute); !errors.Is(err, ErrNonceStoreFull) {
			t.Fatalf("claim over capacity: %v, want ErrNonceStoreFull", err)
		}
		now = now.Add(time.Minute)
		if ok, err := m.Claim(ctx, "AK", "d", time.Minute); !ok || err != nil {
			t.Fatalf("claim after expiry of the others = %v, %v", ok, err)
		}
		if m.Len() != 1 {
			t.Fatalf("Len = %d after sweep, want 1", m.Len())
		}
	})
	t.Run("periodic-sweep", func(t *testing.T) {
		m := NewMemoryNonces(1 << 20)
		now := testTime
		m.now = func() time.Time { return now }
		for i := range 1000 {
			m.Claim(ctx, "AK", "n"+itoa(int64(i)), time.Second)
		}
		now = now.Add(nonceSweepInterval + time.Second)
		// Claim until every shard has been touched (and so swept): the
		// shards are chosen with a per-store random seed.
		swept := func() bool {
			for i := range m.shards {
				if m.shards[i].nextSweep != now.UnixNano()+int64(nonceSweepInterval) {
					return false
				}
			}
			return true
		}
		late := 0
		for ; !swept(); late++ {
			if late == 10_000 {
				t.Fatal("10,000 claims did not touch every shard")
			}
			m.Claim(ctx, "AK", "late"+itoa(int64(late)), time.Second)
		}
		if m.Len() != late {
			t.Fatalf("Len = %d, want only the %d live nonces", m.Len(), late)
		}
	})
	t.Run("concurrent-single-winner", func(t *testing.T) {
		m := NewMemoryNonces(1 << 16)
		for i := range 50 {
			var wins atomic.Int32
			var wg sync.WaitGroup
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if ok, _ := m.Claim(ctx, "AK", "race"+itoa(int64(i)), time.Minute); ok {
						wins.Add(1)
					}
				}()
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("round %d: %d winners", i, wins.Load())
			}
		}
	})
}

// TestNonceTTLCoversWindow: the nonce must be remembered as long as the
// request could pass the time check, and not needlessly longer.
func TestNonceTTLCoversWindow(t *testing.T) {
	rec := &recordingNonces{}
	now := testTime.Add(-10 * time.Minute) // request signed 10 min in the server's future
	v := newTestVerifier(t, func(c *Config) { c.Nonces = rec; c.Now = func() time.Time { return now } })
	if _, err := v.Verify(context.Background(), nonceRequest(t, testAK, testSecret, "n"), "", VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := 25*time.Minute + time.Second; rec.ttl != want {
		t.Fatalf("ttl = %v, want %v (until X-Amz-Date + 15m, plus 1s)", rec.ttl, want)
	}
}

type recordingNonces struct{ ttl time.Duration }

func (r *recordingNonces) Claim(_ context.Context, _, _ string, ttl time.Duration) (bool, error) {
	r.ttl = ttl
	return true, nil
}
