package manifest

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/portal/client"
)

const diffManifest = `apiVersion: portico/v1
kind: API
org: acme
slug: pets
name: Pet Store
tags: [pets]
visibility: public
versions:
  - version: v1
    openapi: ./specs/petstore.yaml
    upstream: {targets: [{url: https://pets.example.com/}], timeout_ms: 5000}
    settings: {max_body_bytes: 1048576}
    deploy: [test, production]
plans:
  - slug: free
    name: Free
    price_cents: 0
    currency: usd
    included_calls: 1000
    overage_cents_per_1000: null
    rate_limit: {requests_per_second: 5}
    quota: {day: 1000}
    approval: auto
    versions: [v1]
    publish: true
`

func parseDiffManifest(t *testing.T, edit func(string) string) *Document {
	t.Helper()
	body := diffManifest
	if edit != nil {
		body = edit(body)
	}
	d, err := ParseFile(writeManifest(t, body))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// serverSpec is the manifest's document as the server stores it: re-encoded
// by its OpenAPI loader.
func serverSpec(t *testing.T, d *Document) any {
	t.Helper()
	n := d.Versions[0].OpenAPI.normalized()
	if n == nil {
		t.Fatal("the test document does not load")
	}
	// A copy: tests change the server's and must not change the file's.
	b, _ := json.Marshal(n)
	var out any
	json.Unmarshal(b, &out)
	return out
}

// upToDate is a live deployment with nothing pending.
func upToDate(env string, rev int) *client.Deployment {
	return &client.Deployment{Environment: env, Revision: rev, Live: true, PendingChanges: []string{}}
}

// matchingState is what the server holds after applying diffManifest.
func matchingState(t *testing.T, d *Document) *State {
	t.Helper()
	day := int64(1000)
	return &State{
		API: &client.API{Slug: "pets", Name: "Pet Store", Tags: []string{"pets"}, Visibility: client.Public},
		Versions: map[string]*VersionState{"v1": {
			Version: &client.Version{Version: "v1", State: client.VersionPublished, HasOpenAPI: true,
				Upstream: &client.Upstream{Targets: []client.Target{{URL: "https://pets.example.com", Weight: 1}}, ConnectTimeoutMS: 2000, TimeoutMS: 5000},
				Settings: client.Settings{MaxBodyBytes: 1048576},
				Environments: map[string]*client.Deployment{
					client.EnvTest: upToDate("test", 2), client.EnvProduction: upToDate("production", 1),
				}},
			OpenAPI: serverSpec(t, d),
		}},
		Plans: map[string]*client.Plan{"free": {
			Slug: "free", Revision: 1, Name: "Free", Currency: "usd", IncludedCalls: 1000,
			RateLimit: &client.RateLimit{RequestsPerSecond: 5, Burst: 5}, Quota: client.Quota{Day: &day},
			Approval: client.ApprovalAuto, Versions: []string{"v1"}, State: client.PlanPublished,
		}},
	}
}

func lines(p *Plan) []string {
	out := []string{}
	for _, s := range p.Steps {
		out = append(out, s.String())
	}
	return out
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(string) string // of the manifest
		state func(t *testing.T, d *Document, s *State)
		want  []string
	}{
		{
			name:  "create everything",
			state: func(t *testing.T, d *Document, s *State) { *s = State{} },
			want: []string{
				"+ create API pets",
				"+ create version v1",
				"→ deploy v1 to production (new version)",
				"→ deploy v1 to test (new version)",
				"+ create plan free",
				"+ publish plan free",
			},
		},
		{
			name: "no changes",
			want: []string{},
		},
		{
			name: "changed upstream only",
			state: func(t *testing.T, d *Document, s *State) {
				s.Versions["v1"].Version.Upstream.TimeoutMS = 30000
			},
			want: []string{
				"~ update version v1: upstream",
				"→ deploy v1 to test (updated draft)",
				"→ deploy v1 to production (updated draft)",
			},
		},
		{
			name: "changed spec only, deployed to production only",
			edit: func(s string) string {
				return strings.Replace(s, "deploy: [test, production]", "deploy: [production]", 1)
			},
			state: func(t *testing.T, d *Document, s *State) {
				spec := s.Versions["v1"].OpenAPI.(map[string]any)
				delete(spec["paths"].(map[string]any), "/pets/{petId}")
			},
			want: []string{
				"~ update version v1: openapi",
				"→ deploy v1 to production (updated draft)",
			},
		},
		{
			name: "plan price changed",
			edit: func(s string) string { return strings.Replace(s, "price_cents: 0", "price_cents: 500", 1) },
			want: []string{
				"~ update plan free: price_cents (new draft revision)",
				"+ publish plan free",
			},
		},
		{
			name: "pending changes on the server deploy with their count",
			state: func(t *testing.T, d *Document, s *State) {
				s.Versions["v1"].Version.Environments[client.EnvProduction].PendingChanges = []string{"backend keys: [a] → [a,b]", "+ GET /owners"}
			},
			want: []string{"→ deploy v1 to production (2 changes)"},
		},
		{
			name: "an environment never deployed",
			state: func(t *testing.T, d *Document, s *State) {
				s.Versions["v1"].Version.Environments[client.EnvTest] = nil
			},
			want: []string{"→ deploy v1 to test (first deployment)"},
		},
		{
			name: "first production deployment publishes, so test follows it",
			state: func(t *testing.T, d *Document, s *State) {
				v := s.Versions["v1"].Version
				v.State = client.VersionDraft
				v.Environments[client.EnvProduction] = nil
			},
			want: []string{
				"→ deploy v1 to production (first deployment)",
				"→ deploy v1 to test (state: draft → published)",
			},
		},
		{
			name: "API metadata compared the way the server stores it",
			edit: func(s string) string {
				s = strings.Replace(s, "name: Pet Store", "name: Pet Shop", 1)
				return strings.Replace(s, "tags: [pets]", "tags: [' Pets ', pets]", 1)
			},
			want: []string{"~ update API pets: name"},
		},
		{
			name: "mock instead of an upstream",
			edit: func(s string) string {
				return strings.Replace(s, "upstream: {targets: [{url: https://pets.example.com/}], timeout_ms: 5000}", "mock: true", 1)
			},
			want: []string{"~ update version v1: mock", "→ deploy v1 to test (updated draft)", "→ deploy v1 to production (updated draft)"},
		},
		{
			name: "settings left at the default",
			edit: func(s string) string { return strings.Replace(s, "max_body_bytes: 1048576", "require_nonce: true", 1) },
			state: func(t *testing.T, d *Document, s *State) {
				s.Versions["v1"].Version.Settings = client.Settings{MaxBodyBytes: 10 << 20}
			},
			want: []string{"~ update version v1: settings", "→ deploy v1 to test (updated draft)", "→ deploy v1 to production (updated draft)"},
		},
		{
			name: "deprecate a published version",
			edit: func(s string) string {
				return strings.Replace(s, "deploy: [test, production]", "deploy: [test, production]\n    deprecate: {sunset_at: 2027-06-30}", 1)
			},
			want: []string{"~ deprecate version v1 (sunset 2027-06-30)"},
		},
		{
			name: "already deprecated with that sunset",
			edit: func(s string) string {
				return strings.Replace(s, "deploy: [test, production]", "deploy: [test, production]\n    deprecate: {sunset_at: 2027-06-30}", 1)
			},
			state: func(t *testing.T, d *Document, s *State) {
				v := s.Versions["v1"].Version
				sunset := time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)
				v.State, v.SunsetAt = client.VersionDeprecated, &sunset
			},
			want: []string{},
		},
		{
			name: "take offline",
			edit: func(s string) string {
				return strings.Replace(s, "deploy: [test, production]", "deploy: [test, production]\n    offline: true", 1)
			},
			want: []string{"- take version v1 offline"},
		},
		{
			name: "an offline version is not compared",
			edit: func(s string) string {
				return strings.Replace(s, "deploy: [test, production]", "deploy: [test, production]\n    offline: true", 1)
			},
			state: func(t *testing.T, d *Document, s *State) {
				v := s.Versions["v1"].Version
				v.State = client.VersionOffline
				v.Upstream.TimeoutMS = 1
				v.Environments[client.EnvTest].PendingChanges = []string{"state: published → offline"}
			},
			want: []string{},
		},
		{
			name:  "a draft plan is published",
			state: func(t *testing.T, d *Document, s *State) { s.Plans["free"].State = client.PlanDraft },
			want:  []string{"+ publish plan free"},
		},
		{
			name: "a draft plan is edited in place",
			edit: func(s string) string {
				return strings.Replace(s, "rate_limit: {requests_per_second: 5}", "rate_limit: null", 1)
			},
			state: func(t *testing.T, d *Document, s *State) { s.Plans["free"].State = client.PlanDraft },
			want:  []string{"~ update plan free: rate_limit", "+ publish plan free"},
		},
		{
			name: "a published plan is unchanged when only publish is asked",
			edit: func(s string) string {
				return strings.Replace(s, "quota: {day: 1000}", "quota: {day: 1000, month: null}", 1)
			},
			want: []string{},
		},
		{
			name: "quota month added",
			edit: func(s string) string {
				return strings.Replace(s, "quota: {day: 1000}", "quota: {day: 1000, month: 20000}", 1)
			},
			want: []string{"~ update plan free: quota.month (new draft revision)", "+ publish plan free"},
		},
		{
			name: "deprecate a published plan",
			edit: func(s string) string {
				return strings.Replace(s, "publish: true", "publish: true\n    deprecate: true", 1)
			},
			want: []string{"~ deprecate plan free"},
		},
		{
			name: "close a deprecated plan",
			edit: func(s string) string {
				return strings.Replace(s, "publish: true", "publish: true\n    deprecate: true\n    close: true", 1)
			},
			state: func(t *testing.T, d *Document, s *State) { s.Plans["free"].State = client.PlanDeprecated },
			want:  []string{"- close plan free"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := parseDiffManifest(t, tt.edit)
			st := matchingState(t, d)
			if tt.state != nil {
				tt.state(t, d, st)
			}
			p, err := Diff(d, st)
			if err != nil {
				t.Fatal(err)
			}
			if got := lines(p); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("plan:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if len(tt.want) == 0 && !strings.HasSuffix(p.String(), "No changes.\n") {
				t.Errorf("String() = %q, want No changes.", p.String())
			}
		})
	}
}

func TestDiffRequests(t *testing.T) {
	d := parseDiffManifest(t, nil)
	p, err := Diff(d, &State{})
	if err != nil {
		t.Fatal(err)
	}
	byAction := map[Action]Step{}
	for _, s := range p.Steps {
		byAction[s.Action] = s
	}
	api := byAction[CreateAPI].APIRequest
	if *api.Slug != "pets" || *api.Name != "Pet Store" || api.Summary != nil {
		t.Errorf("create API = %+v", api)
	}
	ver := byAction[CreateVersion].VersionRequest
	if ver.Version != "v1" || !strings.HasPrefix(ver.OpenAPI.(string), "openapi: 3.0.3") || ver.Upstream.TimeoutMS != 5000 {
		t.Errorf("create version = %+v", ver)
	}
	plan := byAction[CreatePlan].PlanRequest
	b, _ := json.Marshal(plan)
	want := `{"slug":"free","name":"Free","price_cents":0,"currency":"usd","included_calls":1000,"overage_cents_per_1000":null,` +
		`"rate_limit":{"requests_per_second":5,"burst":5},"quota":{"day":1000,"month":null},"approval":"auto","versions":["v1"]}`
	if string(b) != want {
		t.Errorf("create plan =\n%s\nwant\n%s", b, want)
	}
}

func TestDiffPlanDefaultsToTheManifestsVersions(t *testing.T) {
	d := parseDiffManifest(t, func(s string) string {
		s = strings.Replace(s, "    versions: [v1]\n", "", 1)
		return strings.Replace(s, "plans:", "  - version: v2\n    mock: true\n  - version: v0\n    mock: true\n    deploy: [production]\n    offline: true\nplans:", 1)
	})
	p, err := Diff(d, &State{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Steps {
		if s.Action == CreatePlan && !reflect.DeepEqual(s.PlanRequest.Versions, []string{"v1", "v2"}) {
			t.Errorf("versions = %v, want the versions that stay online", s.PlanRequest.Versions)
		}
	}
}

func TestDiffSpecComparedAsJSON(t *testing.T) {
	d := parseDiffManifest(t, nil)
	st := matchingState(t, d)
	// The server's copy differs from a plain reading of the file (its loader
	// drops required: false), yet it is the same document.
	if reflect.DeepEqual(d.Versions[0].OpenAPI.Value, st.Versions["v1"].OpenAPI) {
		t.Fatal("the test needs a document the server re-encodes")
	}
	if !sameSpec(d.Versions[0].OpenAPI, st.Versions["v1"].OpenAPI) {
		t.Error("the same document re-encoded counts as a change")
	}
	// The server's JSON, as export writes it, is the same document too.
	raw, _ := json.MarshalIndent(st.Versions["v1"].OpenAPI, "", "  ")
	val, err := parseDocument(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !sameSpec(&Spec{Raw: raw, Value: val}, st.Versions["v1"].OpenAPI) {
		t.Error("the exported document counts as a change")
	}
}

func TestDiffConflicts(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(string) string
		state func(s *State)
		want  string
	}{
		{"closed plan", nil, func(s *State) { s.Plans["free"].State = client.PlanClosed }, "plan free is closed, which is final"},
		{"deprecated plan asked to sell", nil, func(s *State) { s.Plans["free"].State = client.PlanDeprecated }, "add deprecate: true"},
		{"deprecated plan with new terms", func(s string) string { return strings.Replace(s, "name: Free", "name: Gratis", 1) },
			func(s *State) { s.Plans["free"].State = client.PlanDeprecated }, "its terms (name) can no longer change"},
		{"new plan retired unpublished", func(s string) string { return strings.Replace(s, "publish: true", "close: true", 1) },
			func(s *State) { delete(s.Plans, "free") }, "must be published before"},
		{"offline version", nil, func(s *State) { s.Versions["v1"].Version.State = client.VersionOffline }, "version v1 is offline, which is final"},
		{"deprecated version", nil, func(s *State) {
			sunset := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
			s.Versions["v1"].Version.State, s.Versions["v1"].Version.SunsetAt = client.VersionDeprecated, &sunset
		}, "add deprecate: {sunset_at: 2027-01-01}"},
		{"sunset moved", func(s string) string {
			return strings.Replace(s, "deploy: [test, production]", "deploy: [test, production]\n    deprecate: {sunset_at: 2027-06-30}", 1)
		}, func(s *State) {
			sunset := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
			s.Versions["v1"].Version.State, s.Versions["v1"].Version.SunsetAt = client.VersionDeprecated, &sunset
		}, "a sunset cannot change"},
		{"deprecate an unpublished version", func(s string) string {
			return strings.Replace(s, "deploy: [test, production]", "deprecate: {sunset_at: 2027-06-30}", 1)
		}, func(s *State) { s.Versions["v1"].Version.State = client.VersionDraft }, "must be published before it is deprecated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := parseDiffManifest(t, tt.edit)
			st := matchingState(t, d)
			tt.state(st)
			_, err := Diff(d, st)
			var ce *ConflictError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want a conflict mentioning %q", err, tt.want)
			}
		})
	}
}

func TestPlanString(t *testing.T) {
	p := &Plan{Steps: []Step{
		{Action: UpdateVersion, Name: "v1", Fields: []string{"openapi", "upstream"}},
		{Action: Deploy, Name: "v1", Env: "production", Changes: []string{"upstream timeout: 30000 → 5000 ms", "+ GET /owners"}},
		{Action: Deploy, Name: "v1", Env: "test", Changes: []string{"+ GET /owners"}},
		{Action: PublishPlan, Name: "free"},
	}, Warnings: []string{"version v0 is offline"}}
	want := "! version v0 is offline\n" +
		"~ update version v1: openapi, upstream\n" +
		"→ deploy v1 to production (2 changes)\n    upstream timeout: 30000 → 5000 ms\n    + GET /owners\n" +
		"→ deploy v1 to test (1 change)\n    + GET /owners\n" +
		"+ publish plan free\n"
	if got := p.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
}
