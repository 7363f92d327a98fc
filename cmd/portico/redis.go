package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portico-dev/portico/gateway/sigv4"
)

// nonceStore returns the replay-protection store: Redis when configured, so
// a nonce used on one node is refused on every other, else in memory (one
// node only).
func nonceStore(ctx context.Context, cfg *Config, log *slog.Logger) (sigv4.NonceStore, func(), error) {
	if cfg.RedisURL == "" {
		log.Info("nonces and counters: in process (single node; set PORTICO_REDIS_URL to share them across nodes)")
		return sigv4.NewMemoryNonces(1 << 20), func() {}, nil
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("PORTICO_REDIS_URL: %w", err)
	}
	// A short timeout that go-redis really applies: a slow Redis must not
	// hold requests.
	opt.ContextTimeoutEnabled = true
	opt.ReadTimeout, opt.WriteTimeout, opt.DialTimeout = 250*time.Millisecond, 250*time.Millisecond, time.Second
	rdb := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		rdb.Close()
		return nil, nil, fmt.Errorf("redis %s: %w", opt.Addr, err)
	}
	log.Info("nonces: shared through Redis", "addr", opt.Addr)
	return sigv4.NewRedisNonces(rdb, "portico:nonce:"), func() { rdb.Close() }, nil
}
