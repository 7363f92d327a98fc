package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding"
	"hash"
	"sync/atomic"
	"time"
)

// Credential is an access key as the caller's key store knows it.
type Credential struct {
	AccessKey string
	// Secret is the secret access key (40 characters for Portico keys). It
	// never leaves this package in an error.
	Secret []byte
	// Owner is opaque to this package: whatever the caller needs after a
	// successful verification (app, organisation, user, plan…).
	Owner any
	// Active is false once the key is revoked or its owner suspended.
	Active bool
	// ExpiresAt, when non-zero, is the instant the key stops working.
	ExpiresAt time.Time
	// NonceShare, when not empty, names the share of the nonce store this
	// key's nonces count against together with every other key of the
	// same share (the gateway: the key's organisation), so that a tenant
	// cannot multiply its share by making keys. "" counts them against the
	// access key alone. A share must never equal another key's access key.
	NonceShare string
	// Slot, when not nil, is where verifiers keep this credential's derived
	// signing key, reached without the shared cache's lookup: one slot per
	// credential record the store hands out, for records whose secret
	// never changes (a store that changes a key's secret hands out a new
	// slot with it).
	Slot *KeySlot
}

// KeySlot holds one credential's derived signing key for a verifier (the
// zero value is empty). The gateway gives each key of a configuration
// snapshot its own: the cache's set, the key's identity and its secret are
// then not read on every call, only the derived key itself.
type KeySlot struct{ p atomic.Pointer[signingKey] }

// KeyStore finds credentials by access key id. The gateway and the management
// API implement it from their in-memory configuration snapshot: Verify calls
// it on every request, so it must be cheap and must not touch a database.
type KeyStore interface {
	Lookup(ctx context.Context, accessKey string) (Credential, bool)
}

// deriveSigningKey computes kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret,
// date), region), service), "aws4_request").
func deriveSigningKey(secret []byte, date, region, service string) []byte {
	k := make([]byte, 0, 4+len(secret))
	k = append(append(k, "AWS4"...), secret...)
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	return mac(mac(mac(mac(k, date), region), service), "aws4_request")
}

// Longest access key and secret a cached signingKey holds inline. Portico's
// are 20 and 40 characters (signing.md); the margin admits other SigV4
// credentials. Longer ones are still verified, only not cached.
const (
	maxCachedAccessKey = 32
	maxCachedSecret    = 64
)

// signingKey is a derived key prepared for HMAC without allocation: the
// hash states after the inner and outer pads of RFC 2104 are precomputed.
// It also records what it was derived from, for the cache, inline and
// first: a cache hit compares these fields on every request, and on a busy
// server each separate heap object it had to follow was another miss to
// main memory.
type signingKey struct {
	cache        *keyCache // the verifier's cache that derived it (for KeySlot)
	date         [8]byte   // yyyymmdd
	accessKeyLen uint8
	secretLen    uint8
	accessKey    [maxCachedAccessKey]byte
	secret       [maxCachedSecret]byte // to notice a secret that changed under the same access key
	// inner and outer are SHA-256 states (as the digest marshals them)
	// that have absorbed the key's inner and outer pads of RFC 2104: an
	// HMAC restores them instead of compressing a pad block twice per
	// call, a quarter of a verification's hashing. states is false if the
	// digest's encoding ever stops fitting them (another Go release):
	// mac then computes the HMAC from key the plain way.
	inner, outer [macStateLen]byte
	states       bool
	key          [sha256.Size]byte
}

// macStateLen is the length of a marshaled SHA-256 state (Go 1.26: magic,
// eight state words, the block buffer and the length).
const macStateLen = 4 + 8*4 + sha256.BlockSize + 8

// cacheable reports whether a key derived from these inputs fits a signingKey's
// inline fields.
func cacheable(accessKey string, secret []byte, date string) bool {
	return len(accessKey) <= maxCachedAccessKey && len(secret) <= maxCachedSecret && len(date) == 8
}

func newSigningKey(accessKey string, secret []byte, date, region, service string) *signingKey {
	k := deriveSigningKey(secret, date, region, service) // 32 bytes < block size
	sk := &signingKey{}
	if cacheable(accessKey, secret, date) {
		copy(sk.date[:], date)
		sk.accessKeyLen, sk.secretLen = uint8(len(accessKey)), uint8(len(secret))
		copy(sk.accessKey[:], accessKey)
		copy(sk.secret[:], secret)
	}
	var ipad, opad [sha256.BlockSize]byte
	copy(ipad[:], k)
	copy(opad[:], k)
	for i := range ipad {
		ipad[i] ^= 0x36
		opad[i] ^= 0x5c
	}
	copy(sk.key[:], k)
	h := sha256.New()
	sk.states = true
	for _, x := range []struct {
		pad   []byte
		state *[macStateLen]byte
	}{{ipad[:], &sk.inner}, {opad[:], &sk.outer}} {
		h.Reset()
		h.Write(x.pad)
		st, err := h.(encoding.BinaryAppender).AppendBinary(x.state[:0])
		if err != nil || len(st) != macStateLen || &st[0] != &x.state[0] {
			sk.states = false
		}
	}
	return sk
}

// derivedFor reports whether sk was derived for accessKey on date. The
// secret is compared separately, in constant time.
func (sk *signingKey) derivedFor(accessKey, date string) bool {
	return string(sk.accessKey[:sk.accessKeyLen]) == accessKey && string(sk.date[:]) == date
}

// macScratch is what an HMAC needs besides the key: a SHA-256 digest and
// room for its sums. Both live on the heap (pooled with a verification's
// scratch): a sum written through the digest's interface would otherwise
// escape, an allocation per call.
type macScratch struct {
	d   hash.Hash // from sha256.New
	sum [2 * sha256.Size]byte
}

func newMACScratch() *macScratch { return &macScratch{d: sha256.New()} }

// mac computes HMAC-SHA256(key, msg) with ms (nil: a new one), whose state
// it overwrites.
func (k *signingKey) mac(msg []byte, ms *macScratch) (sum [sha256.Size]byte) {
	if ms == nil {
		ms = newMACScratch()
	}
	d, u := ms.d, ms.d.(encoding.BinaryUnmarshaler)
	if !k.states || u.UnmarshalBinary(k.inner[:]) != nil {
		h := hmac.New(sha256.New, k.key[:])
		h.Write(msg)
		copy(sum[:], h.Sum(ms.sum[:0]))
		return sum
	}
	d.Write(msg)
	inner := d.Sum(ms.sum[:0])
	u.UnmarshalBinary(k.outer[:]) // the same encoding as inner's, which it took
	d.Write(inner)
	copy(sum[:], d.Sum(ms.sum[:sha256.Size])[sha256.Size:]) // after inner, which it has read
	return sum
}

// keyCache caches derived signing keys per (access key, day) for one region
// and service. Every request looks a key up, so a lookup takes no lock: the
// cache is a two-way set-associative table of atomic pointers, each set
// remembering which way was hit last so that a new key evicts the other
// one (a hot key survives a stream of one-off keys). A miss derives the
// key (four HMACs) and publishes it; two requests racing on the same miss
// both derive it, which is harmless.
//
// A hit reads one cache line of the table (a set holds both ways and the
// way hit last) and the signingKey it points to.
type keyCache struct {
	region, service string
	mask            uint32 // len(sets) - 1
	sets            []keySet
}

type keySet struct {
	ways   [2]atomic.Pointer[signingKey]
	recent atomic.Uint32 // the way hit last
	_      [12]byte      // 32 bytes, two sets per cache line
}

func newKeyCache(region, service string, size int) *keyCache {
	sets := 1
	for sets*2 < size {
		sets *= 2
	}
	return &keyCache{region: region, service: service, mask: uint32(sets - 1), sets: make([]keySet, sets)}
}

func (c *keyCache) set(accessKey string) uint32 {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(accessKey); i++ {
		h = (h ^ uint32(accessKey[i])) * 16777619
	}
	return h & c.mask
}

// get returns the signing key for cred on date (yyyymmdd), deriving and
// caching it on a miss. Keys too long for a signingKey's inline fields are
// derived on every call.
func (c *keyCache) get(cred *Credential, date string) *signingKey {
	if !cacheable(cred.AccessKey, cred.Secret, date) {
		return newSigningKey(cred.AccessKey, cred.Secret, date, c.region, c.service)
	}
	if cred.Slot == nil {
		return c.lookup(cred, date)
	}
	// The slot belongs to this credential record, so only the day and the
	// verifier (region and service) can differ.
	if sk := cred.Slot.p.Load(); sk != nil && sk.cache == c && string(sk.date[:]) == date {
		return sk
	}
	sk := c.lookup(cred, date)
	cred.Slot.p.Store(sk)
	return sk
}

// lookup is get through the cache's sets.
func (c *keyCache) lookup(cred *Credential, date string) *signingKey {
	s := &c.sets[c.set(cred.AccessKey)]
	for way := range uint32(2) {
		sk := s.ways[way].Load()
		if sk != nil && sk.derivedFor(cred.AccessKey, date) && subtle.ConstantTimeCompare(sk.secret[:sk.secretLen], cred.Secret) == 1 {
			if s.recent.Load() != way {
				s.recent.Store(way)
			}
			return sk
		}
	}
	sk := newSigningKey(cred.AccessKey, cred.Secret, date, c.region, c.service)
	sk.cache = c
	// Replace this key's stale entry (another day or secret) if it has
	// one, else an empty way, else the way not hit last.
	way := 1 - s.recent.Load()
	for w := range uint32(2) {
		if old := s.ways[w].Load(); old == nil || string(old.accessKey[:old.accessKeyLen]) == cred.AccessKey {
			way = w
			break
		}
	}
	s.ways[way].Store(sk)
	s.recent.Store(way)
	return sk
}

func (c *keyCache) len() int {
	n := 0
	for i := range c.sets {
		for w := range c.sets[i].ways {
			if c.sets[i].ways[w].Load() != nil {
				n++
			}
		}
	}
	return n
}
