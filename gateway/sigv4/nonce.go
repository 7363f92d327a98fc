package sigv4

import (
	"context"
	"errors"
	"sync"
	"time"
)

// NonceStore remembers (access key, nonce) pairs for replay protection.
type NonceStore interface {
	// Claim records the pair for ttl and reports true, or reports false if
	// the pair was already claimed and has not expired. An error means the
	// store could not answer; Verify then fails closed.
	Claim(ctx context.Context, accessKey, nonce string, ttl time.Duration) (bool, error)
}

// ErrNonceStoreFull is returned by MemoryNonces.Claim when every slot holds
// an unexpired nonce. Verify fails closed on it rather than forgetting a
// nonce early, which would reopen the replay window.
var ErrNonceStoreFull = errors.New("sigv4: nonce store full")

const (
	nonceShards        = 32
	nonceSweepInterval = 30 * time.Second
)

// MemoryNonces is an in-memory NonceStore for a single node. It is bounded,
// expires entries by their TTL, and is safe for concurrent use: entries are
// spread over shards, each with its own mutex, and each shard sweeps its
// expired entries at most every 30 s (on the Claim that finds the sweep due,
// so there is no background goroutine to stop) and whenever it is full.
type MemoryNonces struct {
	perShard int
	shards   []nonceShard
	now      func() time.Time // tests substitute a fake clock
}

type nonceShard struct {
	mu        sync.Mutex
	expiries  map[string]int64 // "accessKey\x00nonce" → expiry, unix nanoseconds
	nextSweep int64
}

// NewMemoryNonces returns a store that holds at most about maxEntries
// unexpired nonces (rounded up to a multiple of its shard count); a
// non-positive maxEntries means 1,000,000.
func NewMemoryNonces(maxEntries int) *MemoryNonces {
	if maxEntries <= 0 {
		maxEntries = 1_000_000
	}
	n := nonceShards
	if maxEntries < 64*nonceShards {
		n = 1 // small stores: one shard, so the bound is exact
	}
	m := &MemoryNonces{perShard: (maxEntries + n - 1) / n, shards: make([]nonceShard, n), now: time.Now}
	for i := range m.shards {
		m.shards[i].expiries = make(map[string]int64)
	}
	return m
}

// Claim implements NonceStore.
func (m *MemoryNonces) Claim(_ context.Context, accessKey, nonce string, ttl time.Duration) (bool, error) {
	if nonce == "" {
		return false, errors.New("sigv4: empty nonce")
	}
	ttl = max(ttl, time.Second)
	key := accessKey + "\x00" + nonce
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	s := &m.shards[h%uint32(len(m.shards))]
	now := m.now().UnixNano()

	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.expiries[key]; ok && exp > now {
		return false, nil
	}
	if now >= s.nextSweep || len(s.expiries) >= m.perShard {
		s.sweep(now)
	}
	if len(s.expiries) >= m.perShard {
		return false, ErrNonceStoreFull
	}
	s.expiries[key] = now + int64(ttl)
	return true, nil
}

func (s *nonceShard) sweep(now int64) {
	for k, exp := range s.expiries {
		if exp <= now {
			delete(s.expiries, k)
		}
	}
	s.nextSweep = now + int64(nonceSweepInterval)
}

// Len reports the number of nonces held, expired or not (for metrics and tests).
func (m *MemoryNonces) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.expiries)
		s.mu.Unlock()
	}
	return n
}
