package portal_test

import (
	"bytes"
	"context"
	"html"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/portico-dev/portico/portal/catalog"
)

// specFile is a file chosen in a form's file input.
type specFile struct {
	name    string
	content []byte
}

// postMultipart posts a multipart/form-data form as a browser does: the
// fields, the CSRF token and the openapi_file input, empty when no file was
// chosen.
func (b *browser) postMultipart(action, csrfToken string, fields url.Values, file *specFile) page {
	b.e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range fields {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	if csrfToken != "" {
		mw.WriteField("gorilla.csrf.Token", csrfToken)
	}
	if file != nil {
		fw, _ := mw.CreateFormFile("openapi_file", file.name)
		fw.Write(file.content)
	} else {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="openapi_file"; filename=""`)
		h.Set("Content-Type", "application/octet-stream")
		mw.CreatePart(h)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", b.e.srv.URL+action, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "text/html")
	return b.do(req)
}

var formActionRE = regexp.MustCompile(`<form[^>]*\saction="([^"]*)"`)

// formActions lists the actions of a page's own forms, leaving out those
// of the frame (log out, resend the verification email).
func formActions(body string) []string {
	out := []string{}
	for _, m := range formActionRE.FindAllStringSubmatch(body, -1) {
		if a := html.UnescapeString(m[1]); a != "/logout" && a != "/account/verify/resend" {
			out = append(out, a)
		}
	}
	return out
}

func expectPage(t *testing.T, what string, p page, status int, want ...string) {
	t.Helper()
	if p.Status != status {
		t.Fatalf("%s: status %d, want %d (location %q)\n%.4000s", what, p.Status, status, p.Location, stripCSRF(p.Body))
	}
	for _, w := range want {
		if !strings.Contains(p.Body, w) {
			t.Fatalf("%s: page lacks %q\n%s", what, w, stripCSRF(p.Body))
		}
	}
}

func expectRedirect(t *testing.T, what string, p page, to string) {
	t.Helper()
	if p.Status != http.StatusSeeOther || p.Location != to {
		t.Fatalf("%s: %d %q, want 303 to %q\n%.4000s", what, p.Status, p.Location, to, stripCSRF(p.Body))
	}
}

// twoProblems is an OpenAPI document with two problems, on lines 5 and 7.
const twoProblems = "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get: {}\n  /b:\n    post: {}\n"

func TestConsoleCatalogJourney(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		b := e.browser()
		expectRedirect(t, "sign up", b.submit("/signup", "/signup", map[string]string{
			"name": "Ada", "email": "ada@example.com", "password": "correct horse battery", "org_name": "Acme", "org_slug": "acme"}), "/orgs/acme")
		org, _, err := e.svc.OrganizationForMember(ctx, mustUserID(t, e, "ada@example.com"), "acme")
		if err != nil {
			t.Fatal(err)
		}

		// The navigation leads to an empty list with a call to action.
		expectPage(t, "dashboard", b.get("/orgs/acme"), http.StatusOK, `href="/orgs/acme/apis"`)
		expectPage(t, "empty list", b.get("/orgs/acme/apis"), http.StatusOK, "No APIs yet", `href="/orgs/acme/apis/new"`)

		// Create an API: a mistake first, then for real.
		p := b.submit("/orgs/acme/apis/new", "/orgs/acme/apis", map[string]string{"slug": "Pets!", "name": "Pets", "tags": "pets, dogs"})
		expectPage(t, "invalid API", p, http.StatusUnprocessableEntity, "Use 2 to 40 lower-case letters", `value="Pets!"`, `value="pets, dogs"`)
		p = b.submit("/orgs/acme/apis/new", "/orgs/acme/apis", map[string]string{
			"slug": "pets", "name": "Pets", "summary": "Pets as a service.", "description": "# Pets\n\nAll the pets.", "category": "animals",
			"tags": "pets, dogs", "visibility": "public", "contact_url": "mailto:api@acme.test"})
		expectRedirect(t, "create API", p, "/orgs/acme/apis/pets#new-version")
		api, err := e.cat.API(ctx, org.ID, "pets")
		if err != nil || api.Visibility != catalog.Public || !slices.Equal(api.Tags, []string{"pets", "dogs"}) || api.Description != "# Pets\n\nAll the pets." {
			t.Fatalf("created API = %+v, %v", api, err)
		}
		apiPage := b.get("/orgs/acme/apis/pets")
		expectPage(t, "API page", apiPage, http.StatusOK, "API Pets created", `enctype="multipart/form-data"`, `name="version" value="v1"`, `accept=".json,.yaml,.yml`)
		p = b.submit("/orgs/acme/apis/new", "/orgs/acme/apis", map[string]string{"slug": "pets", "name": "Again"})
		expectPage(t, "duplicate slug", p, http.StatusConflict, "already exists")
		expectPage(t, "list", b.get("/orgs/acme/apis"), http.StatusOK, `href="/orgs/acme/apis/pets"`, "Pets as a service.", "Public", "None yet")

		// Edit the details; the slug stays.
		p = b.post("/orgs/acme/apis/pets", csrfOf(t, apiPage.Body), map[string]string{"name": "Pet Store", "visibility": "unlisted", "terms_url": "not a url"})
		expectPage(t, "invalid details", p, http.StatusUnprocessableEntity, "Use a full http(s) URL", `value="Pet Store"`)
		p = b.post("/orgs/acme/apis/pets", csrfOf(t, apiPage.Body), map[string]string{"name": "Pet Store", "summary": "Pets as a service.", "visibility": "public", "tags": "pets"})
		expectRedirect(t, "save details", p, "/orgs/acme/apis/pets#details")
		if api, _ = e.cat.API(ctx, org.ID, "pets"); api.Name != "Pet Store" || api.Slug != "pets" {
			t.Fatalf("details not saved: %+v", api)
		}

		// An invalid pasted document: each problem with its pointer and
		// line, and the text as pasted.
		csrf := csrfOf(t, apiPage.Body)
		p = b.postMultipart("/orgs/acme/apis/pets/versions", csrf, url.Values{"version": {"v1"}, "openapi_text": {twoProblems}, "backend": {"mock"}}, nil)
		expectPage(t, "invalid pasted spec", p, http.StatusUnprocessableEntity,
			"The OpenAPI document has 2 problems", "Line 5", "/paths/~1a/get", "Line 7", "/paths/~1b/post",
			"info: {title: t, version: &#39;1&#39;}\npaths:\n  /a:\n    get: {}", `name="backend" value="mock" checked`)
		// The same as an uploaded file: its content lands in the text box.
		p = b.postMultipart("/orgs/acme/apis/pets/versions", csrf, url.Values{"version": {"v1"}, "backend": {"mock"}}, &specFile{"broken.yaml", []byte(twoProblems)})
		expectPage(t, "invalid uploaded spec", p, http.StatusUnprocessableEntity, "<strong>broken.yaml</strong>", "/paths/~1b/post", "    post: {}\n</textarea>")
		if vs, _ := e.cat.ListVersions(ctx, org.ID, "pets"); len(vs) != 0 {
			t.Fatalf("an invalid version was created: %+v", vs)
		}

		// Upload the pet store with an upstream: the operations are there
		// and the backend signing secret is shown once.
		spec, err := os.ReadFile("catalog/testdata/petstore-3.0.yaml")
		if err != nil {
			t.Fatal(err)
		}
		p = b.postMultipart("/orgs/acme/apis/pets/versions", csrf, url.Values{
			"version": {"v1"}, "backend": {"upstream"}, "target_url": {"http://backend-a.internal:8080", ""}, "target_weight": {"2", ""}, "timeout_ms": {"5000"},
		}, &specFile{"petstore-3.0.yaml", spec})
		expectPage(t, "create version", p, http.StatusCreated, "Version v1 created", "listPets", "createPets", "showPetById",
			"/pets/{petId}", "will not be shown again", `value="http://backend-a.internal:8080"`)
		secret := regexpFind(p.Body, `id="backend-secret">[^<]+<`)
		secret = strings.TrimSuffix(strings.TrimPrefix(secret, `id="backend-secret">`), "<")
		_, ver, _ := e.cat.Version(ctx, org.ID, "pets", "v1")
		keys, _ := e.cat.BackendKeys(ctx, org.ID, ver.ID)
		if len(keys) != 1 || !strings.Contains(p.Body, keys[0].KeyID) {
			t.Fatalf("keys %+v", keys)
		}
		if s, _ := e.cat.BackendSecret(keys[0]); secret == "" || s != secret {
			t.Fatalf("shown secret %q is not the key's", secret)
		}
		if ver.Upstream.TimeoutMS != 5000 || len(ver.Upstream.Targets) != 1 || ver.Upstream.Targets[0].Weight != 2 {
			t.Fatalf("upstream %+v", ver.Upstream)
		}
		const v1 = "/orgs/acme/apis/pets/versions/v1"
		vp := b.get(v1)
		expectPage(t, "version page", vp, http.StatusOK, "Not deployed yet", "listPets", `href="`+v1+`/environments/production/deploy"`)
		if strings.Contains(vp.Body, secret) {
			t.Fatal("the backend secret is shown again")
		}

		// Deploy to production through the publish dialog.
		p = b.get(v1 + "/environments/production/deploy")
		expectPage(t, "deploy dialog", p, http.StatusOK, "First deployment to production", "First production deployment",
			"Deploy revision #1 to production", "http://backend-a.internal:8080", "/pets/{petId}", "4 operations")
		expectRedirect(t, "deploy", b.post(v1+"/environments/production/deploy", csrfOf(t, p.Body), map[string]string{"note": "launch"}), v1+"#environments")
		expectPage(t, "after deploy", b.get(v1), http.StatusOK, "Deployed v1 to production as revision #1.", "Up to date with the draft.", "Published")
		if p = b.get(v1 + "/environments/staging/deploy"); p.Status != http.StatusNotFound {
			t.Fatalf("unknown environment: %d", p.Status)
		}

		// Edit the upstream: invalid first (the typed values stay), then for
		// real; the change is pending until deployed.
		p = b.submit(v1, v1+"/upstream", map[string]string{"target_url": "ftp://backend", "target_weight": "1", "retries": "1"})
		expectPage(t, "invalid upstream", p, http.StatusUnprocessableEntity, "Use an http:// or https:// URL", `value="ftp://backend"`)
		p = b.submit(v1, v1+"/upstream", map[string]string{"target_url": "http://backend-a.internal:8080", "target_weight": "many"})
		expectPage(t, "weight not a number", p, http.StatusUnprocessableEntity, "Use a weight from 1 to 1000.", `value="many"`)
		p = b.submit(v1, v1+"/upstream", map[string]string{"target_url": "http://backend-b.internal:9090", "target_weight": "3", "timeout_ms": "5000", "retries": "1", "health_check_path": "/healthz"})
		expectRedirect(t, "save upstream", p, v1+"#backend")
		const change = "upstream targets: [http://backend-a.internal:8080 (weight 2)] → [http://backend-b.internal:9090 (weight 3)]"
		expectPage(t, "pending change", b.get(v1), http.StatusOK, "3 changes not deployed yet", change, `upstream health check: &#34;&#34; → &#34;/healthz&#34;`)

		// Deploy again: the dialog shows the diff and the next revision.
		p = b.get(v1 + "/environments/production/deploy")
		expectPage(t, "second deploy dialog", p, http.StatusOK, "Changes since revision #1", change, "upstream retries: 0 → 1", "Deploy revision #2 to production")
		expectRedirect(t, "deploy again", b.post(v1+"/environments/production/deploy", csrfOf(t, p.Body), map[string]string{"note": "move to b"}), v1+"#environments")

		// The history shows both revisions, the diff and the way back.
		p = b.get(v1 + "/revisions")
		expectPage(t, "history", p, http.StatusOK, change, "move to b", "launch", "first deployment to production",
			`action="`+v1+`/environments/production/revisions/1/rollback"`, "Not deployed to test yet")
		if strings.Contains(p.Body, `/revisions/2/rollback"`) {
			t.Fatal("the live revision offers a rollback")
		}
		p = b.post(v1+"/environments/production/revisions/1/rollback", csrfOf(t, p.Body), nil)
		expectRedirect(t, "roll back", p, v1+"/revisions")
		p = b.get(v1 + "/revisions")
		expectPage(t, "history after rollback", p, http.StatusOK, "Rolled production back to revision #1: it is live again as revision #3.", "Rollback to #1",
			`/environments/production/revisions/2/rollback"`)
		if strings.Contains(p.Body, `/revisions/1/rollback"`) || strings.Contains(p.Body, `/revisions/3/rollback"`) {
			t.Fatal("a revision that is live offers a rollback")
		}
		revs, _ := e.cat.Revisions(ctx, org.ID, "pets", "v1", catalog.EnvProduction)
		if len(revs) != 3 || !revs[0].Live || revs[0].Kind != "rollback" || revs[0].Snapshot.Upstream.Targets[0].URL != "http://backend-a.internal:8080" {
			t.Fatalf("after rollback: %+v", revs[0])
		}
		if p = b.post(v1+"/environments/production/revisions/9/rollback", csrfOf(t, p.Body), nil); p.Status != http.StatusNotFound {
			t.Fatalf("rollback to a missing revision: %d", p.Status)
		}

		// Operation overrides, gateway settings.
		p = b.submit(v1, v1+"/operations/listPets", map[string]string{"timeout_ms": "0"})
		expectPage(t, "invalid override", p, http.StatusUnprocessableEntity, "Use 1 to 300000 milliseconds.", `value="0" aria-invalid="true"`)
		expectRedirect(t, "override", b.submit(v1, v1+"/operations/listPets", map[string]string{"timeout_ms": "2500", "max_body_bytes": ""}), v1+"#operations")
		ops, _ := e.cat.Operations(ctx, org.ID, ver.ID)
		for _, o := range ops {
			if o.OperationID == "listPets" && (o.TimeoutMS == nil || *o.TimeoutMS != 2500 || o.Billable || o.MaxBodyBytes != nil) {
				t.Fatalf("listPets = %+v", o)
			}
		}
		if p = b.submit(v1, v1+"/operations/noSuchOp", map[string]string{"timeout_ms": "1"}); p.Status != http.StatusNotFound {
			t.Fatalf("unknown operation: %d", p.Status)
		}
		expectRedirect(t, "settings", b.submit(v1, v1+"/settings", map[string]string{"max_body_bytes": "2048", "require_nonce": "true"}), v1+"#settings")
		_, ver, _ = e.cat.Version(ctx, org.ID, "pets", "v1")
		if !ver.Settings.Equal(catalog.Settings{MaxBodyBytes: 2048, RequireNonce: true}) {
			t.Fatalf("settings %+v", ver.Settings)
		}
		expectRedirect(t, "public", b.submit(v1, v1+"/settings", map[string]string{"max_body_bytes": "2048", "require_nonce": "true", "public": "true"}), v1+"#settings")
		_, ver, _ = e.cat.Version(ctx, org.ID, "pets", "v1")
		if !ver.Settings.Equal(catalog.Settings{MaxBodyBytes: 2048, Public: true}) {
			t.Fatalf("public settings %+v", ver.Settings)
		}
		p = b.submit(v1, v1+"/settings", map[string]string{"max_body_bytes": "lots"})
		expectPage(t, "invalid settings", p, http.StatusUnprocessableEntity, "Use a whole number of bytes", `value="lots"`)
		// Browser origins: one per line, normalised; a bad one re-renders
		// the form with the lines as typed and the field's error.
		expectRedirect(t, "cors", b.submit(v1, v1+"/settings", map[string]string{"max_body_bytes": "2048",
			"cors_origins": "HTTPS://Shop.Example.com\r\n\r\nhttp://localhost:3000\r\n", "cors_max_age": "90"}), v1+"#settings")
		_, ver, _ = e.cat.Version(ctx, org.ID, "pets", "v1")
		if got := strings.Join(ver.Settings.CORSOrigins, " "); got != "https://shop.example.com http://localhost:3000" || ver.Settings.MaxAge() != 90 {
			t.Fatalf("cors settings %+v", ver.Settings)
		}
		expectPage(t, "cors form", b.get(v1), http.StatusOK, "https://shop.example.com\nhttp://localhost:3000</textarea>", `name="cors_max_age"`, `value="90"`)
		p = b.submit(v1, v1+"/settings", map[string]string{"max_body_bytes": "2048", "cors_origins": "https://shop.example.com/app"})
		expectPage(t, "invalid origin", p, http.StatusUnprocessableEntity, "is not an origin", `id="cors-origins-error"`, "https://shop.example.com/app</textarea>")
		p = b.submit(v1, v1+"/settings", map[string]string{"max_body_bytes": "2048", "cors_origins": "*", "cors_max_age": "a day"})
		expectPage(t, "invalid max age", p, http.StatusUnprocessableEntity, "Use a whole number of seconds", `value="a day"`)

		// Test connection refuses loopback unless private upstreams are
		// allowed, and never reaches the server.
		var hits atomic.Int32
		backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
		defer backend.Close()
		p = b.submit(v1, v1+"/test-connection", map[string]string{"target_url": backend.URL, "target_weight": "1"})
		expectPage(t, "test connection", p, http.StatusOK, "Connection test", "Blocked:", `value="`+backend.URL+`"`)
		if hits.Load() != 0 {
			t.Fatal("the connection test reached a loopback address")
		}

		// Replace the document by pasting: problems are listed, the text
		// stays; a valid one replaces the operations.
		p = b.get(v1)
		p = b.postMultipart(v1+"/openapi", csrfOf(t, p.Body), url.Values{"openapi_text": {twoProblems}}, nil)
		expectPage(t, "invalid replacement", p, http.StatusUnprocessableEntity, "Line 7", "/paths/~1b/post", "    post: {}\n</textarea>")
		weather, err := os.ReadFile("catalog/testdata/weather-3.1.json")
		if err != nil {
			t.Fatal(err)
		}
		p = b.postMultipart(v1+"/openapi", csrfOf(t, p.Body), url.Values{"openapi_text": {string(weather)}}, nil)
		expectRedirect(t, "replace document", p, v1+"#operations")

		// Rotate the signing key (secret shown once), retire the old one.
		p = b.get(v1)
		p = b.post(v1+"/backend-keys", csrfOf(t, p.Body), nil)
		expectPage(t, "rotate", p, http.StatusCreated, "Your new backend signing secret", "will not be shown again")
		p = b.post(v1+"/backend-keys/"+keys[0].KeyID+"/retire", csrfOf(t, p.Body), nil)
		expectRedirect(t, "retire", p, v1+"#keys")
		keys, _ = e.cat.BackendKeys(ctx, org.ID, ver.ID)
		if len(keys) != 2 || keys[1].Status != "retired" || keys[0].Status != "active" {
			t.Fatalf("keys after rotation: %+v", keys)
		}

		// A version that is not ready says what is missing, and nothing
		// is deployed.
		p = b.postMultipart("/orgs/acme/apis/pets/versions", csrfOf(t, b.get("/orgs/acme/apis/pets").Body), url.Values{"version": {"v2"}, "backend": {"upstream"}}, nil)
		expectPage(t, "empty version", p, http.StatusCreated, "Version v2 created as a draft with 0 operations.", "No operations yet")
		p = b.get("/orgs/acme/apis/pets/versions/v2/environments/test/deploy")
		p = b.post("/orgs/acme/apis/pets/versions/v2/environments/test/deploy", csrfOf(t, p.Body), nil)
		expectPage(t, "deploy an empty version", p, http.StatusConflict, "The version cannot be deployed yet:", "The version has no operations", "The version has no upstream")
		if revs, _ := e.cat.Revisions(ctx, org.ID, "pets", "v2", ""); len(revs) != 0 {
			t.Fatalf("an unready version was deployed: %+v", revs)
		}

		// Deprecate (the sunset must be in the future), then take offline.
		p = b.submit(v1, v1+"/deprecate", map[string]string{"sunset_at": "2001-01-01"})
		expectPage(t, "past sunset", p, http.StatusUnprocessableEntity, "The sunset date must be in the future.", `value="2001-01-01"`)
		expectRedirect(t, "deprecate", b.submit(v1, v1+"/deprecate", map[string]string{"sunset_at": "2099-01-31"}), v1+"#lifecycle")
		expectPage(t, "deprecated", b.get(v1), http.StatusOK, "Deprecated", "2099-01-31")
		expectRedirect(t, "offline", b.submit(v1, v1+"/offline", nil), v1+"#lifecycle")
		p = b.get(v1)
		expectPage(t, "offline", p, http.StatusOK, "v1 is offline", "Offline since")
		if a := formActions(p.Body); len(a) != 0 {
			t.Fatalf("an offline version has forms: %q", a)
		}
		expectPage(t, "deploy offline", b.get(v1+"/environments/test/deploy"), http.StatusOK, "This version cannot be deployed")
		// A form posted from a page that was open before: the reason shows.
		p = b.post(v1+"/upstream", csrfOf(t, p.Body), map[string]string{"target_url": "http://backend-a.internal:8080"})
		expectPage(t, "change an offline version", p, http.StatusConflict, "is offline and can no longer change")
	})
}

// TestConsoleCatalogPermissions: viewers read the catalog but see no write
// forms and are refused (403) on every write; every write needs the CSRF
// token.
func TestConsoleCatalogPermissions(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		owner := e.browser()
		expectRedirect(t, "sign up", owner.submit("/signup", "/signup", map[string]string{
			"name": "Ada", "email": "ada@example.com", "password": "correct horse battery", "org_name": "Acme", "org_slug": "acme"}), "/orgs/acme")
		expectRedirect(t, "create API", owner.submit("/orgs/acme/apis/new", "/orgs/acme/apis", map[string]string{"slug": "pets", "name": "Pets"}), "/orgs/acme/apis/pets#new-version")
		spec, _ := os.ReadFile("catalog/testdata/petstore-3.0.yaml")
		p := owner.postMultipart("/orgs/acme/apis/pets/versions", csrfOf(t, owner.get("/orgs/acme/apis/pets").Body),
			url.Values{"version": {"v1"}, "backend": {"mock"}, "openapi_text": {string(spec)}}, nil)
		expectPage(t, "create version", p, http.StatusCreated, "listPets", "Mock backend")

		// Without the CSRF token nothing is accepted.
		const v1 = "/orgs/acme/apis/pets/versions/v1"
		for _, path := range []string{"/orgs/acme/apis", v1 + "/environments/test/deploy", v1 + "/upstream", v1 + "/offline"} {
			if p := owner.post(path, "", map[string]string{"slug": "evil", "name": "Evil", "target_url": "https://evil.example"}); p.Status != http.StatusForbidden {
				t.Fatalf("POST %s without CSRF: %d", path, p.Status)
			}
		}
		if p := owner.postMultipart("/orgs/acme/apis/pets/versions", "", url.Values{"version": {"v2"}, "backend": {"mock"}}, nil); p.Status != http.StatusForbidden {
			t.Fatalf("multipart POST without CSRF: %d", p.Status)
		}

		// A viewer joins.
		expectRedirect(t, "invite", owner.submit("/orgs/acme/members", "/orgs/acme/invitations", map[string]string{"email": "val@example.com", "role": "viewer"}), "/orgs/acme/members")
		viewer := e.browser()
		inv := e.emailLink("val@example.com", "/invitations/")
		expectRedirect(t, "viewer sign-up", viewer.submit("/signup?invitation="+inv, "/signup", map[string]string{
			"name": "Val", "email": "val@example.com", "password": "vals long password", "invitation": inv}), "/orgs/acme")

		for _, path := range []string{"/orgs/acme/apis", "/orgs/acme/apis/pets", v1, v1 + "/revisions"} {
			p := viewer.get(path)
			expectPage(t, "viewer "+path, p, http.StatusOK, "Pets")
			if a := formActions(p.Body); len(a) != 0 {
				t.Fatalf("viewer sees forms on %s: %q", path, a)
			}
			for _, s := range []string{"/apis/new", "/deploy", `type="file"`} {
				if strings.Contains(p.Body, s) {
					t.Fatalf("viewer sees %q on %s", s, path)
				}
			}
		}
		for _, path := range []string{"/orgs/acme/apis/new", v1 + "/environments/test/deploy"} {
			if p := viewer.get(path); p.Status != http.StatusForbidden {
				t.Fatalf("viewer GET %s: %d", path, p.Status)
			}
		}
		csrf := csrfOf(t, viewer.get(v1).Body)
		writes := []string{
			"/orgs/acme/apis", "/orgs/acme/apis/pets", "/orgs/acme/apis/pets/versions",
			v1 + "/openapi", v1 + "/upstream", v1 + "/test-connection", v1 + "/mock", v1 + "/settings", v1 + "/operations/listPets",
			v1 + "/backend-keys", v1 + "/deprecate", v1 + "/offline", v1 + "/environments/test/deploy",
			v1 + "/environments/test/revisions/1/rollback",
		}
		for _, path := range writes {
			p := viewer.post(path, csrf, map[string]string{"slug": "evil", "name": "Evil", "version": "v2", "mock": "true",
				"target_url": "https://evil.example", "sunset_at": "2099-01-01", "timeout_ms": "1"})
			expectPage(t, "viewer POST "+path, p, http.StatusForbidden, "Only owners, admins and developers can change APIs.")
		}
		keys, _ := e.cat.BackendKeys(ctx, mustOrgID(t, e), mustVersionID(t, e))
		if p := viewer.post(v1+"/backend-keys/"+keys[0].KeyID+"/retire", csrf, nil); p.Status != http.StatusForbidden {
			t.Fatalf("viewer retiring a key: %d", p.Status)
		}
		// Nothing changed.
		_, ver, _ := e.cat.Version(ctx, mustOrgID(t, e), "pets", "v1")
		if ver.State != catalog.Draft || !ver.Mock || ver.Settings.MaxBodyBytes != 10<<20 {
			t.Fatalf("viewer changed the version: %+v", ver)
		}
		if vs, _ := e.cat.ListVersions(ctx, mustOrgID(t, e), "pets"); len(vs) != 1 {
			t.Fatalf("viewer created a version: %d", len(vs))
		}
		if revs, _ := e.cat.Revisions(ctx, mustOrgID(t, e), "pets", "v1", ""); len(revs) != 0 {
			t.Fatalf("viewer deployed: %+v", revs)
		}
	})
}

func mustUserID(t *testing.T, e *env, email string) string {
	t.Helper()
	var id string
	if err := e.db.Table("users").Where("email = ?", email).Pluck("id", &id).Error; err != nil || id == "" {
		t.Fatalf("user %s: %v", email, err)
	}
	return id
}

func mustOrgID(t *testing.T, e *env) string {
	t.Helper()
	org, _, err := e.svc.OrganizationForMember(context.Background(), mustUserID(t, e, "ada@example.com"), "acme")
	if err != nil {
		t.Fatal(err)
	}
	return org.ID
}

func mustVersionID(t *testing.T, e *env) string {
	t.Helper()
	_, v, err := e.cat.Version(context.Background(), mustOrgID(t, e), "pets", "v1")
	if err != nil {
		t.Fatal(err)
	}
	return v.ID
}
