package main

import (
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portico-dev/portico/gateway"
)

// configureRedis shares the gateway's rate limits and quotas through Redis
// (budget leased in blocks), under a key prefix of this run's own so runs
// never share counters.
func configureRedis(opts *gateway.Options, rdb redis.UniversalClient) {
	opts.Redis = rdb
	opts.RedisPrefix = "portico:bench:" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
}
