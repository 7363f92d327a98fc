package sigv4

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisNoncePrefix prefixes nonce keys when NewRedisNonces is given an
// empty prefix.
const DefaultRedisNoncePrefix = "portico:nonce:"

// RedisNonces is a NonceStore shared by every gateway node: each claim is one
// SET key 1 NX EX ttl, so the first node to claim a pair wins and Redis
// forgets it when the request's time window has passed.
type RedisNonces struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewRedisNonces returns a Redis-backed store whose keys start with prefix
// (DefaultRedisNoncePrefix if empty).
func NewRedisNonces(rdb redis.UniversalClient, prefix string) *RedisNonces {
	if prefix == "" {
		prefix = DefaultRedisNoncePrefix
	}
	return &RedisNonces{rdb: rdb, prefix: prefix}
}

// Claim implements NonceStore. The TTL is rounded up to whole seconds (EX).
func (s *RedisNonces) Claim(ctx context.Context, accessKey, nonce string, ttl time.Duration) (bool, error) {
	if s.rdb == nil {
		return false, errors.New("sigv4: redis nonce store has no client")
	}
	if nonce == "" {
		return false, errors.New("sigv4: empty nonce")
	}
	secs := (ttl + time.Second - 1) / time.Second
	if secs < 1 {
		secs = 1
	}
	// The access key's length keeps the key unambiguous whatever the two
	// parts contain.
	key := s.prefix + strconv.Itoa(len(accessKey)) + ":" + accessKey + ":" + nonce
	ok, err := s.rdb.SetNX(ctx, key, "1", secs*time.Second).Result()
	if err != nil {
		return false, fmt.Errorf("sigv4: claim nonce: %w", err)
	}
	return ok, nil
}
