package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/portico-dev/portico/portal/client"
)

const defaultServer = "http://127.0.0.1:8080"

// app is one run of porticoctl: its streams, environment and global flags.
// Tests build one with fakes instead of the process's.
type app struct {
	stdin           io.Reader
	stdout, stderr  io.Writer
	getenv          func(string) string
	stdinIsTerminal func() bool
	readPassword    func() ([]byte, error)

	g         globals
	stdinLine *bufio.Reader
	cfg       *Config
	cfgPath   string
	c         *client.Client
	org       string // resolved --org, cached
}

// globals are the flags every command takes.
type globals struct {
	server trackedString
	token  trackedString
	org    trackedString
	output trackedString
}

// trackedString is a string flag that knows whether it was given.
type trackedString struct {
	v   string
	set bool
}

// String implements flag.Value.
func (t *trackedString) String() string { return t.v }

// Set implements flag.Value.
func (t *trackedString) Set(s string) error { t.v, t.set = s, true; return nil }

// usageError is a mistake in the command line; it exits with status 2.
type usageError struct {
	msg string
	cmd *command
}

// Error is the message, without the usage hint.
func (e *usageError) Error() string { return e.msg }

func usagef(cmd *command, format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), cmd: cmd}
}

// runner runs a command with its positional arguments.
type runner func(ctx context.Context, args []string) error

// command is a node of the command tree: a group with subcommands, or a
// leaf whose setup declares its flags and returns what it runs.
type command struct {
	name    string
	args    string // synopsis of the arguments, for usage
	summary string
	sub     []*command
	// ownOutput: the command uses -o itself (export: the output file).
	ownOutput bool
	setup     func(a *app, cmd *command, fs *flag.FlagSet) runner
	parent    *command
}

func (c *command) path() string {
	if c.parent == nil {
		return c.name
	}
	return c.parent.path() + " " + c.name
}

// run executes the command line args and returns the exit status: 0, 1 for
// a failure, 2 for a usage error.
func (a *app) run(ctx context.Context, args []string) int {
	root := commands()
	err := a.dispatch(ctx, root, args)
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(a.stderr, "porticoctl: %s\n", ue.msg)
		if ue.cmd != nil {
			fmt.Fprintf(a.stderr, "Run '%s -h' for usage.\n", ue.cmd.path())
		}
		return 2
	}
	a.printError(err)
	return 1
}

// printError writes err as "porticoctl: <detail>" with field errors below.
func (a *app) printError(err error) {
	if e := client.AsError(err); e != nil {
		prefix := ""
		if msg := err.Error(); !strings.HasPrefix(msg, e.Error()) {
			// err wraps the problem with what was being done.
			prefix = strings.TrimSuffix(msg, e.Error())
		}
		detail := e.Detail
		if detail == "" {
			detail = e.Title
		}
		fmt.Fprintf(a.stderr, "porticoctl: %s%s\n", prefix, detail)
		for _, f := range e.Fields {
			if len(e.Fields) == 1 && f.Message == e.Detail {
				fmt.Fprintf(a.stderr, "  field: %s\n", f.Field)
				continue
			}
			fmt.Fprintf(a.stderr, "  %s: %s\n", f.Field, f.Message)
		}
		a.printSignatureHints(e)
		if e.StatusCode == 401 {
			fmt.Fprintln(a.stderr, "  (log in with 'porticoctl login', or pass --token)")
		}
		if e.StatusCode >= 500 && e.RequestID != "" {
			fmt.Fprintf(a.stderr, "  request id: %s\n", e.RequestID)
		}
		return
	}
	fmt.Fprintf(a.stderr, "porticoctl: %s\n", err)
}

// printSignatureHints explains a rejected AK/SK signature with what the
// server says it expected.
func (a *app) printSignatureHints(e *client.Error) {
	switch e.Code() {
	case client.CodeInvalidScope:
		if r := scopeRegion(e.ExpectedScope); r != "" {
			fmt.Fprintf(a.stderr, "  the server's region is %s: log in again with --region %s, or set PORTICO_REGION\n", r, r)
		}
	case client.CodeRequestExpired:
		if e.ServerTime != "" {
			fmt.Fprintf(a.stderr, "  server time: %s; check this computer's clock\n", e.ServerTime)
		}
	case client.CodeInvalidAccessKey:
		fmt.Fprintln(a.stderr, "  (create a key with 'porticoctl user-keys create' and log in with it, or log in with your password)")
	case client.CodeSignatureMismatch:
		if e.CanonicalRequest == "" {
			fmt.Fprintln(a.stderr, "  check the secret key")
			return
		}
		fmt.Fprintln(a.stderr, "  check the secret key. The server computed this canonical request:")
		for _, l := range strings.Split(e.CanonicalRequest, "\n") {
			fmt.Fprintf(a.stderr, "    %s\n", l)
		}
	}
}

// scopeRegion returns the region of a credential scope
// (<date>/<region>/apigw/aws4_request), or "".
func scopeRegion(scope string) string {
	parts := strings.Split(scope, "/")
	if len(parts) != 4 {
		return ""
	}
	return parts[1]
}

// dispatch walks the command tree: global flags may come before the
// command, and every command also takes them among its own.
func (a *app) dispatch(ctx context.Context, root *command, args []string) error {
	fs := a.flagSet(root)
	rest, err := parseInterspersed(fs, args, true)
	if err != nil {
		return a.flagError(root, err)
	}
	cmd := root
	for len(cmd.sub) > 0 {
		if len(rest) == 0 {
			if cmd == root {
				a.printUsage(a.stdout, cmd)
				return nil
			}
			a.printUsage(a.stderr, cmd)
			return &usageError{msg: cmd.path() + " needs a subcommand"}
		}
		name := rest[0]
		if name == "help" {
			a.printUsage(a.stdout, cmd)
			return nil
		}
		var next *command
		for _, s := range cmd.sub {
			if s.name == name {
				next = s
			}
		}
		if next == nil {
			return usagef(cmd, "unknown command %q for %s", name, cmd.path())
		}
		cmd, rest = next, rest[1:]
	}
	fs = a.flagSet(cmd)
	run := cmd.setup(a, cmd, fs)
	pos, err := parseInterspersed(fs, rest, false)
	if err != nil {
		return a.flagError(cmd, err)
	}
	if o := a.g.output.v; !cmd.ownOutput && o != "" && o != "table" && o != "json" {
		return usagef(cmd, "-o %s: use -o table or -o json", o)
	}
	return run(ctx, pos)
}

func (a *app) flagError(cmd *command, err error) error {
	if errors.Is(err, flag.ErrHelp) {
		a.printUsage(a.stdout, cmd)
		return err
	}
	return usagef(cmd, "%s", err)
}

// flagSet returns a flag set with the global flags for cmd.
func (a *app) flagSet(cmd *command) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd.path(), flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors come back to run, help goes through printUsage
	fs.Var(&a.g.server, "server", "Portico URL (env PORTICO_URL; default "+defaultServer+")")
	fs.Var(&a.g.token, "token", "personal access token (env PORTICO_TOKEN; default: the one login stored)")
	fs.Var(&a.g.org, "org", "organisation slug (env PORTICO_ORG; default: your first organisation)")
	if !cmd.ownOutput {
		fs.Var(&a.g.output, "o", "output format: table or json")
		fs.Var(&a.g.output, "output", "output format: table or json")
	}
	return fs
}

// parseInterspersed parses flags anywhere among the arguments, the way
// people type them ("apis get pets -o json"). With stopAtCommand it stops
// at the first argument that is not a flag, leaving the rest for the
// subcommand. "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string, stopAtCommand bool) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if stopAtCommand {
			return append(pos, rest...), nil
		}
		// flag stops at "--" without reporting it; find out whether it did.
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func (a *app) printUsage(w io.Writer, cmd *command) {
	if len(cmd.sub) > 0 {
		fmt.Fprintf(w, "Usage: %s <command> [flags]\n\n", cmd.path())
		if cmd.summary != "" {
			fmt.Fprintf(w, "%s\n\n", cmd.summary)
		}
		fmt.Fprintln(w, "Commands:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, s := range cmd.sub {
			fmt.Fprintf(tw, "  %s\t%s\n", s.name, s.summary)
		}
		tw.Flush()
		fmt.Fprintln(w, "\nGlobal flags: --server URL, --token TOKEN, --org SLUG, -o table|json")
		return
	}
	fmt.Fprintf(w, "Usage: %s %s\n\n%s\n\nFlags:\n", cmd.path(), cmd.args, cmd.summary)
	fs := a.flagSet(cmd)
	cmd.setup(a, cmd, fs)
	var lines []string
	fs.VisitAll(func(f *flag.Flag) {
		name := "--" + f.Name
		if len(f.Name) == 1 {
			name = "-" + f.Name
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			name += " (default " + f.DefValue + ")"
		}
		lines = append(lines, fmt.Sprintf("  %s\t%s", name, f.Usage))
	})
	sort.Strings(lines)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, l := range lines {
		fmt.Fprintln(tw, l)
	}
	tw.Flush()
}

// server returns the Portico URL: --server, PORTICO_URL, the logged-in
// server, or the local default.
func (a *app) server() string {
	switch {
	case a.g.server.set:
		return a.g.server.v
	case a.getenv("PORTICO_URL") != "":
		return a.getenv("PORTICO_URL")
	}
	if cfg, err := a.config(); err == nil && cfg.Server != "" {
		return cfg.Server
	}
	return defaultServer
}

// credentials is how requests authenticate: with a token, or signed with
// an access key pair.
type credentials struct {
	token                        string
	accessKey, secretKey, region string
}

// option returns the client option that sends the credentials.
func (cr credentials) option() client.Option {
	if cr.accessKey != "" {
		return client.WithAccessKey(cr.accessKey, cr.secretKey, cr.region)
	}
	return client.WithToken(cr.token)
}

// credentials returns, in this order: --token, PORTICO_TOKEN,
// PORTICO_ACCESS_KEY with PORTICO_SECRET_KEY, or what login stored for this
// same server (never another server's).
func (a *app) credentials() credentials {
	switch {
	case a.g.token.set:
		return credentials{token: a.g.token.v}
	case a.getenv("PORTICO_TOKEN") != "":
		return credentials{token: a.getenv("PORTICO_TOKEN")}
	case a.getenv("PORTICO_ACCESS_KEY") != "":
		return credentials{accessKey: a.getenv("PORTICO_ACCESS_KEY"), secretKey: a.getenv("PORTICO_SECRET_KEY"), region: a.region("")}
	}
	if cfg, err := a.config(); err == nil && sameServer(cfg.Server, a.server()) {
		if cfg.AccessKey != "" {
			return credentials{accessKey: cfg.AccessKey, secretKey: cfg.SecretKey, region: a.region(cfg.Region)}
		}
		return credentials{token: cfg.Token}
	}
	return credentials{}
}

// token returns the token to send, if requests are not signed instead.
func (a *app) token() string { return a.credentials().token }

// region returns PORTICO_REGION, else the region login stored ("" is the
// server's default, local).
func (a *app) region(stored string) string {
	if r := a.getenv("PORTICO_REGION"); r != "" {
		return r
	}
	return stored
}

func (a *app) config() (*Config, error) {
	if a.cfg != nil {
		return a.cfg, nil
	}
	p, err := configPath(a.getenv)
	if err != nil {
		return nil, err
	}
	cfg, err := loadConfig(p)
	if err != nil {
		return nil, err
	}
	a.cfg, a.cfgPath = cfg, p
	return cfg, nil
}

// client returns the API client for the chosen server and credentials.
func (a *app) client() *client.Client {
	if a.c == nil {
		a.c = client.New(a.server(), a.credentials().option(), client.WithUserAgent("porticoctl/1"))
	}
	return a.c
}

// orgSlug returns --org, PORTICO_ORG, or the caller's first organisation.
func (a *app) orgSlug(ctx context.Context) (string, error) {
	switch {
	case a.g.org.set && a.g.org.v != "":
		return a.g.org.v, nil
	case a.getenv("PORTICO_ORG") != "":
		return a.getenv("PORTICO_ORG"), nil
	case a.org != "":
		return a.org, nil
	}
	me, err := a.client().Me(ctx)
	if err != nil {
		return "", fmt.Errorf("find your organisation: %w", err)
	}
	if len(me.Memberships) == 0 {
		return "", errors.New("you belong to no organisation: create one with 'porticoctl orgs create <slug> --name NAME'")
	}
	a.org = me.Memberships[0].Organization.Slug
	return a.org, nil
}

func (a *app) jsonOutput() bool { return a.g.output.v == "json" }

// printJSON writes v as indented JSON.
func (a *app) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.stdout, "%s\n", b)
	return err
}

// table writes rows under upper-case headers, aligned.
func (a *app) table(headers []string, rows [][]string) {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(headers, "\t")))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

// fields writes name: value pairs, aligned.
func (a *app) fields(pairs [][2]string) {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	for _, p := range pairs {
		fmt.Fprintf(tw, "%s:\t%s\n", p[0], p[1])
	}
	tw.Flush()
}

// output prints v as JSON with -o json, else calls human.
func (a *app) output(v any, human func()) error {
	if a.jsonOutput() {
		return a.printJSON(v)
	}
	human()
	return nil
}

// need checks the number of positional arguments.
func need(cmd *command, args []string, names ...string) error {
	if len(args) < len(names) {
		return usagef(cmd, "missing %s", strings.Join(names[len(args):], " and "))
	}
	if len(args) > len(names) {
		return usagef(cmd, "unexpected argument %q", args[len(names)])
	}
	return nil
}

// readLine reads one line from standard input, without its newline.
func (a *app) readLine() (string, error) {
	if a.stdinLine == nil {
		a.stdinLine = bufio.NewReader(a.stdin)
	}
	s, err := a.stdinLine.ReadString('\n')
	if err != nil && (err != io.EOF || s == "") {
		if err == io.EOF {
			return "", errors.New("standard input ended before a line was read")
		}
		return "", err
	}
	return strings.TrimRight(s, "\r\n"), nil
}
