package templates_test

import (
	"strings"
	"testing"

	"github.com/portico-dev/portico/templates/layout"
	"github.com/portico-dev/portico/templates/pages/apis"
)

var (
	developerOrg = layout.Org{Slug: "acme", Name: "Acme Inc", Role: "developer"}
	viewerOrg    = layout.Org{Slug: "acme", Name: "Acme Inc", Role: "viewer"}
)

const (
	petsV1   = "/orgs/acme/apis/pets/versions/v1"
	badSpec  = "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get: {}\n  /b:\n    post: {}\n<script>alert(1)</script>"
	petsName = "Pets <API>"
)

func petsVersion(org layout.Org, canManage bool) apis.VersionProps {
	return apis.VersionProps{
		Page:    orgPage("Pets v1", "apis", verifiedUser, org),
		APISlug: "pets", APIName: petsName, Version: "v1", State: "published", Updated: "2026-11-26 14:03 UTC",
		CanManage: canManage, HasOpenAPI: true, MinSunset: "2026-11-27",
		Environments: []apis.EnvStatus{
			{Env: "test", Label: "Test"},
			{Env: "production", Label: "Production", Live: &apis.LiveRevision{Number: 2, By: "ada@example.com", When: "2026-11-26 14:00 UTC"},
				Pending: []string{"upstream timeout: 30000 → 5000 ms", "+ DELETE /pets/{petId}", "- GET /old", "~ GET /pets: billable true → false"}},
		},
		Operations: []apis.OperationRow{
			{OperationID: "listPets", Method: "GET", Path: "/pets", Summary: "List all pets", Source: "openapi", Billable: true},
			{OperationID: "createPets", Method: "POST", Path: "/pets", Source: "openapi", TimeoutMS: "5000", MaxBodyBytes: "1024"},
		},
		Keys: []apis.KeyRow{
			{KeyID: "bk_new", Status: "active", Created: "2026-11-26 14:00 UTC"},
			{KeyID: "bk_old", Status: "active", Created: "2026-10-01 09:00 UTC"},
			{KeyID: "bk_gone", Status: "retired", Created: "2026-01-01 09:00 UTC", Retired: "2026-10-01 09:00 UTC"},
		},
		Upstream: apis.UpstreamForm{Targets: []apis.TargetForm{{URL: "https://a.example.com/v1", Weight: "3"}}, TimeoutMS: "5000", Retries: "1"},
		Settings: apis.SettingsForm{MaxBodyBytes: "10485760", AllowAppCode: true},
	}
}

// versionActions are the forms of a published version's editor with two
// active keys and two operations.
var versionActions = []string{
	"/logout", petsV1 + "/openapi", petsV1 + "/upstream", petsV1 + "/mock", petsV1 + "/settings",
	petsV1 + "/operations/listPets", petsV1 + "/operations/createPets", petsV1 + "/backend-keys",
	petsV1 + "/backend-keys/bk_new/retire", petsV1 + "/backend-keys/bk_old/retire", petsV1 + "/deprecate", petsV1 + "/offline",
}

func apiCases() []pageCase {
	full := petsVersion(developerOrg, true)
	full.Created = &apis.CreatedKey{KeyID: "bk_new", Secret: "s3cr3t-backend-key", Heading: "The backend signing secret of v1"}
	full.Probes = []apis.ProbeResult{
		{URL: "https://a.example.com/v1", Method: "HEAD", Status: 204, Latency: "12 ms"},
		{URL: "http://10.0.0.1", Method: "HEAD", Error: "Blocked: the address is private, loopback, link-local or reserved. Upstreams must be public."},
	}

	upstreamFailed := petsVersion(developerOrg, true)
	upstreamFailed.Upstream = apis.UpstreamForm{Targets: []apis.TargetForm{{URL: "ftp://nope", Weight: "x"}}, Retries: "9"}
	upstreamFailed.Failed = apis.FormFailure{Form: "upstream", Message: "Please correct the highlighted fields.", Errors: map[string]string{
		"upstream.targets[0].url":    "Use an http:// or https:// URL with a host, and no credentials, query or fragment.",
		"upstream.targets[0].weight": "Use a weight from 1 to 1000.",
		"upstream.retries":           "Use 0 to 5 retries.",
	}}

	specFailed := petsVersion(developerOrg, true)
	specFailed.SpecText, specFailed.SpecFile = badSpec, "pets.yaml"
	specFailed.Failed = apis.FormFailure{Form: "openapi", Message: "The OpenAPI document has problems; they are listed next to it.", Errors: map[string]string{
		"openapi#/paths/~1a/get":  "line 5: value of responses must be an object",
		"openapi#/paths/~1b/post": "line 7: value of responses must be an object",
	}}

	opFailed := petsVersion(developerOrg, true)
	opFailed.Operations[1].TimeoutMS = "0"
	opFailed.Failed = apis.FormFailure{Form: "operation", Operation: "createPets", Message: "Use 1 to 300000 milliseconds.",
		Errors: map[string]string{"operation.timeout_ms": "Use 1 to 300000 milliseconds."}}

	lifecycleFailed := petsVersion(developerOrg, true)
	lifecycleFailed.SunsetAt = "2020-01-01"
	lifecycleFailed.Failed = apis.FormFailure{Form: "lifecycle", Message: "The sunset date must be in the future.",
		Errors: map[string]string{"sunset_at": "The sunset date must be in the future."}}

	offline := petsVersion(developerOrg, true)
	offline.State, offline.Offline = "offline", "2026-11-30 10:00 UTC"
	offline.Failed = apis.FormFailure{Form: "upstream", Message: "Version v1 is offline and can no longer change; create a new version."}

	corsFailed := petsVersion(developerOrg, true)
	corsFailed.Settings.CORSOrigins, corsFailed.Settings.CORSMaxAge = "https://shop.example.com/app", "99999"
	corsFailed.Failed = apis.FormFailure{Form: "settings", Message: "Please correct the highlighted fields.", Errors: map[string]string{
		"settings.cors_origins": `"https://shop.example.com/app" is not an origin.`,
		"settings.cors_max_age": "Use 0 to 86400 seconds.",
	}}

	corsViewer := petsVersion(viewerOrg, false)
	corsViewer.Settings.CORSOrigins, corsViewer.Settings.CORSMaxAge = "https://shop.example.com\nhttp://localhost:3000", "600"

	mock := petsVersion(developerOrg, true)
	mock.Mock, mock.Upstream = true, apis.UpstreamForm{}
	mock.Keys = mock.Keys[:1]

	draftNewVersion := apis.APIProps{
		Page: orgPage("Pets", "apis", verifiedUser, developerOrg), Slug: "pets", Name: petsName, CanManage: true,
		Created: "2026-11-01 09:00 UTC", Updated: "2026-11-26 14:03 UTC",
		Form: apis.APIForm{Slug: "pets", Name: petsName, Summary: "Pets, as a service.", Visibility: "public", Tags: "pets, animals"},
		Versions: []apis.VersionRow{
			{Version: "v1", State: "deprecated", Sunset: "2027-01-31", Operations: 4, Backend: "upstream",
				Production: &apis.LiveRevision{Number: 3, When: "2026-11-20 10:00 UTC"}},
			{Version: "v2", State: "draft", Operations: 0, Backend: "mock"},
		},
		NewVersion: apis.VersionForm{Version: "v3", SpecText: badSpec, Backend: "upstream",
			Upstream: apis.UpstreamForm{Targets: []apis.TargetForm{{URL: "https://a.example.com", Weight: "2"}}, TimeoutMS: "abc"}},
		NewVersionMessage: "The OpenAPI document has problems; they are listed next to it.",
		NewVersionErrors: map[string]string{
			"openapi#/paths/~1a/get":  "line 5: value of responses must be an object",
			"openapi#/paths/~1b/post": "line 7: value of responses must be an object; line 8: another problem",
		},
	}

	return []pageCase{
		{
			name: "apis list as developer",
			c: apis.List(apis.ListProps{
				Page: orgPage("APIs", "apis", verifiedUser, developerOrg), CanManage: true,
				APIs: []apis.APIRow{
					{Slug: "pets", Name: petsName, Summary: "Pets, as a service.", Visibility: "public", Updated: "2026-11-26 14:03 UTC",
						Versions: []apis.VersionBadge{{Version: "v1", State: "published"}, {Version: "v2", State: "draft"}}},
					{Slug: "weather", Name: "Weather", Visibility: "private", Updated: "2026-11-25 10:00 UTC"},
				},
				NextURL: "/orgs/acme/apis?cursor=x",
			}),
			actions: []string{"/logout"},
			want: []string{
				`href="/orgs/acme/apis/new"`, `href="/orgs/acme/apis/pets"`, "Pets &lt;API&gt;", `href="/orgs/acme/apis/pets/versions/v1"`,
				`badge-success">Published`, `badge-neutral">Draft`, `badge-info">Public`, `badge-muted">Private`, "None yet",
				`href="/orgs/acme/apis?cursor=x"`, `href="/orgs/acme/apis" aria-current="page"`, "<caption",
			},
			notWant: []string{"No APIs yet"},
		},
		{
			name:    "apis list empty as viewer",
			c:       apis.List(apis.ListProps{Page: orgPage("APIs", "apis", verifiedUser, viewerOrg)}),
			actions: []string{"/logout"},
			want:    []string{"No APIs yet"},
			notWant: []string{"/orgs/acme/apis/new", "<table"},
		},
		{
			name:    "apis list empty as developer",
			c:       apis.List(apis.ListProps{Page: orgPage("APIs", "apis", verifiedUser, developerOrg), CanManage: true}),
			actions: []string{"/logout"},
			want:    []string{"No APIs yet", `<div class="empty-action"><a class="btn btn-primary" href="/orgs/acme/apis/new">Create API</a>`},
		},
		{
			name: "new api with errors",
			c: apis.New(apis.NewProps{
				Page:    orgPage("New API", "apis", verifiedUser, developerOrg),
				Form:    apis.APIForm{Slug: "Pets!", Name: "Pets", Description: "# Pets\n\n<b>bold</b>", Tags: "a, b", Visibility: "unlisted"},
				Message: "Please correct the highlighted fields.",
				Errors: map[string]string{
					"slug": "Use 2 to 40 lower-case letters.", "contact_url": "Use a full http(s) URL or a mailto: address.",
					"mystery": "Something else is wrong.",
				},
			}),
			actions: []string{"/logout", "/orgs/acme/apis"},
			want: []string{
				"Use 2 to 40 lower-case letters.", "Use a full http(s) URL or a mailto: address.", "Something else is wrong.",
				`value="Pets!"`, `value="a, b"`, "# Pets\n\n&lt;b&gt;bold&lt;/b&gt;</textarea>", `<option value="unlisted" selected>`,
				`id="api-slug" name="slug" value="Pets!" autocomplete="off" required autofocus aria-invalid="true"`,
				`name="description" rows="8"`, `type="url" id="api-logo-url"`, "Markdown",
			},
			notWant: []string{`enctype`},
		},
		{
			name:    "api overview with a failed new version",
			c:       apis.Overview(draftNewVersion),
			actions: []string{"/logout", "/orgs/acme/apis/pets/versions", "/orgs/acme/apis/pets"},
			want: []string{
				`enctype="multipart/form-data"`, `type="file" id="nv-spec-file" name="openapi_file" accept=".json,.yaml,.yml`,
				"The OpenAPI document has 3 problems:", `<span class="problem-line">Line 5</span> <code class="problem-pointer">/paths/~1a/get</code>`,
				`<code class="problem-pointer">/paths/~1b/post</code>`, "another problem", "&lt;script&gt;alert(1)&lt;/script&gt;</textarea>",
				`aria-describedby="nv-spec-text-error nv-spec-problems"`, `name="backend" value="upstream" checked`,
				`value="https://a.example.com"`, `value="abc"`, "sunset 2027-01-31", `href="#new-version"`, `value="pets" readonly aria-describedby="api-slug-help"`,
				`value="pets, animals"`, "Not deployed", "#3", `data-add-target`, "Deprecated",
			},
			notWant: []string{"<script>alert(1)</script>", `name="slug"`},
		},
		{
			name: "api overview as viewer",
			c: apis.Overview(apis.APIProps{
				Page: orgPage("Pets", "apis", verifiedUser, viewerOrg), Slug: "pets", Name: "Pets",
				Form: apis.APIForm{Visibility: "private", Description: "Line one\nline two"},
			}),
			actions: []string{"/logout"},
			want:    []string{"No versions yet", "Line one\nline two", "<code>pets</code>"},
			notWant: []string{"New version", `href="#new-version"`, "<textarea"},
		},
		{
			name:    "version editor with a new key and a connection test",
			c:       apis.Version(full),
			actions: versionActions,
			want: []string{
				`<code class="secret-value" id="backend-secret">s3cr3t-backend-key</code>`, "will not be shown again",
				`formaction="/orgs/acme/apis/pets/versions/v1/test-connection"`, `id="probe-results" role="status" tabindex="-1" autofocus`,
				"answered 204 in 12 ms", "Blocked: the address is private", `badge-danger">Failed`,
				`class="change change-add">+ DELETE /pets/{petId}`, `class="change change-remove">- GET /old`, "4 changes not deployed yet",
				`href="/orgs/acme/apis/pets/versions/v1/environments/production/deploy"`, `href="/orgs/acme/apis/pets/versions/v1/environments/test/deploy"`,
				`form="op-0"`, `id="op-1" method="post"`, `name="billable" value="true" checked form="op-0"`, `value="5000"`,
				`data-confirm="Take Pets &lt;API&gt; v1 offline?`, `data-confirm="Retire the signing key bk_old?`, `data-confirm="Create a new signing key?`,
				`type="date"`, `min="2026-11-27"`, "App codes are weaker than signatures", `name="allow_app_code" value="true" checked`,
				`name="public" value="true"`, "Anyone on the internet can call a public version", "meters nothing",
				`aria-current="step"`, "Revision history", `class="method method-get"`,
			},
			notWant: []string{"backend-keys/bk_gone/retire"},
		},
		{
			name:    "version editor with a failed upstream",
			c:       apis.Version(upstreamFailed),
			actions: versionActions,
			want: []string{
				`value="ftp://nope"`, `value="x"`, `value="9"`, "Use a weight from 1 to 1000.", "Use 0 to 5 retries.",
				`id="up-target-0-url" name="target_url" value="ftp://nope" autocomplete="off" autofocus aria-invalid="true"`,
			},
			notWant: []string{"probe-results"},
		},
		{
			name:    "version editor with a failed document",
			c:       apis.Version(specFailed),
			actions: versionActions,
			want: []string{
				"The content of <strong>pets.yaml</strong> is in the text box below", "The OpenAPI document has 2 problems:",
				"&lt;script&gt;alert(1)&lt;/script&gt;</textarea>", `<span class="problem-line">Line 7</span>`, "autofocus",
			},
		},
		{
			name:    "version editor with a failed operation",
			c:       apis.Version(opFailed),
			actions: versionActions,
			want:    []string{`id="op-1-timeout_ms" name="timeout_ms" form="op-1"`, `value="0" aria-invalid="true" aria-describedby="op-1-timeout_ms-error" autofocus`},
		},
		{
			name:    "version editor with a failed deprecation",
			c:       apis.Version(lifecycleFailed),
			actions: versionActions,
			want:    []string{"The sunset date must be in the future.", `value="2020-01-01"`},
		},
		{
			name:    "version editor on mock",
			c:       apis.Version(mock),
			actions: slicesWithout(versionActions, petsV1+"/mock", petsV1+"/backend-keys/bk_new/retire", petsV1+"/backend-keys/bk_old/retire"),
			want:    []string{"Mock backend", "Save and switch to this upstream"},
			notWant: []string{`data-confirm="Create a new signing key?`},
		},
		{
			name:    "version editor as viewer",
			c:       apis.Version(petsVersion(viewerOrg, false)),
			actions: []string{"/logout"},
			want:    []string{"https://a.example.com/v1", "weight 3", "5000 ms", "10 MiB", "Weaker", "listPets"},
			notWant: []string{`name="target_url"`, "Deploy to", "Take v1 offline", "Test connection"},
		},
		{
			name:    "version editor with CORS errors",
			c:       apis.Version(corsFailed),
			actions: versionActions,
			want: []string{`id="cors-origins-error"`, `aria-describedby="cors-origins-help cors-origins-error"`, "https://shop.example.com/app</textarea>",
				`value="99999"`, "Use 0 to 86400 seconds.", "Browser origins (CORS)"},
		},
		{
			name:    "version editor as viewer with CORS",
			c:       apis.Version(corsViewer),
			actions: []string{"/logout"},
			want:    []string{"<code>https://shop.example.com</code>", "<code>http://localhost:3000</code>", "Preflights cached for 600 s"},
			notWant: []string{`name="cors_origins"`},
		},
		{
			name:    "version editor offline",
			c:       apis.Version(offline),
			actions: []string{"/logout"},
			want:    []string{"Offline since 2026-11-30 10:00 UTC", `badge-danger">Offline`, "Version v1 is offline and can no longer change"},
			notWant: []string{"Deploy to", `type="file"`},
		},
		{
			name: "deploy dialog",
			c: apis.Deploy(apis.DeployProps{
				Page: orgPage("Deploy", "apis", verifiedUser, developerOrg), APISlug: "pets", APIName: "Pets", Version: "v1", State: "published",
				Env: "production", EnvLabel: "Production", Next: 3, CanDeploy: true,
				Live:     &apis.LiveRevision{Number: 2, By: "ada@example.com", When: "2026-11-26 14:00 UTC"},
				Changes:  []string{"upstream targets: [a] → [b]"},
				Upstream: apis.UpstreamForm{Targets: []apis.TargetForm{{URL: "https://b.example.com", Weight: "1"}}},
				Settings: apis.SettingsForm{MaxBodyBytes: "10485760"}, KeyCount: 1,
				Ops:  []apis.OperationRow{{Method: "GET", Path: "/pets", Billable: true}},
				Note: "more <b>", Problems: []string{"The version has no operations."},
			}),
			actions: []string{"/logout", petsV1 + "/environments/production/deploy"},
			want: []string{
				"Changes since revision #2", "upstream targets: [a] → [b]", "Deploy revision #3 to production", "as revision #3",
				`value="more &lt;b&gt;"`, "The version has no operations.", "https://b.example.com", "1 active key", "10 MiB",
			},
			notWant: []string{"First production deployment"},
		},
		{
			name: "first deploy of a draft",
			c: apis.Deploy(apis.DeployProps{
				Page: orgPage("Deploy", "apis", verifiedUser, developerOrg), APISlug: "pets", APIName: "Pets", Version: "v1", State: "draft",
				Env: "production", EnvLabel: "Production", Next: 1, CanDeploy: true, Mock: true, Settings: apis.SettingsForm{MaxBodyBytes: "10485760"},
			}),
			actions: []string{"/logout", petsV1 + "/environments/production/deploy"},
			want:    []string{"First production deployment", "First deployment to production", "Mock: answers", "Deploy revision #1 to production"},
		},
		{
			name: "deploy offline",
			c: apis.Deploy(apis.DeployProps{
				Page: orgPage("Deploy", "apis", verifiedUser, developerOrg), APISlug: "pets", APIName: "Pets", Version: "v1", State: "offline",
				Env: "test", EnvLabel: "Test", Next: 2, Blocked: "Version v1 is offline.",
			}),
			actions: []string{"/logout"},
			want:    []string{"This version cannot be deployed", "Version v1 is offline."},
		},
		{
			name: "revision history",
			c: apis.Revisions(apis.RevisionsProps{
				Page: orgPage("Revisions", "apis", verifiedUser, developerOrg), APISlug: "pets", APIName: "Pets", Version: "v1",
				State: "published", CanManage: true, CanRollback: true,
				Environments: []apis.EnvHistory{
					{Env: "production", Label: "Production", Revisions: []apis.RevisionRow{
						{Number: 3, Kind: "rollback", RolledBack: 1, By: "ada@example.com", When: "2026-11-26 15:00 UTC", Live: true, Current: true,
							Operations: 4, Changes: []string{"upstream targets: [b] → [a]"}},
						{Number: 2, Kind: "deploy", By: "ada@example.com", When: "2026-11-26 14:00 UTC", Note: "new backend",
							Operations: 4, Changes: []string{"upstream targets: [a] → [b]"}},
						{Number: 1, Kind: "deploy", By: "ada@example.com", When: "2026-11-26 13:00 UTC", Current: true,
							Operations: 4, Changes: []string{"first deployment to production"}},
					}},
					{Env: "test", Label: "Test"},
				},
			}),
			actions: []string{"/logout", petsV1 + "/environments/production/revisions/2/rollback"},
			want: []string{
				"Rollback to #1", `badge-success">Live`, "new backend", "upstream targets: [a] → [b]", "Not deployed to test yet",
				`data-confirm="Roll production of Pets v1 back to revision 2?`, "Roll back to this revision", "<details class=\"changes\">",
			},
			notWant: []string{"revisions/1/rollback", "revisions/3/rollback"},
		},
		{
			name: "revision history as viewer",
			c: apis.Revisions(apis.RevisionsProps{
				Page: orgPage("Revisions", "apis", verifiedUser, viewerOrg), APISlug: "pets", APIName: "Pets", Version: "v1", CanRollback: true,
				Environments: []apis.EnvHistory{{Env: "production", Label: "Production", Revisions: []apis.RevisionRow{
					{Number: 1, Kind: "deploy", Changes: []string{"first deployment to production"}},
				}}},
			}),
			actions: []string{"/logout"},
			notWant: []string{"Roll back", "/deploy"},
		},
	}
}

func slicesWithout(s []string, drop ...string) []string {
	var out []string
	for _, x := range s {
		keep := true
		for _, d := range drop {
			if x == d {
				keep = false
			}
		}
		if keep {
			out = append(out, x)
		}
	}
	return out
}

// TestBackendSecretShownOnlyWhenCreated checks that the version editor
// shows a signing secret only when one was just created.
func TestBackendSecretShownOnlyWhenCreated(t *testing.T) {
	p := petsVersion(developerOrg, true)
	if html := render(t, apis.Version(p)); strings.Contains(html, "secret-value") || strings.Contains(html, "will not be shown again") {
		t.Error("the secret box is shown without a created key")
	}
	p.Created = &apis.CreatedKey{KeyID: "bk_x", Secret: "only-once-0000", Heading: "New"}
	if html := render(t, apis.Version(p)); strings.Count(html, "only-once-0000") != 1 {
		t.Errorf("the secret appears %d times, want once", strings.Count(html, "only-once-0000"))
	}
}

func TestSpecProblems(t *testing.T) {
	got := apis.SpecProblems(map[string]string{
		"openapi#/paths/~1b/post": "line 7: bad; line 9: worse",
		"openapi#/paths/~1a/get":  "line 5: value of responses must be an object",
		"openapi":                 "The document cannot be read: unexpected end",
		"version":                 "Use a version like v1.",
	})
	want := []apis.Problem{
		{Pointer: "/paths/~1a/get", Line: 5, Message: "value of responses must be an object"},
		{Pointer: "/paths/~1b/post", Line: 7, Message: "bad"},
		{Pointer: "/paths/~1b/post", Line: 9, Message: "worse"},
		{Pointer: "", Line: 0, Message: "The document cannot be read: unexpected end"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("problem %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
