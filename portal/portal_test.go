package portal_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/portal"
	"github.com/portico-dev/portico/portal/api"
	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/portal/domains"
	"github.com/portico-dev/portico/portal/mail"
	"github.com/portico-dev/portico/portal/market"
	"github.com/portico-dev/portico/tenants"
	"github.com/portico-dev/portico/tenants/keyring"

	"github.com/google/uuid"
)

// env is a running portal on a real database, as a browser or API client
// sees it.
type env struct {
	t      *testing.T
	srv    *httptest.Server
	portal *portal.Server
	db     *migrations.DB
	svc    *tenants.Service
	cat    *catalog.Service
	plans  *billing.Service
	doms   *domains.Service
	router routers.Router
}

const operatorToken = "operator-token-for-tests-0123456789"

func newEnv(t *testing.T, db *migrations.DB) *env {
	t.Helper()
	e := &env{t: t, db: db}
	key := make([]byte, 32)
	rand.Read(key)
	kr, err := keyring.New(key)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	outbox := mail.NewOutbox(db.DB, log, func() string { return uuid.Must(uuid.NewV7()).String() })
	e.srv = httptest.NewUnstartedServer(nil)
	base := "http://" + e.srv.Listener.Addr().String()
	pp := tenants.FastPasswordParams
	e.svc = tenants.NewService(db.DB, tenants.Options{BaseURL: base, Mailer: outbox, Logger: log, PasswordParams: &pp, Keyring: kr})
	e.cat = catalog.NewService(db.DB, catalog.Options{Keyring: kr, Guard: catalog.UpstreamGuard{AllowPrivate: true}, Logger: log})
	e.plans = billing.NewService(db.DB, billing.Options{Versions: e.cat, Logger: log, Mailer: outbox, BaseURL: base})
	e.cat.SetOnOffline(e.plans.EndVersionSubscriptions)
	e.doms = domains.NewService(db.DB, domains.Options{Keyring: kr, Logger: log, GatewayDomain: "gw.portico.test", AnyIssuer: true})
	e.portal, err = portal.New(portal.Config{BaseURL: base, OperatorToken: operatorToken, MaxBodyBytes: 512 << 10},
		portal.Deps{Tenants: e.svc, Catalog: e.cat, Plans: e.plans, Market: market.NewService(db.DB, e.plans), Domains: e.doms, DB: db, Keyring: kr, Outbox: outbox, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = e.portal
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	doc, _, err := api.Document()
	if err != nil {
		t.Fatal(err)
	}
	if e.router, err = gorillamux.NewRouter(doc); err != nil {
		t.Fatal(err)
	}
	return e
}

// emailLink returns the token of the newest emailed link to addr with path.
func (e *env) emailLink(to, path string) string {
	e.t.Helper()
	var rows []mail.OutboxEmail
	e.db.Where("to_addr = ?", to).Order("id DESC").Find(&rows)
	re := regexp.MustCompile(regexp.QuoteMeta(path) + `([A-Za-z0-9_-]{20,})`)
	for _, r := range rows {
		if m := re.FindStringSubmatch(r.Body); m != nil {
			return m[1]
		}
	}
	e.t.Fatalf("no email to %s with a %s link", to, path)
	return ""
}

// apiResp is one API response, already checked against the OpenAPI document.
type apiResp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r apiResp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// call makes an API request and validates the response — status, headers,
// body — against openapi.yaml, so the document cannot drift from the code.
func (e *env) call(method, path, token string, body any, mods ...func(*http.Request)) apiResp {
	e.t.Helper()
	var rd io.Reader
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		raw, _ = json.Marshal(b)
	}
	if raw != nil {
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, m := range mods {
		m(req)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	r := apiResp{Status: res.StatusCode, Header: res.Header, Body: out}

	// Validate against the document.
	if !strings.HasPrefix(path, "/api/") {
		return r
	}
	vreq, _ := http.NewRequest(method, "http://localhost"+path, bytes.NewReader(raw))
	vreq.Header = req.Header.Clone()
	route, params, err := e.router.FindRoute(vreq)
	if err != nil {
		if r.Status != http.StatusNotFound && r.Status != http.StatusMethodNotAllowed {
			e.t.Errorf("%s %s: not in openapi.yaml (%v) but answered %d", method, path, err, r.Status)
		}
		return r
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: r.Status, Header: res.Header, Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(out)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		e.t.Errorf("%s %s -> %d does not match openapi.yaml: %v\nbody: %s", method, path, r.Status, err, out)
	}
	return r
}

func expectStatus(t *testing.T, r apiResp, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d: %s", r.Status, want, r.Body)
	}
}

// problemType returns the problem "type" suffix of an error response.
func problemType(t *testing.T, r apiResp) string {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("content type %q, want problem+json: %s", ct, r.Body)
	}
	return strings.TrimPrefix(r.json(t)["type"].(string), "https://portico.dev/problems/")
}

// signUp creates a user and organisation through the API and returns the
// token.
func (e *env) signUp(name, email, slug string) (token string, orgID string) {
	e.t.Helper()
	r := e.call("POST", "/api/v1/signup", "", map[string]any{
		"name": name, "email": email, "password": "correct horse battery",
		"organization": map[string]any{"name": slug + " Ltd", "slug": slug},
	})
	expectStatus(e.t, r, http.StatusCreated)
	m := r.json(e.t)
	return m["token"].(string), m["organization"].(map[string]any)["id"].(string)
}

// browser is a cookie-keeping client that does not follow redirects, so
// tests see each 303.
type browser struct {
	e      *env
	client *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	Status   int
	Location string
	Header   http.Header
	Body     string
}

func (b *browser) get(path string) page {
	b.e.t.Helper()
	req, _ := http.NewRequest("GET", b.e.srv.URL+path, nil)
	req.Header.Set("Accept", "text/html")
	return b.do(req)
}

func (b *browser) do(req *http.Request) page {
	b.e.t.Helper()
	res, err := b.client.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return page{Status: res.StatusCode, Location: res.Header.Get("Location"), Header: res.Header, Body: string(body)}
}

var csrfField = regexp.MustCompile(`name="gorilla\.csrf\.Token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="gorilla\.csrf\.Token"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field in page:\n%.2000s", body)
	}
	if m[1] != "" {
		return html.UnescapeString(m[1])
	}
	return html.UnescapeString(m[2])
}

// submit loads formPage for its CSRF token, then posts the form to action.
func (b *browser) submit(formPage, action string, fields map[string]string) page {
	b.e.t.Helper()
	p := b.get(formPage)
	if p.Status != http.StatusOK {
		b.e.t.Fatalf("GET %s: %d", formPage, p.Status)
	}
	return b.post(action, csrfOf(b.e.t, p.Body), fields)
}

func (b *browser) post(action, csrfToken string, fields map[string]string) page {
	b.e.t.Helper()
	v := url.Values{}
	for k, val := range fields {
		v.Set(k, val)
	}
	if csrfToken != "" {
		v.Set("gorilla.csrf.Token", csrfToken)
	}
	req, _ := http.NewRequest("POST", b.e.srv.URL+action, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	return b.do(req)
}

func eachEnv(t *testing.T, fn func(t *testing.T, e *env)) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) { fn(t, newEnv(t, db)) })
}

func regexpMust(p string) *regexp.Regexp { return regexp.MustCompile(p) }
