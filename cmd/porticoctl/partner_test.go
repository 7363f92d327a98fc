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
	"strings"
	"sync"
	"testing"

	"github.com/portico-dev/portico/gateway/sigv4"
)

// A management API key pair in Portico's format.
const (
	userAK = "PUTESTTESTTESTTEST01"
	userSK = "s3cr3tS3CR3Ts3cr3tS3CR3Ts3cr3tS3CR3T/+ab"
	appID  = "0190a0b0-0000-7000-8000-000000000001"
)

type userKeys map[string]string

func (k userKeys) Lookup(_ context.Context, ak string) (sigv4.Credential, bool) {
	sk, ok := k[ak]
	return sigv4.Credential{AccessKey: ak, Secret: []byte(sk), Active: true}, ok
}

// signingPortico is a fake Portico that accepts the bearer token pat_new or
// a SigV4 signature by userAK, which it checks with gateway/sigv4's
// Verifier as the real server does, and answers the routes of apps, keys,
// subscriptions, subscribers and approvals.
type signingPortico struct {
	mu     sync.Mutex
	reqs   []string // "METHOD /path?query auth", auth being "bearer", "sigv4 <access key>" or ""
	bodies []string
	srv    *httptest.Server
}

func newSigningPortico(t *testing.T, region string) *signingPortico {
	t.Helper()
	v, err := sigv4.New(sigv4.Config{Region: region, Keys: userKeys{userAK: userSK}, Nonces: sigv4.NewMemoryNonces(1000)})
	if err != nil {
		t.Fatal(err)
	}
	f := &signingPortico{}
	js := func(w http.ResponseWriter, status int, body string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
	sub := func(status, extra string) string {
		return `{"id":"sub_1","status":"` + status + `","app_id":"` + appID + `","app_name":"Widget","api_id":"api_w","api_slug":"weather",
			"provider_org_slug":"acme","partner_org_slug":"beta","partner_org_name":"Beta Co","version":"v1","plan_id":"pl_1",
			"plan":{"id":"pl_1","slug":"pro","revision":1,"price_cents":2900,"currency":"usd","quota":{}},"next_plan":null,
			"period_start":"2026-03-01T00:00:00Z","period_end":"2026-04-01T00:00:00Z","cancel_at_period_end":false,
			"message":"hello","created_at":"2026-03-01T09:00:00Z"` + extra + `}`
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/me", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, `{"user":{"id":"u1","email":"ada@example.com","name":"Ada"},"memberships":[{"organization":{"slug":"beta","name":"Beta"},"role":"owner"}]}`)
	})
	mux.HandleFunc("GET /api/v1/orgs/{org}/apps", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, `{"items":[{"id":"`+appID+`","name":"Widget","description":"Weather widget","environment":"production","created_at":"2026-03-01T00:00:00Z"}],"next_cursor":null}`)
	})
	mux.HandleFunc("POST /api/v1/orgs/{org}/apps", func(w http.ResponseWriter, r *http.Request) {
		js(w, 201, `{"id":"`+appID+`","name":"Widget","environment":"test"}`)
	})
	mux.HandleFunc("GET /api/v1/orgs/{org}/apps/{app}", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, `{"id":"`+r.PathValue("app")+`","name":"Widget","environment":"production"}`)
	})
	mux.HandleFunc("PATCH /api/v1/orgs/{org}/apps/{app}", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, `{"id":"`+appID+`","name":"Gadget","environment":"test"}`)
	})
	mux.HandleFunc("DELETE /api/v1/orgs/{org}/apps/{app}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	key := `"access_key":"PKAB2CD3EF4GH5IJ6KL7","name":"ci","status":"active","expires_at":null,"last_used_at":null,"created_at":"2026-03-14T00:00:00Z","revoked_at":null`
	mux.HandleFunc("GET /api/v1/orgs/{org}/apps/{app}/keys", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, `{"items":[{`+key+`}],"next_cursor":null}`)
	})
	mux.HandleFunc("POST /api/v1/orgs/{org}/apps/{app}/keys", func(w http.ResponseWriter, r *http.Request) {
		js(w, 201, `{`+key+`,"secret_key":"SECRETsecretSECRETsecretSECRETsecret/+12"}`)
	})
	mux.HandleFunc("DELETE /api/v1/orgs/{org}/apps/{app}/keys/{key}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	code := `"id":"code-1","prefix":"pac_AbCd1234","name":"kiosk","status":"active","last_used_at":null,"created_at":"2026-03-14T00:00:00Z","revoked_at":null`
	mux.HandleFunc("GET /api/v1/orgs/{org}/apps/{app}/codes", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, `{"items":[{`+code+`}],"next_cursor":null}`)
	})
	mux.HandleFunc("POST /api/v1/orgs/{org}/apps/{app}/codes", func(w http.ResponseWriter, r *http.Request) {
		js(w, 201, `{`+code+`,"code":"pac_AbCd1234efghijklmnopqrstuvwxyz0123456789-_A"}`)
	})
	mux.HandleFunc("DELETE /api/v1/orgs/{org}/apps/{app}/codes/{code}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	mux.HandleFunc("GET /api/v1/keys", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, `{"items":[{"access_key":"`+userAK+`","name":"laptop","status":"active","created_at":"2026-03-14T00:00:00Z"}],"next_cursor":null}`)
	})
	mux.HandleFunc("POST /api/v1/keys", func(w http.ResponseWriter, r *http.Request) {
		js(w, 201, `{"access_key":"PUNEWNEWNEWNEWNEW001","name":"ci","status":"active","expires_at":"2027-06-30T00:00:00Z","created_at":"2026-03-14T00:00:00Z","secret_key":"SECRETsecretSECRETsecretSECRETsecret/+12"}`)
	})
	mux.HandleFunc("DELETE /api/v1/keys/{key}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	mux.HandleFunc("GET /api/v1/orgs/{org}/subscriptions", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, `{"items":[`+sub("active", "")+`],"next_cursor":null}`)
	})
	mux.HandleFunc("POST /api/v1/orgs/{org}/subscriptions", func(w http.ResponseWriter, r *http.Request) {
		js(w, 201, sub("pending_approval", `,"notice":"The provider approves subscriptions to this plan by hand."`))
	})
	mux.HandleFunc("GET /api/v1/orgs/{org}/subscriptions/{id}", func(w http.ResponseWriter, r *http.Request) { js(w, 200, sub("active", "")) })
	mux.HandleFunc("PATCH /api/v1/orgs/{org}/subscriptions/{id}", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, strings.Replace(sub("active", ""), `"next_plan":null`, `"next_plan_id":"pl_0","next_plan":{"id":"pl_0","slug":"basic","revision":1,"quota":{}}`, 1))
	})
	mux.HandleFunc("DELETE /api/v1/orgs/{org}/subscriptions/{id}", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, strings.Replace(sub("active", ""), `"cancel_at_period_end":false`, `"cancel_at_period_end":true`, 1))
	})
	mux.HandleFunc("GET /api/v1/orgs/{org}/subscriptions/{id}/history", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, `{"items":[
			{"id":"e1","kind":"created","from_status":"","to_status":"pending_approval","by":"partner","actor_email":"bo@beta.example","note":"","created_at":"2026-03-01T09:00:00Z"},
			{"id":"e2","kind":"approved","from_status":"pending_approval","to_status":"active","by":"provider","actor_email":"","note":"welcome","created_at":"2026-03-02T10:30:00Z"}],"next_cursor":null}`)
	})
	mux.HandleFunc("GET /api/v1/orgs/{org}/apis", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, `{"items":[{"slug":"pets","name":"Pets","tags":[]},{"slug":"weather","name":"Weather","tags":[]}],"next_cursor":null}`)
	})
	notFound := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(404)
		io.WriteString(w, `{"type":"https://portico.dev/problems/not-found","title":"Not Found","status":404,"detail":"No such subscription."}`)
	}
	mux.HandleFunc("GET /api/v1/orgs/{org}/apis/{api}/subscriptions", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("api") != "weather" {
			js(w, 200, `{"items":[],"next_cursor":null}`)
			return
		}
		js(w, 200, `{"items":[`+sub("active", "")+`],"next_cursor":null}`)
	})
	mux.HandleFunc("GET /api/v1/orgs/{org}/apis/{api}/subscriptions/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("api") != "weather" || r.PathValue("id") != "sub_1" {
			notFound(w)
			return
		}
		js(w, 200, sub("active", ""))
	})
	mux.HandleFunc("POST /api/v1/orgs/{org}/apis/{api}/subscriptions/{id}/{action}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("api") != "weather" {
			notFound(w)
			return
		}
		status := map[string]string{"approve": "active", "reject": "rejected", "suspend": "suspended", "resume": "active", "terminate": "terminated"}[r.PathValue("action")]
		js(w, 200, sub(status, ""))
	})
	mux.HandleFunc("GET /api/v1/orgs/{org}/approvals", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, `{"items":[`+sub("pending_approval", "")+`],"next_cursor":null}`)
	})

	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		who := ""
		switch {
		case auth == "Bearer pat_new":
			who = "bearer"
		case strings.HasPrefix(auth, "AWS4-HMAC-SHA256 "):
			_, err := v.Verify(r.Context(), r, "", sigv4.VerifyOptions{})
			var perr *sigv4.Error
			if errors.As(err, &perr) {
				p := map[string]any{"type": perr.ProblemType(), "title": perr.Title, "status": perr.Status, "detail": perr.Detail}
				for k, v := range perr.Extensions() {
					p[k] = v
				}
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(perr.Status)
				json.NewEncoder(w).Encode(p)
				return
			}
			if err != nil {
				t.Errorf("verify: %v", err)
			}
			who = "sigv4 " + userAK
		default:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(401)
			io.WriteString(w, `{"type":"https://portico.dev/problems/unauthorized","title":"Unauthorized","status":401,"detail":"Log in first."}`)
			return
		}
		b, err := io.ReadAll(r.Body) // a signed digest is checked here
		if err != nil {
			w.WriteHeader(403)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		target := r.URL.Path
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, r.Method+" "+target+" "+who)
		f.bodies = append(f.bodies, string(b))
		f.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *signingPortico) last() (req, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		return "", ""
	}
	return f.reqs[len(f.reqs)-1], f.bodies[len(f.bodies)-1]
}

func (f *signingPortico) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

func TestLoginWithAccessKey(t *testing.T) {
	f := newSigningPortico(t, "local")
	c := newCLI(t)
	c.stdin = userSK + "\n"
	if code := c.run("login", "--server", f.srv.URL, "--access-key", userAK, "--secret-key-stdin"); code != 0 {
		t.Fatalf("login exit %d: %s", code, c.stderr.String())
	}
	if want := "Logged in to " + f.srv.URL + " as ada@example.com with access key " + userAK + " (requests are signed; region local). Organisations: beta."; !strings.Contains(c.stdout.String(), want) {
		t.Errorf("login said %q, want %q", c.stdout.String(), want)
	}
	if req, _ := f.last(); req != "GET /api/v1/me sigv4 "+userAK {
		t.Errorf("login checked the key with %q", req)
	}
	fi, err := os.Stat(c.configFile())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v %v", fi, err)
	}
	cfg, _ := loadConfig(c.configFile())
	if want := (Config{Server: f.srv.URL, AccessKey: userAK, SecretKey: userSK, Email: "ada@example.com"}); *cfg != want {
		t.Errorf("stored %+v\nwant   %+v", cfg, want)
	}

	c.stdin = ""
	if code := c.run("whoami"); code != 0 {
		t.Fatalf("whoami exit %d: %s", code, c.stderr.String())
	}
	if !strings.Contains(c.stdout.String(), "signing with access key "+userAK) {
		t.Errorf("whoami printed %q", c.stdout.String())
	}
	if req, _ := f.last(); req != "GET /api/v1/me sigv4 "+userAK {
		t.Errorf("whoami sent %q, want a signed request", req)
	}

	// A token given on the command line wins over the stored key.
	if code := c.run("whoami", "--token", "pat_new"); code != 0 {
		t.Fatalf("whoami --token exit %d: %s", code, c.stderr.String())
	}
	if req, _ := f.last(); req != "GET /api/v1/me bearer" {
		t.Errorf("whoami --token sent %q", req)
	}

	n := len(f.requests())
	if code := c.run("logout"); code != 0 {
		t.Fatalf("logout exit %d: %s", code, c.stderr.String())
	}
	if len(f.requests()) != n {
		t.Errorf("logout called the server: %v; login did not create the key, so logout does not revoke it", f.requests()[n:])
	}
	if !strings.Contains(c.stdout.String(), "The access key "+userAK+" still works") {
		t.Errorf("logout said %q", c.stdout.String())
	}
	if cfg, _ := loadConfig(c.configFile()); cfg.AccessKey != "" || cfg.SecretKey != "" || cfg.Server != f.srv.URL {
		t.Errorf("after logout: %+v", cfg)
	}
	// The key is not sent to another server.
	if code := c.run("whoami"); code != 1 || !strings.Contains(c.stderr.String(), "porticoctl login") {
		t.Errorf("whoami after logout: exit %d, %s", code, c.stderr.String())
	}
}

func TestLoginWithAccessKeyLearnsTheRegion(t *testing.T) {
	f := newSigningPortico(t, "eu-test-1")
	c := newCLI(t)
	c.stdin = userSK
	if code := c.run("login", "--server", f.srv.URL, "--access-key", userAK, "--secret-key-stdin"); code != 0 {
		t.Fatalf("login exit %d: %s", code, c.stderr.String())
	}
	if cfg, _ := loadConfig(c.configFile()); cfg.Region != "eu-test-1" {
		t.Errorf("stored region %q, want the one the server named", cfg.Region)
	}
	c.stdin = ""
	if code := c.run("apps", "list"); code != 0 {
		t.Fatalf("apps list exit %d: %s", code, c.stderr.String())
	}

	// A region given explicitly is not second-guessed.
	c2 := newCLI(t)
	c2.stdin = userSK
	code := c2.run("login", "--server", f.srv.URL, "--access-key", userAK, "--secret-key-stdin", "--region", "us-nowhere-1")
	if code != 1 || !strings.Contains(c2.stderr.String(), "the server's region is eu-test-1: log in again with --region eu-test-1") {
		t.Errorf("wrong region: exit %d, stderr %q", code, c2.stderr.String())
	}
	if _, err := os.Stat(c2.configFile()); !os.IsNotExist(err) {
		t.Errorf("a failed login wrote the config: %v", err)
	}
}

func TestAccessKeyFromEnvironment(t *testing.T) {
	f := newSigningPortico(t, "eu-test-1")
	c := newCLI(t)
	c.env["PORTICO_URL"], c.env["PORTICO_ACCESS_KEY"], c.env["PORTICO_SECRET_KEY"], c.env["PORTICO_REGION"] = f.srv.URL, userAK, userSK, "eu-test-1"
	if code := c.run("user-keys", "list"); code != 0 {
		t.Fatalf("exit %d: %s", code, c.stderr.String())
	}
	if req, _ := f.last(); req != "GET /api/v1/keys sigv4 "+userAK {
		t.Errorf("sent %q", req)
	}
	if want := "ACCESS KEY            NAME    STATUS  EXPIRES  LAST USED  CREATED\n" + userAK + "  laptop  active  never    never      2026-03-14\n"; c.stdout.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", c.stdout.String(), want)
	}

	// A wrong secret is explained with the server's canonical request.
	c.env["PORTICO_SECRET_KEY"] = strings.Repeat("x", 40)
	if code := c.run("user-keys", "list"); code != 1 {
		t.Fatalf("wrong secret: exit %d", code)
	}
	if got := c.stderr.String(); !strings.Contains(got, "The signature does not match") || !strings.Contains(got, "check the secret key") ||
		!strings.Contains(got, "    GET\n    /api/v1/keys\n") || strings.Contains(got, "xxxx") {
		t.Errorf("stderr:\n%s", got)
	}
}

// cliFor returns a CLI that signs with userAK against f, in organisation beta.
func cliFor(t *testing.T, f *signingPortico) *cli {
	c := newCLI(t)
	c.env["PORTICO_URL"], c.env["PORTICO_ACCESS_KEY"], c.env["PORTICO_SECRET_KEY"], c.env["PORTICO_ORG"] = f.srv.URL, userAK, userSK, "beta"
	return c
}

func TestPartnerCommands(t *testing.T) {
	f := newSigningPortico(t, "local")
	tests := []struct {
		name     string
		args     []string
		wantReq  string // the last request, "" for none
		wantBody string
		want     []string // in stdout
		wantErr  string   // in stderr
		wantCode int
	}{
		{name: "apps list", args: []string{"apps", "list"}, wantReq: "GET /api/v1/orgs/beta/apps?limit=100",
			want: []string{"ID                                    NAME    ENV         CREATED     DESCRIPTION\n" + appID + "  Widget  production  2026-03-01  Weather widget\n"}},
		{name: "apps create", args: []string{"apps", "create", "--name", "Widget", "--env", "test"}, wantReq: "POST /api/v1/orgs/beta/apps",
			wantBody: `{"name":"Widget","environment":"test"}`, want: []string{"Created app Widget (test) in beta, id " + appID}},
		{name: "apps get resolves a name", args: []string{"apps", "get", "widget", "-o", "json"}, wantReq: "GET /api/v1/orgs/beta/apps/" + appID,
			want: []string{`"id": "` + appID + `"`}},
		{name: "apps update sends only the flags given", args: []string{"apps", "update", appID, "--name", "Gadget"},
			wantReq: "PATCH /api/v1/orgs/beta/apps/" + appID, wantBody: `{"name":"Gadget"}`, want: []string{"Updated app Gadget"}},
		{name: "apps delete", args: []string{"apps", "delete", "Widget", "--yes"}, wantReq: "DELETE /api/v1/orgs/beta/apps/" + appID,
			want: []string{"its keys are revoked and its subscriptions cancelled"}},
		{name: "keys list", args: []string{"keys", "list", "--app", appID}, wantReq: "GET /api/v1/orgs/beta/apps/" + appID + "/keys",
			want: []string{"PKAB2CD3EF4GH5IJ6KL7  ci    active  never"}},
		{name: "keys create shows the secret once", args: []string{"keys", "create", "--app", "Widget", "--name", "ci", "--expires", "2027-06-30"},
			wantReq: "POST /api/v1/orgs/beta/apps/" + appID + "/keys", wantBody: `{"name":"ci","expires_at":"2027-06-30T00:00:00Z"}`,
			want:    []string{"Access key: PKAB2CD3EF4GH5IJ6KL7\nSecret key: SECRETsecretSECRETsecretSECRETsecret/+12\n"},
			wantErr: "warning: the secret key is shown only now"},
		{name: "keys create as json still warns", args: []string{"keys", "create", "--app", appID, "-o", "json"},
			wantReq: "POST /api/v1/orgs/beta/apps/" + appID + "/keys", wantBody: `{}`,
			want: []string{`"secret_key": "SECRETsecretSECRETsecretSECRETsecret/+12"`}, wantErr: "shown only now"},
		{name: "keys revoke", args: []string{"keys", "revoke", "PKAB2CD3EF4GH5IJ6KL7", "--app", appID},
			wantReq: "DELETE /api/v1/orgs/beta/apps/" + appID + "/keys/PKAB2CD3EF4GH5IJ6KL7", want: []string{"Revoked key PKAB2CD3EF4GH5IJ6KL7"}},
		{name: "app-codes list", args: []string{"app-codes", "list", "--app", appID}, wantReq: "GET /api/v1/orgs/beta/apps/" + appID + "/codes",
			want: []string{"code-1  pac_AbCd1234…  kiosk  active  never"}},
		{name: "app-codes create shows the code once", args: []string{"app-codes", "create", "--app", "Widget", "--name", "kiosk"},
			wantReq: "POST /api/v1/orgs/beta/apps/" + appID + "/codes", wantBody: `{"name":"kiosk"}`,
			want:    []string{"App code: pac_AbCd1234efghijklmnopqrstuvwxyz0123456789-_A\n", "weaker than a signature"},
			wantErr: "warning: the app code is shown only now"},
		{name: "app-codes revoke", args: []string{"app-codes", "revoke", "code-1", "--app", appID},
			wantReq: "DELETE /api/v1/orgs/beta/apps/" + appID + "/codes/code-1", want: []string{"Revoked app code code-1"}},
		{name: "user-keys create", args: []string{"user-keys", "create", "--name", "ci"}, wantReq: "POST /api/v1/keys", wantBody: `{"name":"ci"}`,
			want:    []string{"Secret key: SECRETsecretSECRETsecretSECRETsecret/+12", "porticoctl login --access-key PUNEWNEWNEWNEWNEW001 --secret-key-stdin"},
			wantErr: "shown only now"},
		{name: "user-keys revoke the key in use", args: []string{"user-keys", "revoke", userAK}, wantReq: "DELETE /api/v1/keys/" + userAK,
			want: []string{"porticoctl was signing with this key: log in again."}},
		{name: "subscriptions list with filters", args: []string{"subscriptions", "list", "--app", "Widget", "--status", "active"},
			wantReq: "GET /api/v1/orgs/beta/subscriptions?app=" + appID + "&limit=100&status=active",
			want:    []string{"ID     APP     API           VERSION  PLAN  STATUS  PERIOD END\nsub_1  Widget  acme/weather  v1       pro   active  2026-04-01\n"}},
		{name: "subscriptions create", args: []string{"subscriptions", "create", "--app", "Widget", "--api", "acme/weather", "--version", "v1", "--plan", "pro", "--message", "hello"},
			wantReq: "POST /api/v1/orgs/beta/subscriptions", wantBody: `{"app":"` + appID + `","api":"acme/weather","version":"v1","plan":"pro","message":"hello"}`,
			want: []string{"Subscribed Widget to acme/weather v1 on plan pro: pending_approval (subscription sub_1).\nThe provider approves subscriptions to this plan by hand.\n"}},
		{name: "subscriptions get", args: []string{"subscriptions", "get", "sub_1"}, wantReq: "GET /api/v1/orgs/beta/subscriptions/sub_1",
			want: []string{"plan:     pro (revision 1, 29.00 USD)", "period:   2026-03-01 to 2026-04-01"}},
		{name: "subscriptions change-plan to a downgrade", args: []string{"subscriptions", "change-plan", "sub_1", "basic"},
			wantReq: "PATCH /api/v1/orgs/beta/subscriptions/sub_1", wantBody: `{"plan":"basic"}`,
			want: []string{"moves from plan pro to basic on 2026-04-01"}},
		{name: "subscriptions cancel a paid plan", args: []string{"subscriptions", "cancel", "sub_1"}, wantReq: "DELETE /api/v1/orgs/beta/subscriptions/sub_1",
			want: []string{"Subscription sub_1 ends on 2026-04-01, at the end of the paid period."}},
		{name: "subscriptions history", args: []string{"subscriptions", "history", "sub_1"}, wantReq: "GET /api/v1/orgs/beta/subscriptions/sub_1/history",
			want: []string{"WHEN (UTC)        EVENT     STATUS                     BY                         NOTE\n" +
				"2026-03-01 09:00  created   pending_approval           partner (bo@beta.example)  \n" +
				"2026-03-02 10:30  approved  pending_approval → active  provider                   welcome\n"}},
		{name: "subscribers list of every API", args: []string{"subscribers", "list", "--status", "active"},
			wantReq: "GET /api/v1/orgs/beta/apis/weather/subscriptions?limit=100&status=active",
			want:    []string{"ID     API      PARTNER  APP     VERSION  PLAN  STATUS  SINCE\nsub_1  weather  beta     Widget  v1       pro   active  2026-03-01\n"}},
		{name: "subscribers list of one API", args: []string{"subscribers", "list", "--api", "weather", "--plan", "pro", "--q", "beta co"},
			wantReq: "GET /api/v1/orgs/beta/apis/weather/subscriptions?limit=100&plan=pro&q=beta+co", want: []string{"sub_1  weather"}},
		{name: "subscribers get finds the API", args: []string{"subscribers", "get", "sub_1"}, wantReq: "GET /api/v1/orgs/beta/apis/weather/subscriptions/sub_1",
			want: []string{"partner:  beta", "message:  hello"}},
		{name: "subscribers approve", args: []string{"subscribers", "approve", "sub_1", "--api", "weather"},
			wantReq: "POST /api/v1/orgs/beta/apis/weather/subscriptions/sub_1/approve", want: []string{"Subscription sub_1 of beta (app Widget) to weather is active."}},
		{name: "subscribers reject", args: []string{"subscribers", "reject", "sub_1", "--reason", "Not a fit"},
			wantReq: "POST /api/v1/orgs/beta/apis/weather/subscriptions/sub_1/reject", wantBody: `{"reason":"Not a fit"}`, want: []string{"is rejected."}},
		{name: "subscribers suspend", args: []string{"subscribers", "suspend", "sub_1", "--api", "weather", "--reason", "Abuse"},
			wantReq: "POST /api/v1/orgs/beta/apis/weather/subscriptions/sub_1/suspend", wantBody: `{"reason":"Abuse"}`, want: []string{"is suspended."}},
		{name: "subscribers resume", args: []string{"subscribers", "resume", "sub_1", "--api", "weather"},
			wantReq: "POST /api/v1/orgs/beta/apis/weather/subscriptions/sub_1/resume", want: []string{"is active."}},
		{name: "subscribers terminate", args: []string{"subscribers", "terminate", "sub_1", "--api", "weather", "--reason", "Contract ended"},
			wantReq: "POST /api/v1/orgs/beta/apis/weather/subscriptions/sub_1/terminate", wantBody: `{"reason":"Contract ended"}`, want: []string{"is terminated."}},
		{name: "subscribers of an unknown id", args: []string{"subscribers", "approve", "sub_9"}, wantReq: "GET /api/v1/orgs/beta/apis/weather/subscriptions/sub_9",
			wantErr: "no API of beta has a subscription sub_9", wantCode: 1},
		{name: "approvals list", args: []string{"approvals", "list"}, wantReq: "GET /api/v1/orgs/beta/approvals?limit=100",
			want: []string{"ID     API      PARTNER  APP     VERSION  PLAN  REQUESTED   MESSAGE\nsub_1  weather  beta     Widget  v1       pro   2026-03-01  hello\n", "porticoctl subscribers approve <id>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cliFor(t, f)
			code := c.run(tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d: %s", code, tt.wantCode, c.stderr.String())
			}
			req, body := f.last()
			if req != tt.wantReq+" sigv4 "+userAK {
				t.Errorf("last request %q, want %q signed", req, tt.wantReq)
			}
			if body != tt.wantBody {
				t.Errorf("body %s, want %s", body, tt.wantBody)
			}
			for _, w := range tt.want {
				if !strings.Contains(c.stdout.String(), w) {
					t.Errorf("stdout:\n%s\nwant it to contain:\n%s", c.stdout.String(), w)
				}
			}
			if !strings.Contains(c.stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q, want %q", c.stderr.String(), tt.wantErr)
			}
		})
	}
}

func TestPartnerUsageErrors(t *testing.T) {
	f := newSigningPortico(t, "local")
	tests := []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"login", "--access-key", "PKAB2CD3EF4GH5IJ6KL7", "--secret-key-stdin"}, userSK, "is an app key"},
		{[]string{"login", "--access-key", "PU123", "--secret-key-stdin"}, userSK, "PU followed by 18 upper-case letters and digits"},
		{[]string{"login", "--access-key", userAK, "--secret-key-stdin"}, "short", "the secret key is 40 characters"},
		{[]string{"login", "--access-key", userAK, "--secret-key-stdin"}, "", "--secret-key-stdin: standard input is empty"},
		{[]string{"login", "--access-key", userAK}, "", "pipe the secret key with --secret-key-stdin"},
		{[]string{"login", "--access-key", userAK, "--email", "ada@example.com"}, "", "takes no --token, --email or --password-stdin"},
		{[]string{"login", "--secret-key-stdin"}, userSK, "--secret-key-stdin and --region go with --access-key"},
		{[]string{"apps", "create"}, "", "--name is required"},
		{[]string{"apps", "create", "--name", "W", "--env", "staging"}, "", "--env staging: use test or production"},
		{[]string{"apps", "update", "w"}, "", "nothing to change"},
		{[]string{"apps", "delete", "w"}, "", "confirm with --yes"},
		{[]string{"apps", "get"}, "", "missing <app>"},
		{[]string{"keys", "list"}, "", "--app is required"},
		{[]string{"keys", "create", "--app", "w", "--expires", "soon"}, "", `--expires "soon": use a date like 2027-06-30`},
		{[]string{"keys", "create", "--app", "w", "--expires", "2027-06-30", "--expires-in-days", "9"}, "", "not both"},
		{[]string{"user-keys", "create", "--expires-in-days", "-1"}, "", "use a positive number of days"},
		{[]string{"keys", "revoke", "--app", "w"}, "", "missing <access-key>"},
		{[]string{"app-codes", "revoke", "--app", "w"}, "", "missing <id>"},
		{[]string{"user-keys", "revoke"}, "", "missing <access-key>"},
		{[]string{"subscriptions", "create", "--app", "w", "--api", "acme/weather", "--version", "v1"}, "", "--plan is required"},
		{[]string{"subscriptions", "create", "--app", "w", "--api", "weather", "--version", "v1", "--plan", "pro"}, "", "--api weather: name the API as provider/api"},
		{[]string{"subscriptions", "list", "--status", "paused"}, "", "--status paused: use one of pending_approval, pending_payment, active"},
		{[]string{"subscriptions", "change-plan", "sub_1"}, "", "missing <plan>"},
		{[]string{"subscriptions", "history"}, "", "missing <id>"},
		{[]string{"subscribers", "reject", "sub_1"}, "", "--reason is required"},
		{[]string{"subscribers", "suspend", "sub_1", "--reason", " "}, "", "--reason is required"},
		{[]string{"subscribers", "terminate", "sub_1", "--api", "weather"}, "", "--reason is required"},
		{[]string{"subscribers", "approve", "sub_1", "--reason", "x"}, "", "flag provided but not defined: -reason"},
		{[]string{"subscribers", "list", "--status", "nope"}, "", "--status nope"},
		{[]string{"approvals", "list", "extra"}, "", `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			c := cliFor(t, f)
			c.stdin = tt.stdin
			code := c.run(tt.args...)
			if code != 2 || !strings.Contains(c.stderr.String(), tt.want) || !strings.Contains(c.stderr.String(), "-h' for usage.") {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, c.stderr.String(), tt.want)
			}
		})
	}
	if r := f.requests(); len(r) != 0 {
		t.Errorf("usage errors reached the server: %v", r)
	}
}

func TestPartnerHelp(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "  subscriptions"},
		{[]string{"subscribers", "help"}, "terminate"},
		{[]string{"keys", "create", "-h"}, "--expires-in-days"},
		{[]string{"login", "-h"}, "--secret-key-stdin"},
	} {
		c := newCLI(t)
		if code := c.run(tt.args...); code != 0 || !strings.Contains(c.stdout.String(), tt.want) {
			t.Errorf("%v: exit %d, stdout %q; want %q", tt.args, code, c.stdout.String(), tt.want)
		}
	}
}

func TestCredentialsPrecedence(t *testing.T) {
	c := newCLI(t)
	if err := saveConfig(c.configFile(), &Config{Server: "https://a.example", AccessKey: userAK, SecretKey: userSK, Region: "eu-test-1"}); err != nil {
		t.Fatal(err)
	}
	mk := func(args ...string) credentials {
		a := &app{getenv: func(k string) string { return c.env[k] }, stdout: io.Discard, stderr: io.Discard}
		fs := a.flagSet(&command{name: "x"})
		if _, err := parseInterspersed(fs, args, false); err != nil {
			t.Fatal(err)
		}
		return a.credentials()
	}
	stored := credentials{accessKey: userAK, secretKey: userSK, region: "eu-test-1"}
	if got := mk(); got != stored {
		t.Errorf("stored key: %+v", got)
	}
	if got := mk("--server", "https://evil.example"); got != (credentials{}) {
		t.Errorf("another server got the stored key: %+v", got)
	}
	c.env["PORTICO_REGION"] = "us-test-2"
	if got := mk(); got.region != "us-test-2" {
		t.Errorf("PORTICO_REGION: region %q", got.region)
	}
	c.env["PORTICO_ACCESS_KEY"], c.env["PORTICO_SECRET_KEY"] = "PUENVENVENVENVENV001", "env-secret"
	if got := mk(); got != (credentials{accessKey: "PUENVENVENVENVENV001", secretKey: "env-secret", region: "us-test-2"}) {
		t.Errorf("environment key: %+v", got)
	}
	c.env["PORTICO_TOKEN"] = "pat_env"
	if got := mk(); got != (credentials{token: "pat_env"}) {
		t.Errorf("PORTICO_TOKEN: %+v", got)
	}
	if got := mk("--token", "pat_flag"); got != (credentials{token: "pat_flag"}) {
		t.Errorf("--token: %+v", got)
	}
}
