package portal_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-dev/portico/cmd/porticoctl/manifest"
	"github.com/portico-dev/portico/portal/client"
)

// TestApplyIsIdempotent runs porticoctl's apply against a real portal: the
// first run creates and publishes everything, the second changes nothing
// (no new revision, no new plan revision), a changed upstream deploys once,
// and an export applies back as "No changes.".
func TestApplyIsIdempotent(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		tok, _ := e.signUp("Paula", "paula@example.com", "acme")
		c := client.New(e.srv.URL, client.WithToken(tok))
		ctx := context.Background()
		dir := t.TempDir()
		spec, err := os.ReadFile("catalog/testdata/petstore-3.0.yaml")
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "petstore.yaml"), spec, 0o644)
		file := func(upstream string) *manifest.Document {
			t.Helper()
			y := `apiVersion: portico/v1
kind: API
org: acme
slug: pets
name: Pet Store
summary: Pets as a service
description: |
  # Pets
  All the pets.
category: animals
tags: [pets, demo]
visibility: public
versions:
  - version: v1
    openapi: ./petstore.yaml
    upstream: {targets: [{url: "` + upstream + `", weight: 1}], timeout_ms: 5000}
    deploy: [test, production]
plans:
  - slug: free
    name: Free
    price_cents: 0
    currency: usd
    included_calls: 1000
    rate_limit: {requests_per_second: 5, burst: 10}
    quota: {day: 1000}
    approval: auto
    versions: [v1]
    publish: true
`
			p := filepath.Join(dir, "pets.yaml")
			os.WriteFile(p, []byte(y), 0o644)
			doc, err := manifest.ParseFile(p)
			if err != nil {
				t.Fatal(err)
			}
			return doc
		}
		apply := func(doc *manifest.Document) (*manifest.Plan, string) {
			t.Helper()
			var out bytes.Buffer
			p, err := manifest.Apply(ctx, c, doc, manifest.Options{Out: &out})
			if err != nil {
				t.Fatalf("apply: %v\n%s", err, out.String())
			}
			return p, out.String()
		}
		revisions := func() int {
			t.Helper()
			r := e.call("GET", "/api/v1/orgs/acme/apis/pets/versions/v1/deployments", tok, nil)
			return len(r.json(t)["items"].([]any))
		}

		p1, out1 := apply(file("http://127.0.0.1:9/pets"))
		if p1.Empty() {
			t.Fatal("first apply planned nothing")
		}
		if n := revisions(); n != 2 {
			t.Fatalf("%d revisions after the first apply, want 2 (test + production):\n%s", n, out1)
		}
		r := e.call("GET", "/api/v1/market/apis/acme/pets", "", nil)
		expectStatus(t, r, 200)
		if len(r.json(t)["plans"].([]any)) != 1 {
			t.Fatalf("plan not published: %s", r.Body)
		}

		p2, out2 := apply(file("http://127.0.0.1:9/pets"))
		if !p2.Empty() || !strings.Contains(out2, "No changes.") {
			t.Fatalf("second apply was not a no-op:\n%s", out2)
		}
		if n := revisions(); n != 2 {
			t.Fatalf("second apply made revisions: %d", n)
		}

		p3, out3 := apply(file("http://127.0.0.1:10/pets"))
		if p3.Empty() || revisions() != 4 {
			t.Fatalf("changed upstream: %d revisions\n%s", revisions(), out3)
		}
		if _, out := apply(file("http://127.0.0.1:10/pets")); !strings.Contains(out, "No changes.") {
			t.Fatalf("apply after the change was not a no-op:\n%s", out)
		}

		// Export, then apply the export: nothing to do.
		doc, notes, err := manifest.Export(ctx, c, "acme", "pets")
		if err != nil {
			t.Fatalf("export: %v %v", err, notes)
		}
		outDir := t.TempDir()
		if _, err := manifest.WriteFiles(doc, filepath.Join(outDir, "export.yaml")); err != nil {
			t.Fatal(err)
		}
		exported, err := manifest.ParseFile(filepath.Join(outDir, "export.yaml"))
		if err != nil {
			b, _ := os.ReadFile(filepath.Join(outDir, "export.yaml"))
			t.Fatalf("parse export: %v\n%s", err, b)
		}
		if _, out := apply(exported); !strings.Contains(out, "No changes.") {
			t.Fatalf("applying the export changed things:\n%s", out)
		}
	})
}
