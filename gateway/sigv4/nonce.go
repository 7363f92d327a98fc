package sigv4

import (
	"context"
	"errors"
	"hash/maphash"
	"strings"
	"sync"
	"time"
)

// NonceStore remembers (access key, nonce) pairs for replay protection.
type NonceStore interface {
	// Claim records the pair for ttl and reports true, or reports false if
	// the pair was already claimed and has not expired. An error means the
	// store could not answer; Verify then fails closed. An error that
	// wraps ErrNonceKeyLimit is the access key's own doing: Verify answers
	// it with 429 nonce-capacity rather than as a failure of the store.
	Claim(ctx context.Context, accessKey, nonce string, ttl time.Duration) (bool, error)
}

// NonceShareStore is a NonceStore that can count a claim against a share
// other than the access key (Credential.NonceShare). Both stores of this
// package are; Verify falls back to Claim for one that is not.
type NonceShareStore interface {
	NonceStore
	// ClaimShare is Claim, with the nonce counted against share's limit
	// rather than accessKey's ("": accessKey's, as Claim). The pair
	// (accessKey, nonce) is what is remembered, as with Claim.
	ClaimShare(ctx context.Context, share, accessKey, nonce string, ttl time.Duration) (bool, error)
}

// ErrNonceStoreFull is returned by MemoryNonces.Claim when every slot holds
// an unexpired nonce. Verify fails closed on it rather than forgetting a
// nonce early, which would reopen the replay window.
var ErrNonceStoreFull = errors.New("sigv4: nonce store full")

// ErrNonceKeyLimit is returned by Claim when the access key already holds
// as many unexpired nonces as one key may (MaxNoncesPerKey), so that one
// key cannot fill the store every tenant shares. A replayed nonce is still
// reported as such (false, nil): the limit is only checked for new pairs.
var ErrNonceKeyLimit = errors.New("sigv4: access key holds its share of unexpired nonces")

// NonceKeyLimitError is the ErrNonceKeyLimit a store returns when it knows
// when the access key's oldest nonce expires, freeing a place.
type NonceKeyLimitError struct {
	// RetryAfter is how long until the key's oldest unexpired nonce
	// expires.
	RetryAfter time.Duration
}

func (e *NonceKeyLimitError) Error() string { return ErrNonceKeyLimit.Error() }

// Is makes errors.Is(err, ErrNonceKeyLimit) hold.
func (e *NonceKeyLimitError) Is(target error) bool { return target == ErrNonceKeyLimit }

// DefaultNoncesPerKey is RedisNonces' default MaxNoncesPerKey: a quarter of
// the in-memory store a gateway node uses by default (1<<20). At the 15
// minutes a header-signed request's nonce is remembered, it lets one key
// sustain about 290 nonce-bearing requests a second.
const DefaultNoncesPerKey = 1 << 18

// NonceOption configures NewMemoryNonces and NewRedisNonces.
type NonceOption func(*nonceOptions)

type nonceOptions struct {
	perKey int
}

// MaxNoncesPerKey caps the unexpired nonces one access key — or one share
// of keys (ClaimShare) — may hold; a claim beyond it fails with
// ErrNonceKeyLimit until some of them expire. n ≤ 0 keeps the default: a quarter of NewMemoryNonces' maxEntries,
// DefaultNoncesPerKey for NewRedisNonces.
func MaxNoncesPerKey(n int) NonceOption {
	return func(o *nonceOptions) {
		if n > 0 {
			o.perKey = n
		}
	}
}

const (
	nonceShards        = 32
	nonceSweepInterval = 30 * time.Second
	// nonceKeyBuf bounds the "accessKey\x00nonce" keys built on the stack,
	// so that a claim allocates only for the entry it adds: an access key
	// of 20 characters and a nonce of at most maxNonceLen fit.
	nonceKeyBuf = 192
)

// MemoryNonces is an in-memory NonceStore for a single node. It is bounded,
// expires entries by their TTL, and is safe for concurrent use: entries are
// spread over shards, each with its own mutex, and each shard sweeps its
// expired entries at most every 30 s (on the Claim that finds the sweep due,
// so there is no background goroutine to stop) and whenever it is full.
// It never forgets an unexpired nonce: when it is full, or an access key
// holds its share (MaxNoncesPerKey), a new claim fails instead.
//
// Shards are chosen with a hash keyed by a random per-store seed, so that a
// client cannot pick nonces that all land in one shard and fill it early.
// Each access key's count of unexpired nonces lives apart from the shards,
// in a min-heap of their expiries under a lock of its own (taken while the
// entry's shard is locked, never the other way round): the count is exact
// under concurrency, and a key's expired nonces stop counting against it
// at the instant they expire, not when a sweep gets to them.
type MemoryNonces struct {
	perShard int
	perKey   int
	seed     maphash.Seed
	shards   []nonceShard
	keys     []nonceKeyShard  // each access key's live nonces, by hash of the key
	now      func() time.Time // tests substitute a fake clock
}

type nonceShard struct {
	mu        sync.Mutex
	expiries  map[string]int64 // "accessKey\x00nonce" → expiry, unix nanoseconds
	nextSweep int64
}

type nonceKeyShard struct {
	mu        sync.Mutex
	keys      map[string]*keyNonces
	nextSweep int64
}

// keyNonces is a min-heap of the expiries (unix nanoseconds) of one access
// key's nonces, live or expired since the last sweep: after expire(now), its
// length is the key's live count.
type keyNonces struct {
	exp []int64
}

// NewMemoryNonces returns a store that holds at most about maxEntries
// unexpired nonces (rounded up to a multiple of its shard count); a
// non-positive maxEntries means 1,000,000. Each access key may hold at
// most a quarter of them (at least 1) unless MaxNoncesPerKey says otherwise.
func NewMemoryNonces(maxEntries int, opts ...NonceOption) *MemoryNonces {
	if maxEntries <= 0 {
		maxEntries = 1_000_000
	}
	o := nonceOptions{perKey: max(maxEntries/4, 1)}
	for _, opt := range opts {
		opt(&o)
	}
	n := nonceShards
	if maxEntries < 64*nonceShards {
		n = 1 // small stores: one shard, so the bound is exact
	}
	m := &MemoryNonces{
		perShard: (maxEntries + n - 1) / n, perKey: o.perKey, seed: maphash.MakeSeed(),
		shards: make([]nonceShard, n), keys: make([]nonceKeyShard, n), now: time.Now,
	}
	for i := range m.shards {
		m.shards[i].expiries = make(map[string]int64)
		m.keys[i].keys = make(map[string]*keyNonces)
	}
	return m
}

// Claim implements NonceStore: the nonce counts against the access key.
func (m *MemoryNonces) Claim(ctx context.Context, accessKey, nonce string, ttl time.Duration) (bool, error) {
	return m.ClaimShare(ctx, accessKey, accessKey, nonce, ttl)
}

// ClaimShare implements NonceShareStore.
func (m *MemoryNonces) ClaimShare(_ context.Context, share, accessKey, nonce string, ttl time.Duration) (bool, error) {
	if nonce == "" {
		return false, errors.New("sigv4: empty nonce")
	}
	if share == "" {
		share = accessKey
	}
	ttl = max(ttl, time.Second)
	var buf [nonceKeyBuf]byte
	key := buf[:0]
	key = append(key, accessKey...)
	key = append(key, 0)
	key = append(key, nonce...)
	s := &m.shards[maphash.Bytes(m.seed, key)%uint64(len(m.shards))]
	now := m.now().UnixNano()

	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.expiries[string(key)]; ok && exp > now {
		return false, nil
	}
	if now >= s.nextSweep || len(s.expiries) >= m.perShard {
		s.sweep(now)
	}
	if err := m.charge(share, now, now+int64(ttl), len(s.expiries) >= m.perShard); err != nil {
		return false, err
	}
	s.expiries[string(key)] = now + int64(ttl)
	return true, nil
}

// keyShard is the shard that counts share's nonces.
func (m *MemoryNonces) keyShard(share string) *nonceKeyShard {
	return &m.keys[maphash.String(m.seed, share)%uint64(len(m.keys))]
}

// charge counts a new nonce expiring at exp against share (an access key,
// or a share of keys), or fails with ErrNonceKeyLimit, or with
// ErrNonceStoreFull if shardFull. The caller holds the lock of the shard
// the nonce goes to, so nothing can claim the same pair between the
// charge and the insert.
func (m *MemoryNonces) charge(share string, now, exp int64, shardFull bool) error {
	ks := m.keyShard(share)
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if now >= ks.nextSweep {
		ks.sweep(now)
	}
	// The heap may still hold expired nonces (the shard's sweep drops them
	// in bulk), so its length bounds the live count from above: only a key
	// that seems to be at its limit needs its expired nonces popped to get
	// the exact count.
	k := ks.keys[share]
	if k != nil && len(k.exp) >= m.perKey {
		k.expire(now)
		if len(k.exp) >= m.perKey {
			return &NonceKeyLimitError{RetryAfter: time.Duration(k.exp[0] - now)}
		}
	}
	if shardFull {
		return ErrNonceStoreFull
	}
	if k == nil {
		// A copy, so the map does not pin the request the key came from.
		k = &keyNonces{}
		ks.keys[strings.Clone(share)] = k
	}
	k.push(exp)
	return nil
}

func (s *nonceShard) sweep(now int64) {
	for k, exp := range s.expiries {
		if exp <= now {
			delete(s.expiries, k)
		}
	}
	s.nextSweep = now + int64(nonceSweepInterval)
}

// sweep drops the expired nonces of every key in the shard, and the keys
// left with none, so that idle keys do not hold memory.
func (ks *nonceKeyShard) sweep(now int64) {
	for ak, k := range ks.keys {
		k.dropExpired(now)
		switch {
		case len(k.exp) == 0:
			delete(ks.keys, ak)
		case cap(k.exp) > 1024 && len(k.exp) < cap(k.exp)/4:
			k.exp = append(make([]int64, 0, 2*len(k.exp)), k.exp...)
		}
	}
	ks.nextSweep = now + int64(nonceSweepInterval)
}

// expire pops the expiries that are not after now: O(log n) each, for a
// key at its limit, which is refused at once when none has expired.
func (k *keyNonces) expire(now int64) {
	h := k.exp
	for len(h) > 0 && h[0] <= now {
		n := len(h) - 1
		h[0] = h[n]
		h = h[:n]
		siftDown(h, 0)
	}
	k.exp = h
}

// dropExpired removes every expiry not after now in one pass and rebuilds
// the heap: O(n), for the periodic sweep.
func (k *keyNonces) dropExpired(now int64) {
	if len(k.exp) == 0 || k.exp[0] > now {
		return
	}
	h := k.exp[:0]
	for _, e := range k.exp {
		if e > now {
			h = append(h, e)
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		siftDown(h, i)
	}
	k.exp = h
}

func siftDown(h []int64, i int) {
	for n := len(h); ; {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && h[c+1] < h[c] {
			c++
		}
		if h[i] <= h[c] {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

func (k *keyNonces) push(exp int64) {
	h := append(k.exp, exp)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if h[p] <= h[i] {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
	k.exp = h
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

// live reports how many unexpired nonces accessKey holds (for tests).
func (m *MemoryNonces) live(accessKey string) int {
	ks := m.keyShard(accessKey)
	ks.mu.Lock()
	defer ks.mu.Unlock()
	k := ks.keys[accessKey]
	if k == nil {
		return 0
	}
	k.expire(m.now().UnixNano())
	return len(k.exp)
}
