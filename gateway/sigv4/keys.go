package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"strings"
	"sync"
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
}

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

// signingKey is a derived key prepared for HMAC without allocation: the
// inner and outer pads of RFC 2104 are precomputed.
type signingKey struct {
	secret []byte // to notice a secret that changed under the same access key
	ipad   [sha256.BlockSize]byte
	opad   [sha256.BlockSize]byte
}

func newSigningKey(secret []byte, date, region, service string) *signingKey {
	k := deriveSigningKey(secret, date, region, service) // 32 bytes < block size
	sk := &signingKey{secret: append([]byte(nil), secret...)}
	copy(sk.ipad[:], k)
	copy(sk.opad[:], k)
	for i := range sk.ipad {
		sk.ipad[i] ^= 0x36
		sk.opad[i] ^= 0x5c
	}
	return sk
}

// mac computes HMAC-SHA256(key, msg) using buf as scratch space (returned,
// possibly grown, for reuse).
func (k *signingKey) mac(msg, buf []byte) ([sha256.Size]byte, []byte) {
	buf = append(append(buf[:0], k.ipad[:]...), msg...)
	inner := sha256.Sum256(buf)
	buf = append(append(buf[:0], k.opad[:]...), inner[:]...)
	return sha256.Sum256(buf), buf
}

type keyCacheKey struct{ accessKey, date string }

// keyCache caches derived signing keys per (access key, day) for one region
// and service. It is sharded to keep lock contention low and bounded with two
// generations per shard: when the current generation fills up it becomes the
// previous one and the old previous one is dropped, so recently used keys
// survive (a cheap approximation of LRU) and stale days age out.
type keyCache struct {
	region, service string
	perGen          int
	shards          [16]keyShard
}

type keyShard struct {
	mu        sync.RWMutex
	cur, prev map[keyCacheKey]*signingKey
}

func newKeyCache(region, service string, size int) *keyCache {
	c := &keyCache{region: region, service: service, perGen: max(1, size/(2*16))}
	for i := range c.shards {
		c.shards[i].cur = make(map[keyCacheKey]*signingKey)
	}
	return c
}

func (c *keyCache) shard(accessKey string) *keyShard {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(accessKey); i++ {
		h = (h ^ uint32(accessKey[i])) * 16777619
	}
	return &c.shards[h&15]
}

// get returns the signing key for cred on date (yyyymmdd), deriving and
// caching it on a miss.
func (c *keyCache) get(cred *Credential, date string) *signingKey {
	s := c.shard(cred.AccessKey)
	key := keyCacheKey{cred.AccessKey, date}
	s.mu.RLock()
	sk, inCur := s.cur[key]
	if !inCur {
		sk = s.prev[key]
	}
	s.mu.RUnlock()
	if sk != nil && subtle.ConstantTimeCompare(sk.secret, cred.Secret) == 1 {
		if !inCur { // promote, so it survives the next generation switch
			s.put(keyCacheKey{strings.Clone(cred.AccessKey), strings.Clone(date)}, sk, c.perGen)
		}
		return sk
	}
	sk = newSigningKey(cred.Secret, date, c.region, c.service)
	s.put(keyCacheKey{strings.Clone(cred.AccessKey), strings.Clone(date)}, sk, c.perGen)
	return sk
}

func (s *keyShard) put(key keyCacheKey, sk *signingKey, perGen int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cur) >= perGen {
		s.prev, s.cur = s.cur, make(map[keyCacheKey]*signingKey, perGen)
	}
	s.cur[key] = sk
}

func (c *keyCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.cur) + len(s.prev)
		s.mu.RUnlock()
	}
	return n
}
