package main

import (
	"github.com/redis/go-redis/v9"

	"github.com/portico-dev/portico/gateway"
)

// configureRedis shares the gateway's limits through Redis. Until the
// gateway's Redis leasing is wired into gateway.Options, Redis mode shares
// only nonces (as portico does today with PORTICO_REDIS_URL), and the
// benchmark's requests carry none, so Redis is off the request path.
func configureRedis(opts *gateway.Options, rdb *redis.Client) {
	_ = opts
	_ = rdb
}
