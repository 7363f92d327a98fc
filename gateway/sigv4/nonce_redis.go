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

// RedisNonces is a NonceStore shared by every gateway node. Each claim is
// one script (claimNonceScript), so the first node to claim a pair wins and
// Redis forgets it when the request's time window has passed:
//
//   - the pair's key, prefix + "<len(access key)>:<access key>:<nonce>", is
//     set with NX and EX ttl exactly as nodes before the per-key limit did, so
//     during a rolling upgrade old and new nodes refuse each other's nonces;
//   - a sorted set per access key, or per share of keys (ClaimShare),
//     prefix + "k:<access key or share>" (never a pair's key, which starts
//     with a digit), holds its pairs ("<len>:<access key>:<nonce>") scored
//     by their expiry, to count them against MaxNoncesPerKey. Claims made
//     by old nodes are not counted.
//
// The script reads Redis's clock (TIME), not the node's: the pairs' keys
// expire by Redis's clock, so the sets are pruned by the same one, and
// nodes whose clocks disagree cannot prune one another's live nonces early
// or keep expired ones counted.
//
// On Redis Cluster (a *redis.ClusterClient) a script's keys must share a
// hash slot: both keys then carry the share as a hash tag, the pair's as
// prefix + "{<share>}<len>:<access key>:<nonce>" and the set as
// prefix + "k:{<share>}". (Portico did not support clusters before, so no
// node claims nonces there under the untagged names.)
type RedisNonces struct {
	rdb     redis.UniversalClient
	prefix  string
	perKey  int
	cluster bool
}

// NewRedisNonces returns a Redis-backed store whose keys start with prefix
// (DefaultRedisNoncePrefix if empty). Each access key may hold at most
// DefaultNoncesPerKey unexpired nonces unless MaxNoncesPerKey says otherwise.
func NewRedisNonces(rdb redis.UniversalClient, prefix string, opts ...NonceOption) *RedisNonces {
	if prefix == "" {
		prefix = DefaultRedisNoncePrefix
	}
	o := nonceOptions{perKey: DefaultNoncesPerKey}
	for _, opt := range opts {
		opt(&o)
	}
	_, cluster := rdb.(*redis.ClusterClient)
	return &RedisNonces{rdb: rdb, prefix: prefix, perKey: o.perKey, cluster: cluster}
}

// claimNonceScript claims the pair ARGV[1] ("<len>:<access key>:<nonce>")
// for ARGV[2] whole seconds, for an access key or share that may hold
// ARGV[3] unexpired nonces. KEYS[1] is the pair's key, KEYS[2] the key's
// or share's sorted set of pairs scored by expiry in Redis milliseconds. It returns {1} (claimed), {0} (replay: checked first,
// so a replay is a replay even at the limit) or {-1, ms} (the key is at its
// limit, and its oldest nonce expires in ms milliseconds).
// Redis 7 replicates scripts by their effects, so reading TIME is allowed.
// Milliseconds since 1970 have 13 digits until 2286, exact in a double and
// in %.0f.
var claimNonceScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {-1, tonumber(first[2]) - now}
end
redis.call('SET', KEYS[1], '1', 'EX', ARGV[2])
redis.call('ZADD', KEYS[2], string.format('%.0f', now + tonumber(ARGV[2]) * 1000), ARGV[1])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[2], last[2])
return {1}
`)

// Claim implements NonceStore: the nonce counts against the access key. The
// TTL is rounded up to whole seconds (EX).
func (s *RedisNonces) Claim(ctx context.Context, accessKey, nonce string, ttl time.Duration) (bool, error) {
	return s.ClaimShare(ctx, accessKey, accessKey, nonce, ttl)
}

// ClaimShare implements NonceShareStore: the share's sorted set is
// prefix + "k:<share>".
func (s *RedisNonces) ClaimShare(ctx context.Context, share, accessKey, nonce string, ttl time.Duration) (bool, error) {
	if s.rdb == nil {
		return false, errors.New("sigv4: redis nonce store has no client")
	}
	if nonce == "" {
		return false, errors.New("sigv4: empty nonce")
	}
	if share == "" {
		share = accessKey
	}
	secs := (ttl + time.Second - 1) / time.Second
	if secs < 1 {
		secs = 1
	}
	// The access key's length keeps the key unambiguous whatever the two
	// parts contain.
	pair := strconv.Itoa(len(accessKey)) + ":" + accessKey + ":" + nonce
	key, set := s.prefix+pair, s.prefix+"k:"+share
	if s.cluster {
		tag := "{" + share + "}"
		key, set = s.prefix+tag+pair, s.prefix+"k:"+tag
	}
	// The set's member is the pair, not the nonce alone: keys sharing a
	// set may use the same nonce.
	r, err := claimNonceScript.Run(ctx, s.rdb, []string{key, set}, pair, int64(secs), s.perKey).Int64Slice()
	switch {
	case err != nil:
		return false, fmt.Errorf("sigv4: claim nonce: %w", err)
	case len(r) == 0:
		return false, errors.New("sigv4: claim nonce: empty answer")
	case r[0] == -1:
		if len(r) > 1 && r[1] > 0 {
			return false, &NonceKeyLimitError{RetryAfter: time.Duration(r[1]) * time.Millisecond}
		}
		return false, ErrNonceKeyLimit
	}
	return r[0] == 1, nil
}
