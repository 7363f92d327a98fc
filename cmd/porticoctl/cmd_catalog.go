package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/portico-dev/portico/portal/client"
)

// setFlags returns the names of the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

func splitList(s string) []string {
	out := []string{}
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// apiFlags declares the metadata flags of apis create and update and
// returns a function that builds the request from the ones given.
func apiFlags(fs *flag.FlagSet) func() client.APIRequest {
	strs := map[string]*string{}
	for _, f := range []struct{ name, usage string }{
		{"name", "display name"}, {"summary", "one-line summary"}, {"description", "Markdown description"},
		{"category", "market category, like weather"}, {"tags", "comma-separated tags"},
		{"visibility", "public, unlisted or private"}, {"logo-url", "logo URL"}, {"contact-url", "contact URL (https: or mailto:)"},
		{"terms-url", "terms of use URL"},
	} {
		strs[f.name] = fs.String(f.name, "", f.usage)
	}
	return func() client.APIRequest {
		set := setFlags(fs)
		get := func(name string) *string {
			if !set[name] {
				return nil
			}
			return strs[name]
		}
		req := client.APIRequest{Name: get("name"), Summary: get("summary"), Description: get("description"), Category: get("category"),
			LogoURL: get("logo-url"), ContactURL: get("contact-url"), TermsURL: get("terms-url")}
		if set["tags"] {
			tags := splitList(*strs["tags"])
			req.Tags = &tags
		}
		if set["visibility"] {
			v := client.Visibility(*strs["visibility"])
			req.Visibility = &v
		}
		return req
	}
}

func apisListCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		c := a.client()
		apis, err := client.Collect(ctx, func(ctx context.Context, o client.ListOptions) (*client.Page[client.API], error) {
			o.Limit = 100
			return c.ListAPIs(ctx, org, o)
		})
		if err != nil {
			return err
		}
		return a.output(apis, func() {
			rows := [][]string{}
			for _, x := range apis {
				rows = append(rows, []string{x.Slug, x.Name, string(x.Visibility), x.Category, day(x.UpdatedAt)})
			}
			a.table([]string{"slug", "name", "visibility", "category", "updated"}, rows)
		})
	}
}

func (a *app) showAPI(x *client.API) {
	a.fields([][2]string{
		{"slug", x.Slug}, {"name", x.Name}, {"summary", x.Summary}, {"category", x.Category},
		{"tags", strings.Join(x.Tags, ", ")}, {"visibility", string(x.Visibility)}, {"logo url", x.LogoURL},
		{"contact url", x.ContactURL}, {"terms url", x.TermsURL}, {"created", day(x.CreatedAt)}, {"updated", day(x.UpdatedAt)},
	})
	if x.Description != "" {
		fmt.Fprintf(a.stdout, "\n%s\n", strings.TrimRight(x.Description, "\n"))
	}
}

func apisGetCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<api>"); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		x, err := a.client().GetAPI(ctx, org, args[0])
		if err != nil {
			return err
		}
		return a.output(x, func() { a.showAPI(x) })
	}
}

func apisCreateCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	build := apiFlags(fs)
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<slug>"); err != nil {
			return err
		}
		req := build()
		if req.Name == nil {
			return usagef(cmd, "--name is required")
		}
		req.Slug = &args[0]
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		x, err := a.client().CreateAPI(ctx, org, req)
		if err != nil {
			return err
		}
		return a.output(x, func() { fmt.Fprintf(a.stdout, "Created API %s in %s.\n", x.Slug, org) })
	}
}

func apisUpdateCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	build := apiFlags(fs)
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<api>"); err != nil {
			return err
		}
		req := build()
		if req == (client.APIRequest{}) {
			return usagef(cmd, "nothing to change: give at least one of --name, --summary, --description, --category, --tags, --visibility, --logo-url, --contact-url, --terms-url")
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		x, err := a.client().UpdateAPI(ctx, org, args[0], req)
		if err != nil {
			return err
		}
		return a.output(x, func() { fmt.Fprintf(a.stdout, "Updated API %s.\n", x.Slug) })
	}
}

// envCell summarises an environment of a version for a table.
func envCell(d *client.Deployment) string {
	switch {
	case d == nil:
		return "-"
	case d.UpToDate():
		return fmt.Sprintf("r%d", d.Revision)
	default:
		return fmt.Sprintf("r%d (%d pending)", d.Revision, len(d.PendingChanges))
	}
}

func backendOf(v *client.Version) string {
	if v.Mock {
		return "mock"
	}
	if v.Upstream == nil || len(v.Upstream.Targets) == 0 {
		return "none"
	}
	var urls []string
	for _, t := range v.Upstream.Targets {
		urls = append(urls, t.URL)
	}
	return strings.Join(urls, ", ")
}

func versionsListCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<api>"); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		c := a.client()
		vs, err := c.ListVersions(ctx, org, args[0])
		if err != nil {
			return err
		}
		// The list carries no environments; the detail of each does.
		for i := range vs {
			d, err := c.GetVersion(ctx, org, args[0], vs[i].Version)
			if err != nil {
				return err
			}
			vs[i] = *d
		}
		return a.output(vs, func() {
			rows := [][]string{}
			for i := range vs {
				v := &vs[i]
				rows = append(rows, []string{v.Version, string(v.State), backendOf(v), envCell(v.Environments[client.EnvTest]),
					envCell(v.Environments[client.EnvProduction]), dayPtr(v.SunsetAt, ""), day(v.UpdatedAt)})
			}
			a.table([]string{"version", "state", "backend", "test", "production", "sunset", "updated"}, rows)
		})
	}
}

func versionsGetCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<api>", "<version>"); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		v, err := a.client().GetVersion(ctx, org, args[0], args[1])
		if err != nil {
			return err
		}
		return a.output(v, func() { a.showVersion(v) })
	}
}

func (a *app) showVersion(v *client.Version) {
	pairs := [][2]string{{"version", v.Version}, {"state", string(v.State)}, {"backend", backendOf(v)}}
	if u := v.Upstream; u != nil && !v.Mock {
		pairs = append(pairs, [2]string{"timeouts", fmt.Sprintf("connect %d ms, response %d ms, %d retries", u.ConnectTimeoutMS, u.TimeoutMS, u.Retries)})
	}
	pairs = append(pairs, [2]string{"max body", fmt.Sprintf("%d bytes", v.Settings.MaxBodyBytes)},
		[2]string{"openapi", strconv.FormatBool(v.HasOpenAPI)})
	if v.Settings.Public {
		pairs = append(pairs, [2]string{"public", "yes: no key needed, nothing metered"})
	}
	if len(v.Settings.CORSOrigins) > 0 {
		age := ""
		if v.Settings.CORSMaxAge != nil {
			age = fmt.Sprintf(" (preflight max age %d s)", *v.Settings.CORSMaxAge)
		}
		pairs = append(pairs, [2]string{"cors origins", strings.Join(v.Settings.CORSOrigins, " ") + age})
	}
	if v.SunsetAt != nil {
		pairs = append(pairs, [2]string{"sunset", day(*v.SunsetAt)})
	}
	a.fields(pairs)
	fmt.Fprintln(a.stdout)
	rows := [][]string{}
	for _, env := range []string{client.EnvTest, client.EnvProduction} {
		d := v.Environments[env]
		if d == nil {
			rows = append(rows, []string{env, "-", "", "", "not deployed"})
			continue
		}
		status := "up to date"
		if !d.UpToDate() {
			status = strings.Join(d.PendingChanges, "; ")
		}
		rows = append(rows, []string{env, strconv.Itoa(d.Revision), d.Kind, day(d.CreatedAt), status})
	}
	a.table([]string{"environment", "revision", "kind", "deployed", "pending changes"}, rows)
	if len(v.Operations) > 0 {
		fmt.Fprintln(a.stdout)
		rows = [][]string{}
		for _, o := range v.Operations {
			rows = append(rows, []string{o.Method, o.Path, o.OperationID, strconv.FormatBool(o.Billable), o.Summary})
		}
		a.table([]string{"method", "path", "operation", "billable", "summary"}, rows)
	}
}

// versionFlags declares the draft flags of versions create and update.
type versionFlags struct {
	fs                               *flag.FlagSet
	openapi, upstream, healthCheck   *string
	mock, requireNonce, allowAppCode *bool
	public                           *bool
	timeout, connectTimeout, retries *int
	maxBody                          *int64
	corsOrigins                      *stringsFlag
	corsMaxAge                       *int
}

// stringsFlag is a repeatable flag; each use may also hold several values
// separated by commas.
type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }

// Set implements flag.Value.
func (s *stringsFlag) Set(v string) error {
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" {
			*s = append(*s, e)
		}
	}
	return nil
}

func newVersionFlags(fs *flag.FlagSet) *versionFlags {
	f := &versionFlags{fs: fs,
		openapi:        fs.String("openapi", "", "OpenAPI 3 document file (JSON or YAML)"),
		upstream:       fs.String("upstream", "", "upstream URL; several separated by commas"),
		healthCheck:    fs.String("health-check-path", "", "path probed on each upstream target"),
		mock:           fs.Bool("mock", false, "answer from the OpenAPI examples instead of an upstream"),
		requireNonce:   fs.Bool("require-nonce", false, "require X-Portico-Nonce on every call"),
		allowAppCode:   fs.Bool("allow-app-code", false, "let clients that cannot sign use X-Portico-App-Code"),
		public:         fs.Bool("public", false, "anyone may call without a key: nothing is checked, limited or metered"),
		timeout:        fs.Int("timeout-ms", 0, "upstream response timeout in milliseconds"),
		connectTimeout: fs.Int("connect-timeout-ms", 0, "upstream connect timeout in milliseconds"),
		retries:        fs.Int("retries", 0, "retries of idempotent calls on another target (0–5)"),
		maxBody:        fs.Int64("max-body-bytes", 0, "largest request body in bytes"),
		corsOrigins:    new(stringsFlag),
		corsMaxAge:     fs.Int("cors-max-age", 0, "seconds browsers may keep a CORS preflight's answer (0–86400; default 600)"),
	}
	fs.Var(f.corsOrigins, "cors-origin", "web origin (scheme://host[:port], or *) whose pages may call the version from a browser; repeat for several, give \"\" to turn CORS off")
	return f
}

// request builds the draft request from the flags given, starting from
// the version as it is (nil when creating).
func (f *versionFlags) request(cmd *command, cur *client.Version) (client.VersionRequest, error) {
	set := setFlags(f.fs)
	var req client.VersionRequest
	if set["openapi"] {
		b, err := os.ReadFile(*f.openapi)
		if err != nil {
			return req, fmt.Errorf("read the OpenAPI document: %w", err)
		}
		req.OpenAPI = string(b)
	}
	if set["mock"] {
		req.Mock = f.mock
		if *f.mock && set["upstream"] {
			return req, usagef(cmd, "give either --upstream or --mock, not both")
		}
	}
	if set["upstream"] || set["timeout-ms"] || set["connect-timeout-ms"] || set["retries"] || set["health-check-path"] {
		up := client.Upstream{}
		if cur != nil && cur.Upstream != nil {
			up = *cur.Upstream
		}
		if set["upstream"] {
			up.Targets = nil
			for _, u := range splitList(*f.upstream) {
				up.Targets = append(up.Targets, client.Target{URL: u})
			}
		}
		if set["timeout-ms"] {
			up.TimeoutMS = *f.timeout
		}
		if set["connect-timeout-ms"] {
			up.ConnectTimeoutMS = *f.connectTimeout
		}
		if set["retries"] {
			up.Retries = *f.retries
		}
		if set["health-check-path"] {
			up.HealthCheckPath = *f.healthCheck
		}
		if len(up.Targets) == 0 {
			return req, usagef(cmd, "--upstream is required with the other upstream flags")
		}
		req.Upstream = &up
	}
	if set["max-body-bytes"] || set["require-nonce"] || set["allow-app-code"] || set["public"] || set["cors-origin"] || set["cors-max-age"] {
		s := client.Settings{}
		if cur != nil {
			s = cur.Settings
		}
		if set["max-body-bytes"] {
			s.MaxBodyBytes = *f.maxBody
		}
		if set["require-nonce"] {
			s.RequireNonce = *f.requireNonce
		}
		if set["allow-app-code"] {
			s.AllowAppCode = *f.allowAppCode
		}
		if set["public"] {
			s.Public = *f.public
		}
		if set["cors-origin"] {
			s.CORSOrigins = []string(*f.corsOrigins)
			if len(s.CORSOrigins) == 0 {
				s.CORSMaxAge = nil // CORS off: the server keeps no max age
			}
		}
		if set["cors-max-age"] {
			s.CORSMaxAge = f.corsMaxAge
		}
		req.Settings = &s
	}
	return req, nil
}

func versionsCreateCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	vf := newVersionFlags(fs)
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<api>", "<version>"); err != nil {
			return err
		}
		req, err := vf.request(cmd, nil)
		if err != nil {
			return err
		}
		req.Version = args[1]
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		v, err := a.client().CreateVersion(ctx, org, args[0], req)
		if err != nil {
			return err
		}
		return a.output(v, func() {
			fmt.Fprintf(a.stdout, "Created version %s of %s as a draft.\n", v.Version, args[0])
			if k := v.BackendKey; k != nil && k.Secret != "" {
				fmt.Fprintf(a.stdout, "Backend signing key %s, secret (shown only now):\n%s\n", k.KeyID, k.Secret)
			}
		})
	}
}

func versionsUpdateCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	vf := newVersionFlags(fs)
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<api>", "<version>"); err != nil {
			return err
		}
		if len(setFlags(fs)) == 0 {
			return usagef(cmd, "nothing to change: give --openapi, --upstream, --mock or another draft flag")
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		c := a.client()
		cur, err := c.GetVersion(ctx, org, args[0], args[1])
		if err != nil {
			return err
		}
		req, err := vf.request(cmd, cur)
		if err != nil {
			return err
		}
		if req.OpenAPI == nil && req.Mock == nil && req.Upstream == nil && req.Settings == nil {
			return usagef(cmd, "nothing to change: give --openapi, --upstream, --mock or another draft flag")
		}
		v, err := c.UpdateVersion(ctx, org, args[0], args[1], req)
		if err != nil {
			return err
		}
		return a.output(v, func() {
			fmt.Fprintf(a.stdout, "Updated the draft of %s %s.\n", args[0], v.Version)
			for _, env := range []string{client.EnvTest, client.EnvProduction} {
				if d := v.Environments[env]; d != nil && !d.UpToDate() {
					fmt.Fprintf(a.stdout, "Deploying to %s would change: %s\n", env, strings.Join(d.PendingChanges, "; "))
				}
			}
		})
	}
}

func envFlag(fs *flag.FlagSet) *string {
	return fs.String("env", "", "environment: test or production")
}

func checkEnv(cmd *command, env string) error {
	if env != client.EnvTest && env != client.EnvProduction {
		if env == "" {
			return usagef(cmd, "--env is required: test or production")
		}
		return usagef(cmd, "--env %s: use test or production", env)
	}
	return nil
}

func (a *app) printDeployment(what string, d *client.Deployment) {
	fmt.Fprintf(a.stdout, "%s: %s is now at revision %d.\n", what, d.Environment, d.Revision)
	for _, ch := range d.Changes {
		fmt.Fprintf(a.stdout, "  %s\n", ch)
	}
}

func versionsDeployCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	env := envFlag(fs)
	note := fs.String("note", "", "note recorded with the revision")
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<api>", "<version>"); err != nil {
			return err
		}
		if err := checkEnv(cmd, *env); err != nil {
			return err
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		d, err := a.client().Deploy(ctx, org, args[0], args[1], client.DeployRequest{Environment: *env, Note: *note})
		if err != nil {
			return err
		}
		return a.output(d, func() { a.printDeployment("Deployed "+args[0]+" "+args[1], d) })
	}
}

func versionsRollbackCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	env := envFlag(fs)
	rev := fs.Int("revision", 0, "revision number to make live again")
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<api>", "<version>"); err != nil {
			return err
		}
		if err := checkEnv(cmd, *env); err != nil {
			return err
		}
		if *rev < 1 {
			return usagef(cmd, "--revision is required: the revision number to roll back to (see versions get)")
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		d, err := a.client().Rollback(ctx, org, args[0], args[1], *env, *rev)
		if err != nil {
			return err
		}
		return a.output(d, func() { a.printDeployment(fmt.Sprintf("Rolled %s %s back to revision %d", args[0], args[1], *rev), d) })
	}
}

func versionsDeprecateCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	sunset := fs.String("sunset", "", "sunset date (2027-06-30) or RFC 3339 time")
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<api>", "<version>"); err != nil {
			return err
		}
		if *sunset == "" {
			return usagef(cmd, "--sunset is required: the date the version goes away, like 2027-06-30")
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		v, err := a.client().DeprecateVersion(ctx, org, args[0], args[1], *sunset)
		if err != nil {
			return err
		}
		return a.output(v, func() {
			fmt.Fprintf(a.stdout, "Deprecated %s %s; sunset %s.\n", args[0], v.Version, dayPtr(v.SunsetAt, *sunset))
		})
	}
}

func versionsOfflineCmd(a *app, cmd *command, fs *flag.FlagSet) runner {
	yes := fs.Bool("yes", false, "confirm: offline is final")
	return func(ctx context.Context, args []string) error {
		if err := need(cmd, args, "<api>", "<version>"); err != nil {
			return err
		}
		if !*yes {
			return usagef(cmd, "taking a version offline is final (the gateway answers 410 Gone); confirm with --yes")
		}
		org, err := a.orgSlug(ctx)
		if err != nil {
			return err
		}
		v, err := a.client().TakeVersionOffline(ctx, org, args[0], args[1])
		if err != nil {
			return err
		}
		return a.output(v, func() { fmt.Fprintf(a.stdout, "%s %s is offline.\n", args[0], v.Version) })
	}
}
