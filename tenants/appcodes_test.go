package tenants_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/tenants"
)

var appCodeRE = regexp.MustCompile(`^pac_[A-Za-z0-9_-]{43}$`)

func TestAppCodeLifecycle(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newKeyFixture(t, db)
		ctx := context.Background()
		o := f.signUp(t, "O", "o@example.com", "acme")
		a := actor(o.User)
		app := f.createApp(t, o.Org.ID, a, "Kiosk")

		c1, err := f.svc.CreateAppCode(ctx, o.Org.ID, app.ID, a, " kiosk ")
		if err != nil {
			t.Fatal(err)
		}
		if !appCodeRE.MatchString(c1.Code) {
			t.Fatalf("code format: %q", c1.Code)
		}
		if c1.AppCode.Name != "kiosk" || c1.AppCode.Status != tenants.KeyActive || c1.AppCode.AppID != app.ID ||
			!strings.HasPrefix(c1.Code, c1.AppCode.Prefix) || len(c1.AppCode.Prefix) != 12 {
			t.Fatalf("created: %+v", c1.AppCode)
		}
		assertNoSecret(t, "created metadata", c1.AppCode, c1.Code)
		f.now = f.now.Add(time.Second)
		c2, err := f.svc.CreateAppCode(ctx, o.Org.ID, app.ID, a, "")
		if err != nil {
			t.Fatal(err)
		}
		if c2.Code == c1.Code || c2.AppCode.Prefix == c1.AppCode.Prefix || !strings.HasPrefix(c2.AppCode.Name, "Code ") {
			t.Fatalf("second code: %+v", c2.AppCode)
		}
		_, err = f.svc.CreateAppCode(ctx, o.Org.ID, app.ID, a, "third")
		wantCode(t, err, tenants.EConflict)

		l, err := f.svc.ListAppCodes(ctx, o.Org.ID, app.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(l) != 2 || l[0].ID != c2.AppCode.ID || l[1].ID != c1.AppCode.ID {
			t.Fatalf("list: %+v", l)
		}
		for _, c := range l {
			assertNoSecret(t, "listed code", c, c1.Code)
			assertNoSecret(t, "listed code", c, tenants.HashAppCode(c1.Code))
		}

		active, err := f.svc.ActiveAppCodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		hashes := map[string]tenants.AppCodeMaterial{}
		for _, m := range active {
			hashes[m.Hash] = m
		}
		if m, ok := hashes[tenants.HashAppCode(c1.Code)]; len(active) != 2 || !ok || m.AppID != app.ID || m.OrgID != o.Org.ID ||
			m.Environment != tenants.EnvProduction || m.Prefix != c1.AppCode.Prefix {
			t.Fatalf("active codes: %+v", active)
		}

		// Revocation is final and idempotent; it frees a slot.
		if err := f.svc.RevokeAppCode(ctx, o.Org.ID, app.ID, c1.AppCode.ID, a); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.RevokeAppCode(ctx, o.Org.ID, app.ID, c1.AppCode.ID, a); err != nil {
			t.Fatalf("second revocation: %v", err)
		}
		l, _ = f.svc.ListAppCodes(ctx, o.Org.ID, app.ID)
		if l[1].Status != tenants.KeyRevoked || l[1].RevokedAt == nil {
			t.Fatalf("revoked code: %+v", l[1])
		}
		active, _ = f.svc.ActiveAppCodes(ctx)
		if len(active) != 1 || active[0].Hash != tenants.HashAppCode(c2.Code) {
			t.Fatalf("active after revoke: %+v", active)
		}
		if _, err := f.svc.CreateAppCode(ctx, o.Org.ID, app.ID, a, "third"); err != nil {
			t.Fatalf("create after revoke: %v", err)
		}
		acts := auditActions(t, f.svc, o.Org.ID, a)
		if n := countOf(acts, "app_code.revoke"); n != 1 {
			t.Fatalf("%d revoke audit events: %v", n, acts)
		}
		if n := countOf(acts, "app_code.create"); n != 3 {
			t.Fatalf("%d create audit events: %v", n, acts)
		}

		// Deleting the app revokes its codes and drops them from the gateway.
		if _, err := f.svc.DeleteApp(ctx, o.Org.ID, app.ID, a); err != nil {
			t.Fatal(err)
		}
		if active, _ = f.svc.ActiveAppCodes(ctx); len(active) != 0 {
			t.Fatalf("codes of a deleted app stay active: %+v", active)
		}
	})
}

func TestAppCodeTenantScope(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newKeyFixture(t, db)
		ctx := context.Background()
		o := f.signUp(t, "O", "o@example.com", "acme")
		p := f.signUp(t, "P", "p@example.com", "bravo")
		a, b := actor(o.User), actor(p.User)
		app := f.createApp(t, o.Org.ID, a, "Kiosk")
		other := f.createApp(t, o.Org.ID, a, "Other")
		c, err := f.svc.CreateAppCode(ctx, o.Org.ID, app.ID, a, "kiosk")
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.CreateAppCode(ctx, p.Org.ID, app.ID, b, "evil")
		wantCode(t, err, tenants.ENotFound)
		_, err = f.svc.ListAppCodes(ctx, p.Org.ID, app.ID)
		wantCode(t, err, tenants.ENotFound)
		wantCode(t, f.svc.RevokeAppCode(ctx, p.Org.ID, app.ID, c.AppCode.ID, b), tenants.ENotFound)
		// Same organisation, another app's path.
		wantCode(t, f.svc.RevokeAppCode(ctx, o.Org.ID, other.ID, c.AppCode.ID, a), tenants.ENotFound)
		_, err = f.svc.CreateAppCode(ctx, o.Org.ID, app.ID, a, strings.Repeat("x", 500))
		wantCode(t, err, tenants.EInvalid)
		if l, _ := f.svc.ListAppCodes(ctx, o.Org.ID, app.ID); len(l) != 1 || l[0].Status != tenants.KeyActive {
			t.Fatalf("code changed: %+v", l)
		}
	})
}

func TestTouchAppCodes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newKeyFixture(t, db)
		ctx := context.Background()
		o := f.signUp(t, "O", "o@example.com", "acme")
		a := actor(o.User)
		app := f.createApp(t, o.Org.ID, a, "Kiosk")
		c, _ := f.svc.CreateAppCode(ctx, o.Org.ID, app.ID, a, "kiosk")
		k, _ := f.svc.CreateAppKey(ctx, o.Org.ID, app.ID, a, tenants.KeyInput{Name: "k"})
		t0 := f.now.Add(time.Minute)
		if err := f.svc.TouchKeys(ctx, map[string]time.Time{c.AppCode.Prefix: t0, k.AccessKey: t0, "pac_unknown1": t0}); err != nil {
			t.Fatal(err)
		}
		l, _ := f.svc.ListAppCodes(ctx, o.Org.ID, app.ID)
		if l[0].LastUsedAt == nil || !l[0].LastUsedAt.Equal(t0) {
			t.Fatalf("code last used %v, want %v", l[0].LastUsedAt, t0)
		}
		keys, _ := f.svc.ListAppKeys(ctx, o.Org.ID, app.ID)
		if keys[0].LastUsedAt == nil || !keys[0].LastUsedAt.Equal(t0) {
			t.Fatalf("key last used %v", keys[0].LastUsedAt)
		}
		// Within a minute: not rewritten; older: never moves back.
		for _, at := range []time.Time{t0.Add(30 * time.Second), t0.Add(-time.Hour)} {
			f.svc.TouchKeys(ctx, map[string]time.Time{c.AppCode.Prefix: at})
			if l, _ = f.svc.ListAppCodes(ctx, o.Org.ID, app.ID); !l[0].LastUsedAt.Equal(t0) {
				t.Fatalf("touch at %v moved last used to %v", at, l[0].LastUsedAt)
			}
		}
	})
}

func countOf(l []string, s string) int {
	n := 0
	for i := range l {
		if l[i] == s {
			n++
		}
	}
	return n
}
