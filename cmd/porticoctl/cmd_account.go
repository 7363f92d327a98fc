package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/portico-dev/portico/portal/client"
)

// password reads a password: all of standard input with --password-stdin,
// else a prompt without echo when standard input is a terminal.
func (a *app) password(cmd *command, fromStdin bool) (string, error) {
	if fromStdin {
		b, err := io.ReadAll(io.LimitReader(a.stdin, 4096))
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return "", usagef(cmd, "--password-stdin: standard input is empty")
		}
		return pw, nil
	}
	if !a.stdinIsTerminal() {
		return "", usagef(cmd, "standard input is not a terminal: pipe the password with --password-stdin")
	}
	fmt.Fprint(a.stderr, "Password: ")
	b, err := a.readPassword()
	fmt.Fprintln(a.stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(b), nil
}

// email returns --email, the stored email, or asks for it on a terminal.
func (a *app) email(cmd *command, flagValue string, passwordFromStdin bool) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if cfg, err := a.config(); err == nil && cfg.Email != "" && sameServer(cfg.Server, a.server()) {
		return cfg.Email, nil
	}
	if passwordFromStdin || !a.stdinIsTerminal() {
		return "", usagef(cmd, "give your email with --email")
	}
	fmt.Fprint(a.stderr, "Email: ")
	return a.readLine()
}

func defaultTokenName() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "this computer"
	}
	return "porticoctl on " + host
}

func loginCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	email := fs.String("email", "", "your email address (asked for when missing)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	name := fs.String("name", defaultTokenName(), "name of the token login creates")
	days := fs.Int("expires-in-days", -1, "token lifetime in days, 0 for no expiry (default: the server's)")
	accessKey := fs.String("access-key", "", "log in with a management API key (PU…) instead: requests are then signed with it")
	skStdin := fs.Bool("secret-key-stdin", false, "read the secret key of --access-key from standard input")
	region := fs.String("region", "", "the server's region, for signing with --access-key (env PORTICO_REGION; default: the one the server names)")
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args); err != nil {
			return err
		}
		cfg, err := a.config()
		if err != nil {
			return err
		}
		server := a.server()
		next := Config{Server: server}
		var me *client.Me
		switch {
		case *accessKey != "":
			if a.g.token.set || *pwStdin || *email != "" {
				return usagef(cmd, "--access-key logs in with a key pair; it takes no --token, --email or --password-stdin")
			}
			if err := checkUserAccessKey(cmd, *accessKey); err != nil {
				return err
			}
			sk, err := a.secretKey(cmd, *skStdin)
			if err != nil {
				return err
			}
			reg := *region
			if reg == "" {
				reg = a.getenv("PORTICO_REGION")
			}
			me, reg, err = a.checkAccessKey(ctx, server, *accessKey, sk, reg, reg == "")
			if err != nil {
				return err
			}
			next.AccessKey, next.SecretKey, next.Region, next.Email = *accessKey, sk, reg, me.User.Email
		case *skStdin || *region != "":
			return usagef(cmd, "--secret-key-stdin and --region go with --access-key")
		case a.g.token.set:
			if *pwStdin || *email != "" {
				return usagef(cmd, "--token stores an existing token; it takes no --email or --password-stdin")
			}
			c := client.New(server, client.WithToken(a.g.token.v))
			me, err = c.Me(ctx)
			if err != nil {
				return fmt.Errorf("check the token: %w", err)
			}
			next.Token, next.Email = a.g.token.v, me.User.Email
		default:
			em, err := a.email(cmd, *email, *pwStdin)
			if err != nil {
				return err
			}
			pw, err := a.password(cmd, *pwStdin)
			if err != nil {
				return err
			}
			req := client.CreateTokenRequest{Name: *name}
			if *days >= 0 {
				req.ExpiresInDays = days
			}
			tok, err := client.New(server).CreateToken(ctx, em, pw, req)
			if err != nil {
				return err
			}
			next.Token, next.TokenID, next.Email = tok.Token, tok.ID, em
			me, err = client.New(server, client.WithToken(next.Token)).Me(ctx)
			if err != nil {
				return err
			}
		}
		*cfg = next
		if err := saveConfig(a.cfgPath, cfg); err != nil {
			return err
		}
		var orgs []string
		for _, m := range me.Memberships {
			orgs = append(orgs, m.Organization.Slug)
		}
		fmt.Fprintf(a.stdout, "Logged in to %s as %s", server, me.User.Email)
		if next.AccessKey != "" {
			fmt.Fprintf(a.stdout, " with access key %s (requests are signed; region %s)", next.AccessKey, regionName(next.Region))
		}
		fmt.Fprint(a.stdout, ".")
		if len(orgs) > 0 {
			fmt.Fprintf(a.stdout, " Organisations: %s.", strings.Join(orgs, ", "))
		}
		fmt.Fprintf(a.stdout, "\nSaved to %s.\n", a.cfgPath)
		return nil
	}
}

func regionName(r string) string {
	if r == "" {
		return "local"
	}
	return r
}

// checkUserAccessKey checks the shape of a management API access key id
// (signing.md: PU and 18 upper-case letters or digits).
func checkUserAccessKey(cmd *command, ak string) error {
	if strings.HasPrefix(ak, "PK") {
		return usagef(cmd, "--access-key %s is an app key, for calling APIs through the gateway; the management API takes a user key (PU…): create one with 'porticoctl user-keys create'", ak)
	}
	if len(ak) != 20 || !strings.HasPrefix(ak, "PU") || strings.IndexFunc(ak, func(r rune) bool { return !('A' <= r && r <= 'Z' || '0' <= r && r <= '9') }) >= 0 {
		return usagef(cmd, "--access-key %q: a management API key id is PU followed by 18 upper-case letters and digits", ak)
	}
	return nil
}

// secretKey reads a secret key: all of standard input with
// --secret-key-stdin, else a prompt without echo on a terminal.
func (a *app) secretKey(cmd *command, fromStdin bool) (string, error) {
	var sk string
	switch {
	case fromStdin:
		b, err := io.ReadAll(io.LimitReader(a.stdin, 4096))
		if err != nil {
			return "", fmt.Errorf("read secret key: %w", err)
		}
		sk = strings.TrimSpace(string(b))
		if sk == "" {
			return "", usagef(cmd, "--secret-key-stdin: standard input is empty")
		}
	case !a.stdinIsTerminal():
		return "", usagef(cmd, "standard input is not a terminal: pipe the secret key with --secret-key-stdin")
	default:
		fmt.Fprint(a.stderr, "Secret key: ")
		b, err := a.readPassword()
		fmt.Fprintln(a.stderr)
		if err != nil {
			return "", fmt.Errorf("read secret key: %w", err)
		}
		sk = strings.TrimSpace(string(b))
	}
	if len(sk) != 40 || strings.IndexFunc(sk, func(r rune) bool {
		return !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '/' || r == '+')
	}) >= 0 {
		return "", usagef(cmd, "the secret key is 40 characters from A-Z, a-z, 0-9, / and + (as 'user-keys create' printed it)")
	}
	return sk, nil
}

// checkAccessKey signs a request for the caller's identity with the key
// pair. When the region was not chosen and the server names another one in
// its answer, it tries once more with that region, which it returns.
func (a *app) checkAccessKey(ctx context.Context, server, ak, sk, region string, learnRegion bool) (*client.Me, string, error) {
	me, err := client.New(server, client.WithAccessKey(ak, sk, region), client.WithUserAgent("porticoctl/1")).Me(ctx)
	if e := client.AsError(err); learnRegion && e != nil && e.Code() == client.CodeInvalidScope {
		if r := scopeRegion(e.ExpectedScope); r != "" && r != regionName(region) {
			region = r
			me, err = client.New(server, client.WithAccessKey(ak, sk, region), client.WithUserAgent("porticoctl/1")).Me(ctx)
		}
	}
	if err != nil {
		return nil, "", fmt.Errorf("check the access key: %w", err)
	}
	return me, region, nil
}

func logoutCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args); err != nil {
			return err
		}
		cfg, err := a.config()
		if err != nil {
			return err
		}
		if cfg.Token == "" && cfg.AccessKey == "" {
			fmt.Fprintln(a.stdout, "Not logged in.")
			return nil
		}
		if cfg.TokenID != "" {
			c := client.New(cfg.Server, client.WithToken(cfg.Token))
			if err := c.RevokeToken(ctx, cfg.TokenID); err != nil && !client.IsUnauthorized(err) && !client.IsNotFound(err) {
				fmt.Fprintf(a.stderr, "porticoctl: warning: could not revoke the token on the server: %v\n", err)
			}
		}
		server, ak := cfg.Server, cfg.AccessKey
		cfg.Token, cfg.TokenID, cfg.AccessKey, cfg.SecretKey, cfg.Region = "", "", "", "", ""
		if err := saveConfig(a.cfgPath, cfg); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "Logged out of %s.\n", server)
		if ak != "" {
			// login did not create the key, so logout does not revoke it.
			fmt.Fprintf(a.stdout, "The access key %s still works; revoke it with 'porticoctl user-keys revoke %s' if you no longer need it.\n", ak, ak)
		}
		return nil
	}
}

func whoamiCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args); err != nil {
			return err
		}
		me, err := a.client().Me(ctx)
		if err != nil {
			return err
		}
		return a.output(me, func() {
			fmt.Fprintf(a.stdout, "%s <%s> on %s", me.User.Name, me.User.Email, a.server())
			if cr := a.credentials(); cr.accessKey != "" {
				fmt.Fprintf(a.stdout, ", signing with access key %s", cr.accessKey)
			}
			fmt.Fprint(a.stdout, "\n\n")
			rows := [][]string{}
			for _, m := range me.Memberships {
				rows = append(rows, []string{m.Organization.Slug, m.Organization.Name, string(m.Role)})
			}
			a.table([]string{"org", "name", "role"}, rows)
		})
	}
}

func orgsListCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args); err != nil {
			return err
		}
		orgs, err := a.client().ListOrgs(ctx)
		if err != nil {
			return err
		}
		return a.output(orgs, func() {
			rows := [][]string{}
			for _, o := range orgs {
				rows = append(rows, []string{o.Slug, o.Name, string(o.Role), day(o.CreatedAt)})
			}
			a.table([]string{"slug", "name", "role", "created"}, rows)
		})
	}
}

func orgsCreateCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	name := fs.String("name", "", "the organisation's name (required)")
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<slug>"); err != nil {
			return err
		}
		if *name == "" {
			return usagef(cmd, "--name is required")
		}
		o, err := a.client().CreateOrg(ctx, client.CreateOrgRequest{Name: *name, Slug: args[0]})
		if err != nil {
			return err
		}
		return a.output(o, func() { fmt.Fprintf(a.stdout, "Created organisation %s (%s); you are its owner.\n", o.Slug, o.Name) })
	}
}

func (a *app) members(ctx context.Context, org string) ([]client.Member, error) {
	c := a.client()
	return client.Collect(ctx, func(ctx context.Context, o client.ListOptions) (*client.Page[client.Member], error) {
		o.Limit = 100
		return c.ListMembers(ctx, org, o)
	})
}

// memberID resolves a user id or an email address to a member's user id.
func (a *app) memberID(ctx context.Context, org, who string) (string, error) {
	if !strings.Contains(who, "@") {
		return who, nil
	}
	ms, err := a.members(ctx, org)
	if err != nil {
		return "", err
	}
	for _, m := range ms {
		if strings.EqualFold(m.User.Email, who) {
			return m.User.ID, nil
		}
	}
	return "", fmt.Errorf("%s is not a member of %s", who, org)
}

func membersListCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		ms, err := a.members(ctx, org)
		if err != nil {
			return err
		}
		return a.output(ms, func() {
			rows := [][]string{}
			for _, m := range ms {
				rows = append(rows, []string{m.User.ID, m.User.Email, m.User.Name, string(m.Role), day(m.JoinedAt)})
			}
			a.table([]string{"user id", "email", "name", "role", "joined"}, rows)
		})
	}
}

var roles = []client.Role{client.RoleOwner, client.RoleAdmin, client.RoleDeveloper, client.RoleViewer, client.RoleBilling}

func checkRole(cmd *command, r string) error {
	for _, x := range roles {
		if string(x) == r {
			return nil
		}
	}
	return usagef(cmd, "unknown role %q: use owner, admin, developer, viewer or billing", r)
}

func membersInviteCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	role := fs.String("role", "developer", "role once they accept")
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<email>"); err != nil {
			return err
		}
		if err := checkRole(cmd, *role); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		inv, err := a.client().CreateInvitation(ctx, org, client.InvitationRequest{Email: args[0], Role: client.Role(*role)})
		if err != nil {
			return err
		}
		return a.output(inv, func() {
			fmt.Fprintf(a.stdout, "Invited %s to %s as %s; the invitation expires %s.\n", inv.Email, org, inv.Role, day(inv.ExpiresAt))
		})
	}
}

func membersSetRoleCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<user-id|email>", "<role>"); err != nil {
			return err
		}
		if err := checkRole(cmd, args[1]); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		id, err := a.memberID(ctx, org, args[0])
		if err != nil {
			return err
		}
		m, err := a.client().SetMemberRole(ctx, org, id, client.Role(args[1]))
		if err != nil {
			return err
		}
		return a.output(m, func() { fmt.Fprintf(a.stdout, "%s is now %s of %s.\n", m.User.Email, m.Role, org) })
	}
}

func membersRemoveCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<user-id|email>"); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		id, err := a.memberID(ctx, org, args[0])
		if err != nil {
			return err
		}
		if err := a.client().RemoveMember(ctx, org, id); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "Removed %s from %s.\n", args[0], org)
		return nil
	}
}

func tokensListCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args); err != nil {
			return err
		}
		c := a.client()
		toks, err := client.Collect(ctx, func(ctx context.Context, o client.ListOptions) (*client.Page[client.Token], error) {
			o.Limit = 100
			return c.ListTokens(ctx, o)
		})
		if err != nil {
			return err
		}
		return a.output(toks, func() {
			rows := [][]string{}
			for _, t := range toks {
				rows = append(rows, []string{t.ID, t.Name, "…" + t.Hint, t.Status, dayPtr(t.ExpiresAt, "never"), dayPtr(t.LastUsedAt, "never")})
			}
			a.table([]string{"id", "name", "hint", "status", "expires", "last used"}, rows)
		})
	}
}

func tokensCreateCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	name := fs.String("name", "", "token name")
	days := fs.Int("expires-in-days", -1, "lifetime in days, 0 for no expiry (default: the server's)")
	email := fs.String("email", "", "your email address (default: the logged-in user's)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args); err != nil {
			return err
		}
		em, err := a.email(cmd, *email, *pwStdin)
		if err != nil {
			return err
		}
		pw, err := a.password(cmd, *pwStdin)
		if err != nil {
			return err
		}
		req := client.CreateTokenRequest{Name: *name}
		if *days >= 0 {
			req.ExpiresInDays = days
		}
		tok, err := a.client().CreateToken(ctx, em, pw, req)
		if err != nil {
			return err
		}
		return a.output(tok, func() {
			fmt.Fprintf(a.stdout, "Created token %s (%s), expires %s. It is shown only now:\n%s\n", tok.ID, tok.Name, dayPtr(tok.ExpiresAt, "never"), tok.Token)
		})
	}
}

func tokensRevokeCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<token-id>"); err != nil {
			return err
		}
		if err := a.client().RevokeToken(ctx, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "Revoked token %s.\n", args[0])
		return nil
	}
}

func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}

func dayPtr(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return day(*t)
}
