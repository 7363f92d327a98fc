package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"runtime"
	"strconv"
	"testing"
	"time"
	"unsafe"
)

// tablesConfig has keys and subscriptions with every field set, times in
// several locations, apps with several subscriptions to one API and ids
// that repeat across records.
func tablesConfig() *Config {
	berlin := time.FixedZone("CET", 3600)
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	cfg := &Config{Version: 3, GeneratedAt: start, Keys: map[string]Key{}, AppCodes: map[string]AppCode{}}
	for i := range 40 {
		id := "PK" + strconv.Itoa(1000+i)
		k := Key{AccessKey: id, Secret: []byte("secret of " + id), AppID: "app" + strconv.Itoa(i/2), OrgID: "org" + strconv.Itoa(i/8)}
		switch i % 4 {
		case 1:
			k.Stage = StageProduction
			k.ExpiresAt = time.Date(2027, 1, 2, 3, 4, 5, 6, berlin)
		case 2:
			k.Stage = StageTest
			k.ExpiresAt = time.Date(2027, 1, 2, 3, 4, 5, 0, time.Local)
		}
		cfg.Keys[id] = k
	}
	statuses := []SubscriptionStatus{SubPendingApproval, SubActive, SubSuspended, SubPendingPayment}
	for i := range 60 {
		sub := Subscription{ID: "sub" + strconv.Itoa(i), AppID: "app" + strconv.Itoa(i%7), OrgID: "org" + strconv.Itoa(i%7/3),
			ProviderOrgID: "prov" + strconv.Itoa(i%3), APIID: "api" + strconv.Itoa(i%5), PlanID: "plan" + strconv.Itoa(i%4),
			Status: statuses[i%4], Versions: []string{"v1", "v" + strconv.Itoa(2+i%2)},
			Limits:      Limits{RequestsPerSecond: i % 3, Burst: 2 * (i % 3), DayQuota: int64(i), HardLimit: i%2 == 0, OverageCentsPer1000: int64(i % 5)},
			PeriodStart: start, PeriodEnd: start.AddDate(0, 1, 0)}
		switch i % 3 {
		case 1:
			sub.Versions = nil
			sub.PeriodStart, sub.PeriodEnd = time.Time{}, time.Time{}
		case 2:
			sub.PeriodStart, sub.PeriodEnd = start.In(berlin), start.AddDate(0, 0, 7).In(berlin)
		}
		cfg.Subscriptions = append(cfg.Subscriptions, sub)
	}
	for i := range 5 {
		sum := sha256.Sum256([]byte("code" + strconv.Itoa(i)))
		cfg.AppCodes[hex.EncodeToString(sum[:])] = AppCode{Prefix: "pac_" + strconv.Itoa(i), AppID: "app" + strconv.Itoa(i), OrgID: "org0",
			Stage: []string{"", StageProduction, StageTest}[i%3]}
	}
	return cfg
}

// TestSnapshotTablesKeepEveryField checks that the pointer-free tables give
// back exactly what the Config held.
func TestSnapshotTablesKeepEveryField(t *testing.T) {
	cfg := tablesConfig()
	s := mustCompile(t, cfg)
	for id, want := range cfg.Keys {
		got, ok := s.Key(id)
		if !ok || !reflect.DeepEqual(got, want) {
			t.Fatalf("key %s = %#v %+v, want %+v", id, got, got, want)
		}
		if got.ExpiresAt != want.ExpiresAt { // == also compares the location
			t.Fatalf("key %s expires %v, want %v", id, got.ExpiresAt, want.ExpiresAt)
		}
	}
	for _, miss := range []string{"", "PK", "PK999", "PK1000 ", "pk1000"} {
		if _, ok := s.Key(miss); ok {
			t.Fatalf("key %q found", miss)
		}
	}
	// Per (app, API): the first active subscription in configuration
	// order, else the first.
	want := map[[2]string]Subscription{}
	for _, sub := range cfg.Subscriptions {
		k := [2]string{sub.AppID, sub.APIID}
		if cur, ok := want[k]; !ok || cur.Status != SubActive && sub.Status == SubActive {
			want[k] = sub
		}
	}
	for k, w := range want {
		got, ok := s.Subscription(k[0], k[1])
		got.cells = nil // the enforcer's, not the configuration's
		if !ok || !reflect.DeepEqual(got, w) || got.PeriodStart != w.PeriodStart || got.PeriodEnd != w.PeriodEnd {
			t.Fatalf("subscription %v = %+v, want %+v", k, got, w)
		}
	}
	for _, miss := range [][2]string{{"app0", "api9"}, {"app9", "api0"}, {"", ""}, {"api0", "app0"}} {
		if _, ok := s.Subscription(miss[0], miss[1]); ok {
			t.Fatalf("subscription %v found", miss)
		}
	}
	for h, ac := range cfg.AppCodes {
		i, _ := strconv.Atoi(ac.Prefix[len("pac_"):])
		got, ok := s.AppCode("code" + strconv.Itoa(i))
		want := Key{AccessKey: ac.Prefix, AppID: ac.AppID, OrgID: ac.OrgID, Stage: ac.Stage}
		if !ok || !reflect.DeepEqual(got, want) {
			t.Fatalf("app code %s = %+v, want %+v", h, got, want)
		}
	}
	if _, ok := s.AppCode("code99"); ok {
		t.Fatal("unknown app code found")
	}
}

// TestSnapshotRecordsHaveNoPointers guards what keeps a large configuration
// cheap for the garbage collector: the records and indexes a snapshot holds
// per key and per subscription contain no pointers, so the collector never
// scans them.
func TestSnapshotRecordsHaveNoPointers(t *testing.T) {
	var hasPointers func(reflect.Type) bool
	hasPointers = func(t reflect.Type) bool {
		switch t.Kind() {
		case reflect.Pointer, reflect.String, reflect.Slice, reflect.Map, reflect.Interface, reflect.Func, reflect.Chan, reflect.UnsafePointer:
			return true
		case reflect.Array:
			return hasPointers(t.Elem())
		case reflect.Struct:
			for i := range t.NumField() {
				if hasPointers(t.Field(i).Type) {
					return true
				}
			}
		}
		return false
	}
	s := mustCompile(t, tablesConfig())
	for name, typ := range map[string]reflect.Type{
		"keys": reflect.TypeOf(s.keys).Elem(), "subs": reflect.TypeOf(s.subs).Elem(), "index slots": reflect.TypeOf(s.keyIndex.slots).Elem(),
		"app code keys": reflect.TypeOf(s.codes).Key(), "app code records": reflect.TypeOf(s.codes).Elem(), "limits": reflect.TypeOf(s.limits).Elem(),
		"names": reflect.TypeOf(s.names).Elem(), "periods": reflect.TypeOf(s.periods).Elem(),
	} {
		if hasPointers(typ) {
			t.Errorf("%s: %v holds pointers", name, typ)
		}
	}
}

// TestSnapshotDropsTheConfig checks that a snapshot does not keep the
// Config's keys and subscriptions alive: a reload would otherwise hold two
// Configs beside two snapshots.
func TestSnapshotDropsTheConfig(t *testing.T) {
	cfg := tablesConfig()
	freed := make(chan string, 2)
	runtime.AddCleanup(&cfg.Subscriptions[0], func(string) { freed <- "subscriptions" }, "")
	secret := cfg.Keys["PK1000"].Secret
	runtime.AddCleanup(&secret[0], func(string) { freed <- "secret" }, "")
	s := mustCompile(t, cfg)
	cfg, secret = nil, nil
	deadline := time.After(10 * time.Second)
	for n := 0; n < 2; {
		runtime.GC()
		select {
		case <-freed:
			n++
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatal("the snapshot keeps the Config's keys or subscriptions")
		}
	}
	if _, ok := s.Key("PK1000"); !ok {
		t.Fatal("key lost")
	}
}

// TestReloadReleasesTheOldSnapshot: what requests leave behind in the
// handler's long-lived state (the signing-key cache, rate limiters, quota
// counters) must not keep a replaced snapshot's arenas alive, or every
// reload would pin them for as long as its keys stay in use.
func TestReloadReleasesTheOldSnapshot(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	limits := Limits{RequestsPerSecond: 5, Burst: 10, DayQuota: 100, MonthQuota: 1000, IncludedCalls: 500, HardLimit: true}
	old := mustCompile(t, demoConfig(limits, SubActive, now))
	freed := make(chan string, 2)
	runtime.AddCleanup(unsafe.StringData(old.strs), func(what string) { freed <- what }, "strings")
	runtime.AddCleanup(&old.secrets[0], func(what string) { freed <- what }, "secrets")
	store := NewStore(old)
	h, err := NewHandler(store, Options{Region: "local", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := serveGateway(t, h)
	defer srv.Close()
	if res, body := signedGet(t, srv.URL+"/acme/echo/v1/things/1", now); res.StatusCode != 200 {
		t.Fatalf("%d %v", res.StatusCode, body)
	}
	// The key is not used again after the reload: its limiter entries
	// outlive the request (the clock is frozen, so they never go idle).
	store.Swap(mustCompile(t, demoConfig(limits, SubActive, now)))
	old = nil
	deadline := time.After(10 * time.Second)
	for left := map[string]bool{"strings": true, "secrets": true}; len(left) > 0; {
		runtime.GC()
		select {
		case what := <-freed:
			delete(left, what)
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("the handler keeps the replaced snapshot's %v alive", left)
		}
	}
}

func TestCompileRejectsUnknownStagesAndStatuses(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"key stage": func(c *Config) { k := c.Keys["PK1000"]; k.Stage = "staging"; c.Keys["PK1000"] = k },
		"app code stage": func(c *Config) {
			for h, ac := range c.AppCodes {
				ac.Stage = "prod"
				c.AppCodes[h] = ac
				return
			}
		},
		"status": func(c *Config) { c.Subscriptions[3].Status = "paused" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := tablesConfig()
			mod(cfg)
			if _, err := Compile(cfg); err == nil {
				t.Fatal("compiled")
			}
		})
	}
}

// TestSubscriptionForRemembers checks that a key's memory of its last
// subscription never answers for another API: keys call the APIs in an
// order that alternates, repeats and comes back, and every answer is the
// one found by the (app, API) pair; and that a repeated call is answered
// from the key's memory.
func TestSubscriptionForRemembers(t *testing.T) {
	s := mustCompile(t, tablesConfig())
	apis := []string{"api1", "api1", "api3", "api1", "api4", "api4", "api0", "api2", "nope", "api1", "api3", "api3"}
	for pass := range 3 {
		for i := range s.keys {
			rec := &s.keys[i]
			app := s.name(rec.app)
			for j := range apis {
				api := apis[(j*(pass+1)+i)%len(apis)]
				want := s.subscriptionRef(app, api)
				if got := s.subscriptionFor(rec, app, api); got != want {
					t.Fatalf("key %s (app %s) calling %s: got %v, want %v", s.str(rec.access), app, api, got, want)
				}
			}
		}
	}
	// A hit: the pair lookup is not consulted. Poison the index for one
	// pair; the remembered answer still comes back, and a key that does
	// not remember it finds nothing.
	rec := &s.keys[6] // app3
	want := s.subscriptionFor(rec, "app3", "api3")
	if want == nil || want.AppID != "app3" || want.APIID != "api3" {
		t.Fatalf("app3's subscription to api3: %+v", want)
	}
	for i := range s.subIndex.slots {
		s.subIndex.slots[i] = 0
	}
	if got := s.subscriptionFor(rec, "app3", "api3"); got != want {
		t.Fatalf("a remembered call: got %v, want %v", got, want)
	}
	s.keySubs[7].Store(0)
	if got := s.subscriptionFor(&s.keys[7], "app3", "api3"); got != nil {
		t.Fatalf("a key that remembers nothing found %v without the index", got)
	}
	// App codes' records remember nothing: the pair lookup answers.
	if got := s.subscriptionFor(&keyRec{}, "app3", "api3"); got != nil {
		t.Fatalf("an app code's call with the index cleared found %v", got)
	}
	// Nor does a record of another snapshot (another key at the same
	// position): the pair lookup answers for the app given.
	other := mustCompile(t, tablesConfig())
	if got := s.subscriptionFor(&other.keys[6], "app3", "api3"); got != nil {
		t.Fatalf("another snapshot's record with the index cleared found %v", got)
	}
}

func BenchmarkSnapshotKey(b *testing.B) {
	s := mustCompile(b, tablesConfig())
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := s.Key("PK1017"); !ok {
			b.Fatal("missing")
		}
	}
}

func BenchmarkSnapshotSubscription(b *testing.B) {
	s := mustCompile(b, tablesConfig())
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := s.Subscription("app3", "api3"); !ok {
			b.Fatal("missing")
		}
	}
}
