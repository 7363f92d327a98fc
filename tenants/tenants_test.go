package tenants_test

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/tenants"
)

// captureMailer keeps sent emails so tests can follow the links in them.
type captureMailer struct {
	mu   sync.Mutex
	sent []tenants.Email
}

func (m *captureMailer) Send(_ context.Context, e tenants.Email) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, e)
	return nil
}

// link returns the token in the last email to addr whose link has path.
func (m *captureMailer) link(t *testing.T, to, path string) string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	re := regexp.MustCompile(regexp.QuoteMeta(path) + `([A-Za-z0-9_-]{20,})`)
	for i := len(m.sent) - 1; i >= 0; i-- {
		if m.sent[i].To == to {
			if sm := re.FindStringSubmatch(m.sent[i].Text); sm != nil {
				return sm[1]
			}
		}
	}
	t.Fatalf("no email to %s with a %s link", to, path)
	return ""
}

type fixture struct {
	svc  *tenants.Service
	mail *captureMailer
	now  time.Time
	db   *migrations.DB
}

func newFixture(t *testing.T, db *migrations.DB) *fixture {
	f := &fixture{mail: &captureMailer{}, now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), db: db}
	pp := tenants.FastPasswordParams
	f.svc = tenants.NewService(db.DB, tenants.Options{
		BaseURL: "http://portal.test", Mailer: f.mail, PasswordParams: &pp,
		Now: func() time.Time { return f.now },
	})
	return f
}

func (f *fixture) signUp(t *testing.T, name, email, slug string) tenants.SignUpResult {
	t.Helper()
	res, err := f.svc.SignUp(context.Background(), tenants.SignUpInput{
		Name: name, Email: email, Password: "correct horse battery", OrgName: slug + " Inc", OrgSlug: slug,
	}, "192.0.2.1")
	if err != nil {
		t.Fatalf("sign up %s: %v", email, err)
	}
	return res
}

func actor(u tenants.User) tenants.Actor {
	return tenants.Actor{UserID: u.ID, Email: u.Email, IP: "192.0.2.1"}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := tenants.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func TestSignUp(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		res := f.signUp(t, "Ada", "Ada@Example.com", "acme")
		if res.User.Email != "ada@example.com" || res.Role != tenants.RoleOwner || res.Org.Slug != "acme" {
			t.Fatalf("unexpected result %+v", res)
		}
		if res.User.Verified() {
			t.Fatal("new user should be unverified")
		}
		cases := []struct {
			name  string
			in    tenants.SignUpInput
			code  string
			field string
		}{
			{"duplicate email differs in case", tenants.SignUpInput{Name: "A", Email: "ADA@example.COM", Password: "0123456789", OrgName: "X", OrgSlug: "xco"}, tenants.EConflict, "email"},
			{"duplicate slug", tenants.SignUpInput{Name: "B", Email: "b@example.com", Password: "0123456789", OrgName: "X", OrgSlug: "acme"}, tenants.EConflict, "organization.slug"},
			{"short password", tenants.SignUpInput{Name: "B", Email: "b@example.com", Password: "short", OrgName: "X", OrgSlug: "bco"}, tenants.EInvalid, "password"},
			{"bad email", tenants.SignUpInput{Name: "B", Email: "not-an-email", Password: "0123456789", OrgName: "X", OrgSlug: "bco"}, tenants.EInvalid, "email"},
			{"bad slug", tenants.SignUpInput{Name: "B", Email: "b@example.com", Password: "0123456789", OrgName: "X", OrgSlug: "Bad Slug!"}, tenants.EInvalid, "organization.slug"},
			{"reserved slug", tenants.SignUpInput{Name: "B", Email: "b@example.com", Password: "0123456789", OrgName: "X", OrgSlug: "api"}, tenants.EInvalid, "organization.slug"},
			{"missing name", tenants.SignUpInput{Email: "b@example.com", Password: "0123456789", OrgName: "X", OrgSlug: "bco"}, tenants.EInvalid, "name"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.svc.SignUp(ctx, tc.in, "192.0.2.1")
				wantCode(t, err, tc.code)
				if _, ok := tenants.ErrorFields(err)[tc.field]; !ok {
					t.Fatalf("fields %v lack %q", tenants.ErrorFields(err), tc.field)
				}
			})
		}
		// A failed sign-up leaves nothing behind: the conflicting slug did
		// not create the user b@example.com.
		if _, err := f.svc.Authenticate(ctx, "b@example.com", "0123456789"); tenants.ErrorCode(err) != tenants.EUnauthorized {
			t.Fatalf("user from a failed sign-up exists: %v", err)
		}
		// Verification link from the email works once.
		tok := f.mail.link(t, "ada@example.com", "/verify-email?token=")
		u, err := f.svc.VerifyEmail(ctx, tok, "192.0.2.1")
		if err != nil || !u.Verified() {
			t.Fatalf("verify: %v %+v", err, u)
		}
		_, err = f.svc.VerifyEmail(ctx, tok, "192.0.2.1")
		wantCode(t, err, tenants.EInvalid)
	})
}

func TestAuthenticateAndSessions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		res := f.signUp(t, "Ada", "ada@example.com", "acme")
		_, errUnknown := f.svc.Authenticate(ctx, "nobody@example.com", "whatever-pass")
		_, errWrong := f.svc.Authenticate(ctx, "ada@example.com", "wrong-password")
		wantCode(t, errUnknown, tenants.EUnauthorized)
		if tenants.ErrorMessage(errUnknown) != tenants.ErrorMessage(errWrong) {
			t.Fatalf("unknown email and wrong password must read the same: %q vs %q", tenants.ErrorMessage(errUnknown), tenants.ErrorMessage(errWrong))
		}
		u, err := f.svc.Authenticate(ctx, " ADA@example.com ", "correct horse battery")
		if err != nil || u.ID != res.User.ID {
			t.Fatalf("authenticate: %v", err)
		}
		s1, err := f.svc.CreateSession(ctx, u, "192.0.2.1", "test", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		s2, _ := f.svc.CreateSession(ctx, u, "192.0.2.1", "test", time.Hour)
		if _, err := f.svc.SessionUser(ctx, s1.ID, u.ID); err != nil {
			t.Fatalf("live session rejected: %v", err)
		}
		if _, err := f.svc.SessionUser(ctx, s1.ID, "someone-else"); tenants.ErrorCode(err) != tenants.EUnauthorized {
			t.Fatalf("session accepted for another user id: %v", err)
		}
		if err := f.svc.EndSession(ctx, s1.ID, actor(u)); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.SessionUser(ctx, s1.ID, u.ID)
		wantCode(t, err, tenants.EUnauthorized)
		// Password change ends every remaining session.
		wantCode(t, f.svc.ChangePassword(ctx, actor(u), "wrong", "a new long password"), tenants.EInvalid)
		if err := f.svc.ChangePassword(ctx, actor(u), "correct horse battery", "a new long password"); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.SessionUser(ctx, s2.ID, u.ID)
		wantCode(t, err, tenants.EUnauthorized)
		// Expiry.
		s3, _ := f.svc.CreateSession(ctx, u, "192.0.2.1", "test", time.Hour)
		f.now = f.now.Add(2 * time.Hour)
		_, err = f.svc.SessionUser(ctx, s3.ID, u.ID)
		wantCode(t, err, tenants.EUnauthorized)
	})
}

func TestPasswordReset(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		res := f.signUp(t, "Ada", "ada@example.com", "acme")
		sess, _ := f.svc.CreateSession(ctx, res.User, "192.0.2.1", "test", time.Hour)
		before := len(f.mail.sent)
		if err := f.svc.RequestPasswordReset(ctx, "unknown@example.com", "192.0.2.1"); err != nil {
			t.Fatalf("unknown email must answer like a known one: %v", err)
		}
		if len(f.mail.sent) != before {
			t.Fatal("an email went to an unknown address")
		}
		if err := f.svc.RequestPasswordReset(ctx, "ADA@example.com", "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		tok := f.mail.link(t, "ada@example.com", "/reset-password?token=")
		if err := f.svc.CheckResetToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.ResetPassword(ctx, tok, "short", "192.0.2.1")
		wantCode(t, err, tenants.EInvalid)
		if _, err := f.svc.ResetPassword(ctx, tok, "brand new password", "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.ResetPassword(ctx, tok, "another password 2", "192.0.2.1")
		wantCode(t, err, tenants.EInvalid)
		_, err = f.svc.SessionUser(ctx, sess.ID, res.User.ID)
		wantCode(t, err, tenants.EUnauthorized)
		if _, err := f.svc.Authenticate(ctx, "ada@example.com", "brand new password"); err != nil {
			t.Fatal(err)
		}
		// Expired link.
		f.svc.RequestPasswordReset(ctx, "ada@example.com", "192.0.2.1")
		tok2 := f.mail.link(t, "ada@example.com", "/reset-password?token=")
		f.now = f.now.Add(2 * time.Hour)
		_, err = f.svc.ResetPassword(ctx, tok2, "yet another password", "192.0.2.1")
		wantCode(t, err, tenants.EInvalid)
	})
}

func TestInvitationsAndMembers(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		owner := f.signUp(t, "Olivia", "olivia@example.com", "acme")
		org := owner.Org
		outsider := f.signUp(t, "Oscar", "oscar@example.com", "other")

		// Invite a new person as admin; they sign up through the link.
		_, err := f.svc.Invite(ctx, org.ID, actor(owner.User), "Ann@Example.com", tenants.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		tok := f.mail.link(t, "ann@example.com", "/invitations/")
		d, err := f.svc.InvitationByToken(ctx, tok)
		if err != nil || d.Org.ID != org.ID || d.InviterName != "Olivia" {
			t.Fatalf("invitation details: %v %+v", err, d)
		}
		_, err = f.svc.SignUp(ctx, tenants.SignUpInput{Name: "Eve", Email: "eve@example.com", Password: "0123456789abc", InvitationToken: tok}, "192.0.2.9")
		wantCode(t, err, tenants.EInvalid) // the link belongs to ann@
		ann, err := f.svc.SignUp(ctx, tenants.SignUpInput{Name: "Ann", Email: "ann@example.com", Password: "0123456789abc", InvitationToken: tok}, "192.0.2.9")
		if err != nil {
			t.Fatal(err)
		}
		if ann.Org.ID != org.ID || ann.Role != tenants.RoleAdmin || !ann.User.Verified() {
			t.Fatalf("invited sign-up: %+v", ann)
		}
		_, _, err = f.svc.AcceptInvitation(ctx, actor(ann.User), tok)
		wantCode(t, err, tenants.EConflict) // already used

		// An existing user accepts; someone else cannot use their link.
		if _, err := f.svc.Invite(ctx, org.ID, actor(ann.User), "oscar@example.com", tenants.RoleViewer); err != nil {
			t.Fatal(err)
		}
		tok2 := f.mail.link(t, "oscar@example.com", "/invitations/")
		_, _, err = f.svc.AcceptInvitation(ctx, actor(ann.User), tok2)
		wantCode(t, err, tenants.EForbidden)
		if _, role, err := f.svc.AcceptInvitation(ctx, actor(outsider.User), tok2); err != nil || role != tenants.RoleViewer {
			t.Fatalf("accept: %v %v", role, err)
		}

		// Admins may not create owners; viewers may not invite.
		_, err = f.svc.Invite(ctx, org.ID, actor(ann.User), "x@example.com", tenants.RoleOwner)
		wantCode(t, err, tenants.EForbidden)
		_, err = f.svc.Invite(ctx, org.ID, actor(outsider.User), "y@example.com", tenants.RoleDeveloper)
		wantCode(t, err, tenants.EForbidden)
		_, err = f.svc.Invite(ctx, org.ID, actor(owner.User), "oscar@example.com", tenants.RoleDeveloper)
		wantCode(t, err, tenants.EConflict) // already a member
		_, err = f.svc.Invite(ctx, org.ID, actor(owner.User), "bad", "emperor")
		wantCode(t, err, tenants.EInvalid)

		// Re-inviting replaces the earlier link.
		f.svc.Invite(ctx, org.ID, actor(owner.User), "zed@example.com", tenants.RoleDeveloper)
		old := f.mail.link(t, "zed@example.com", "/invitations/")
		f.svc.Invite(ctx, org.ID, actor(owner.User), "zed@example.com", tenants.RoleDeveloper)
		_, err = f.svc.InvitationByToken(ctx, old)
		wantCode(t, err, tenants.EConflict)
		// Expiry.
		f.now = f.now.Add(8 * 24 * time.Hour)
		_, err = f.svc.InvitationByToken(ctx, f.mail.link(t, "zed@example.com", "/invitations/"))
		wantCode(t, err, tenants.EConflict)

		// Members list, pagination.
		l, err := f.svc.ListMembers(ctx, org.ID, actor(outsider.User), tenants.Page{Limit: 2})
		if err != nil || len(l.Items) != 2 || l.NextCursor == "" {
			t.Fatalf("page 1: %v %+v", err, l)
		}
		l2, err := f.svc.ListMembers(ctx, org.ID, actor(outsider.User), tenants.Page{Limit: 2, Cursor: l.NextCursor})
		if err != nil || len(l2.Items) != 1 || l2.NextCursor != "" {
			t.Fatalf("page 2: %v %+v", err, l2)
		}

		// Roles: last owner protection.
		_, err = f.svc.ChangeRole(ctx, org.ID, actor(owner.User), owner.User.ID, tenants.RoleAdmin)
		wantCode(t, err, tenants.EConflict)
		wantCode(t, f.svc.RemoveMember(ctx, org.ID, actor(owner.User), owner.User.ID), tenants.EConflict)
		_, err = f.svc.ChangeRole(ctx, org.ID, actor(ann.User), outsider.User.ID, tenants.RoleOwner)
		wantCode(t, err, tenants.EForbidden)
		wantCode(t, f.svc.RemoveMember(ctx, org.ID, actor(ann.User), owner.User.ID), tenants.EForbidden)
		m, err := f.svc.ChangeRole(ctx, org.ID, actor(owner.User), ann.User.ID, tenants.RoleOwner)
		if err != nil || m.Role != tenants.RoleOwner {
			t.Fatalf("promote: %v", err)
		}
		if _, err := f.svc.ChangeRole(ctx, org.ID, actor(owner.User), owner.User.ID, tenants.RoleDeveloper); err != nil {
			t.Fatalf("demote with another owner present: %v", err)
		}
		// A viewer cannot change roles but can leave.
		_, err = f.svc.ChangeRole(ctx, org.ID, actor(outsider.User), owner.User.ID, tenants.RoleViewer)
		wantCode(t, err, tenants.EForbidden)
		if err := f.svc.RemoveMember(ctx, org.ID, actor(outsider.User), outsider.User.ID); err != nil {
			t.Fatalf("leave: %v", err)
		}
		// After leaving, the organisation is invisible to them.
		_, _, err = f.svc.OrganizationForMember(ctx, outsider.User.ID, "acme")
		wantCode(t, err, tenants.ENotFound)
		_, err = f.svc.ListMembers(ctx, org.ID, actor(outsider.User), tenants.Page{})
		wantCode(t, err, tenants.ENotFound)
	})
}

func TestTenantIsolation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		a := f.signUp(t, "A", "a@example.com", "alpha")
		b := f.signUp(t, "B", "b@example.com", "bravo")
		inv, _ := f.svc.Invite(ctx, b.Org.ID, actor(b.User), "c@example.com", tenants.RoleDeveloper)
		checks := map[string]error{}
		_, _, checks["org by slug"] = f.svc.OrganizationForMember(ctx, a.User.ID, "bravo")
		_, checks["members"] = f.svc.ListMembers(ctx, b.Org.ID, actor(a.User), tenants.Page{})
		_, checks["member"] = f.svc.Member(ctx, b.Org.ID, actor(a.User), b.User.ID)
		_, checks["change role"] = f.svc.ChangeRole(ctx, b.Org.ID, actor(a.User), b.User.ID, tenants.RoleViewer)
		checks["remove"] = f.svc.RemoveMember(ctx, b.Org.ID, actor(a.User), b.User.ID)
		_, checks["invite"] = f.svc.Invite(ctx, b.Org.ID, actor(a.User), "d@example.com", tenants.RoleViewer)
		_, checks["invitations"] = f.svc.ListInvitations(ctx, b.Org.ID, actor(a.User), tenants.Page{})
		checks["revoke invitation"] = f.svc.RevokeInvitation(ctx, b.Org.ID, actor(a.User), inv.ID)
		checks["revoke invitation via own org"] = f.svc.RevokeInvitation(ctx, a.Org.ID, actor(a.User), inv.ID)
		_, checks["audit"] = f.svc.ListAudit(ctx, b.Org.ID, actor(a.User), tenants.Page{})
		_, checks["rename"] = f.svc.RenameOrganization(ctx, b.Org.ID, actor(a.User), "Pwned")
		tok, _ := f.svc.CreateToken(ctx, actor(b.User), "b's token", 0)
		checks["revoke token"] = f.svc.RevokeToken(ctx, actor(a.User), tok.ID)
		for name, err := range checks {
			if tenants.ErrorCode(err) != tenants.ENotFound {
				t.Errorf("%s: got %v, want not found", name, err)
			}
		}
	})
}

func TestTokens(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		u := f.signUp(t, "A", "a@example.com", "alpha").User
		tok, err := f.svc.CreateToken(ctx, actor(u), "ci", 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if len(tok.Token) < 40 || tok.Token[:4] != tenants.TokenPrefix || tok.Hint != tok.Token[len(tok.Token)-4:] {
			t.Fatalf("token format: %q hint %q", tok.Token, tok.Hint)
		}
		// Only the hash is stored.
		var n int64
		db.Table("personal_tokens").Where("token_hash = ? OR hint = ?", tok.Token, tok.Token).Count(&n)
		if n != 0 {
			t.Fatal("token stored in plain text")
		}
		got, pt, err := f.svc.AuthenticateToken(ctx, tok.Token)
		if err != nil || got.ID != u.ID || pt.LastUsedAt == nil {
			t.Fatalf("authenticate: %v", err)
		}
		for _, bad := range []string{"", "pat_nope", tok.Token + "x", "Bearer " + tok.Token} {
			_, _, err := f.svc.AuthenticateToken(ctx, bad)
			wantCode(t, err, tenants.EUnauthorized)
		}
		_, err = f.svc.CreateToken(ctx, actor(u), "", 0)
		wantCode(t, err, tenants.EInvalid)
		_, err = f.svc.CreateToken(ctx, actor(u), "too long", 400*24*time.Hour)
		wantCode(t, err, tenants.EInvalid)
		// Expiry and revocation.
		f.now = f.now.Add(25 * time.Hour)
		_, _, err = f.svc.AuthenticateToken(ctx, tok.Token)
		wantCode(t, err, tenants.EUnauthorized)
		tok2, _ := f.svc.CreateToken(ctx, actor(u), "forever", 0)
		if err := f.svc.RevokeToken(ctx, actor(u), tok2.ID); err != nil {
			t.Fatal(err)
		}
		_, _, err = f.svc.AuthenticateToken(ctx, tok2.Token)
		wantCode(t, err, tenants.EUnauthorized)
		l, err := f.svc.ListTokens(ctx, actor(u), tenants.Page{})
		if err != nil || len(l.Items) != 2 || l.Items[0].ID != tok2.ID {
			t.Fatalf("list newest first: %v %+v", err, l)
		}
	})
}

func TestAuditLog(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		o := f.signUp(t, "O", "o@example.com", "acme")
		f.svc.Invite(ctx, o.Org.ID, actor(o.User), "p@example.com", tenants.RoleViewer)
		f.svc.RenameOrganization(ctx, o.Org.ID, actor(o.User), "Acme Corp")
		l, err := f.svc.ListAudit(ctx, o.Org.ID, actor(o.User), tenants.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range l.Items {
			actions = append(actions, e.Action)
			if e.IP != "192.0.2.1" || e.ActorEmail != "o@example.com" {
				t.Errorf("event %s lacks who/where: %+v", e.Action, e)
			}
		}
		want := []string{"organization.update", "invitation.create", "organization.create"}
		if len(actions) != len(want) {
			t.Fatalf("actions %v, want %v", actions, want)
		}
		for i := range want {
			if actions[i] != want[i] {
				t.Fatalf("actions %v, want %v (newest first)", actions, want)
			}
		}
		// Viewers cannot read it.
		f.svc.Invite(ctx, o.Org.ID, actor(o.User), "v@example.com", tenants.RoleViewer)
		tok := f.mail.link(t, "v@example.com", "/invitations/")
		v, err := f.svc.SignUp(ctx, tenants.SignUpInput{Name: "V", Email: "v@example.com", Password: "0123456789abc", InvitationToken: tok}, "192.0.2.2")
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.ListAudit(ctx, o.Org.ID, actor(v.User), tenants.Page{})
		wantCode(t, err, tenants.EForbidden)
		_, err = f.svc.ListAudit(ctx, o.Org.ID, actor(o.User), tenants.Page{Cursor: "%%%"})
		wantCode(t, err, tenants.EInvalid)
	})
}

func TestUpdateOrganizationBranding(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		o := f.signUp(t, "O", "o@example.com", "acme")
		desc, site, color := "We make APIs.", "https://acme.example.com", "#3355FF"
		org, err := f.svc.UpdateOrganization(ctx, o.Org.ID, actor(o.User), tenants.OrgPatch{Description: &desc, WebsiteURL: &site, BrandColor: &color})
		if err != nil || org.BrandColor != "#3355ff" || org.Description != desc || org.Name != "acme Inc" {
			t.Fatalf("update: %v %+v", err, org)
		}
		got, err := f.svc.OrganizationBySlug(ctx, "ACME")
		if err != nil || got.WebsiteURL != site {
			t.Fatalf("by slug: %v %+v", err, got)
		}
		bad, js := "red", "javascript:alert(1)"
		_, err = f.svc.UpdateOrganization(ctx, o.Org.ID, actor(o.User), tenants.OrgPatch{BrandColor: &bad, LogoURL: &js})
		wantCode(t, err, tenants.EInvalid)
		if fs := tenants.ErrorFields(err); fs["brand_color"] == "" || fs["logo_url"] == "" {
			t.Fatalf("fields %v", fs)
		}
		plain := "http://acme.example/logo.png" // pages load images over https only
		_, err = f.svc.UpdateOrganization(ctx, o.Org.ID, actor(o.User), tenants.OrgPatch{LogoURL: &plain})
		if fs := tenants.ErrorFields(err); !strings.Contains(fs["logo_url"], "https") {
			t.Fatalf("http logo: %v %v", err, fs)
		}
		_, err = f.svc.OrganizationBySlug(ctx, "nope")
		wantCode(t, err, tenants.ENotFound)
	})
}
