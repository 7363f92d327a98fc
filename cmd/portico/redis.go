package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/gateway/sigv4"
)

// shared is the state gateway nodes share: replay-protection nonces and,
// through the Redis client, rate limits and quotas.
type shared struct {
	nonces sigv4.NonceStore
	redis  redis.UniversalClient // nil: counters in process
}

// connectShared connects to Redis when configured, so that a nonce used on
// one node is refused on every other and limits are enforced once for all
// nodes; without Redis both stay in this process (one node only).
func connectShared(ctx context.Context, cfg *Config, log *slog.Logger) (shared, func(), error) {
	if cfg.RedisURL == "" {
		log.Info("nonces and rate limits/quotas: in process (single node; set PORTICO_REDIS_URL to share them across nodes)")
		return shared{nonces: sigv4.NewMemoryNonces(1<<20, sigv4.MaxNoncesPerKey(cfg.GatewayNoncesPerOrg))}, func() {}, nil
	}
	rdb, err := gateway.ConnectRedis(ctx, cfg.RedisURL)
	if err != nil {
		return shared{}, nil, fmt.Errorf("PORTICO_REDIS_URL: %w", err)
	}
	log.Info("nonces and rate limits/quotas: shared through Redis (budget leased in blocks)", "addr", gateway.RedisAddr(rdb), "fail_mode", cfg.RedisFailMode)
	return shared{nonces: sigv4.NewRedisNonces(rdb, "portico:nonce:", sigv4.MaxNoncesPerKey(cfg.GatewayNoncesPerOrg)), redis: rdb}, func() { rdb.Close() }, nil
}
