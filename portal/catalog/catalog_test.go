package catalog_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/tenants"
	"github.com/portico-dev/portico/tenants/keyring"
)

type fixture struct {
	cat     *catalog.Service
	ten     *tenants.Service
	org     tenants.Organization
	actor   tenants.Actor
	now     time.Time
	changes int
}

func newFixture(t *testing.T, db *migrations.DB) *fixture {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	kr, _ := keyring.New(key)
	f := &fixture{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	pp := tenants.FastPasswordParams
	f.ten = tenants.NewService(db.DB, tenants.Options{PasswordParams: &pp})
	res, err := f.ten.SignUp(context.Background(), tenants.SignUpInput{Name: "P", Email: "p@example.com", Password: "0123456789ab", OrgName: "Acme", OrgSlug: "acme"}, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	f.org = res.Org
	f.actor = tenants.Actor{UserID: res.User.ID, Email: res.User.Email, IP: "192.0.2.1"}
	f.cat = catalog.NewService(db.DB, catalog.Options{Keyring: kr, Guard: catalog.UpstreamGuard{AllowPrivate: true},
		Now: func() time.Time { return f.now }, OnChange: func(context.Context) { f.changes++ }})
	return f
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := tenants.ErrorCode(err); got != code {
		t.Fatalf("error code %q (%v), want %q", got, err, code)
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fixture) api(t *testing.T, slug string) catalog.API {
	t.Helper()
	a, err := f.cat.CreateAPI(context.Background(), f.org.ID, f.actor, catalog.APIInput{Slug: slug, Name: "Pets", Visibility: catalog.Public, Tags: []string{"Animals", "animals", "pets"}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (f *fixture) version(t *testing.T, api, v string) catalog.Version {
	t.Helper()
	ver, key, err := f.cat.CreateVersion(context.Background(), f.org.ID, api, f.actor, catalog.VersionInput{
		Version: v, OpenAPI: readFile(t, "petstore-3.0.yaml"),
		Upstream: &catalog.Upstream{Targets: []catalog.Target{{URL: "http://127.0.0.1:9999/base/"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if key.Secret == "" || !strings.HasPrefix(key.KeyID, "bk_") {
		t.Fatalf("backend key %+v", key.BackendKey)
	}
	return ver
}

func TestParseSpec(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		data    []byte
		ops     int
		first   string
		problem string
	}{
		{"3.0 YAML", readFile(t, "petstore-3.0.yaml"), 4, "GET /pets", ""},
		{"3.1 JSON with webhooks and type arrays", readFile(t, "weather-3.1.json"), 2, "GET /alerts/{region}", ""},
		{"empty", []byte("  "), 0, "", "openapi"},
		{"not a document", []byte("hello: [world"), 0, "", "openapi"},
		{"swagger 2", []byte(`{"swagger":"2.0","info":{"title":"x","version":"1"},"paths":{}}`), 0, "", "openapi"},
		{"no paths", []byte(`{"openapi":"3.0.3","info":{"title":"x","version":"1"},"paths":{}}`), 0, "", "openapi"},
		{"operation without responses", []byte("openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get: {}\n  /b:\n    post: {}\n"), 0, "", "openapi#/paths/~1a/get"},
		{"external ref refused", []byte(`{"openapi":"3.0.3","info":{"title":"x","version":"1"},"paths":{"/a":{"$ref":"http://example.com/x.json"}}}`), 0, "", "openapi"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := catalog.ParseSpec(ctx, tc.data)
			if tc.problem != "" {
				wantCode(t, err, tenants.EInvalid)
				if _, ok := tenants.ErrorFields(err)[tc.problem]; !ok {
					t.Fatalf("problems %v lack %q", tenants.ErrorFields(err), tc.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Operations) != tc.ops || s.Operations[0].Method+" "+s.Operations[0].Path != tc.first {
				t.Fatalf("operations %+v", s.Operations)
			}
		})
	}
	// Both problems of a two-problem document are reported, with lines.
	_, err := catalog.ParseSpec(ctx, cases[6].data)
	f := tenants.ErrorFields(err)
	if len(f) != 2 || !strings.HasPrefix(f["openapi#/paths/~1b/post"], "line 7:") {
		t.Fatalf("problems %v", f)
	}
	// Parameters, generated ids and mock answers.
	s, _ := catalog.ParseSpec(ctx, readFile(t, "petstore-3.0.yaml"))
	byKey := map[string]catalog.Operation{}
	for _, o := range s.Operations {
		byKey[o.Method+" "+o.Path] = o
	}
	if o := byKey["GET /pets/{petId}"]; o.OperationID != "showPetById" || len(o.Parameters) != 1 || o.Parameters[0].Name != "petId" || string(o.Mock.Body) != `{"id":1,"name":"Rex","tag":"dog"}` {
		t.Fatalf("GET /pets/{petId} = %+v %s", o, o.Mock.Body)
	}
	if o := byKey["DELETE /pets/{petId}"]; o.OperationID != "delete_pets_petId" || o.Mock.Status != 204 {
		t.Fatalf("DELETE = %+v", o)
	}
}

// bigSpec generates an OpenAPI document with n operations.
func bigSpec(n int) []byte {
	paths := map[string]any{}
	for i := 0; i < n; i++ {
		paths[fmt.Sprintf("/resource%d/{id}/items", i)] = map[string]any{
			"get": map[string]any{
				"operationId": fmt.Sprintf("getItems%d", i),
				"summary":     strings.Repeat("Lists the items of a resource. ", 20),
				"description": strings.Repeat("A long description of the operation that bulks up the document. ", 40),
				"parameters":  []any{map[string]any{"name": "id", "in": "path", "required": true, "schema": map[string]any{"type": "string"}}},
				"responses": map[string]any{"200": map[string]any{"description": "ok", "content": map[string]any{"application/json": map[string]any{
					"schema":  map[string]any{"type": "object", "properties": map[string]any{"id": map[string]any{"type": "string"}, "n": map[string]any{"type": "integer"}}},
					"example": map[string]any{"id": "x", "n": i},
				}}}},
			},
		}
	}
	b, _ := json.Marshal(map[string]any{"openapi": "3.0.3", "info": map[string]any{"title": "Big", "version": "1"}, "paths": paths})
	return b
}

func TestImportLargeSpec(t *testing.T) {
	data := bigSpec(1200)
	if len(data) < 4<<20 {
		t.Fatalf("generated spec is only %d bytes", len(data))
	}
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newFixture(t, db)
		f.api(t, "big")
		ver, _, err := f.cat.CreateVersion(context.Background(), f.org.ID, "big", f.actor, catalog.VersionInput{Version: "v1", OpenAPI: data, Mock: true})
		if err != nil {
			t.Fatal(err)
		}
		ops, err := f.cat.Operations(context.Background(), f.org.ID, ver.ID)
		if err != nil || len(ops) != 1200 {
			t.Fatalf("%d operations, %v", len(ops), err)
		}
	})
}

// BenchmarkParseLargeSpec measures importing a ~5 MB, 1,200-operation spec
// (the target is well under 2 s).
func BenchmarkParseLargeSpec(b *testing.B) {
	data := bigSpec(1200)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := catalog.ParseSpec(context.Background(), data); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, name := range []string{"petstore-3.0.yaml", "weather-3.1.json"} {
		b, _ := os.ReadFile("testdata/" + name)
		f.Add(b)
	}
	f.Add([]byte(`{"openapi":"3.0.0","paths":{"/{a}":{"get":{"responses":{"200":{"$ref":"#/x"}}}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := catalog.ParseSpec(context.Background(), data)
		if err != nil {
			if c := tenants.ErrorCode(err); c != tenants.EInvalid {
				t.Fatalf("error code %q: %v", c, err)
			}
			return
		}
		if len(s.Operations) == 0 {
			t.Fatal("accepted a spec with no operations")
		}
	})
}

func TestStateMachine(t *testing.T) {
	states := []catalog.State{catalog.Draft, catalog.Published, catalog.Deprecated, catalog.Offline}
	allowed := map[[2]catalog.State]bool{
		{catalog.Draft, catalog.Published}:      true,
		{catalog.Published, catalog.Deprecated}: true,
		{catalog.Published, catalog.Offline}:    true,
		{catalog.Deprecated, catalog.Offline}:   true,
	}
	for _, from := range states {
		for _, to := range states {
			t.Run(string(from)+"→"+string(to), func(t *testing.T) {
				if got := catalog.CanTransition(from, to); got != allowed[[2]catalog.State{from, to}] {
					t.Fatalf("CanTransition = %v", got)
				}
			})
		}
	}
}

func TestLifecycleRevisionsAndRollback(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		api := f.api(t, "pets")
		if strings.Join(api.Tags, ",") != "animals,pets" {
			t.Fatalf("tags %v", api.Tags)
		}
		f.version(t, "pets", "v1")

		// Lifecycle refusals before anything is live.
		_, err := f.cat.Deprecate(ctx, f.org.ID, "pets", "v1", f.now.Add(30*24*time.Hour), f.actor)
		wantCode(t, err, tenants.EConflict)
		if !strings.Contains(tenants.ErrorMessage(err), "can become published") {
			t.Fatalf("message does not name the allowed transition: %v", err)
		}

		// A version without operations cannot be deployed.
		if _, _, err := f.cat.CreateVersion(ctx, f.org.ID, "pets", f.actor, catalog.VersionInput{Version: "v0", Mock: true}); err != nil {
			t.Fatal(err)
		}
		_, err = f.cat.Deploy(ctx, f.org.ID, "pets", "v0", catalog.EnvProduction, f.actor, "")
		wantCode(t, err, tenants.EConflict)
		if _, ok := tenants.ErrorFields(err)["operations"]; !ok {
			t.Fatalf("deploy refusal does not say why: %v", err)
		}

		// Nor one whose operations the gateway could not route: two
		// templates that differ only in a parameter's name are one route.
		if _, _, err := f.cat.CreateVersion(ctx, f.org.ID, "pets", f.actor, catalog.VersionInput{Version: "v9", Mock: true,
			Operations: []catalog.OperationInput{{Method: "GET", Path: "/pets/{id}"}, {Method: "GET", Path: "/pets/{name}"}}}); err != nil {
			t.Fatal(err)
		}
		_, err = f.cat.Deploy(ctx, f.org.ID, "pets", "v9", catalog.EnvTest, f.actor, "")
		wantCode(t, err, tenants.EConflict)
		if msg := tenants.ErrorFields(err)["operations"]; !strings.Contains(msg, "GET /pets/{name}: duplicates operation GET /pets/{id}") {
			t.Fatalf("deploy of colliding routes: %v %v", err, tenants.ErrorFields(err))
		}

		// Test deployment leaves the version a draft; production publishes it.
		r1, err := f.cat.Deploy(ctx, f.org.ID, "pets", "v1", catalog.EnvTest, f.actor, "try it")
		if err != nil || r1.Number != 1 {
			t.Fatalf("deploy test: %v %+v", err, r1)
		}
		_, ver, _ := f.cat.Version(ctx, f.org.ID, "pets", "v1")
		if ver.State != catalog.Draft {
			t.Fatalf("state after test deploy = %s", ver.State)
		}
		p1, err := f.cat.Deploy(ctx, f.org.ID, "pets", "v1", catalog.EnvProduction, f.actor, "")
		if err != nil || p1.Snapshot.State != catalog.Published || p1.Snapshot.OrgSlug != "acme" || len(p1.Snapshot.Operations) != 4 {
			t.Fatalf("deploy production: %v %+v", err, p1.Snapshot)
		}
		if p1.Snapshot.Upstream.Targets[0].URL != "http://127.0.0.1:9999/base" {
			t.Fatalf("upstream not normalised: %+v", p1.Snapshot.Upstream)
		}

		// Editing the draft changes nothing live.
		timeout := 1500
		newSpec := strings.Replace(string(readFile(t, "petstore-3.0.yaml")), "    delete:\n      summary: Delete a pet\n      responses:\n        '204':\n          description: Deleted\n", "", 1)
		if _, err := f.cat.UpdateVersion(ctx, f.org.ID, "pets", "v1", f.actor, catalog.VersionPatch{
			OpenAPI: []byte(newSpec), Upstream: &catalog.Upstream{Targets: []catalog.Target{{URL: "http://127.0.0.1:9998", Weight: 3}}},
		}); err != nil {
			t.Fatal(err)
		}
		tp := &timeout
		if _, err := f.cat.UpdateOperation(ctx, f.org.ID, "pets", "v1", "listPets", f.actor, catalog.OperationPatch{TimeoutMS: &tp}); err != nil {
			t.Fatal(err)
		}
		snaps, _ := f.cat.LiveSnapshots(ctx)
		for _, s := range snaps {
			if len(s.Operations) != 4 || s.Upstream.Targets[0].URL != "http://127.0.0.1:9999/base" {
				t.Fatalf("live %s snapshot changed by a draft edit: %+v", s.Environment, s)
			}
		}

		// Deploy again: revision 2 with a readable diff.
		p2, err := f.cat.Deploy(ctx, f.org.ID, "pets", "v1", catalog.EnvProduction, f.actor, "drop delete")
		if err != nil || p2.Number != 2 {
			t.Fatalf("second deploy: %v", err)
		}
		diff := strings.Join(p2.Changes, "\n")
		for _, want := range []string{"- DELETE /pets/{petId}", "upstream targets:", "~ GET /pets: timeout default → 1500 ms"} {
			if !strings.Contains(diff, want) {
				t.Errorf("diff lacks %q:\n%s", want, diff)
			}
		}

		// Roll production back to revision 1.
		rb, err := f.cat.Rollback(ctx, f.org.ID, "pets", "v1", catalog.EnvProduction, 1, f.actor)
		if err != nil || rb.Number != 3 || rb.Kind != "rollback" || *rb.SourceNumber != 1 || len(rb.Snapshot.Operations) != 4 {
			t.Fatalf("rollback: %v %+v", err, rb.Revision)
		}
		_, err = f.cat.Rollback(ctx, f.org.ID, "pets", "v1", catalog.EnvProduction, 1, f.actor)
		wantCode(t, err, tenants.EConflict) // already live
		_, err = f.cat.Rollback(ctx, f.org.ID, "pets", "v1", catalog.EnvProduction, 42, f.actor)
		wantCode(t, err, tenants.ENotFound)
		hist, err := f.cat.Revisions(ctx, f.org.ID, "pets", "v1", catalog.EnvProduction)
		if err != nil || len(hist) != 3 || !hist[0].Live || hist[0].Number != 3 || hist[1].Live {
			t.Fatalf("history: %v %+v", err, hist)
		}
		// Revision rows never change: revision 1's snapshot is as deployed.
		if hist[2].SnapshotSHA256 != p1.SnapshotSHA256 {
			t.Fatal("revision 1 changed")
		}

		// Deprecate: re-issues live revisions with the sunset; offline is final.
		sunset := f.now.Add(60 * 24 * time.Hour)
		if _, err := f.cat.Deprecate(ctx, f.org.ID, "pets", "v1", f.now.Add(-time.Hour), f.actor); tenants.ErrorCode(err) != tenants.EInvalid {
			t.Fatalf("past sunset accepted: %v", err)
		}
		deprecatedAt := f.now
		if _, err := f.cat.Deprecate(ctx, f.org.ID, "pets", "v1", sunset, f.actor); err != nil {
			t.Fatal(err)
		}
		f.now = f.now.Add(time.Hour)
		deprecated := func(what string) {
			t.Helper()
			snaps, err := f.cat.LiveSnapshots(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range snaps {
				if s.VersionID == ver.ID && (s.State != catalog.Deprecated || s.SunsetAt == nil || !s.SunsetAt.Equal(sunset) ||
					s.DeprecatedAt == nil || !s.DeprecatedAt.Equal(deprecatedAt)) {
					t.Fatalf("%s: live %s snapshot not deprecated at %s with sunset %s: %+v", what, s.Environment, deprecatedAt, sunset, s)
				}
			}
		}
		deprecated("deprecate")
		// A rollback keeps the deprecation, with its date.
		rb2, err := f.cat.Rollback(ctx, f.org.ID, "pets", "v1", catalog.EnvProduction, 2, f.actor)
		if err != nil || rb2.Snapshot.State != catalog.Deprecated || rb2.Snapshot.DeprecatedAt == nil || !rb2.Snapshot.DeprecatedAt.Equal(deprecatedAt) {
			t.Fatalf("rollback after deprecation: %v %s %v", err, rb2.Snapshot.State, rb2.Snapshot.DeprecatedAt)
		}
		deprecated("rollback")
		// Snapshots written before they carried the deprecation date get it
		// from the version.
		if err := db.Exec("UPDATE revisions SET snapshot = REPLACE(snapshot, '\"deprecated_at\"', '\"deprecated_at_old\"') WHERE version_id = ?", ver.ID).Error; err != nil {
			t.Fatal(err)
		}
		if hist, err := f.cat.Revisions(ctx, f.org.ID, "pets", "v1", catalog.EnvProduction); err != nil || !hist[0].Live || hist[0].Snapshot.DeprecatedAt != nil {
			t.Fatalf("old-style snapshot still dated: %v %+v", err, hist[0].Snapshot)
		}
		deprecated("old-style snapshots")
		if _, err := f.cat.TakeOffline(ctx, f.org.ID, "pets", "v1", f.actor); err != nil {
			t.Fatal(err)
		}
		_, err = f.cat.Deploy(ctx, f.org.ID, "pets", "v1", catalog.EnvProduction, f.actor, "")
		wantCode(t, err, tenants.EConflict)
		_, err = f.cat.UpdateVersion(ctx, f.org.ID, "pets", "v1", f.actor, catalog.VersionPatch{Mock: new(bool)})
		wantCode(t, err, tenants.EConflict)
		_, err = f.cat.TakeOffline(ctx, f.org.ID, "pets", "v1", f.actor)
		wantCode(t, err, tenants.EConflict)
		if f.changes < 6 {
			t.Fatalf("gateway change hook called %d times", f.changes)
		}
	})
}

func TestBackendKeyRotation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		f.api(t, "pets")
		ver := f.version(t, "pets", "v1")
		k2, err := f.cat.RotateBackendKey(ctx, f.org.ID, "pets", "v1", f.actor)
		if err != nil {
			t.Fatal(err)
		}
		k3, _ := f.cat.RotateBackendKey(ctx, f.org.ID, "pets", "v1", f.actor)
		keys, _ := f.cat.BackendKeys(ctx, f.org.ID, ver.ID)
		active := 0
		for _, k := range keys {
			if k.Status == "active" {
				active++
			}
			if strings.Contains(k.SecretSealed, k2.Secret) || strings.Contains(k.SecretSealed, k3.Secret) {
				t.Fatal("secret stored in plain text")
			}
		}
		if len(keys) != 3 || active != 2 || keys[0].KeyID != k3.KeyID {
			t.Fatalf("keys %+v", keys)
		}
		sec, err := f.cat.BackendSecret(keys[0])
		if err != nil || sec != k3.Secret {
			t.Fatalf("open secret: %v", err)
		}
		wantCode(t, f.cat.RetireBackendKey(ctx, f.org.ID, "pets", "v1", k2.KeyID, f.actor), "")
		wantCode(t, f.cat.RetireBackendKey(ctx, f.org.ID, "pets", "v1", k3.KeyID, f.actor), tenants.EConflict)
	})
}

func TestValidationAndIsolation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		f.api(t, "pets")
		_, err := f.cat.CreateAPI(ctx, f.org.ID, f.actor, catalog.APIInput{Slug: "pets", Name: "Again"})
		wantCode(t, err, tenants.EConflict)
		_, err = f.cat.CreateAPI(ctx, f.org.ID, f.actor, catalog.APIInput{Slug: "Bad Slug", Name: "", Visibility: "secret", TermsURL: "javascript:alert(1)",
			LogoURL: "http://pets.example/logo.png"}) // pages load images over https only
		wantCode(t, err, tenants.EInvalid)
		for _, field := range []string{"slug", "name", "visibility", "terms_url", "logo_url"} {
			if _, ok := tenants.ErrorFields(err)[field]; !ok {
				t.Errorf("no error for %s: %v", field, tenants.ErrorFields(err))
			}
		}
		bad := []catalog.VersionInput{
			{Version: "1.0", Mock: true},
			{Version: "v2", Upstream: &catalog.Upstream{Targets: []catalog.Target{{URL: "ftp://x"}}}},
			{Version: "v2", Upstream: &catalog.Upstream{Targets: []catalog.Target{{URL: "http://x"}}, Retries: 9}},
			{Version: "v2", Operations: []catalog.OperationInput{{Method: "FETCH", Path: "pets"}}, Mock: true},
			{Version: "v2", Operations: []catalog.OperationInput{{Method: "GET", Path: "/a/{b"}}, Mock: true},
		}
		for i, in := range bad {
			_, _, err := f.cat.CreateVersion(ctx, f.org.ID, "pets", f.actor, in)
			if tenants.ErrorCode(err) != tenants.EInvalid {
				t.Errorf("case %d accepted or wrong error: %v", i, err)
			}
		}
		f.version(t, "pets", "v1")
		_, _, err = f.cat.CreateVersion(ctx, f.org.ID, "pets", f.actor, catalog.VersionInput{Version: "v1", Mock: true})
		wantCode(t, err, tenants.EConflict)

		// Another organisation sees nothing.
		res, _ := f.ten.SignUp(ctx, tenants.SignUpInput{Name: "X", Email: "x@example.com", Password: "0123456789ab", OrgName: "X", OrgSlug: "xco"}, "192.0.2.9")
		other := tenants.Actor{UserID: res.User.ID, Email: res.User.Email}
		_, err = f.cat.API(ctx, res.Org.ID, "pets")
		wantCode(t, err, tenants.ENotFound)
		_, _, err = f.cat.Version(ctx, res.Org.ID, "pets", "v1")
		wantCode(t, err, tenants.ENotFound)
		_, err = f.cat.Deploy(ctx, res.Org.ID, "pets", "v1", catalog.EnvProduction, other, "")
		wantCode(t, err, tenants.ENotFound)
		_, err = f.cat.UpdateAPI(ctx, res.Org.ID, "pets", other, catalog.APIPatch{})
		wantCode(t, err, tenants.ENotFound)
		l, _ := f.cat.ListAPIs(ctx, res.Org.ID, tenants.Page{})
		if len(l.Items) != 0 {
			t.Fatal("foreign APIs listed")
		}
	})
}

type fakeResolver map[string][]netip.Addr

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("no such host %s", host)
}

func TestSSRFGuard(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		key := make([]byte, 32)
		kr, _ := keyring.New(key)
		strict := catalog.NewService(db.DB, catalog.Options{Keyring: kr, Guard: catalog.UpstreamGuard{Resolver: fakeResolver{
			"api.example.com":      {netip.MustParseAddr("93.184.216.34")},
			"sneaky.example.com":   {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("10.0.0.5")},
			"metadata.example.com": {netip.MustParseAddr("169.254.169.254")},
		}}})
		f.api(t, "pets")
		cases := map[string]bool{
			"https://api.example.com/v1":   true,
			"http://93.184.216.34":         true,
			"http://127.0.0.1:8080":        false,
			"http://localhost":             false,
			"http://10.1.2.3":              false,
			"http://192.168.0.1":           false,
			"http://172.16.5.4":            false,
			"http://169.254.169.254":       false,
			"http://[::1]":                 false,
			"http://[fd00::1]":             false,
			"http://[::ffff:127.0.0.1]":    false,
			"http://100.64.0.1":            false,
			"http://0.0.0.0":               false,
			"https://sneaky.example.com":   false,
			"https://metadata.example.com": false,
			"https://nxdomain.example.com": false,
		}
		for u, ok := range cases {
			t.Run(u, func(t *testing.T) {
				_, _, err := strict.CreateVersion(ctx, f.org.ID, "pets", f.actor, catalog.VersionInput{
					Version: "v9", OpenAPI: readFile(t, "petstore-3.0.yaml"), Upstream: &catalog.Upstream{Targets: []catalog.Target{{URL: u}}},
				})
				if ok && err != nil {
					t.Fatalf("public upstream refused: %v", err)
				}
				if !ok && tenants.ErrorCode(err) != tenants.EInvalid {
					t.Fatalf("blocked upstream accepted: %v", err)
				}
				if ok {
					db.Exec("DELETE FROM api_versions WHERE version = 'v9'")
				}
			})
		}
	})
}

// A public version takes no credentials: normalising clears the settings
// that only make sense with them, and the revision diff names the switch.
func TestPublicSetting(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		f.api(t, "pets")
		f.version(t, "pets", "v1")
		ver, err := f.cat.UpdateVersion(ctx, f.org.ID, "pets", "v1", f.actor, catalog.VersionPatch{
			Settings: &catalog.Settings{Public: true, RequireNonce: true, AllowAppCode: true}})
		if err != nil {
			t.Fatal(err)
		}
		if s := ver.Settings; !s.Public || s.RequireNonce || s.AllowAppCode || s.MaxBodyBytes == 0 {
			t.Fatalf("settings = %+v", s)
		}
		// Not public, a nonce and app codes do not go together: the
		// gateway refuses app codes where a nonce is required.
		_, err = f.cat.UpdateVersion(ctx, f.org.ID, "pets", "v1", f.actor, catalog.VersionPatch{
			Settings: &catalog.Settings{RequireNonce: true, AllowAppCode: true}})
		wantCode(t, err, tenants.EInvalid)
		if _, ok := tenants.ErrorFields(err)["settings.allow_app_code"]; !ok {
			t.Fatalf("error names no field: %v", err)
		}
		a := catalog.Snapshot{Settings: catalog.Settings{MaxBodyBytes: 1}}
		b := a
		b.Settings.Public = true
		if d := strings.Join(catalog.Diff(a, b), "\n"); !strings.Contains(d, "public (no key needed): false → true") {
			t.Fatalf("diff = %q", d)
		}
		if d := catalog.Diff(b, b); len(d) != 0 {
			t.Fatalf("diff of equal snapshots = %q", d)
		}
	})
}

// The catalog takes only health check paths the gateway serves: a path it
// accepted but Compile refused would leave the version out at build time.
func TestHealthCheckPathAsTheGatewayChecksIt(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		f := newFixture(t, db)
		f.api(t, "pets")
		for i, p := range []string{"/health\tz", "health", "/a b", "/x\x7f"} {
			_, _, err := f.cat.CreateVersion(context.Background(), f.org.ID, "pets", f.actor, catalog.VersionInput{Version: "v" + strconv.Itoa(i+2),
				Upstream: &catalog.Upstream{Targets: []catalog.Target{{URL: "http://127.0.0.1:9999/"}}, HealthCheckPath: p}})
			wantCode(t, err, tenants.EInvalid)
			if _, ok := tenants.ErrorFields(err)["upstream.health_check_path"]; !ok {
				t.Fatalf("%q: %v", p, err)
			}
		}
	})
}

// CORS settings are stored as browsers send origins, checked as the gateway
// checks them (field errors name settings.cors_origins or
// settings.cors_max_age), survive a reload, and the revision diff names
// their changes.
func TestCORSSettings(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		f.api(t, "pets")
		f.version(t, "pets", "v1")
		ver, err := f.cat.UpdateVersion(ctx, f.org.ID, "pets", "v1", f.actor, catalog.VersionPatch{
			Settings: &catalog.Settings{Public: true, CORSOrigins: []string{" HTTPS://App.Example.com:443", "", "http://localhost:3000", "https://app.example.com"}}})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"https://app.example.com", "http://localhost:3000"}
		if s := ver.Settings; !slices.Equal(s.CORSOrigins, want) || s.CORSMaxAge == nil || *s.CORSMaxAge != 600 || !s.Public {
			t.Fatalf("settings = %+v", s)
		}
		_, got, err := f.cat.Version(ctx, f.org.ID, "pets", "v1")
		if err != nil {
			t.Fatal(err)
		}
		if !got.Settings.Equal(ver.Settings) {
			t.Fatalf("stored %+v, read back %+v", ver.Settings, got.Settings)
		}
		zero := 0
		ver, err = f.cat.UpdateVersion(ctx, f.org.ID, "pets", "v1", f.actor, catalog.VersionPatch{
			Settings: &catalog.Settings{CORSOrigins: []string{"*"}, CORSMaxAge: &zero}})
		if err != nil || ver.Settings.MaxAge() != 0 {
			t.Fatalf("* with max age 0: %+v %v", ver.Settings, err)
		}
		many := make([]string, 51)
		for i := range many {
			many[i] = "https://app" + strconv.Itoa(i) + ".example.com"
		}
		big, neg := 86401, -1
		for name, c := range map[string]struct {
			s     catalog.Settings
			field string
		}{
			"path":           {catalog.Settings{CORSOrigins: []string{"https://app.example.com/"}}, "settings.cors_origins"},
			"query":          {catalog.Settings{CORSOrigins: []string{"https://app.example.com?x=1"}}, "settings.cors_origins"},
			"scheme":         {catalog.Settings{CORSOrigins: []string{"ftp://app.example.com"}}, "settings.cors_origins"},
			"no scheme":      {catalog.Settings{CORSOrigins: []string{"app.example.com"}}, "settings.cors_origins"},
			"star and more":  {catalog.Settings{CORSOrigins: []string{"*", "https://app.example.com"}}, "settings.cors_origins"},
			"too many":       {catalog.Settings{CORSOrigins: many}, "settings.cors_origins"},
			"max age high":   {catalog.Settings{CORSOrigins: want, CORSMaxAge: &big}, "settings.cors_max_age"},
			"max age below0": {catalog.Settings{CORSOrigins: want, CORSMaxAge: &neg}, "settings.cors_max_age"},
		} {
			s := c.s
			_, err := f.cat.UpdateVersion(ctx, f.org.ID, "pets", "v1", f.actor, catalog.VersionPatch{Settings: &s})
			wantCode(t, err, tenants.EInvalid)
			if _, ok := tenants.ErrorFields(err)[c.field]; !ok {
				t.Fatalf("%s: error names no %s: %v", name, c.field, err)
			}
		}
		// Without origins the max age means nothing and is not kept.
		ver, err = f.cat.UpdateVersion(ctx, f.org.ID, "pets", "v1", f.actor, catalog.VersionPatch{
			Settings: &catalog.Settings{CORSMaxAge: &big}})
		if err != nil || len(ver.Settings.CORSOrigins) != 0 || ver.Settings.CORSMaxAge != nil {
			t.Fatalf("no origins: %+v %v", ver.Settings, err)
		}

		age := 600
		a := catalog.Snapshot{Settings: catalog.Settings{MaxBodyBytes: 1}}
		b := a
		b.Settings.CORSOrigins, b.Settings.CORSMaxAge = want, &age
		if d := strings.Join(catalog.Diff(a, b), "\n"); !strings.Contains(d, "CORS origins: [] → [https://app.example.com http://localhost:3000]") {
			t.Fatalf("diff = %q", d)
		}
		c := b
		other := 60
		c.Settings.CORSMaxAge = &other
		if d := strings.Join(catalog.Diff(b, c), "\n"); d != "CORS max age: 600 → 60 s" {
			t.Fatalf("diff = %q", d)
		}
		if d := catalog.Diff(b, b); len(d) != 0 {
			t.Fatalf("diff of equal snapshots = %q", d)
		}
	})
}
