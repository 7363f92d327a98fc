package sigv4

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portico-dev/portico/migrations/testdb/testenv"
)

// TestRedisNoncesOnCluster: on Redis Cluster the claim script's two keys
// share a hash slot (else Redis refuses it with CROSSSLOT), for keys and
// shares spread over every primary, and the store behaves as on one Redis.
func TestRedisNoncesOnCluster(t *testing.T) {
	addrs := testenv.RedisCluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
	defer rdb.Close()
	ctx := context.Background()
	s := NewRedisNonces(rdb, "portico-test:nonce:", MaxNoncesPerKey(4))
	for i := range 200 {
		ak := "PK" + strconv.Itoa(i)
		if ok, err := s.Claim(ctx, ak, "n1", time.Minute); !ok || err != nil {
			t.Fatalf("claim %s: %v %v", ak, ok, err)
		}
		if ok, err := s.Claim(ctx, ak, "n1", time.Minute); ok || err != nil {
			t.Fatalf("replay %s: %v %v", ak, ok, err)
		}
		if ok, err := s.ClaimShare(ctx, "org-"+strconv.Itoa(i%100), ak, "n2", time.Minute); !ok || err != nil {
			t.Fatalf("claim in a share %s: %v %v", ak, ok, err)
		}
	}
	// The claims are spread over the primaries (visited concurrently).
	var used atomic.Int32
	err := rdb.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		if size, err := n.DBSize(ctx).Result(); err != nil {
			return err
		} else if size > 0 {
			used.Add(1)
		}
		return nil
	})
	if err != nil || used.Load() < 2 {
		t.Fatalf("keys on %d primaries (%v): the test does not span the cluster", used.Load(), err)
	}
	testShareOfKeys(t, NewRedisNonces(rdb, "portico-test:share:", MaxNoncesPerKey(4)))
	testKeyShareConcurrent(t, NewRedisNonces(rdb, "portico-test:conc:", MaxNoncesPerKey(20)), 20, 8, 60)
}
