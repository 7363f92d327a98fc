package templates_test

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/a-h/templ"

	"github.com/portico-dev/portico/templates/layout"
	"github.com/portico-dev/portico/templates/pages/account"
	"github.com/portico-dev/portico/templates/pages/audit"
	"github.com/portico-dev/portico/templates/pages/auth"
	"github.com/portico-dev/portico/templates/pages/errorpage"
	"github.com/portico-dev/portico/templates/pages/home"
	"github.com/portico-dev/portico/templates/pages/members"
	"github.com/portico-dev/portico/templates/pages/operator"
	"github.com/portico-dev/portico/templates/pages/orgs"
)

const csrf = "csrf-token-123"

// Fixtures.

var (
	verifiedUser   = &layout.User{Name: "Ada Lovelace", Email: "ada@example.com", Verified: true}
	unverifiedUser = &layout.User{Name: "Ada Lovelace", Email: "ada@example.com", Verified: false}
	acme           = layout.Org{Slug: "acme", Name: "Acme Inc", Role: "owner"}
	globex         = layout.Org{Slug: "globex", Name: "Globex", Role: "viewer"}
)

func publicPage(title string) layout.Page {
	return layout.Page{Title: title, CSRF: csrf}
}

func orgPage(title, active string, user *layout.User, org layout.Org) layout.Page {
	return layout.Page{
		Title: title, CSRF: csrf, User: user,
		Orgs:   []layout.Org{acme, globex},
		Org:    &org,
		Active: active,
		Flashes: []layout.Flash{
			{Kind: "success", Text: "Changes saved."},
			{Kind: "error", Text: "Something failed."},
		},
	}
}

func accountPage(title, active string, user *layout.User) layout.Page {
	return layout.Page{Title: title, CSRF: csrf, User: user, Orgs: []layout.Org{acme}, Active: active}
}

var invitation = auth.Invitation{
	Token: "inv-tok-42", OrgName: "Acme Inc", InviterName: "Grace Hopper", Email: "ada@example.com", Role: "admin",
}

type pageCase struct {
	name string
	c    templ.Component
	// actions are the form actions the page must have, each form once;
	// the set must match exactly.
	actions []string
	want    []string
	notWant []string
}

func cases() []pageCase {
	return []pageCase{
		// home
		{
			name: "landing signed out",
			c:    home.Landing(home.LandingProps{Page: publicPage("")}),
			want: []string{`href="/signup"`, `href="/login"`, "AK/SK", "Rate limits", "Quotas", "Metered billing",
				"<title>The API marketplace and gateway · Portico</title>"},
			notWant: []string{"Go to the console"},
		},
		{
			name: "landing signed in",
			c: home.Landing(home.LandingProps{Page: layout.Page{
				Title: "Portico", CSRF: csrf, User: verifiedUser, Orgs: []layout.Org{globex, acme},
			}}),
			want:    []string{"Go to the console", `href="/orgs/globex"`},
			notWant: []string{`href="/signup"`},
		},

		// auth: sign-up
		{
			name:    "signup empty",
			c:       auth.SignUp(auth.SignUpProps{Page: publicPage("Sign up")}),
			actions: []string{"/signup"},
			want: []string{
				`name="name"`, `name="email"`, `name="password"`, `name="org_name"`, `name="org_slug"`,
				`type="hidden" name="next" value=""`,
				"lower-case letters, digits and dashes; part of your URLs",
				`autocomplete="name"`, `autocomplete="email"`, `autocomplete="new-password"`, `autocomplete="organization"`,
				`id="name" name="name" autocomplete="name" required autofocus`,
			},
			notWant: []string{`name="invitation"`, `aria-invalid`, `role="alert"`},
		},
		{
			name: "signup with errors",
			c: auth.SignUp(auth.SignUpProps{
				Page: publicPage("Sign up"), Name: "Ada", Email: "ada@example", OrgName: "Acme", OrgSlug: "Acme!",
				Next: "/orgs/acme", Message: "Please fix the errors below.",
				Errors: map[string]string{
					"email":    "Enter a valid email address, like name@example.com.",
					"org_slug": "Use lower-case letters, digits and dashes.",
					"terms":    "Accept the terms.",
				},
			}),
			actions: []string{"/signup"},
			want: []string{
				"Please fix the errors below.", "Accept the terms.", // unknown field error is not lost
				"Enter a valid email address, like name@example.com.",
				"Use lower-case letters, digits and dashes.",
				`value="ada@example"`, `value="Acme!"`, `value="Ada"`, `name="next" value="/orgs/acme"`,
				`aria-describedby="email-error"`, `aria-describedby="org_slug-help org_slug-error"`,
				`id="email" name="email" value="ada@example" autocomplete="email" required autofocus`,
				`href="/login?next=%2Forgs%2Facme"`,
			},
		},
		{
			name: "signup with invitation",
			c: auth.SignUp(auth.SignUpProps{
				Page: publicPage("Join Acme"), Invitation: &invitation, Email: "someone-else@example.com",
			}),
			actions: []string{"/signup"},
			want: []string{
				`name="invitation" value="inv-tok-42"`, "Grace Hopper", "Join Acme Inc on Portico",
				`value="ada@example.com"`, "readonly", "as an admin",
				`href="/login?next=%2Finvitations%2Finv-tok-42"`,
			},
			notWant: []string{`name="org_name"`, `name="org_slug"`, "someone-else@example.com"},
		},

		// auth: log-in
		{
			name:    "login empty",
			c:       auth.Login(auth.LoginProps{Page: publicPage("Log in")}),
			actions: []string{"/login"},
			want: []string{`autocomplete="current-password"`, `href="/forgot-password"`, `href="/signup"`,
				`id="email" name="email" autocomplete="email" required autofocus`},
			notWant: []string{`role="alert"`},
		},
		{
			name: "login failed",
			c: auth.Login(auth.LoginProps{
				Page: publicPage("Log in"), Email: "ada@example.com", Next: "/orgs/acme/audit",
				Message: "The email address or password is wrong.",
			}),
			actions: []string{"/login"},
			want: []string{
				"The email address or password is wrong.", `role="alert"`, `value="ada@example.com"`,
				`name="next" value="/orgs/acme/audit"`, `href="/signup?next=%2Forgs%2Facme%2Faudit"`,
				`autocomplete="current-password" required autofocus`,
			},
		},

		// auth: password recovery
		{
			name:    "forgot form with error",
			c:       auth.Forgot(auth.ForgotProps{Page: publicPage("Forgot"), Email: "nope", Errors: map[string]string{"email": "Enter a valid email address."}}),
			actions: []string{"/forgot-password"},
			want:    []string{"Enter a valid email address.", `value="nope"`, `aria-invalid="true"`},
		},
		{
			name:    "forgot sent",
			c:       auth.Forgot(auth.ForgotProps{Page: publicPage("Forgot"), Email: "ada@example.com", Sent: true}),
			want:    []string{"Check your inbox", "ada@example.com"},
			notWant: []string{"<form"},
		},
		{
			name:    "reset form",
			c:       auth.Reset(auth.ResetProps{Page: publicPage("Reset"), Token: "reset-tok"}),
			actions: []string{"/reset-password"},
			want:    []string{`name="token" value="reset-tok"`, `name="password"`, `name="password_confirm"`, `autocomplete="new-password"`},
		},
		{
			name: "reset errors",
			c: auth.Reset(auth.ResetProps{Page: publicPage("Reset"), Token: "reset-tok", Errors: map[string]string{
				"password_confirm": "The passwords do not match.",
				"token":            "The link has expired.",
			}}),
			actions: []string{"/reset-password"},
			want:    []string{"The passwords do not match.", "The link has expired.", `id="password_confirm-error"`},
		},
		{
			name:    "reset invalid",
			c:       auth.Reset(auth.ResetProps{Page: publicPage("Reset"), Invalid: "This link has expired."}),
			want:    []string{"This link has expired.", `href="/forgot-password"`},
			notWant: []string{"<form"},
		},

		// auth: verification
		{
			name:    "verify ok signed out",
			c:       auth.Verify(auth.VerifyProps{Page: publicPage(""), OK: true}),
			want:    []string{"Email address confirmed", `href="/login"`},
			notWant: []string{"<form"},
		},
		{
			name: "verify failed signed in unverified",
			c: auth.Verify(auth.VerifyProps{
				Page: layout.Page{CSRF: csrf, User: unverifiedUser, Orgs: []layout.Org{acme}}, Message: "The link has expired.",
			}),
			actions: []string{"/account/verify/resend"},
			want:    []string{"The link has expired.", "Send a new link", `href="/orgs/acme"`},
		},
		{
			name:    "verify failed signed out",
			c:       auth.Verify(auth.VerifyProps{Page: publicPage(""), Message: "The link is invalid."}),
			want:    []string{"The link is invalid.", `href="/login?next=%2Faccount"`},
			notWant: []string{"<form"},
		},

		// auth: invitations
		{
			name: "invitation signed out",
			c:    auth.InvitationPage(auth.InvitationProps{Page: publicPage("Invitation"), Invitation: invitation}),
			want: []string{"Grace Hopper", "Acme Inc", `href="/signup?invitation=inv-tok-42"`,
				`href="/login?next=%2Finvitations%2Finv-tok-42"`},
			notWant: []string{"<form"},
		},
		{
			name: "invitation signed in as invitee",
			c: auth.InvitationPage(auth.InvitationProps{
				Page: layout.Page{CSRF: csrf, User: verifiedUser}, Invitation: invitation, SignedInAs: "ADA@example.com",
			}),
			actions: []string{"/invitations/inv-tok-42/accept"},
			want:    []string{"Accept and join Acme Inc"},
			notWant: []string{"someone else"},
		},
		{
			name: "invitation signed in as someone else",
			c: auth.InvitationPage(auth.InvitationProps{
				Page: layout.Page{CSRF: csrf, User: verifiedUser}, Invitation: invitation, SignedInAs: "bob@example.com",
			}),
			actions: []string{"/logout"},
			want:    []string{"bob@example.com", "This invitation is for someone else"},
			notWant: []string{"/accept"},
		},
		{
			name:    "invitation invalid",
			c:       auth.InvitationPage(auth.InvitationProps{Page: publicPage("Invitation"), Invitation: invitation, Invalid: "This invitation was revoked."}),
			want:    []string{"This invitation was revoked."},
			notWant: []string{"<form", "Grace Hopper", "inv-tok-42"},
		},

		// orgs
		{
			name: "dashboard owner unverified",
			c: orgs.Dashboard(orgs.DashboardProps{
				Page: orgPage("Acme Inc", "dashboard", unverifiedUser, acme), MemberCount: 1, PendingInvitations: 2,
				CanReadAudit: true,
				RecentActivity: []orgs.ActivityRow{
					{When: "2026-11-26 14:03 UTC", Actor: "Ada Lovelace", Action: "member.role_change", Object: "user 0193…"},
				},
			}),
			actions: []string{"/logout", "/account/verify/resend"},
			want: []string{
				"Confirm your email address — we sent you a link.", "member.role_change", "Getting started",
				`href="/orgs/acme/audit"`, `aria-current="page"`, "Changes saved.", "Something failed.",
				`href="/orgs/new"`, `href="/account/tokens"`, `role="alert"`,
			},
		},
		{
			name: "dashboard viewer no activity",
			c: orgs.Dashboard(orgs.DashboardProps{
				Page: orgPage("Globex", "dashboard", verifiedUser, globex), MemberCount: 5,
			}),
			actions: []string{"/logout"},
			want:    []string{"Globex", "Viewer"},
			notWant: []string{"Recent activity", "Getting started", `href="/orgs/globex/audit"`, "Confirm your email address"},
		},
		{
			name: "dashboard owner empty activity",
			c: orgs.Dashboard(orgs.DashboardProps{
				Page: orgPage("Acme Inc", "dashboard", verifiedUser, acme), MemberCount: 3, CanReadAudit: true,
			}),
			actions: []string{"/logout"},
			want:    []string{"No activity yet"},
		},
		{
			name:    "new organisation",
			c:       orgs.New(orgs.NewProps{Page: accountPage("New organisation", "", verifiedUser)}),
			actions: []string{"/logout", "/orgs/new"},
			want:    []string{`name="slug"`, "lower-case letters, digits and dashes; part of your URLs", `autocomplete="organization"`},
		},
		{
			name: "new organisation errors",
			c: orgs.New(orgs.NewProps{
				Page: accountPage("New organisation", "", verifiedUser), Name: "Acme", Slug: "acme",
				Message: "Could not create the organisation.", Errors: map[string]string{"slug": "This short name is taken."},
			}),
			actions: []string{"/logout", "/orgs/new"},
			want:    []string{"Could not create the organisation.", "This short name is taken.", `value="acme"`, `id="slug-error"`},
		},
		{
			name: "settings editable",
			c: orgs.Settings(orgs.SettingsProps{
				Page: orgPage("Settings", "settings", verifiedUser, acme), Name: "Acme Inc", Slug: "acme", CanEdit: true,
				Errors: map[string]string{"name": "Use at most 100 characters."},
			}),
			actions: []string{"/logout", "/orgs/acme/settings"},
			want:    []string{"Use at most 100 characters.", `value="Acme Inc"`, "<code>acme</code>"},
		},
		{
			name: "settings read-only",
			c: orgs.Settings(orgs.SettingsProps{
				Page: orgPage("Settings", "settings", verifiedUser, globex), Name: "Globex", Slug: "globex",
			}),
			actions: []string{"/logout"},
			want:    []string{"Only owners and admins can change these settings.", "<code>globex</code>"},
			notWant: []string{`name="name"`},
		},

		// members
		{
			name: "members as owner",
			c: members.List(members.ListProps{
				Page:      orgPage("Members", "members", verifiedUser, acme),
				CanManage: true, IsOwner: true,
				Roles: []string{"owner", "admin", "developer", "viewer", "billing"},
				Members: []members.MemberRow{
					{UserID: "u1", Name: "Ada Lovelace", Email: "ada@example.com", Role: "owner", Joined: "2026-01-02", Verified: true, IsSelf: true},
					{UserID: "u2", Name: "Bob", Email: "bob@example.com", Role: "developer", Joined: "2026-02-03"},
				},
				Invitations: []members.InvitationRow{
					{ID: "i1", Email: "carol@example.com", Role: "viewer", Status: "pending", Expires: "2026-12-01", Created: "2026-11-24"},
					{ID: "i2", Email: "dan@example.com", Role: "admin", Status: "accepted", Expires: "2026-11-30", Created: "2026-11-20"},
				},
				NextURL: "/orgs/acme/members?after=u2", FirstURL: "/orgs/acme/members",
				InviteEmail: "eve@example", InviteRole: "admin",
				Message: "Could not send the invitation.", Errors: map[string]string{"email": "Enter a valid email address."},
			}),
			actions: []string{
				"/logout", "/orgs/acme/invitations", "/orgs/acme/members/u1/remove",
				"/orgs/acme/members/u2/role", "/orgs/acme/members/u2/remove", "/orgs/acme/invitations/i1/revoke",
			},
			want: []string{
				"Could not send the invitation.", "Enter a valid email address.", `value="eve@example"`,
				`<option value="admin" selected>Admin</option>`, `<option value="owner">Owner</option>`,
				"data-autosubmit", `data-confirm="Leave Acme Inc?`, `data-confirm="Remove Bob from Acme Inc?`,
				"Leave organisation", `data-confirm="Revoke the invitation for carol@example.com?`,
				`rel="next"`, `href="/orgs/acme/members?after=u2"`, `href="/orgs/acme/members"`,
				`<option value="developer" selected>Developer</option>`, "Unverified",
			},
			notWant: []string{"/orgs/acme/invitations/i2/revoke", "/orgs/acme/members/u1/role"},
		},
		{
			name: "members as admin",
			c: members.List(members.ListProps{
				Page:      orgPage("Members", "members", verifiedUser, layout.Org{Slug: "acme", Name: "Acme Inc", Role: "admin"}),
				CanManage: true,
				Roles:     []string{"owner", "admin", "developer", "viewer", "billing"},
				Members: []members.MemberRow{
					{UserID: "u0", Name: "Olive Owner", Email: "olive@example.com", Role: "owner", Verified: true},
					{UserID: "u1", Name: "Ada Lovelace", Email: "ada@example.com", Role: "admin", Verified: true, IsSelf: true},
				},
			}),
			actions: []string{"/logout", "/orgs/acme/invitations", "/orgs/acme/members/u1/remove"},
			want: []string{
				// the invite role defaults to developer, never owner
				`<option value="developer" selected>Developer</option>`, "No invitations",
			},
			notWant: []string{`<option value="owner"`, "/orgs/acme/members/u0/remove", "/orgs/acme/members/u0/role"},
		},
		{
			name: "members as viewer empty",
			c: members.List(members.ListProps{
				Page:  orgPage("Members", "members", verifiedUser, globex),
				Roles: []string{"owner", "admin", "developer", "viewer", "billing"},
			}),
			actions: []string{"/logout"},
			want:    []string{"No members on this page"},
			notWant: []string{"Invite a member", "Invitations", "<select", `class="pagination"`},
		},

		// account
		{
			name: "account settings verified",
			c: account.Settings(account.SettingsProps{
				Page: accountPage("Account", "account", verifiedUser), Name: "Ada Lovelace", Email: "ada@example.com", Verified: true,
				Activity: []account.ActivityRow{{When: "2026-11-26 09:00 UTC", Action: "Logged in", IP: "192.0.2.1"}},
			}),
			actions: []string{"/logout", "/account/profile", "/account/password"},
			want: []string{
				`name="current_password"`, `name="new_password"`, `name="new_password_confirm"`,
				`autocomplete="current-password"`, `autocomplete="new-password"`, "192.0.2.1", "Verified",
				`value="Ada Lovelace"`, `aria-current="page"`,
			},
			notWant: []string{"/account/verify/resend"},
		},
		{
			name: "account settings unverified with errors",
			c: account.Settings(account.SettingsProps{
				Page: accountPage("Account", "account", unverifiedUser), Name: "", Email: "ada@example.com",
				ProfileErrors:  map[string]string{"name": "Enter your name."},
				PasswordErrors: map[string]string{"current_password": "The current password is wrong.", "new_password": "Use at least 10 characters."},
			}),
			// the banner and the profile card both offer a new link
			actions: []string{"/logout", "/account/verify/resend", "/account/profile", "/account/verify/resend", "/account/password"},
			want: []string{
				"Enter your name.", "The current password is wrong.", "Use at least 10 characters.",
				"Not confirmed", "No activity yet",
			},
		},
		{
			name: "tokens list",
			c: account.Tokens(account.TokensProps{
				Page: accountPage("Tokens", "tokens", verifiedUser),
				Tokens: []account.TokenRow{
					{ID: "t1", Name: "CI deploys", Hint: "9xQz", Created: "2026-11-01", Expires: "never", LastUsed: "never", Status: "active"},
					{ID: "t2", Name: "Old laptop", Hint: "aaaa", Created: "2025-11-01", Expires: "2026-01-01", LastUsed: "2025-12-01", Status: "revoked"},
				},
				NextURL: "/account/tokens?after=t2",
			}),
			actions: []string{"/logout", "/account/tokens", "/account/tokens/t1/revoke"},
			want: []string{
				"CI deploys", "…9xQz", `name="expires_in_days"`, `<option value="" selected>No expiry</option>`,
				`<option value="7">7 days</option>`, `<option value="365">1 year</option>`, `data-confirm="Revoke the token “CI deploys”?`,
				`href="/account/tokens?after=t2"`,
			},
			notWant: []string{"will not be shown again", `id="new-token"`, "data-copy", "/account/tokens/t2/revoke"},
		},
		{
			name: "tokens created",
			c: account.Tokens(account.TokensProps{
				Page:    accountPage("Tokens", "tokens", verifiedUser),
				Tokens:  []account.TokenRow{{ID: "t3", Name: "Deploy bot", Hint: "ZZ99", Created: "2026-11-26", Expires: "2027-02-24", LastUsed: "never", Status: "active"}},
				Created: &account.CreatedToken{Name: "Deploy bot", Token: "pat_s3cr3t-ZZ99"},
			}),
			actions: []string{"/logout", "/account/tokens", "/account/tokens/t3/revoke"},
			want: []string{
				`<code class="secret-value" id="new-token">pat_s3cr3t-ZZ99</code>`, `data-copy="#new-token"`,
				"This token will not be shown again", `aria-live="polite"`,
			},
		},
		{
			name: "tokens empty with errors",
			c: account.Tokens(account.TokensProps{
				Page: accountPage("Tokens", "tokens", verifiedUser), Name: "x", ExpiresInDays: "30",
				Message: "You have too many tokens.", Errors: map[string]string{"expires_in_days": "Choose an expiry between 1 and 366 days, or none."},
			}),
			actions: []string{"/logout", "/account/tokens"},
			want: []string{
				"No tokens yet", "You have too many tokens.", "Choose an expiry between 1 and 366 days, or none.",
				`<option value="30" selected>30 days</option>`, `id="token-expires-error"`,
			},
			notWant: []string{"will not be shown again", "pat_"},
		},

		// audit
		{
			name: "audit log",
			c: audit.List(audit.ListProps{
				Page: orgPage("Audit log", "audit", verifiedUser, acme),
				Events: []audit.EventRow{
					{When: "2026-11-26 14:03 UTC", Actor: "Ada", Action: "member.role_change", Object: "user u2", IP: "192.0.2.7", Details: `{"from":"viewer","to":"admin"}`},
					{When: "2026-11-26 14:00 UTC", Actor: "Ada", Action: "org.create", Object: "org acme", IP: "192.0.2.7", Details: "{}"},
				},
				NextURL: "/orgs/acme/audit?before=2", FirstURL: "/orgs/acme/audit",
			}),
			actions: []string{"/logout"},
			want: []string{"member.role_change", "{&#34;from&#34;:&#34;viewer&#34;,&#34;to&#34;:&#34;admin&#34;}",
				`href="/orgs/acme/audit?before=2"`, "Next page"},
		},
		{
			name:    "audit log empty",
			c:       audit.List(audit.ListProps{Page: orgPage("Audit log", "audit", verifiedUser, acme)}),
			actions: []string{"/logout"},
			want:    []string{"No events on this page"},
			notWant: []string{"<table", `class="pagination"`},
		},

		// operator
		{
			name:    "operator login",
			c:       operator.Login(operator.LoginProps{Page: publicPage("Operator"), Message: "That token is not right."}),
			actions: []string{"/operator/login"},
			want:    []string{`name="token"`, "That token is not right.", `role="alert"`},
			notWant: []string{"/operator/logout"},
		},
		{
			name: "operator outbox",
			c: operator.Outbox(operator.OutboxProps{
				Page: publicPage("Outbox"),
				Emails: []operator.EmailRow{
					{ID: "e1", To: "ada@example.com", Subject: "Confirm your email", When: "2026-11-26 14:03 UTC",
						Body: "Hello <b>Ada</b>,\n\nOpen https://portico.test/verify?token=abc&x=1.\nNot a link: javascript:alert(1)\n(see https://portico.test/help)"},
					{ID: "e2", To: "bob@example.com", Subject: "You are invited", When: "2026-11-26 13:00 UTC", Body: "Join us."},
				},
				NextURL: "/operator/outbox?before=e2",
			}),
			actions: []string{"/operator/logout"},
			want: []string{
				`<a href="https://portico.test/verify?token=abc&amp;x=1">https://portico.test/verify?token=abc&amp;x=1</a>.`,
				`(see <a href="https://portico.test/help">https://portico.test/help</a>)`,
				"Hello &lt;b&gt;Ada&lt;/b&gt;,\n\nOpen", `id="email-e1" open`, "Confirm your email", "You are invited",
			},
			notWant: []string{`href="javascript`, "<b>Ada</b>", `id="email-e2" open`},
		},
		{
			name:    "operator outbox empty",
			c:       operator.Outbox(operator.OutboxProps{Page: publicPage("Outbox")}),
			actions: []string{"/operator/logout"},
			want:    []string{"The outbox is empty"},
		},

		// error page
		{
			name: "error 404 signed out",
			c: errorpage.Page(errorpage.Props{
				Page: publicPage("Not found"), Status: 404, Title: "Page not found",
				Detail: "We looked everywhere.", RequestID: "req-abc-123",
			}),
			want:    []string{">404</p>", "Page not found", "We looked everywhere.", "req-abc-123", `href="/"`},
			notWant: []string{"<form"},
		},
		{
			name:    "error 500 signed in",
			c:       errorpage.Page(errorpage.Props{Page: orgPage("", "", verifiedUser, acme), Status: 500}),
			actions: []string{"/logout"},
			want:    []string{"Internal Server Error", "<title>Internal Server Error · Portico</title>", "Go to the console"},
			notWant: []string{"Request ID"},
		},

		// escaping
		{
			name: "hostile values are escaped",
			c: auth.SignUp(auth.SignUpProps{
				Page: publicPage(`<script>alert(1)</script>`), Name: `"><script>alert(1)</script>`,
				Message: `<img src=x onerror=alert(1)>`,
			}),
			actions: []string{"/signup"},
			want:    []string{"&lt;img src=x onerror=alert(1)&gt;", `value="&#34;&gt;&lt;script&gt;`},
		},
	}
}

func TestPages(t *testing.T) {
	for _, tc := range append(cases(), apiCases()...) {
		t.Run(tc.name, func(t *testing.T) {
			html := render(t, tc.c)

			if !strings.HasPrefix(html, "<!doctype html>") {
				t.Errorf("page does not start with a doctype: %.40q", html)
			}
			if !regexp.MustCompile(`<title>[^<]* · Portico</title>|<title>Portico</title>`).MatchString(html) {
				t.Errorf("title does not end in \" · Portico\"")
			}
			if !strings.Contains(html, `<main id="content"`) || !strings.Contains(html, `href="#content"`) {
				t.Errorf("missing main#content or the skip link")
			}
			for _, w := range tc.want {
				if !strings.Contains(html, w) {
					t.Errorf("output does not contain %q", w)
				}
			}
			for _, nw := range tc.notWant {
				if strings.Contains(html, nw) {
					t.Errorf("output contains %q", nw)
				}
			}
			for _, problem := range slices.Concat(formProblems(html, tc.actions), cspProblems(html), idProblems(html)) {
				t.Error(problem)
			}
			if t.Failed() {
				t.Logf("output:\n%s", html)
			}
		})
	}
}

// TestCreatedTokenShownOnlyOnce renders the tokens page with and without a
// created token and checks that the secret appears only with it.
func TestCreatedTokenShownOnlyOnce(t *testing.T) {
	const secret = "pat_only-once-0000"
	base := account.TokensProps{
		Page:   accountPage("Tokens", "tokens", verifiedUser),
		Tokens: []account.TokenRow{{ID: "t1", Name: "CI", Hint: "0000", Status: "active"}},
	}
	without := render(t, account.Tokens(base))
	with := base
	with.Created = &account.CreatedToken{Name: "CI", Token: secret}
	withHTML := render(t, account.Tokens(with))

	if strings.Contains(without, secret) || strings.Contains(without, "will not be shown again") {
		t.Errorf("the secret box is shown without a created token")
	}
	if got := strings.Count(withHTML, secret); got != 1 {
		t.Errorf("the created token appears %d times, want exactly once", got)
	}
	// The secret box comes before the create form and the table.
	if i, j := strings.Index(withHTML, secret), strings.Index(withHTML, `action="/account/tokens"`); i < 0 || j < 0 || i > j {
		t.Errorf("the secret box is not above the create form")
	}
}

func render(t *testing.T, c templ.Component) string {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	return buf.String()
}

// A minimal tag scanner: templ always writes double-quoted attribute values.
var (
	tagRE  = regexp.MustCompile(`<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s"'>/=]+(?:="[^"]*")?)*)\s*/?>`)
	attrRE = regexp.MustCompile(`([^\s"'>/=]+)(?:="([^"]*)")?`)
)

type tag struct {
	name  string
	attrs map[string]string
	pos   int
}

func (t tag) has(name string) bool { _, ok := t.attrs[name]; return ok }

func tags(html string) []tag {
	var out []tag
	for _, m := range tagRE.FindAllStringSubmatchIndex(html, -1) {
		tg := tag{name: strings.ToLower(html[m[2]:m[3]]), attrs: map[string]string{}, pos: m[0]}
		for _, a := range attrRE.FindAllStringSubmatch(html[m[4]:m[5]], -1) {
			tg.attrs[strings.ToLower(a[1])] = a[2]
		}
		out = append(out, tg)
	}
	return out
}

// formProblems: every form posts, carries the CSRF token, and the set of form
// actions is exactly the expected one.
func formProblems(html string, wantActions []string) []string {
	var problems []string
	var actions []string
	rest := html
	for {
		start := strings.Index(rest, "<form")
		if start < 0 {
			break
		}
		end := strings.Index(rest[start:], "</form>")
		if end < 0 {
			return append(problems, "unclosed <form>")
		}
		form := rest[start : start+end]
		rest = rest[start+end+len("</form>"):]

		ft := tags(form)[0]
		actions = append(actions, ft.attrs["action"])
		if ft.attrs["method"] != "post" {
			problems = append(problems, fmt.Sprintf("form %q: method is %q, want post", ft.attrs["action"], ft.attrs["method"]))
		}
		if !strings.Contains(form, `<input type="hidden" name="gorilla.csrf.Token" value="`+csrf+`">`) {
			problems = append(problems, fmt.Sprintf("form %q has no CSRF field", ft.attrs["action"]))
		}
		if strings.Contains(form[1:], "<form") {
			problems = append(problems, fmt.Sprintf("nested form in %q", ft.attrs["action"]))
		}
		if !strings.Contains(form, `type="submit"`) {
			problems = append(problems, fmt.Sprintf("form %q has no submit button", ft.attrs["action"]))
		}
	}
	slices.Sort(actions)
	want := slices.Clone(wantActions)
	slices.Sort(want)
	if !slices.Equal(actions, want) {
		problems = append(problems, fmt.Sprintf("form actions = %q, want %q", actions, want))
	}
	return problems
}

// inlineHandlerRE finds inline event handler attributes. It is applied to
// tags only: escaped text such as "&lt;img onerror=…&gt;" is harmless.
var inlineHandlerRE = regexp.MustCompile(`\son[a-z]+=`)

// cspProblems: nothing the Content-Security-Policy would block.
func cspProblems(html string) []string {
	var problems []string
	if strings.Contains(html, `style="`) || strings.Contains(html, "<style") {
		problems = append(problems, fmt.Sprintf("output has inline styles"))
	}
	for _, m := range tagRE.FindAllString(html, -1) {
		if h := inlineHandlerRE.FindString(m); h != "" {
			problems = append(problems, fmt.Sprintf("output has an inline event handler attribute %q in %q", h, m))
		}
	}
	if strings.Contains(html, "javascript:") && strings.Contains(html, `="javascript:`) {
		problems = append(problems, fmt.Sprintf("output has a javascript: URL"))
	}
	scripts := 0
	for _, tg := range tags(html) {
		if tg.name == "script" {
			scripts++
			if tg.attrs["src"] == "" {
				problems = append(problems, fmt.Sprintf("inline <script> at %d", tg.pos))
			}
			if !tg.has("defer") {
				problems = append(problems, fmt.Sprintf("<script> without defer"))
			}
		}
	}
	if scripts != strings.Count(strings.ToLower(html), "<script") {
		problems = append(problems, fmt.Sprintf("unparsed <script> tag"))
	}
	return problems
}

// idProblems: ids are unique; labels, aria-describedby and aria-labelledby
// point at existing elements; every visible control has a label; invalid
// controls point at their error message.
func idProblems(html string) []string {
	var problems []string
	all := tags(html)
	ids := map[string]tag{}
	for _, tg := range all {
		id, ok := tg.attrs["id"]
		if !ok {
			continue
		}
		if id == "" {
			problems = append(problems, fmt.Sprintf("empty id on <%s>", tg.name))
		}
		if _, dup := ids[id]; dup {
			problems = append(problems, fmt.Sprintf("duplicate id %q", id))
		}
		ids[id] = tg
	}
	labelled := map[string]bool{}
	autofocus := 0
	for _, tg := range all {
		if tg.name == "label" {
			target, ok := ids[tg.attrs["for"]]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("<label for=%q> points at no element", tg.attrs["for"]))
			case target.name != "input" && target.name != "select" && target.name != "textarea":
				problems = append(problems, fmt.Sprintf("<label for=%q> points at a <%s>", tg.attrs["for"], target.name))
			}
			labelled[tg.attrs["for"]] = true
		}
		for _, attr := range []string{"aria-describedby", "aria-labelledby"} {
			for ref := range strings.FieldsSeq(tg.attrs[attr]) {
				if _, ok := ids[ref]; !ok {
					problems = append(problems, fmt.Sprintf("<%s %s=%q>: no element with id %q", tg.name, attr, tg.attrs[attr], ref))
				}
			}
		}
		if tg.name == "a" && strings.HasPrefix(tg.attrs["href"], "#") && len(tg.attrs["href"]) > 1 {
			if _, ok := ids[tg.attrs["href"][1:]]; !ok && tg.attrs["href"] != "#content" {
				problems = append(problems, fmt.Sprintf("<a href=%q>: no such id", tg.attrs["href"]))
			}
		}
		if tg.name == "select" || (tg.name == "input" && tg.attrs["type"] != "hidden" && !tg.has("hidden")) {
			if !labelled[tg.attrs["id"]] && !slices.ContainsFunc(all, func(l tag) bool {
				return l.name == "label" && l.attrs["for"] == tg.attrs["id"]
			}) {
				problems = append(problems, fmt.Sprintf("<%s name=%q> has no label", tg.name, tg.attrs["name"]))
			}
		}
		if tg.attrs["aria-invalid"] == "true" {
			hasError := false
			for ref := range strings.FieldsSeq(tg.attrs["aria-describedby"]) {
				if ids[ref].attrs["class"] == "field-error" {
					hasError = true
				}
			}
			if !hasError {
				problems = append(problems, fmt.Sprintf("<%s name=%q> is invalid but not described by its error", tg.name, tg.attrs["name"]))
			}
		}
		if tg.has("autofocus") {
			autofocus++
		}
		if tg.name == "img" && !tg.has("alt") {
			problems = append(problems, fmt.Sprintf("<img> without alt"))
		}
	}
	if autofocus > 1 {
		problems = append(problems, fmt.Sprintf("%d elements have autofocus, want at most one", autofocus))
	}
	return problems
}

// TestCheckers makes sure the checks above catch what they are meant to.
func TestCheckers(t *testing.T) {
	tests := []struct {
		name  string
		check func(string) []string
		html  string
	}{
		{"form without CSRF", func(h string) []string { return formProblems(h, []string{"/x"}) },
			`<form method="post" action="/x"><button type="submit">Go</button></form>`},
		{"form with GET", func(h string) []string { return formProblems(h, []string{"/x"}) },
			`<form method="get" action="/x"><input type="hidden" name="gorilla.csrf.Token" value="` + csrf + `"><button type="submit">Go</button></form>`},
		{"unexpected form", func(h string) []string { return formProblems(h, nil) },
			`<form method="post" action="/x"><input type="hidden" name="gorilla.csrf.Token" value="` + csrf + `"><button type="submit">Go</button></form>`},
		{"inline style", cspProblems, `<p style="color: red">x</p>`},
		{"inline handler", cspProblems, `<button type="button" onclick="go()">x</button>`},
		{"inline script", cspProblems, `<script>alert(1)</script>`},
		{"label without input", idProblems, `<label for="a">A</label><input id="b" name="b">`},
		{"duplicate id", idProblems, `<p id="a"></p><p id="a"></p>`},
		{"dangling describedby", idProblems, `<label for="a">A</label><input id="a" name="a" aria-describedby="a-help">`},
		{"invalid without error", idProblems, `<label for="a">A</label><input id="a" name="a" aria-invalid="true">`},
		{"two autofocus", idProblems, `<label for="a">A</label><input id="a" name="a" autofocus><label for="b">B</label><input id="b" name="b" autofocus>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.check(tc.html)) == 0 {
				t.Errorf("no problem found in %s", tc.html)
			}
		})
	}
	ok := `<label for="a">A</label><p class="field-error" id="a-error">Bad</p><input id="a" name="a" aria-invalid="true" aria-describedby="a-error">`
	if p := idProblems(ok); len(p) > 0 {
		t.Errorf("problems in a valid field: %q", p)
	}
}
