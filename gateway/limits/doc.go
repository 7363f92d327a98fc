// Package limits enforces a plan's rate limits and quotas in the gateway and
// describes them to clients.
//
// Everything here is built once from configuration (constructors validate
// and return errors) and then run per request without database access and,
// for keys already seen, without allocation. Callers pass the current time
// in, so behaviour is a function of its inputs and tests use a fake clock.
// The state kept per key holds its own copy of the key, made once: a
// caller's string may be a slice of a much larger buffer (the gateway's
// configuration arena, which every reload replaces) that the entry would
// otherwise keep alive. Entries are therefore updated in place, never
// stored again, since storing a string key again keeps the caller's copy.
//
//   - GCRA limits requests per second with a burst: per key one theoretical
//     arrival time in a lock-striped, size-bounded map (idle keys are
//     dropped first), updated by compare-and-swap.
//
//   - Quotas counts usage per key per UTC day (Day) or per billing period
//     whose bounds the caller supplies (Period); check and increment happen
//     under the counter's lock, so a hard quota is never exceeded in one
//     process.
//
//   - A caller that checks the same key on every call can keep the key's
//     state (GCRA.Cell, Quotas.Counter) and decide through it (AllowCell,
//     TakeCounter) without hashing the key or looking it up; state the
//     limiter has dropped since reports itself dead, and the caller fetches
//     the key's current one.
//
//   - WriteHeaders, WriteRetryAfter and WriteRefusal describe limits to
//     clients with the RateLimit-Policy and RateLimit fields of
//     draft-ietf-httpapi-ratelimit-headers-09 (RFC 9651 structured-field
//     lists: `"day";q=1000;w=86400` and `"day";r=990;t=3600`), Retry-After,
//     and a 429 RFC 9457 problem of type rate-limited or quota-exceeded.
//
//   - Leaser and Lease share a quota across gateway nodes through Redis
//     (used when PORTICO_REDIS_URL is set). A node reserves a block of
//     units from a Redis counter per key and window with a Lua script that
//     never grants past the limit, admits locally from the block, requests
//     the next block in the background when a quarter is left, and returns
//     unused units when idle (Leaser.Sweep) or released. Blocks are sized
//     from the rate seen since the last grant (LeaseConfig.Horizon), so
//     Redis sees one round trip per many requests. Because every admitted
//     unit was reserved first, the nodes together never exceed a hard
//     quota. When Redis errors or exceeds LeaseConfig.Timeout the lease
//     reports it through LeaseConfig.OnError (logs, metrics) and for
//     LeaseConfig.Backoff serves from its remaining block, then either from
//     an in-process quota (FailOpen) or not at all (FailClosed).
//
//   - RateLeaser shares a requests-per-second limit with burst across nodes
//     the same way: Redis keeps one GCRA state per key, on Redis's own
//     clock, and grants whole tokens in blocks sized from the node's recent
//     rate (a 50ms horizon, at most the burst); a node admits from its block
//     and caches a refusal until its Retry-After. Tokens older than MaxAge
//     are dropped so that a node cannot bank them into an extra burst. The
//     cluster admits burst + rate×t in any t (measured within 2% in tests).
//     Nodes announce themselves in Redis (RateLeaser.Announce); while Redis
//     fails, a fail-open node admits its share of the rate and burst.
//
// The gateway's enforcer (gateway/enforce.go) uses GCRA and Quotas in
// process, or RateLeaser and Leaser when Options.Redis is set, and sweeps
// idle state in the background every ten seconds.
package limits
