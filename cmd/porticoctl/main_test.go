package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// cli runs porticoctl in-process with its own environment and streams.
type cli struct {
	t      *testing.T
	env    map[string]string
	stdin  string
	stdout bytes.Buffer
	stderr bytes.Buffer
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	return &cli{t: t, env: map[string]string{"XDG_CONFIG_HOME": t.TempDir(), "HOME": t.TempDir()}}
}

func (c *cli) run(args ...string) int {
	c.t.Helper()
	c.stdout.Reset()
	c.stderr.Reset()
	a := &app{
		stdin:           strings.NewReader(c.stdin),
		stdout:          &c.stdout,
		stderr:          &c.stderr,
		getenv:          func(k string) string { return c.env[k] },
		stdinIsTerminal: func() bool { return false },
		readPassword:    func() ([]byte, error) { return nil, errors.New("no terminal") },
	}
	return a.run(context.Background(), args)
}

func (c *cli) configFile() string {
	return filepath.Join(c.env["XDG_CONFIG_HOME"], "portico", "config.json")
}

// fakePortico answers the few routes the CLI tests call and records them.
type fakePortico struct {
	mu     sync.Mutex
	reqs   []string // "METHOD /path auth"
	bodies []string
	srv    *httptest.Server
}

func newFakePortico(t *testing.T) *fakePortico {
	f := &fakePortico{}
	mux := http.NewServeMux()
	js := func(w http.ResponseWriter, status int, body string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
	bearer := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Authorization") != "Bearer pat_new" && r.Header.Get("Authorization") != "Bearer pat_given" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(401)
			io.WriteString(w, `{"type":"https://portico.dev/problems/unauthorized","title":"Unauthorized","status":401,"detail":"The token is not valid."}`)
			return false
		}
		return true
	}
	mux.HandleFunc("POST /api/v1/tokens", func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "ada@example.com" || p != "correct horse battery" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(401)
			io.WriteString(w, `{"type":"https://portico.dev/problems/unauthorized","title":"Unauthorized","status":401,"detail":"Wrong email or password."}`)
			return
		}
		js(w, 201, `{"token":"pat_new","id":"tok_1","name":"cli","expires_at":null}`)
	})
	mux.HandleFunc("DELETE /api/v1/tokens/{id}", func(w http.ResponseWriter, r *http.Request) {
		if bearer(w, r) {
			w.WriteHeader(204)
		}
	})
	mux.HandleFunc("GET /api/v1/me", func(w http.ResponseWriter, r *http.Request) {
		if bearer(w, r) {
			js(w, 200, `{"user":{"id":"u1","email":"ada@example.com","name":"Ada"},"memberships":[{"organization":{"slug":"acme","name":"Acme"},"role":"owner"},{"organization":{"slug":"beta","name":"Beta"},"role":"viewer"}]}`)
		}
	})
	mux.HandleFunc("GET /api/v1/orgs/{org}/apis", func(w http.ResponseWriter, r *http.Request) {
		if bearer(w, r) {
			js(w, 200, `{"items":[{"slug":"pets","name":"Pet Store","visibility":"public","category":"animals","tags":[]},{"slug":"weather-now","name":"Weather","visibility":"private","category":"","tags":[]}],"next_cursor":null}`)
		}
	})
	mux.HandleFunc("GET /api/v1/orgs/{org}/apis/{api}", func(w http.ResponseWriter, r *http.Request) {
		if bearer(w, r) {
			js(w, 200, `{"slug":"`+r.PathValue("api")+`","name":"Pet Store","visibility":"public","tags":["pets"]}`)
		}
	})
	mux.HandleFunc("POST /api/v1/orgs/{org}/apis", func(w http.ResponseWriter, r *http.Request) {
		if bearer(w, r) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(422)
			io.WriteString(w, `{"type":"https://portico.dev/problems/invalid","title":"Unprocessable Entity","status":422,"detail":"The API is not valid.",
				"errors":[{"field":"contact_url","message":"Use an https:// or mailto: URL."},{"field":"name","message":"Enter a name of 1 to 100 characters."}]}`)
		}
	})
	mux.HandleFunc("PATCH /api/v1/orgs/{org}/apis/{api}/plans/{plan}", func(w http.ResponseWriter, r *http.Request) {
		if bearer(w, r) {
			js(w, 200, `{"slug":"pro","revision":2,"state":"draft","supersedes_id":"p1","versions":["v1"],"quota":{}}`)
		}
	})
	mux.HandleFunc("GET /api/v1/market/apis", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, `{"items":[{"org":{"slug":"acme","name":"Acme"},"slug":"pets","name":"Pet Store","summary":"Pets","category":"animals","tags":[],"versions":["v1","v2"]}],"next_cursor":"b2Zm"}`)
	})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		f.mu.Lock()
		f.reqs = append(f.reqs, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		f.bodies = append(f.bodies, string(b))
		f.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakePortico) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

func TestConfigPath(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"XDG_CONFIG_HOME", map[string]string{"XDG_CONFIG_HOME": "/xdg", "HOME": "/home/ada"}, "/xdg/portico/config.json"},
		{"HOME without XDG", map[string]string{"HOME": "/home/ada"}, "/home/ada/.config/portico/config.json"},
		{"relative XDG is ignored, as the spec says", map[string]string{"XDG_CONFIG_HOME": "rel", "HOME": "/home/ada"}, "/home/ada/.config/portico/config.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := configPath(env(tt.env))
			if err != nil || got != tt.want {
				t.Errorf("configPath = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestSaveConfigIsPrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "portico", "config.json")
	want := &Config{Server: "https://portico.example.com", Token: "pat_secret", TokenID: "tok_1", Email: "ada@example.com"}
	if err := saveConfig(path, want); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("config mode = %v, want 0600", fi.Mode().Perm())
	}
	di, _ := os.Stat(filepath.Dir(path))
	if di.Mode().Perm() != 0o700 {
		t.Errorf("config folder mode = %v, want 0700", di.Mode().Perm())
	}
	got, err := loadConfig(path)
	if err != nil || *got != *want {
		t.Errorf("loadConfig = %+v, %v; want %+v", got, err, want)
	}

	// A file others could read is tightened when it is written again.
	os.Chmod(path, 0o644)
	if err := saveConfig(path, want); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("rewritten config mode = %v, want 0600", fi.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".config-*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	missing, err := loadConfig(filepath.Join(dir, "none.json"))
	if err != nil || *missing != (Config{}) {
		t.Errorf("missing file: %+v, %v; want an empty config", missing, err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("{not json"), 0o600)
	if _, err := loadConfig(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("malformed file: err = %v, want it to name the file", err)
	}
}

func TestTokenIsSentOnlyToItsServer(t *testing.T) {
	c := newCLI(t)
	if err := saveConfig(c.configFile(), &Config{Server: "https://a.example/", Token: "pat_a"}); err != nil {
		t.Fatal(err)
	}
	mk := func(args ...string) *app {
		a := &app{getenv: func(k string) string { return c.env[k] }, stdout: io.Discard, stderr: io.Discard}
		fs := a.flagSet(&command{name: "x"})
		if _, err := parseInterspersed(fs, args, false); err != nil {
			t.Fatal(err)
		}
		return a
	}
	if a := mk(); a.server() != "https://a.example/" || a.token() != "pat_a" {
		t.Errorf("stored server: %q %q", a.server(), a.token())
	}
	if a := mk("--server", "https://A.example"); a.token() != "pat_a" {
		t.Errorf("same server spelled differently: token %q", a.token())
	}
	if a := mk("--server", "https://evil.example"); a.token() != "" {
		t.Errorf("another server got the stored token %q", a.token())
	}
	c.env["PORTICO_URL"] = "https://b.example"
	c.env["PORTICO_TOKEN"] = "pat_env"
	if a := mk(); a.server() != "https://b.example" || a.token() != "pat_env" {
		t.Errorf("environment: %q %q", a.server(), a.token())
	}
	if a := mk("--token", "pat_flag"); a.token() != "pat_flag" {
		t.Errorf("flag: %q", a.token())
	}
	delete(c.env, "PORTICO_URL")
	delete(c.env, "PORTICO_TOKEN")
	os.Remove(c.configFile())
	if a := mk(); a.server() != defaultServer || a.token() != "" {
		t.Errorf("defaults: %q %q", a.server(), a.token())
	}
}

func TestLoginWhoamiLogout(t *testing.T) {
	f := newFakePortico(t)
	c := newCLI(t)
	c.stdin = "correct horse battery\n"
	if code := c.run("login", "--server", f.srv.URL, "--email", "ada@example.com", "--password-stdin"); code != 0 {
		t.Fatalf("login exit %d: %s", code, c.stderr.String())
	}
	if !strings.Contains(c.stdout.String(), "Logged in to "+f.srv.URL+" as ada@example.com. Organisations: acme, beta.") {
		t.Errorf("login said %q", c.stdout.String())
	}
	fi, err := os.Stat(c.configFile())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v %v", fi, err)
	}
	cfg, _ := loadConfig(c.configFile())
	if cfg.Server != f.srv.URL || cfg.Token != "pat_new" || cfg.TokenID != "tok_1" || cfg.Email != "ada@example.com" {
		t.Errorf("stored %+v", cfg)
	}

	c.stdin = ""
	if code := c.run("whoami"); code != 0 {
		t.Fatalf("whoami exit %d: %s", code, c.stderr.String())
	}
	if out := c.stdout.String(); !strings.Contains(out, "Ada <ada@example.com>") || !strings.Contains(out, "ORG   NAME  ROLE\nacme  Acme  owner\nbeta  Beta  viewer\n") {
		t.Errorf("whoami printed:\n%s", out)
	}
	if r := f.requests(); r[len(r)-1] != "GET /api/v1/me Bearer pat_new" {
		t.Errorf("whoami sent %q", r[len(r)-1])
	}

	if code := c.run("logout"); code != 0 {
		t.Fatalf("logout exit %d: %s", code, c.stderr.String())
	}
	if r := f.requests(); r[len(r)-1] != "DELETE /api/v1/tokens/tok_1 Bearer pat_new" {
		t.Errorf("logout sent %q, want the token revoked", r[len(r)-1])
	}
	cfg, _ = loadConfig(c.configFile())
	if cfg.Token != "" || cfg.Server != f.srv.URL {
		t.Errorf("after logout: %+v", cfg)
	}
	if code := c.run("whoami"); code != 1 || !strings.Contains(c.stderr.String(), "porticoctl login") {
		t.Errorf("whoami after logout: exit %d, %s", code, c.stderr.String())
	}
}

func TestLoginWrongPassword(t *testing.T) {
	f := newFakePortico(t)
	c := newCLI(t)
	c.stdin = "nope\n"
	if code := c.run("login", "--server", f.srv.URL, "--email", "ada@example.com", "--password-stdin"); code != 1 {
		t.Fatalf("exit %d", code)
	}
	if got := c.stderr.String(); !strings.HasPrefix(got, "porticoctl: Wrong email or password.\n") {
		t.Errorf("stderr = %q", got)
	}
	if _, err := os.Stat(c.configFile()); !os.IsNotExist(err) {
		t.Errorf("a failed login wrote the config: %v", err)
	}
}

func TestLoginWithToken(t *testing.T) {
	f := newFakePortico(t)
	c := newCLI(t)
	if code := c.run("--server", f.srv.URL, "login", "--token", "pat_given"); code != 0 {
		t.Fatalf("exit %d: %s", code, c.stderr.String())
	}
	cfg, _ := loadConfig(c.configFile())
	if cfg.Token != "pat_given" || cfg.TokenID != "" || cfg.Email != "ada@example.com" {
		t.Errorf("stored %+v", cfg)
	}
	if code := c.run("--server", f.srv.URL, "login", "--token", "pat_bad"); code != 1 || !strings.Contains(c.stderr.String(), "check the token") {
		t.Errorf("bad token: exit %d, %s", code, c.stderr.String())
	}
	if cfg, _ := loadConfig(c.configFile()); cfg.Token != "pat_given" {
		t.Errorf("a bad token replaced the good one")
	}
}

func TestUsageErrors(t *testing.T) {
	f := newFakePortico(t)
	manifestFile := filepath.Join(t.TempDir(), "api.yaml")
	os.WriteFile(manifestFile, []byte("apiVersion: portico/v1\nkind: API\norg: acme\nslug: pets\n"), 0o644)
	badManifest := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(badManifest, []byte("apiVersion: portico/v1\nkind: API\nslug: pets\nvesrions: []\n"), 0o644)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bogus"}, 2, `unknown command "bogus" for porticoctl`},
		{[]string{"apis"}, 2, "porticoctl apis needs a subcommand"},
		{[]string{"apis", "fetch"}, 2, `unknown command "fetch" for porticoctl apis`},
		{[]string{"apis", "get"}, 2, "missing <api>"},
		{[]string{"apis", "get", "pets", "cats"}, 2, `unexpected argument "cats"`},
		{[]string{"apis", "list", "--nope"}, 2, "flag provided but not defined: -nope"},
		{[]string{"apis", "list", "-o", "yaml"}, 2, "use -o table or -o json"},
		{[]string{"apis", "create", "pets"}, 2, "--name is required"},
		{[]string{"apis", "update", "pets"}, 2, "nothing to change"},
		{[]string{"versions", "get", "pets"}, 2, "missing <version>"},
		{[]string{"versions", "deploy", "pets", "v1"}, 2, "--env is required"},
		{[]string{"versions", "deploy", "pets", "v1", "--env", "staging"}, 2, "--env staging: use test or production"},
		{[]string{"versions", "rollback", "pets", "v1", "--env", "test"}, 2, "--revision is required"},
		{[]string{"versions", "deprecate", "pets", "v1"}, 2, "--sunset is required"},
		{[]string{"versions", "offline", "pets", "v1"}, 2, "confirm with --yes"},
		{[]string{"versions", "create", "pets", "v1", "--mock", "--upstream", "https://a.example"}, 2, "either --upstream or --mock"},
		{[]string{"plans", "update", "pets", "free"}, 2, "nothing to change"},
		{[]string{"plans", "create", "pets", "free", "--burst", "5", "--name", "Free"}, 2, "--burst needs --rps"},
		{[]string{"plans", "create", "pets", "free", "--rps", "lots"}, 2, `"lots" is not a whole number or none`},
		{[]string{"members", "set-role", "u1", "king"}, 2, `unknown role "king"`},
		{[]string{"members", "invite"}, 2, "missing <email>"},
		{[]string{"market", "search", "--sort", "random"}, 2, "--sort random: use name or newest"},
		{[]string{"market", "search", "pet", "store"}, 2, "in quotes"},
		{[]string{"login", "--email", "ada@example.com"}, 2, "pipe the password with --password-stdin"},
		{[]string{"login", "--password-stdin"}, 2, "give your email with --email"},
		{[]string{"login", "--token", "x", "--email", "ada@example.com"}, 2, "takes no --email"},
		{[]string{"apply"}, 2, "-f FILE is required"},
		{[]string{"apply", "-f", manifestFile, "--org", "beta"}, 2, "the file is for organisation acme but --org (or PORTICO_ORG) says beta"},
		{[]string{"apply", "-f", badManifest}, 1, `unknown key "vesrions" at the top level`},
		{[]string{"apply", "-f", "/does/not/exist.yaml"}, 1, "read manifest"},
		{[]string{"apply", "-f", "-"}, 1, "manifest: the file is empty"},
		{[]string{"export"}, 2, "--api is required"},
		{[]string{"orgs", "create", "acme"}, 2, "--name is required"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			c := newCLI(t)
			c.env["PORTICO_URL"] = f.srv.URL
			code := c.run(tt.args...)
			if code != tt.code || !strings.Contains(c.stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, c.stderr.String(), tt.code, tt.want)
			}
			if tt.code == 2 && !strings.Contains(c.stderr.String(), "-h' for usage.") && !strings.Contains(c.stderr.String(), "Commands:") {
				t.Errorf("a usage error should point at -h: %q", c.stderr.String())
			}
		})
	}
	if r := f.requests(); len(r) != 0 {
		t.Errorf("usage errors reached the server: %v", r)
	}
}

func TestHelp(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "Commands:\n  login"},
		{[]string{"-h"}, "Commands:"},
		{[]string{"help"}, "Commands:"},
		{[]string{"versions", "help"}, "Usage: porticoctl versions <command>"},
		{[]string{"apis", "get", "-h"}, "Usage: porticoctl apis get <api>"},
		{[]string{"versions", "deploy", "--help"}, "--env"},
		{[]string{"export", "-h"}, "write the manifest to this file"},
	} {
		c := newCLI(t)
		if code := c.run(tt.args...); code != 0 || !strings.Contains(c.stdout.String(), tt.want) {
			t.Errorf("%v: exit %d, stdout %q; want %q", tt.args, code, c.stdout.String(), tt.want)
		}
	}
}

func TestFlagsAnywhereAndOutputFormats(t *testing.T) {
	f := newFakePortico(t)
	c := newCLI(t)
	c.env["PORTICO_TOKEN"] = "pat_new"
	if code := c.run("apis", "get", "pets", "-o", "json", "--server", f.srv.URL, "--org", "beta"); code != 0 {
		t.Fatalf("exit %d: %s", code, c.stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(c.stdout.Bytes(), &got); err != nil || got["slug"] != "pets" {
		t.Errorf("json output %q: %v", c.stdout.String(), err)
	}
	if r := f.requests(); r[len(r)-1] != "GET /api/v1/orgs/beta/apis/pets Bearer pat_new" {
		t.Errorf("sent %q", r[len(r)-1])
	}

	// Without --org the first organisation is used; tables are aligned.
	if code := c.run("--server", f.srv.URL, "apis", "list"); code != 0 {
		t.Fatalf("exit %d: %s", code, c.stderr.String())
	}
	want := "SLUG         NAME       VISIBILITY  CATEGORY  UPDATED\n" +
		"pets         Pet Store  public      animals   \n" +
		"weather-now  Weather    private               \n"
	if c.stdout.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", c.stdout.String(), want)
	}
	if r := f.requests(); r[len(r)-2] != "GET /api/v1/me Bearer pat_new" || r[len(r)-1] != "GET /api/v1/orgs/acme/apis Bearer pat_new" {
		t.Errorf("sent %q", r[len(r)-2:])
	}

	// "--" ends the flags.
	if code := c.run("--server", f.srv.URL, "--org", "acme", "apis", "get", "--", "-o"); code != 0 || !strings.Contains(c.stdout.String(), "slug:") {
		t.Errorf("exit %d: %s %s", code, c.stdout.String(), c.stderr.String())
	}
	if r := f.requests(); r[len(r)-1] != "GET /api/v1/orgs/acme/apis/-o Bearer pat_new" {
		t.Errorf("sent %q", r[len(r)-1])
	}
}

func TestProblemsArePrintedWithTheirFields(t *testing.T) {
	f := newFakePortico(t)
	c := newCLI(t)
	c.env["PORTICO_TOKEN"] = "pat_new"
	c.env["PORTICO_URL"] = f.srv.URL
	c.env["PORTICO_ORG"] = "acme"
	code := c.run("apis", "create", "pets", "--name", "Pets", "--contact-url", "ftp://x")
	want := "porticoctl: The API is not valid.\n  contact_url: Use an https:// or mailto: URL.\n  name: Enter a name of 1 to 100 characters.\n"
	if code != 1 || c.stderr.String() != want {
		t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, c.stderr.String(), want)
	}
}

func TestPlanFlagsBecomeAPatch(t *testing.T) {
	f := newFakePortico(t)
	c := newCLI(t)
	c.env["PORTICO_TOKEN"], c.env["PORTICO_URL"], c.env["PORTICO_ORG"] = "pat_new", f.srv.URL, "acme"
	code := c.run("plans", "update", "pets", "pro", "--overage-cents-per-1000", "none", "--quota-day", "500", "--quota-month", "none",
		"--rps", "10", "--burst", "20", "--price-cents", "2900", "--versions", "v1, v2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, c.stderr.String())
	}
	want := `{"price_cents":2900,"overage_cents_per_1000":null,"rate_limit":{"requests_per_second":10,"burst":20},"quota":{"day":500,"month":null},"versions":["v1","v2"]}`
	if got := f.bodies[len(f.bodies)-1]; got != want {
		t.Errorf("body = %s\nwant   %s", got, want)
	}
	if !strings.Contains(c.stdout.String(), "revision 2 (draft). The published revision stays on sale") {
		t.Errorf("stdout = %q", c.stdout.String())
	}
	if code := c.run("plans", "update", "pets", "pro", "--rps", "none"); code != 0 || f.bodies[len(f.bodies)-1] != `{"rate_limit":null}` {
		t.Errorf("--rps none: exit %d, body %s", code, f.bodies[len(f.bodies)-1])
	}
}

func TestMarketSearch(t *testing.T) {
	f := newFakePortico(t)
	c := newCLI(t)
	c.env["PORTICO_URL"] = f.srv.URL
	if code := c.run("market", "search", "pet store", "--sort", "newest", "--limit", "5"); code != 0 {
		t.Fatalf("exit %d: %s", code, c.stderr.String())
	}
	want := "API        NAME       CATEGORY  VERSIONS  SUMMARY\nacme/pets  Pet Store  animals   v1,v2     Pets\n\nMore: --cursor b2Zm\n"
	if c.stdout.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", c.stdout.String(), want)
	}
	if r := f.requests(); r[len(r)-1] != "GET /api/v1/market/apis " {
		t.Errorf("sent %q: the market needs no token", r[len(r)-1])
	}
	if code := c.run("market", "search", "-o", "json"); code != 0 || !strings.Contains(c.stdout.String(), `"next_cursor": "b2Zm"`) {
		t.Errorf("json: exit %d, %s", code, c.stdout.String())
	}
}
