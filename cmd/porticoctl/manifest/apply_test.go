package manifest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-dev/portico/portal/client"
)

const applyManifest = diffManifest + `  - slug: pro
    name: Pro
    description: For shops.
    price_cents: 1900
    currency: usd
    included_calls: 100000
    overage_cents_per_1000: 25
    rate_limit: {requests_per_second: 50, burst: 100}
    quota: {month: 1000000}
    approval: manual
    trial_days: 14
    publish: true
  - slug: legacy
    name: Legacy
    price_cents: 500
    currency: eur
    included_calls: 10
    publish: true
    deprecate: true
`

func apply(t *testing.T, c *client.Client, path string, opts Options) (*Plan, string) {
	t.Helper()
	d, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	opts.Out = &out
	p, err := Apply(context.Background(), c, d, opts)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, out.String())
	}
	return p, out.String()
}

func TestApplyTwiceChangesNothingTheSecondTime(t *testing.T) {
	f, c := newFake(t)
	path := writeManifest(t, strings.Replace(applyManifest, "plans:", "  - version: v2\n    openapi: ./specs/petstore.yaml\n    mock: true\n    deploy: [test]\nplans:", 1))

	p, out := apply(t, c, path, Options{})
	for _, want := range []string{
		"+ create API pets\n+ create version v1\n+ create version v2\n",
		"→ deploy v1 to production (new version)\n→ deploy v1 to test (new version)\n→ deploy v2 to test (new version)\n",
		"+ create plan legacy\n+ publish plan legacy\n~ deprecate plan legacy\n",
		"✓ → deploy v1 to production (new version): revision 1\n",
		"backend signing key bk_1, secret sk_secret",
		"Applied 13 changes.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("first apply output lacks %q:\n%s", want, out)
		}
	}
	for _, s := range p.Steps {
		if !s.Done {
			t.Errorf("step %s not done", s)
		}
	}
	writes := f.writeCount()

	p, out = apply(t, c, path, Options{})
	if !p.Empty() || out != "No changes.\n" {
		t.Errorf("second apply:\n%s", out)
	}
	if n := f.writeCount(); n != writes {
		t.Errorf("second apply made %d changes: %v", n-writes, f.writes[writes:])
	}
	// The test environment was deployed after production published v1, so
	// it is not left behind with a pending state change.
	if v := f.versions["pets"][0]; len(f.pending(v, v.live["test"])) != 0 {
		t.Errorf("test has pending changes: %v", f.pending(v, v.live["test"]))
	}
}

func TestApplyChangedSpecUpdatesAndDeploysOnce(t *testing.T) {
	f, c := newFake(t)
	path := writeManifest(t, diffManifest)
	apply(t, c, path, Options{})
	writes := f.writeCount()

	spec := filepath.Join(filepath.Dir(path), "specs", "petstore.yaml")
	b, _ := os.ReadFile(spec)
	b = bytes.Replace(b, []byte("summary: List all pets"), []byte("summary: List every pet"), 1)
	os.WriteFile(spec, b, 0o644)

	p, out := apply(t, c, path, Options{})
	want := []string{"~ update version v1: openapi", "→ deploy v1 to test (updated draft)", "→ deploy v1 to production (updated draft)"}
	if got := lines(p); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("plan = %q, want %q\n%s", got, want, out)
	}
	if got := f.writes[writes:]; len(got) != 3 || !strings.HasPrefix(got[0], "PATCH ") {
		t.Errorf("writes = %v, want one PATCH and two deployments", got)
	}
	if p, out := apply(t, c, path, Options{}); !p.Empty() {
		t.Errorf("third apply:\n%s", out)
	}
}

func TestApplySkipsDeployWhenTheDraftRunsTheSame(t *testing.T) {
	f, c := newFake(t)
	f.specInvisible = true // a new description changes no operation
	path := writeManifest(t, diffManifest)
	apply(t, c, path, Options{})

	spec := filepath.Join(filepath.Dir(path), "specs", "petstore.yaml")
	b, _ := os.ReadFile(spec)
	os.WriteFile(spec, bytes.Replace(b, []byte("A sample API"), []byte("An example API"), 1), 0o644)

	writes := f.writeCount()
	_, out := apply(t, c, path, Options{})
	if !strings.Contains(out, "= → deploy v1 to test (updated draft): already up to date") || !strings.Contains(out, "Applied 1 change; 2 steps turned out not to be needed.") {
		t.Errorf("output:\n%s", out)
	}
	if got := f.writes[writes:]; len(got) != 1 {
		t.Errorf("writes = %v, want only the draft update", got)
	}
}

func TestApplyDryRunChangesNothing(t *testing.T) {
	f, c := newFake(t)
	path := writeManifest(t, diffManifest)
	p, out := apply(t, c, path, Options{DryRun: true})
	if p.Empty() || !strings.HasPrefix(out, "+ create API pets\n") || strings.Contains(out, "✓") {
		t.Errorf("dry run output:\n%s", out)
	}
	if n := f.writeCount(); n != 0 {
		t.Errorf("dry run made %d changes", n)
	}
}

func TestApplyStopsAtTheFailingStep(t *testing.T) {
	f, c := newFake(t)
	f.failPlans = true
	d, err := ParseFile(writeManifest(t, diffManifest))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	p, err := Apply(context.Background(), c, d, Options{Out: &out})
	if err == nil || !strings.Contains(err.Error(), "create plan free") || client.AsError(err) == nil || client.AsError(err).Fields[0].Field != "currency" {
		t.Fatalf("err = %v", err)
	}
	if !p.Steps[0].Done || p.Steps[len(p.Steps)-1].Done {
		t.Errorf("steps: first done %v, last done %v", p.Steps[0].Done, p.Steps[len(p.Steps)-1].Done)
	}
	if !strings.Contains(out.String(), "✗ + create plan free") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestApplyNeedsAnOrg(t *testing.T) {
	_, c := newFake(t)
	d := parseDiffManifest(t, func(s string) string { return strings.Replace(s, "org: acme\n", "", 1) })
	if _, err := Apply(context.Background(), c, d, Options{}); err == nil || !strings.Contains(err.Error(), "--org") {
		t.Errorf("err = %v", err)
	}
}

func TestExportThenApplyChangesNothing(t *testing.T) {
	f, c := newFake(t)
	path := writeManifest(t, strings.Replace(applyManifest, "plans:", "  - version: v2\n    mock: true\n    settings: {public: true}\n    openapi: ./specs/petstore.yaml\n    deploy: [test, production]\n    deprecate: {sunset_at: 2030-01-31}\nplans:", 1))
	apply(t, c, path, Options{})
	ctx := context.Background()

	doc, notes, err := Export(ctx, c, "acme", "pets")
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 0 {
		t.Errorf("notes = %v", notes)
	}
	out := filepath.Join(t.TempDir(), "new", "folder", "exported.yaml")
	written, err := WriteFiles(doc, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 3 || filepath.Base(written[0]) != "pets-v1.openapi.json" {
		t.Errorf("written = %v", written)
	}
	yml, _ := os.ReadFile(out)
	for _, want := range []string{"openapi: ./pets-v1.openapi.json", "upstream:\n      targets: [{url: 'https://pets.example.com', weight: 1}]",
		"overage_cents_per_1000: null", "sunset_at: \"2030-01-31\"", "deprecate: true", "public: true"} {
		if !strings.Contains(string(yml), want) {
			t.Errorf("exported manifest lacks %q:\n%s", want, yml)
		}
	}

	writes := f.writeCount()
	p, text := apply(t, c, out, Options{})
	if !p.Empty() || f.writeCount() != writes {
		t.Errorf("apply of the export:\n%s\n%s", text, yml)
	}

	// The standard-output form leaves the documents out and still applies
	// cleanly.
	b, err := Marshal(doc, false)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "openapi:") {
		t.Errorf("stdout manifest names documents:\n%s", b)
	}
	d2, err := Parse(b, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if p, err := Apply(ctx, c, d2, Options{}); err != nil || !p.Empty() {
		t.Errorf("apply of the stdout export: %v %v", err, lines(p))
	}
}
