package sigv4

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// swapKeys is a key store whose contents are replaced whole, as the
// gateway's snapshot is on a reload.
type swapKeys struct{ m atomic.Pointer[mapKeys] }

func (s *swapKeys) set(m mapKeys) { s.m.Store(&m) }

func (s *swapKeys) Lookup(ctx context.Context, ak string) (Credential, bool) {
	return s.m.Load().Lookup(ctx, ak)
}

// TestKeyCacheFollowsTheKeyStore: the derived-signing-key cache never
// answers for the key store. A revoked or removed key is refused at once
// although its signing key is cached; a secret rotated under the same
// access key (same length, a longer one, one too long to cache) makes the
// old secret's signatures fail and the new one's pass; and a secret
// restored is accepted again.
func TestKeyCacheFollowsTheKeyStore(t *testing.T) {
	keys := &swapKeys{}
	v := newTestVerifier(t, func(c *Config) { c.Keys = keys })
	verify := func(secret string) error {
		t.Helper()
		r, err := http.NewRequest("GET", "https://gw.example.com/acme/weather/v1/forecast?q=1", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := (&Signer{}).Sign(r, testAK, secret, "", testTime); err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(context.Background(), toServer(t, r), "", VerifyOptions{})
		return err
	}
	with := func(secret string, active bool) mapKeys {
		return mapKeys{testAK: {AccessKey: testAK, Secret: []byte(secret), Active: active}}
	}
	rotated := strings.Repeat("R", len(testSecret))
	longer := testSecret + "x"
	tooLong := strings.Repeat("L", maxCachedSecret+1)

	keys.set(with(testSecret, true))
	if err := verify(testSecret); err != nil {
		t.Fatalf("the key: %v", err)
	}
	if v.cache.len() == 0 {
		t.Fatal("the signing key was not cached; the test proves nothing")
	}
	keys.set(with(testSecret, false))
	wantProblem(t, verify(testSecret), TypeInvalidAccessKey, 403)
	keys.set(mapKeys{})
	wantProblem(t, verify(testSecret), TypeInvalidAccessKey, 403)

	for _, next := range []string{rotated, longer, tooLong, testSecret} {
		prev := testSecret
		if next == testSecret {
			prev = tooLong
		}
		keys.set(with(next, true))
		if next != testSecret {
			wantProblem(t, verify(testSecret), TypeSignatureMismatch, 403)
		}
		wantProblem(t, verify(prev), TypeSignatureMismatch, 403)
		if err := verify(next); err != nil {
			t.Fatalf("secret of %d characters after rotation: %v", len(next), err)
		}
	}
}
