package gwconfig_test

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/portal/gwconfig"
	"github.com/portico-dev/portico/tenants"
)

// TestReloaderRebuildGCPercent: a rebuild runs with the collector at
// RebuildGCPercent, and the setting from before is back once it is done;
// 0 leaves the collector alone.
func TestReloaderRebuildGCPercent(t *testing.T) {
	db := testdb.Open(t, migrations.SQLite)
	src := newSources(db, newKeyring(), tenants.Options{})
	defer debug.SetGCPercent(debug.SetGCPercent(150))
	for _, tc := range []struct{ rebuild, during int }{{37, 37}, {0, 150}} {
		during := -1
		rl := gwconfig.NewReloader(gateway.NewStore(nil), nil)
		rl.RebuildGCPercent = tc.rebuild
		// Build reads the clock once, while it builds.
		rl.Sources = src
		rl.Sources.Now = func() time.Time { during = gcPercent(); return time.Now() }
		if err := rl.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		if during != tc.during || gcPercent() != 150 {
			t.Fatalf("RebuildGCPercent %d: GOGC %d during the rebuild (want %d), %d after (want 150)", tc.rebuild, during, tc.during, gcPercent())
		}
	}
}

func gcPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// TestCollectorSettings: portico tunes the collector only when GOGC is unset.
func TestCollectorSettings(t *testing.T) {
	for gogc, want := range map[string][2]int{"": {gwconfig.ServingGCPercent, gwconfig.DefaultRebuildGCPercent}, "100": {}, "off": {}} {
		serving, rebuild := gwconfig.CollectorSettings(func(k string) string {
			if k == "GOGC" {
				return gogc
			}
			return ""
		})
		if [2]int{serving, rebuild} != want {
			t.Errorf("GOGC=%q: %d, %d; want %v", gogc, serving, rebuild, want)
		}
	}
}
