package tenants_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/tenants"
	"github.com/portico-dev/portico/tenants/keyring"
)

// keyFixture is a fixture whose service has a keyring, for apps and keys.
type keyFixture struct {
	*fixture
	kr *keyring.Keyring
	// changes counts the service's OnChange calls.
	changes int
}

func newKeyFixture(t *testing.T, db *migrations.DB) *keyFixture {
	t.Helper()
	f := newFixture(t, db)
	master := make([]byte, keyring.KeySize)
	rand.Read(master)
	kr, err := keyring.New(master)
	if err != nil {
		t.Fatal(err)
	}
	pp := tenants.FastPasswordParams
	kf := &keyFixture{fixture: f, kr: kr}
	f.svc = tenants.NewService(db.DB, tenants.Options{
		BaseURL: "http://portal.test", Mailer: f.mail, PasswordParams: &pp, Keyring: kr,
		Now: func() time.Time { return f.now }, OnChange: func(context.Context) { kf.changes++ },
	})
	return kf
}

func (f *keyFixture) createApp(t *testing.T, orgID string, a tenants.Actor, name string) tenants.App {
	t.Helper()
	app, err := f.svc.CreateApp(context.Background(), orgID, a, tenants.AppInput{Name: name})
	if err != nil {
		t.Fatalf("create app %s: %v", name, err)
	}
	return app
}

// auditActions returns the organisation's audit actions, newest first.
func auditActions(t *testing.T, svc *tenants.Service, orgID string, a tenants.Actor) []string {
	t.Helper()
	l, err := svc.ListAudit(context.Background(), orgID, a, tenants.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range l.Items {
		out = append(out, e.Action)
	}
	return out
}

func TestCreateApp(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newKeyFixture(t, db)
		ctx := context.Background()
		o := f.signUp(t, "O", "o@example.com", "acme")
		other := f.signUp(t, "P", "p@example.com", "bravo")
		a := actor(o.User)
		app, err := f.svc.CreateApp(ctx, o.Org.ID, a, tenants.AppInput{Name: "  Weather app ", Description: " Forecasts "})
		if err != nil {
			t.Fatal(err)
		}
		if app.Name != "Weather app" || app.Description != "Forecasts" || app.Environment != tenants.EnvProduction ||
			app.OrgID != o.Org.ID || app.OwnerID == nil || *app.OwnerID != o.User.ID || !app.CreatedAt.Equal(f.now) || app.DeletedAt != nil {
			t.Fatalf("unexpected app %+v", app)
		}
		got, err := f.svc.App(ctx, o.Org.ID, app.ID)
		if err != nil || got.Name != app.Name || got.Environment != app.Environment {
			t.Fatalf("get: %v %+v", err, got)
		}
		if _, err := f.svc.CreateApp(ctx, o.Org.ID, a, tenants.AppInput{Name: "Café", Environment: "test"}); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name  string
			in    tenants.AppInput
			code  string
			field string
		}{
			{"missing name", tenants.AppInput{Name: "  "}, tenants.EInvalid, "name"},
			{"long name", tenants.AppInput{Name: strings.Repeat("x", 101)}, tenants.EInvalid, "name"},
			{"two lines", tenants.AppInput{Name: "a\nb"}, tenants.EInvalid, "name"},
			{"long description", tenants.AppInput{Name: "Long", Description: strings.Repeat("x", 2001)}, tenants.EInvalid, "description"},
			{"unknown environment", tenants.AppInput{Name: "Staging", Environment: "staging"}, tenants.EInvalid, "environment"},
			{"same name other case", tenants.AppInput{Name: "WEATHER APP"}, tenants.EConflict, "name"},
			{"same name non-ASCII case", tenants.AppInput{Name: "CAFÉ"}, tenants.EConflict, "name"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.svc.CreateApp(ctx, o.Org.ID, a, tc.in)
				wantCode(t, err, tc.code)
				if _, ok := tenants.ErrorFields(err)[tc.field]; !ok {
					t.Fatalf("fields %v lack %q", tenants.ErrorFields(err), tc.field)
				}
			})
		}
		if _, err := f.svc.CreateApp(ctx, o.Org.ID, a, tenants.AppInput{Name: strings.Repeat("é", 100)}); err != nil {
			t.Fatalf("100 characters rejected: %v", err)
		}
		// Names are unique per organisation only.
		if _, err := f.svc.CreateApp(ctx, other.Org.ID, actor(other.User), tenants.AppInput{Name: "Weather App"}); err != nil {
			t.Fatalf("same name in another organisation: %v", err)
		}
		_, err = f.svc.CreateApp(ctx, "no-such-org", a, tenants.AppInput{Name: "Ghost"})
		wantCode(t, err, tenants.ENotFound)
	})
}

func TestUpdateApp(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newKeyFixture(t, db)
		ctx := context.Background()
		o := f.signUp(t, "O", "o@example.com", "acme")
		a := actor(o.User)
		app := f.createApp(t, o.Org.ID, a, "Weather")
		f.createApp(t, o.Org.ID, a, "Maps")
		f.now = f.now.Add(time.Minute)
		str := func(s string) *string { return &s }

		// Changing only the case of its own name is not a conflict.
		got, err := f.svc.UpdateApp(ctx, o.Org.ID, app.ID, a, tenants.AppPatch{Name: str("WEATHER"), Description: str(" Rain or shine ")})
		if err != nil || got.Name != "WEATHER" || got.Description != "Rain or shine" || !got.UpdatedAt.Equal(f.now) || got.Environment != tenants.EnvProduction {
			t.Fatalf("update: %v %+v", err, got)
		}
		got, _ = f.svc.App(ctx, o.Org.ID, app.ID)
		if got.Name != "WEATHER" || got.Description != "Rain or shine" {
			t.Fatalf("not stored: %+v", got)
		}
		_, err = f.svc.UpdateApp(ctx, o.Org.ID, app.ID, a, tenants.AppPatch{Name: str("maps")})
		wantCode(t, err, tenants.EConflict)
		if tenants.ErrorFields(err)["name"] == "" {
			t.Fatalf("conflict does not name the field: %v", tenants.ErrorFields(err))
		}
		_, err = f.svc.UpdateApp(ctx, o.Org.ID, app.ID, a, tenants.AppPatch{Name: str("")})
		wantCode(t, err, tenants.EInvalid)
		// A patch that changes nothing writes no event.
		if _, err := f.svc.UpdateApp(ctx, o.Org.ID, app.ID, a, tenants.AppPatch{Name: str("WEATHER")}); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.UpdateApp(ctx, o.Org.ID, "no-such-app", a, tenants.AppPatch{Name: str("X")})
		wantCode(t, err, tenants.ENotFound)
		want := []string{"app.update", "app.create", "app.create", "organization.create"}
		if got := auditActions(t, f.svc, o.Org.ID, a); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("audit %v, want %v", got, want)
		}
	})
}

func TestListApps(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newKeyFixture(t, db)
		ctx := context.Background()
		o := f.signUp(t, "O", "o@example.com", "acme")
		other := f.signUp(t, "P", "p@example.com", "bravo")
		a := actor(o.User)
		var ids []string
		for _, n := range []string{"one", "two", "three"} {
			ids = append(ids, f.createApp(t, o.Org.ID, a, n).ID)
		}
		f.createApp(t, other.Org.ID, actor(other.User), "theirs")
		p1, err := f.svc.ListApps(ctx, o.Org.ID, tenants.Page{Limit: 2})
		if err != nil || len(p1.Items) != 2 || p1.Items[0].ID != ids[2] || p1.Items[1].ID != ids[1] || p1.NextCursor == "" {
			t.Fatalf("first page: %v %+v", err, p1)
		}
		p2, err := f.svc.ListApps(ctx, o.Org.ID, tenants.Page{Limit: 2, Cursor: p1.NextCursor})
		if err != nil || len(p2.Items) != 1 || p2.Items[0].ID != ids[0] || p2.NextCursor != "" {
			t.Fatalf("second page: %v %+v", err, p2)
		}
		_, err = f.svc.ListApps(ctx, o.Org.ID, tenants.Page{Cursor: "%%%"})
		wantCode(t, err, tenants.EInvalid)
	})
}

func TestDeleteApp(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newKeyFixture(t, db)
		ctx := context.Background()
		o := f.signUp(t, "O", "o@example.com", "acme")
		a := actor(o.User)
		app := f.createApp(t, o.Org.ID, a, "Weather")
		keep := f.createApp(t, o.Org.ID, a, "Maps")
		k1, err := f.svc.CreateAppKey(ctx, o.Org.ID, app.ID, a, tenants.KeyInput{Name: "one"})
		if err != nil {
			t.Fatal(err)
		}
		k2, _ := f.svc.CreateAppKey(ctx, o.Org.ID, app.ID, a, tenants.KeyInput{Name: "two"})
		f.svc.RevokeAppKey(ctx, o.Org.ID, app.ID, k2.AccessKey, a)
		k3, _ := f.svc.CreateAppKey(ctx, o.Org.ID, app.ID, a, tenants.KeyInput{Name: "three"})
		kOther, _ := f.svc.CreateAppKey(ctx, o.Org.ID, keep.ID, a, tenants.KeyInput{Name: "other app"})

		n, err := f.svc.DeleteApp(ctx, o.Org.ID, app.ID, a)
		if err != nil || n != 2 {
			t.Fatalf("delete: %v, revoked %d, want 2", err, n)
		}
		// The app is gone from every method.
		_, err = f.svc.App(ctx, o.Org.ID, app.ID)
		wantCode(t, err, tenants.ENotFound)
		l, _ := f.svc.ListApps(ctx, o.Org.ID, tenants.Page{})
		if len(l.Items) != 1 || l.Items[0].ID != keep.ID {
			t.Fatalf("list after delete: %+v", l.Items)
		}
		_, err = f.svc.DeleteApp(ctx, o.Org.ID, app.ID, a)
		wantCode(t, err, tenants.ENotFound)
		name := "New name"
		_, err = f.svc.UpdateApp(ctx, o.Org.ID, app.ID, a, tenants.AppPatch{Name: &name})
		wantCode(t, err, tenants.ENotFound)
		_, err = f.svc.CreateAppKey(ctx, o.Org.ID, app.ID, a, tenants.KeyInput{})
		wantCode(t, err, tenants.ENotFound)
		_, err = f.svc.ListAppKeys(ctx, o.Org.ID, app.ID)
		wantCode(t, err, tenants.ENotFound)
		// Its keys are revoked for good; other apps' keys are untouched.
		for _, k := range []tenants.CreatedKey{k1, k3} {
			_, err := f.svc.KeyByAccessKey(ctx, k.AccessKey)
			wantCode(t, err, tenants.EUnauthorized)
		}
		var statuses []string
		db.Table("access_keys").Where("app_id = ?", app.ID).Order("access_key").Pluck("status", &statuses)
		if strings.Join(statuses, ",") != "revoked,revoked,revoked" {
			t.Fatalf("stored statuses %v", statuses)
		}
		if _, err := f.svc.KeyByAccessKey(ctx, kOther.AccessKey); err != nil {
			t.Fatalf("other app's key: %v", err)
		}
		// The row stays for billing history, marked deleted.
		var deleted int64
		db.Table("apps").Where("id = ? AND deleted_at IS NOT NULL", app.ID).Count(&deleted)
		if deleted != 1 {
			t.Fatal("app row not kept as deleted")
		}
		// The name is free again.
		if _, err := f.svc.CreateApp(ctx, o.Org.ID, a, tenants.AppInput{Name: "weather"}); err != nil {
			t.Fatalf("reuse a deleted app's name: %v", err)
		}
		actions := auditActions(t, f.svc, o.Org.ID, a)
		if actions[1] != "app.delete" {
			t.Fatalf("audit %v lacks app.delete before the last create", actions)
		}
	})
}

// TestKeyChangesAreAnnounced: creating or revoking an app key and deleting
// an app call OnChange once each, after commit; refusals, user keys and
// app renames do not.
func TestKeyChangesAreAnnounced(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newKeyFixture(t, db)
		ctx := context.Background()
		o := f.signUp(t, "O", "o@example.com", "acme")
		a := actor(o.User)
		app := f.createApp(t, o.Org.ID, a, "Weather")
		step := func(what string, err error, want int) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if f.changes != want {
				t.Fatalf("after %s: OnChange ×%d, want ×%d", what, f.changes, want)
			}
		}
		step("create app", nil, 0)
		k1, err := f.svc.CreateAppKey(ctx, o.Org.ID, app.ID, a, tenants.KeyInput{Name: "one"})
		step("create key", err, 1)
		_, err = f.svc.CreateAppKey(ctx, o.Org.ID, app.ID, a, tenants.KeyInput{Name: "two"})
		step("create second key", err, 2)
		if _, err := f.svc.CreateAppKey(ctx, o.Org.ID, app.ID, a, tenants.KeyInput{Name: "three"}); err == nil {
			t.Fatal("third active key accepted")
		}
		step("refused third key", nil, 2)
		_, err = f.svc.CreateUserKey(ctx, a, tenants.KeyInput{Name: "cli"})
		step("user key", err, 2)
		name := "Weather 2"
		_, err = f.svc.UpdateApp(ctx, o.Org.ID, app.ID, a, tenants.AppPatch{Name: &name})
		step("rename app", err, 2)
		err = f.svc.RevokeAppKey(ctx, o.Org.ID, app.ID, k1.AccessKey, a)
		step("revoke key", err, 3)
		_, err = f.svc.DeleteApp(ctx, o.Org.ID, app.ID, a)
		step("delete app", err, 4)
	})
}
