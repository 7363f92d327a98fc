package main

import (
	"context"
	"flag"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/portico-dev/portico/portal/client"
)

// uuidRE matches the ids the server gives apps.
var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (a *app) apps(ctx context.Context, org string) ([]client.App, error) {
	c := a.client()
	return client.Collect(ctx, func(ctx context.Context, o client.ListOptions) (*client.Page[client.App], error) {
		o.Limit = 100
		return c.ListApps(ctx, org, o)
	})
}

// appID resolves an app id or an app's name (names are unique in an
// organisation, ignoring case) to the app's id. Anything that names no app
// is passed on as an id, for the server to judge.
func (a *app) appID(ctx context.Context, org, app string) (string, error) {
	if uuidRE.MatchString(app) {
		return app, nil
	}
	apps, err := a.apps(ctx, org)
	if err != nil {
		return "", fmt.Errorf("find app %q: %w", app, err)
	}
	for _, x := range apps {
		if strings.EqualFold(x.Name, app) {
			return x.ID, nil
		}
	}
	return app, nil
}

func checkAppEnv(cmd *command, env string) error {
	if env != "" && env != client.EnvTest && env != client.EnvProduction {
		return usagef(cmd, "--env %s: use test or production", env)
	}
	return nil
}

func appsListCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		apps, err := a.apps(ctx, org)
		if err != nil {
			return err
		}
		return a.output(apps, func() {
			rows := [][]string{}
			for _, x := range apps {
				rows = append(rows, []string{x.ID, x.Name, x.Environment, day(x.CreatedAt), x.Description})
			}
			a.table([]string{"id", "name", "env", "created", "description"}, rows)
		})
	}
}

func (a *app) showApp(x *client.App) {
	a.fields([][2]string{
		{"id", x.ID}, {"name", x.Name}, {"environment", x.Environment}, {"description", x.Description},
		{"created", day(x.CreatedAt)}, {"updated", day(x.UpdatedAt)},
	})
}

func appsGetCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<app>"); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		id, err := a.appID(ctx, org, args[0])
		if err != nil {
			return err
		}
		x, err := a.client().GetApp(ctx, org, id)
		if err != nil {
			return err
		}
		return a.output(x, func() { a.showApp(x) })
	}
}

func appsCreateCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	name := fs.String("name", "", "the app's name, unique in the organisation (required)")
	description := fs.String("description", "", "what the app is")
	env := fs.String("env", "", "test or production (default production); it cannot change later")
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args); err != nil {
			return err
		}
		if *name == "" {
			return usagef(cmd, "--name is required")
		}
		if err := checkAppEnv(cmd, *env); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		x, err := a.client().CreateApp(ctx, org, client.AppRequest{Name: *name, Description: *description, Environment: *env})
		if err != nil {
			return err
		}
		return a.output(x, func() {
			fmt.Fprintf(a.stdout, "Created app %s (%s) in %s, id %s.\nIssue its keys with 'porticoctl keys create --app %s'.\n", x.Name, x.Environment, org, x.ID, x.ID)
		})
	}
}

func appsUpdateCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	name := fs.String("name", "", "new name")
	description := fs.String("description", "", "new description")
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<app>"); err != nil {
			return err
		}
		set := setFlags(fs)
		var p client.AppPatch
		if set["name"] {
			p.Name = name
		}
		if set["description"] {
			p.Description = description
		}
		if p.Name == nil && p.Description == nil {
			return usagef(cmd, "nothing to change: give --name or --description (an app's environment cannot change)")
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		id, err := a.appID(ctx, org, args[0])
		if err != nil {
			return err
		}
		x, err := a.client().UpdateApp(ctx, org, id, p)
		if err != nil {
			return err
		}
		return a.output(x, func() { fmt.Fprintf(a.stdout, "Updated app %s (%s).\n", x.Name, x.ID) })
	}
}

func appsDeleteCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	yes := fs.Bool("yes", false, "confirm: the app's keys are revoked and its subscriptions cancelled")
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<app>"); err != nil {
			return err
		}
		if !*yes {
			return usagef(cmd, "deleting an app revokes its keys and cancels its subscriptions; confirm with --yes")
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		id, err := a.appID(ctx, org, args[0])
		if err != nil {
			return err
		}
		if err := a.client().DeleteApp(ctx, org, id); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "Deleted app %s; its keys are revoked and its subscriptions cancelled.\n", args[0])
		return nil
	}
}

// keyFlags declares the flags of keys create and user-keys create.
type keyFlags struct {
	name, expires *string
	days          *int
}

func newKeyFlags(fs *flag.FlagSet) *keyFlags {
	return &keyFlags{
		name:    fs.String("name", "", "key name (default: the server's, after today's date)"),
		expires: fs.String("expires", "", "expiry date (2027-06-30, midnight UTC) or RFC 3339 time (default: never)"),
		days:    fs.Int("expires-in-days", 0, "expire this many days from now (default: never)"),
	}
}

func (f *keyFlags) request(cmd *command, now time.Time) (client.KeyRequest, error) {
	req := client.KeyRequest{Name: *f.name}
	switch {
	case *f.expires != "" && *f.days != 0:
		return req, usagef(cmd, "give --expires or --expires-in-days, not both")
	case *f.days < 0:
		return req, usagef(cmd, "--expires-in-days %d: use a positive number of days", *f.days)
	case *f.days > 0:
		t := now.UTC().AddDate(0, 0, *f.days).Truncate(time.Second)
		req.ExpiresAt = &t
	case *f.expires != "":
		t, err := time.Parse(time.RFC3339, *f.expires)
		if err != nil {
			t, err = time.Parse(time.DateOnly, *f.expires)
		}
		if err != nil {
			return req, usagef(cmd, "--expires %q: use a date like 2027-06-30 or an RFC 3339 time", *f.expires)
		}
		req.ExpiresAt = &t
	}
	return req, nil
}

// printNewKey shows a new key with its secret, once, and warns on standard
// error that it will not be shown again.
func (a *app) printNewKey(k *client.NewKey, what string, next string) error {
	err := a.output(k, func() {
		fmt.Fprintf(a.stdout, "Created %s %s (%s), expires %s.\n", what, k.AccessKey, k.Name, dayPtr(k.ExpiresAt, "never"))
		fmt.Fprintf(a.stdout, "Access key: %s\nSecret key: %s\n", k.AccessKey, k.SecretKey)
		if next != "" {
			fmt.Fprintln(a.stdout, next)
		}
	})
	fmt.Fprintln(a.stderr, "porticoctl: warning: the secret key is shown only now and cannot be retrieved later; store it safely (a secrets manager, not a repository).")
	return err
}

func (a *app) keysTable(keys []client.Key) {
	rows := [][]string{}
	for _, k := range keys {
		rows = append(rows, []string{k.AccessKey, k.Name, k.Status, dayPtr(k.ExpiresAt, "never"), dayPtr(k.LastUsedAt, "never"), day(k.CreatedAt)})
	}
	a.table([]string{"access key", "name", "status", "expires", "last used", "created"}, rows)
}

func appFlag(fs *flag.FlagSet) *string {
	return fs.String("app", "", "the app: its id or its name (required)")
}

// keysApp returns the organisation and the id of the app --app names.
func (a *app) keysApp(ctx context.Context, cmd *command, app string) (org, id string, err error) {
	if app == "" {
		return "", "", usagef(cmd, "--app is required: the app whose keys these are (its id or name)")
	}
	if org, err = a.orgSlug(ctx); err != nil {
		return "", "", err
	}
	id, err = a.appID(ctx, org, app)
	return org, id, err
}

func keysListCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	app := appFlag(fs)
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args); err != nil {
			return err
		}
		org, id, err := a.keysApp(ctx, cmd, *app)
		if err != nil {
			return err
		}
		keys, err := a.client().ListAppKeys(ctx, org, id)
		if err != nil {
			return err
		}
		return a.output(keys, func() { a.keysTable(keys) })
	}
}

func keysCreateCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	app := appFlag(fs)
	kf := newKeyFlags(fs)
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args); err != nil {
			return err
		}
		req, err := kf.request(cmd, time.Now())
		if err != nil {
			return err
		}
		org, id, err := a.keysApp(ctx, cmd, *app)
		if err != nil {
			return err
		}
		k, err := a.client().CreateAppKey(ctx, org, id, req)
		if err != nil {
			return err
		}
		return a.printNewKey(k, "app key", "The app signs its calls through the gateway with this pair (AWS Signature Version 4, service apigw).")
	}
}

func keysRevokeCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return revokeCredentialCmd(a, cmd, fs, "<access-key>", func(ctx context.Context, c *client.Client, org, app, id string) error {
		return c.RevokeAppKey(ctx, org, app, id)
	}, "Revoked key %s; calls signed with it are refused from now on.\n")
}

// revokeCredentialCmd revokes one of an app's credentials (an AK/SK key or
// an app code) named by the command's argument.
func revokeCredentialCmd(a *app, cmd *command, fs *flag.FlagSet, arg string, revoke func(ctx context.Context, c *client.Client, org, app, id string) error, done string) runner {
	app := appFlag(fs)
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, arg); err != nil {
			return err
		}
		org, id, err := a.keysApp(ctx, cmd, *app)
		if err != nil {
			return err
		}
		if err := revoke(ctx, a.client(), org, id, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, done, args[0])
		return nil
	}
}

func userKeysListCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args); err != nil {
			return err
		}
		keys, err := a.client().ListUserKeys(ctx)
		if err != nil {
			return err
		}
		return a.output(keys, func() { a.keysTable(keys) })
	}
}

func userKeysCreateCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	kf := newKeyFlags(fs)
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args); err != nil {
			return err
		}
		req, err := kf.request(cmd, time.Now())
		if err != nil {
			return err
		}
		k, err := a.client().CreateUserKey(ctx, req)
		if err != nil {
			return err
		}
		return a.printNewKey(k, "management API key", "Log in with it: porticoctl login --access-key "+k.AccessKey+" --secret-key-stdin")
	}
}

func userKeysRevokeCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<access-key>"); err != nil {
			return err
		}
		if err := a.client().RevokeUserKey(ctx, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "Revoked key %s.\n", args[0])
		if a.credentials().accessKey == args[0] {
			fmt.Fprintln(a.stdout, "porticoctl was signing with this key: log in again.")
		}
		return nil
	}
}

func appCodesListCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	app := appFlag(fs)
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args); err != nil {
			return err
		}
		org, id, err := a.keysApp(ctx, cmd, *app)
		if err != nil {
			return err
		}
		codes, err := a.client().ListAppCodes(ctx, org, id)
		if err != nil {
			return err
		}
		return a.output(codes, func() {
			rows := [][]string{}
			for _, c := range codes {
				rows = append(rows, []string{c.ID, c.Prefix + "…", c.Name, c.Status, dayPtr(c.LastUsedAt, "never"), day(c.CreatedAt)})
			}
			a.table([]string{"id", "code", "name", "status", "last used", "created"}, rows)
		})
	}
}

func appCodesCreateCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	app := appFlag(fs)
	name := fs.String("name", "", "where the code is used (default: the date)")
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args); err != nil {
			return err
		}
		org, id, err := a.keysApp(ctx, cmd, *app)
		if err != nil {
			return err
		}
		c, err := a.client().CreateAppCode(ctx, org, id, client.AppCodeRequest{Name: *name})
		if err != nil {
			return err
		}
		err = a.output(c, func() {
			fmt.Fprintf(a.stdout, "Created app code %s… (%s), id %s.\nApp code: %s\n", c.Prefix, c.Name, c.ID, c.Code)
			fmt.Fprintln(a.stdout, "Send it as X-Portico-App-Code to API versions that accept app codes. It is weaker than a signature: prefer keys where the client can sign.")
		})
		fmt.Fprintln(a.stderr, "porticoctl: warning: the app code is shown only now and cannot be retrieved later; store it safely (a secrets manager, not a repository).")
		return err
	}
}

func appCodesRevokeCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return revokeCredentialCmd(a, cmd, fs, "<id>", func(ctx context.Context, c *client.Client, org, app, id string) error {
		return c.RevokeAppCode(ctx, org, app, id)
	}, "Revoked app code %s; calls carrying it are refused from now on.\n")
}
