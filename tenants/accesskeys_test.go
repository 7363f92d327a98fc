package tenants_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/tenants"
)

var (
	appKeyRE  = regexp.MustCompile(`^PK[A-Z0-9]{18}$`)
	userKeyRE = regexp.MustCompile(`^PU[A-Z0-9]{18}$`)
	secretRE  = regexp.MustCompile(`^[A-Za-z0-9/+]{40}$`)
)

// keyStatuses returns name:status of an app's keys, newest first.
func keyStatuses(t *testing.T, keys []tenants.AccessKey) string {
	t.Helper()
	var out []string
	for _, k := range keys {
		out = append(out, k.Name+":"+k.Status)
	}
	return strings.Join(out, ",")
}

// assertNoSecret fails when secret appears in v printed or as JSON.
func assertNoSecret(t *testing.T, what string, v any, secret string) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secret) || strings.Contains(fmt.Sprintf("%+v", v), secret) || strings.Contains(fmt.Sprintf("%#v", v), secret) {
		t.Fatalf("%s shows the secret", what)
	}
}

func TestCreateAppKey(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newKeyFixture(t, db)
		ctx := context.Background()
		o := f.signUp(t, "O", "o@example.com", "acme")
		a := actor(o.User)
		app := f.createApp(t, o.Org.ID, a, "Weather")
		exp := f.now.Add(90 * 24 * time.Hour)
		k, err := f.svc.CreateAppKey(ctx, o.Org.ID, app.ID, a, tenants.KeyInput{Name: " ci ", ExpiresAt: &exp})
		if err != nil {
			t.Fatal(err)
		}
		if !appKeyRE.MatchString(k.AccessKey) || !secretRE.MatchString(k.SecretKey) {
			t.Fatalf("key format: %q / %q", k.AccessKey, k.SecretKey)
		}
		if k.Key.AccessKey != k.AccessKey || k.Key.Name != "ci" || k.Key.Status != tenants.KeyActive || k.Key.Kind != tenants.KindApp ||
			k.Key.AppID != app.ID || k.Key.OrgID != o.Org.ID || k.Key.ExpiresAt == nil || !k.Key.ExpiresAt.Equal(exp) {
			t.Fatalf("unexpected key %+v", k.Key)
		}
		assertNoSecret(t, "created key metadata", k.Key, k.SecretKey)

		// Listing never carries the secret.
		keys, err := f.svc.ListAppKeys(ctx, o.Org.ID, app.ID)
		if err != nil || len(keys) != 1 || keys[0].AccessKey != k.AccessKey || keys[0].ExpiresAt == nil || !keys[0].ExpiresAt.Equal(exp) {
			t.Fatalf("list: %v %+v", err, keys)
		}
		assertNoSecret(t, "key list", keys, k.SecretKey)

		// At rest the secret is sealed: no column holds it, and the sealed
		// value opens with the keyring under this access key only.
		var row map[string]any
		if err := db.Raw("SELECT * FROM access_keys WHERE access_key = ?", k.AccessKey).Take(&row).Error; err != nil {
			t.Fatal(err)
		}
		for col, v := range row {
			if s := fmt.Sprint(v); strings.Contains(s, k.SecretKey) {
				t.Fatalf("column %s holds the secret", col)
			}
			if b, ok := v.([]byte); ok && strings.Contains(string(b), k.SecretKey) {
				t.Fatalf("column %s holds the secret", col)
			}
		}
		var sealed string
		db.Raw("SELECT secret_sealed FROM access_keys WHERE access_key = ?", k.AccessKey).Scan(&sealed)
		plain, err := f.kr.Open(sealed, "access-key:"+k.AccessKey)
		if err != nil || string(plain) != k.SecretKey {
			t.Fatalf("open sealed secret: %v", err)
		}
		if _, err := f.kr.Open(sealed, "access-key:PKAAAAAAAAAAAAAAAAAA"); err == nil {
			t.Fatal("sealed secret opens under another access key")
		}

		// Default name; expiry bounds.
		k2, err := f.svc.CreateAppKey(ctx, o.Org.ID, app.ID, a, tenants.KeyInput{})
		if err != nil || k2.Key.Name != "Key 2026-11-26" || k2.Key.ExpiresAt != nil || k2.AccessKey == k.AccessKey || k2.SecretKey == k.SecretKey {
			t.Fatalf("second key: %v %+v", err, k2.Key)
		}
		f.svc.RevokeAppKey(ctx, o.Org.ID, app.ID, k2.AccessKey, a)
		past, far, edge := f.now.Add(-time.Second), f.now.AddDate(2, 0, 1), f.now.AddDate(2, 0, 0)
		for name, in := range map[string]tenants.KeyInput{
			"past":       {ExpiresAt: &past},
			"now":        {ExpiresAt: &f.now},
			"beyond 2y":  {ExpiresAt: &far},
			"long name":  {Name: strings.Repeat("x", 101)},
			"multi-line": {Name: "a\nb"},
		} {
			_, err := f.svc.CreateAppKey(ctx, o.Org.ID, app.ID, a, in)
			wantCode(t, err, tenants.EInvalid)
			if len(tenants.ErrorFields(err)) != 1 {
				t.Fatalf("%s: fields %v", name, tenants.ErrorFields(err))
			}
		}
		if _, err := f.svc.CreateAppKey(ctx, o.Org.ID, app.ID, a, tenants.KeyInput{ExpiresAt: &edge}); err != nil {
			t.Fatalf("expiry exactly two years out: %v", err)
		}
		_, err = f.svc.CreateAppKey(ctx, o.Org.ID, "no-such-app", a, tenants.KeyInput{})
		wantCode(t, err, tenants.ENotFound)

		// Without a keyring no key can be made.
		bare := tenants.NewService(db.DB, tenants.Options{})
		if _, err := bare.CreateAppKey(ctx, o.Org.ID, app.ID, a, tenants.KeyInput{}); err == nil || tenants.ErrorCode(err) != tenants.EInternal {
			t.Fatalf("created a key without a keyring: %v", err)
		}
	})
}

func TestAppKeyRotation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newKeyFixture(t, db)
		ctx := context.Background()
		o := f.signUp(t, "O", "o@example.com", "acme")
		a := actor(o.User)
		app := f.createApp(t, o.Org.ID, a, "Weather")
		create := func(name string) (tenants.CreatedKey, error) {
			f.now = f.now.Add(time.Second) // newest first needs distinct times
			return f.svc.CreateAppKey(ctx, o.Org.ID, app.ID, a, tenants.KeyInput{Name: name})
		}
		old, err := create("old")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := create("new"); err != nil {
			t.Fatal(err)
		}
		_, err = create("third")
		wantCode(t, err, tenants.EConflict)
		if tenants.ErrorMessage(err) != "An app has at most two active keys: revoke one first." {
			t.Fatalf("message %q", tenants.ErrorMessage(err))
		}
		if err := f.svc.RevokeAppKey(ctx, o.Org.ID, app.ID, old.AccessKey, a); err != nil {
			t.Fatal(err)
		}
		if _, err := create("newer"); err != nil {
			t.Fatalf("create after revoking: %v", err)
		}
		keys, _ := f.svc.ListAppKeys(ctx, o.Org.ID, app.ID)
		if got := keyStatuses(t, keys); got != "newer:active,new:active,old:revoked" {
			t.Fatalf("keys %s", got)
		}
		if keys[2].RevokedAt == nil {
			t.Fatal("revoked key lacks revoked_at")
		}
		// Revoking a revoked key is a no-op: it succeeds, stays revoked and
		// writes no second event.
		if err := f.svc.RevokeAppKey(ctx, o.Org.ID, app.ID, old.AccessKey, a); err != nil {
			t.Fatalf("revoke twice: %v", err)
		}
		want := []string{"app_key.create", "app_key.revoke", "app_key.create", "app_key.create", "app.create", "organization.create"}
		if got := auditActions(t, f.svc, o.Org.ID, a); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("audit %v, want %v", got, want)
		}
		_, err = f.svc.KeyByAccessKey(ctx, old.AccessKey)
		wantCode(t, err, tenants.EUnauthorized)
		err = f.svc.RevokeAppKey(ctx, o.Org.ID, app.ID, "PKAAAAAAAAAAAAAAAAAA", a)
		wantCode(t, err, tenants.ENotFound)
	})
}

func TestExpiredKeys(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newKeyFixture(t, db)
		ctx := context.Background()
		o := f.signUp(t, "O", "o@example.com", "acme")
		a := actor(o.User)
		app := f.createApp(t, o.Org.ID, a, "Weather")
		start := f.now
		exp := f.now.Add(time.Hour)
		short, err := f.svc.CreateAppKey(ctx, o.Org.ID, app.ID, a, tenants.KeyInput{Name: "short", ExpiresAt: &exp})
		if err != nil {
			t.Fatal(err)
		}
		f.now = f.now.Add(time.Second)
		if _, err := f.svc.CreateAppKey(ctx, o.Org.ID, app.ID, a, tenants.KeyInput{Name: "long"}); err != nil {
			t.Fatal(err)
		}
		f.now = exp // expiry is exclusive: at expires_at the key is dead
		keys, _ := f.svc.ListAppKeys(ctx, o.Org.ID, app.ID)
		if got := keyStatuses(t, keys); got != "long:active,short:expired" {
			t.Fatalf("keys %s", got)
		}
		_, err = f.svc.KeyByAccessKey(ctx, short.AccessKey)
		wantCode(t, err, tenants.EUnauthorized)
		// An expired key does not count against the two.
		if _, err := f.svc.CreateAppKey(ctx, o.Org.ID, app.ID, a, tenants.KeyInput{Name: "replacement"}); err != nil {
			t.Fatalf("expired key still counted: %v", err)
		}
		// Revoking an expired key is allowed and final: even with the clock
		// turned back before its expiry it stays revoked and unusable. No
		// method turns a key active again.
		if err := f.svc.RevokeAppKey(ctx, o.Org.ID, app.ID, short.AccessKey, a); err != nil {
			t.Fatal(err)
		}
		f.now = start.Add(time.Minute)
		keys, _ = f.svc.ListAppKeys(ctx, o.Org.ID, app.ID)
		if got := keyStatuses(t, keys); got != "replacement:active,long:active,short:revoked" {
			t.Fatalf("keys %s", got)
		}
		_, err = f.svc.KeyByAccessKey(ctx, short.AccessKey)
		wantCode(t, err, tenants.EUnauthorized)
		material, _ := f.svc.ActiveKeys(ctx)
		for _, m := range material {
			if m.AccessKey == short.AccessKey {
				t.Fatal("revoked key in the active set")
			}
		}
	})
}

func TestUserKeys(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newKeyFixture(t, db)
		ctx := context.Background()
		u := f.signUp(t, "U", "u@example.com", "acme")
		v := f.signUp(t, "V", "v@example.com", "bravo")
		a := actor(u.User)
		k1, err := f.svc.CreateUserKey(ctx, a, tenants.KeyInput{Name: "laptop"})
		if err != nil {
			t.Fatal(err)
		}
		if !userKeyRE.MatchString(k1.AccessKey) || !secretRE.MatchString(k1.SecretKey) || k1.Key.Kind != tenants.KindUser || k1.Key.UserID != u.User.ID || k1.Key.AppID != "" {
			t.Fatalf("user key %q %+v", k1.AccessKey, k1.Key)
		}
		f.now = f.now.Add(time.Second)
		k2, err := f.svc.CreateUserKey(ctx, a, tenants.KeyInput{Name: "ci"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.CreateUserKey(ctx, a, tenants.KeyInput{Name: "third"})
		wantCode(t, err, tenants.EConflict)
		// Another user's keys are counted, listed and revoked separately.
		kv, err := f.svc.CreateUserKey(ctx, actor(v.User), tenants.KeyInput{Name: "theirs"})
		if err != nil {
			t.Fatalf("another user's first key: %v", err)
		}
		wantCode(t, f.svc.RevokeUserKey(ctx, a, kv.AccessKey), tenants.ENotFound)
		keys, err := f.svc.ListUserKeys(ctx, a)
		if err != nil || keyStatuses(t, keys) != "ci:active,laptop:active" {
			t.Fatalf("list: %v %+v", err, keys)
		}
		assertNoSecret(t, "user key list", keys, k1.SecretKey)
		assertNoSecret(t, "user key list", keys, k2.SecretKey)
		if err := f.svc.RevokeUserKey(ctx, a, k1.AccessKey); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.RevokeUserKey(ctx, a, k1.AccessKey); err != nil {
			t.Fatalf("revoke twice: %v", err)
		}
		if _, err := f.svc.CreateUserKey(ctx, a, tenants.KeyInput{Name: "rotated"}); err != nil {
			t.Fatalf("create after revoking: %v", err)
		}
		// A user key is no app key: the app-key methods do not reach it.
		app := f.createApp(t, u.Org.ID, a, "Weather")
		wantCode(t, f.svc.RevokeAppKey(ctx, u.Org.ID, app.ID, k2.AccessKey, a), tenants.ENotFound)
		m, err := f.svc.KeyByAccessKey(ctx, k2.AccessKey)
		if err != nil || m.Kind != tenants.KindUser || m.UserID != u.User.ID || m.SecretKey != k2.SecretKey || m.OrgID != "" {
			t.Fatalf("key material: %v %v", err, m)
		}
		// Events belong to the user, not to an organisation.
		l, err := f.svc.ListUserAudit(ctx, u.User.ID, tenants.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range l.Items {
			if strings.HasPrefix(e.Action, "user_key.") {
				actions = append(actions, e.Action)
			}
		}
		if got := strings.Join(actions, ","); got != "user_key.create,user_key.revoke,user_key.create,user_key.create" {
			t.Fatalf("user audit %s", got)
		}
	})
}

func TestKeyIsolation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newKeyFixture(t, db)
		ctx := context.Background()
		a := f.signUp(t, "A", "a@example.com", "alpha")
		b := f.signUp(t, "B", "b@example.com", "bravo")
		aa, ba := actor(a.User), actor(b.User)
		ownApp := f.createApp(t, a.Org.ID, aa, "Mine")
		theirApp := f.createApp(t, b.Org.ID, ba, "Theirs")
		theirKey, err := f.svc.CreateAppKey(ctx, b.Org.ID, theirApp.ID, ba, tenants.KeyInput{Name: "theirs"})
		if err != nil {
			t.Fatal(err)
		}
		theirUserKey, _ := f.svc.CreateUserKey(ctx, ba, tenants.KeyInput{})
		name := "Pwned"
		checks := map[string]error{}
		_, checks["app"] = f.svc.App(ctx, a.Org.ID, theirApp.ID)
		_, checks["update app"] = f.svc.UpdateApp(ctx, a.Org.ID, theirApp.ID, aa, tenants.AppPatch{Name: &name})
		_, checks["delete app"] = f.svc.DeleteApp(ctx, a.Org.ID, theirApp.ID, aa)
		_, checks["list keys"] = f.svc.ListAppKeys(ctx, a.Org.ID, theirApp.ID)
		_, checks["create key"] = f.svc.CreateAppKey(ctx, a.Org.ID, theirApp.ID, aa, tenants.KeyInput{})
		checks["revoke key"] = f.svc.RevokeAppKey(ctx, a.Org.ID, theirApp.ID, theirKey.AccessKey, aa)
		checks["revoke key via own app"] = f.svc.RevokeAppKey(ctx, a.Org.ID, ownApp.ID, theirKey.AccessKey, aa)
		checks["revoke user key"] = f.svc.RevokeUserKey(ctx, aa, theirUserKey.AccessKey)
		for name, err := range checks {
			if tenants.ErrorCode(err) != tenants.ENotFound {
				t.Errorf("%s: got %v, want not found", name, err)
			}
		}
		l, _ := f.svc.ListApps(ctx, a.Org.ID, tenants.Page{})
		if len(l.Items) != 1 || l.Items[0].ID != ownApp.ID {
			t.Fatalf("list shows %+v", l.Items)
		}
		if mine, _ := f.svc.ListUserKeys(ctx, aa); len(mine) != 0 {
			t.Fatalf("user keys of someone else: %+v", mine)
		}
		// Nothing of B's changed.
		if got, _ := f.svc.App(ctx, b.Org.ID, theirApp.ID); got.Name != "Theirs" {
			t.Fatalf("their app changed: %+v", got)
		}
		for _, k := range []string{theirKey.AccessKey, theirUserKey.AccessKey} {
			if _, err := f.svc.KeyByAccessKey(ctx, k); err != nil {
				t.Fatalf("their key %s no longer works: %v", k, err)
			}
		}
	})
}

func TestActiveKeys(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newKeyFixture(t, db)
		ctx := context.Background()
		o := f.signUp(t, "O", "o@example.com", "acme")
		a := actor(o.User)
		prod := f.createApp(t, o.Org.ID, a, "Prod")
		test, err := f.svc.CreateApp(ctx, o.Org.ID, a, tenants.AppInput{Name: "Test", Environment: tenants.EnvTest})
		if err != nil {
			t.Fatal(err)
		}
		doomed := f.createApp(t, o.Org.ID, a, "Doomed")
		hidden := f.createApp(t, o.Org.ID, a, "Hidden")
		mk := func(appID, name string, exp *time.Time) tenants.CreatedKey {
			t.Helper()
			k, err := f.svc.CreateAppKey(ctx, o.Org.ID, appID, a, tenants.KeyInput{Name: name, ExpiresAt: exp})
			if err != nil {
				t.Fatal(err)
			}
			return k
		}
		soon, later := f.now.Add(time.Hour), f.now.Add(48*time.Hour)
		live := mk(prod.ID, "live", &later)
		revoked := mk(prod.ID, "revoked", nil)
		f.svc.RevokeAppKey(ctx, o.Org.ID, prod.ID, revoked.AccessKey, a)
		expiring := mk(test.ID, "expiring", &soon)
		testLive := mk(test.ID, "test live", nil)
		ofDeleted := mk(doomed.ID, "deleted app", nil)
		if _, err := f.svc.DeleteApp(ctx, o.Org.ID, doomed.ID, a); err != nil {
			t.Fatal(err)
		}
		// An app marked deleted by other means (its keys still active in
		// their rows) must not leak its keys either.
		ofHidden := mk(hidden.ID, "hidden app", nil)
		if err := db.Exec("UPDATE apps SET deleted_at = ? WHERE id = ?", f.now, hidden.ID).Error; err != nil {
			t.Fatal(err)
		}
		user, _ := f.svc.CreateUserKey(ctx, a, tenants.KeyInput{Name: "cli"})
		userRevoked, _ := f.svc.CreateUserKey(ctx, a, tenants.KeyInput{Name: "old cli"})
		f.svc.RevokeUserKey(ctx, a, userRevoked.AccessKey)

		f.now = f.now.Add(2 * time.Hour) // "expiring" is now expired
		got, err := f.svc.ActiveKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		byKey := map[string]tenants.KeyMaterial{}
		for _, m := range got {
			byKey[m.AccessKey] = m
		}
		want := map[string]tenants.KeyMaterial{
			live.AccessKey:     {AccessKey: live.AccessKey, SecretKey: live.SecretKey, Kind: tenants.KindApp, OrgID: o.Org.ID, AppID: prod.ID, Environment: tenants.EnvProduction, ExpiresAt: &later},
			testLive.AccessKey: {AccessKey: testLive.AccessKey, SecretKey: testLive.SecretKey, Kind: tenants.KindApp, OrgID: o.Org.ID, AppID: test.ID, Environment: tenants.EnvTest},
			user.AccessKey:     {AccessKey: user.AccessKey, SecretKey: user.SecretKey, Kind: tenants.KindUser, UserID: o.User.ID},
		}
		if len(got) != len(want) {
			t.Errorf("%d active keys, want %d", len(got), len(want))
		}
		for ak, w := range want {
			g, ok := byKey[ak]
			if !ok {
				t.Errorf("%s missing", w.String())
				continue
			}
			sameExpiry := (g.ExpiresAt == nil) == (w.ExpiresAt == nil) && (g.ExpiresAt == nil || g.ExpiresAt.Equal(*w.ExpiresAt))
			if g.SecretKey != w.SecretKey || g.Kind != w.Kind || g.OrgID != w.OrgID || g.AppID != w.AppID || g.UserID != w.UserID ||
				g.Environment != w.Environment || !sameExpiry {
				t.Errorf("%s: got %+v (expires %v), want expires %v", ak, g, g.ExpiresAt, w.ExpiresAt)
			}
			// The single lookup agrees.
			one, err := f.svc.KeyByAccessKey(ctx, ak)
			if err != nil || one.SecretKey != w.SecretKey || one.AppID != w.AppID {
				t.Errorf("key by access key %s: %v", ak, err)
			}
		}
		for _, k := range []tenants.CreatedKey{revoked, expiring, ofDeleted, ofHidden, userRevoked} {
			if _, ok := byKey[k.AccessKey]; ok {
				t.Errorf("inactive key %s (%s) in the active set", k.AccessKey, k.Key.Name)
			}
			_, err := f.svc.KeyByAccessKey(ctx, k.AccessKey)
			wantCode(t, err, tenants.EUnauthorized)
		}
		for _, bad := range []string{"", "PK", "pkaaaaaaaaaaaaaaaaaa", "PKAAAAAAAAAAAAAAAAAA", "' OR 1=1 --"} {
			_, err := f.svc.KeyByAccessKey(ctx, bad)
			wantCode(t, err, tenants.EUnauthorized)
		}
		// Key material does not print its secret.
		m := byKey[live.AccessKey]
		var logged strings.Builder
		slog.New(slog.NewTextHandler(&logged, nil)).Info("key", "k", m)
		if strings.Contains(fmt.Sprintf("%v %+v %s %#v", m, m, m, m), m.SecretKey) || strings.Contains(logged.String(), m.SecretKey) {
			t.Fatal("key material prints its secret")
		}
		if b, _ := json.Marshal(m); strings.Contains(string(b), m.SecretKey) {
			t.Fatal("key material marshals its secret")
		}
		// No audit event carries a secret.
		var details []string
		db.Table("audit_events").Pluck("details", &details)
		for _, d := range details {
			for _, k := range []tenants.CreatedKey{live, revoked, expiring, testLive, ofDeleted, ofHidden, user, userRevoked} {
				if strings.Contains(d, k.SecretKey) {
					t.Fatalf("audit details %s hold a secret", d)
				}
			}
		}
		// A wrong master key fails loudly instead of dropping keys.
		other := newKeyFixture(t, db)
		if _, err := other.svc.ActiveKeys(ctx); err == nil {
			t.Fatal("active keys opened under another master key")
		} else if strings.Contains(err.Error(), live.SecretKey) {
			t.Fatal("error shows a secret")
		}
	})
}

func TestTouchKeys(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newKeyFixture(t, db)
		ctx := context.Background()
		o := f.signUp(t, "O", "o@example.com", "acme")
		a := actor(o.User)
		app := f.createApp(t, o.Org.ID, a, "Weather")
		k1, _ := f.svc.CreateAppKey(ctx, o.Org.ID, app.ID, a, tenants.KeyInput{Name: "one"})
		f.now = f.now.Add(time.Second)
		k2, _ := f.svc.CreateAppKey(ctx, o.Org.ID, app.ID, a, tenants.KeyInput{Name: "two"})
		u, _ := f.svc.CreateUserKey(ctx, a, tenants.KeyInput{Name: "cli"})
		lastUsed := func(ak string) *time.Time {
			t.Helper()
			keys, _ := f.svc.ListAppKeys(ctx, o.Org.ID, app.ID)
			uk, _ := f.svc.ListUserKeys(ctx, a)
			for _, k := range append(keys, uk...) {
				if k.AccessKey == ak {
					return k.LastUsedAt
				}
			}
			t.Fatalf("no key %s", ak)
			return nil
		}
		sameTime := func(got *time.Time, want time.Time) bool { return got != nil && got.Equal(want) }
		t0 := f.now.Add(time.Minute)
		if err := f.svc.TouchKeys(ctx, map[string]time.Time{k1.AccessKey: t0, u.AccessKey: t0, "PKAAAAAAAAAAAAAAAAAA": t0}); err != nil {
			t.Fatal(err)
		}
		if !sameTime(lastUsed(k1.AccessKey), t0) || !sameTime(lastUsed(u.AccessKey), t0) || lastUsed(k2.AccessKey) != nil {
			t.Fatalf("first touch: %v %v %v", lastUsed(k1.AccessKey), lastUsed(u.AccessKey), lastUsed(k2.AccessKey))
		}
		steps := []struct {
			name string
			at   time.Time
			want time.Time
		}{
			{"30s later: too soon", t0.Add(30 * time.Second), t0},
			{"59s later: too soon", t0.Add(59 * time.Second), t0},
			{"a minute later", t0.Add(time.Minute), t0.Add(time.Minute)},
			{"older report never moves it back", t0.Add(-time.Hour), t0.Add(time.Minute)},
			{"much later", t0.Add(10 * time.Minute), t0.Add(10 * time.Minute)},
		}
		for _, st := range steps {
			if err := f.svc.TouchKeys(ctx, map[string]time.Time{k1.AccessKey: st.at, k2.AccessKey: {}}); err != nil {
				t.Fatal(err)
			}
			if got := lastUsed(k1.AccessKey); !sameTime(got, st.want) {
				t.Fatalf("%s: last used %v, want %v", st.name, got, st.want)
			}
		}
		if lastUsed(k2.AccessKey) != nil {
			t.Fatal("a zero time was recorded")
		}
		// Many keys in one call span several batches.
		many := map[string]time.Time{k2.AccessKey: t0}
		for i := range 450 {
			many[fmt.Sprintf("PKUNKNOWN%011d", i)] = t0
		}
		if err := f.svc.TouchKeys(ctx, many); err != nil {
			t.Fatal(err)
		}
		if !sameTime(lastUsed(k2.AccessKey), t0) {
			t.Fatalf("batched touch: %v", lastUsed(k2.AccessKey))
		}
		if err := f.svc.TouchKeys(ctx, nil); err != nil {
			t.Fatal(err)
		}
	})
}

// TestConcurrentCreation races creations that must see each other: the
// two-key limit and unique app names hold under concurrency because the
// app's (or organisation's) row is locked for the check.
func TestConcurrentCreation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newKeyFixture(t, db)
		ctx := context.Background()
		o := f.signUp(t, "O", "o@example.com", "acme")
		a := actor(o.User)
		app := f.createApp(t, o.Org.ID, a, "Weather")
		const n = 6
		race := func(fn func(i int) error) (ok, conflicts int) {
			errs := make(chan error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { errs <- fn(i) })
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				switch tenants.ErrorCode(err) {
				case "":
					ok++
				case tenants.EConflict:
					conflicts++
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}
			return ok, conflicts
		}
		if ok, c := race(func(int) error {
			_, err := f.svc.CreateAppKey(ctx, o.Org.ID, app.ID, a, tenants.KeyInput{})
			return err
		}); ok != 2 || c != n-2 {
			t.Fatalf("app keys: %d created, %d conflicts", ok, c)
		}
		if ok, c := race(func(int) error {
			_, err := f.svc.CreateUserKey(ctx, a, tenants.KeyInput{})
			return err
		}); ok != 2 || c != n-2 {
			t.Fatalf("user keys: %d created, %d conflicts", ok, c)
		}
		if ok, c := race(func(i int) error {
			_, err := f.svc.CreateApp(ctx, o.Org.ID, a, tenants.AppInput{Name: []string{"maps", "MAPS", "Maps"}[i%3]})
			return err
		}); ok != 1 || c != n-1 {
			t.Fatalf("apps: %d created, %d conflicts", ok, c)
		}
	})
}
