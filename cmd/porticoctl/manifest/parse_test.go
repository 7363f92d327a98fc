package manifest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/portal/client"
)

// fullManifest is the example of docs/porticoctl.md.
const fullManifest = `apiVersion: portico/v1
kind: API
org: acme
slug: pets
name: Pet Store
summary: Pets as a service
description: |
  Markdown about **pets**.
category: animals
tags: [pets, Animals]
visibility: public
contact_url: mailto:api@acme.example
terms_url: https://acme.example/terms
versions:
  - version: v1
    openapi: ./specs/petstore.yaml
    upstream: {targets: [{url: https://pets.example.com, weight: 1}], timeout_ms: 5000}
    settings: {max_body_bytes: 1048576}
    deploy: [test, production]
    deprecate: {sunset_at: 2027-06-30}
    offline: false
  - version: v2
    openapi: specs/petstore.yaml
    mock: true
plans:
  - slug: free
    name: Free
    price_cents: 0
    currency: USD
    included_calls: 1000
    overage_cents_per_1000: null
    rate_limit: {requests_per_second: 5, burst: 10}
    quota: {day: 1000}
    approval: auto
    versions: [v1]
    publish: true
  - slug: pro
    name: Pro
    price_cents: 1900
    currency: usd
    included_calls: 100000
    overage_cents_per_1000: 25
    rate_limit: null
`

// writeManifest lays out a manifest and its OpenAPI document in a fresh
// folder and returns the manifest's path.
func writeManifest(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	spec, err := os.ReadFile("testdata/petstore.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "specs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "specs", "petstore.yaml"), spec, 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "api.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseFull(t *testing.T) {
	path := writeManifest(t, fullManifest)
	// Relative paths start at the manifest's folder, not the working one.
	t.Chdir(t.TempDir())
	d, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d.Org != "acme" || d.Slug != "pets" || *d.Name != "Pet Store" || *d.Description != "Markdown about **pets**.\n" {
		t.Errorf("header = %q %q %q %q", d.Org, d.Slug, *d.Name, *d.Description)
	}
	if *d.Visibility != client.Public || !reflect.DeepEqual(*d.Tags, []string{"pets", "Animals"}) {
		t.Errorf("visibility %v tags %v", *d.Visibility, *d.Tags)
	}
	if len(d.Versions) != 2 {
		t.Fatalf("versions = %d", len(d.Versions))
	}
	v1 := d.Versions[0]
	wantFile := filepath.Join(filepath.Dir(path), "specs", "petstore.yaml")
	if v1.OpenAPI == nil || v1.OpenAPI.File != wantFile || v1.OpenAPI.Path != "./specs/petstore.yaml" || len(v1.OpenAPI.Raw) == 0 {
		t.Fatalf("openapi = %+v, want it read from %s", v1.OpenAPI, wantFile)
	}
	m := v1.OpenAPI.Value.(map[string]any)
	if m["openapi"] != "3.0.3" {
		t.Errorf("openapi value = %v", m["openapi"])
	}
	wantUp := client.Upstream{Targets: []client.Target{{URL: "https://pets.example.com", Weight: 1}}, TimeoutMS: 5000}
	if !reflect.DeepEqual(*v1.Upstream, wantUp) {
		t.Errorf("upstream = %+v", *v1.Upstream)
	}
	if v1.Settings.MaxBodyBytes != 1048576 || !reflect.DeepEqual(v1.Deploy, []string{"test", "production"}) || v1.Offline {
		t.Errorf("settings %+v deploy %v offline %v", v1.Settings, v1.Deploy, v1.Offline)
	}
	if v1.Deprecate == nil || v1.Deprecate.SunsetAt != "2027-06-30" || !v1.Deprecate.Sunset.Equal(time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("deprecate = %+v", v1.Deprecate)
	}
	if v2 := d.Versions[1]; v2.Mock == nil || !*v2.Mock || v2.Upstream != nil || v2.OpenAPI.File != wantFile {
		t.Errorf("v2 = %+v", v2)
	}

	free, pro := d.Plans[0], d.Plans[1]
	if *free.Currency != "usd" {
		t.Errorf("currency = %q, want it lower-cased", *free.Currency)
	}
	if !free.OverageCentsPer1000.Set || free.OverageCentsPer1000.Value != nil {
		t.Errorf("free overage = %+v, want explicitly null", free.OverageCentsPer1000)
	}
	if !free.RateLimit.Set || *free.RateLimit.Value != (client.RateLimit{RequestsPerSecond: 5, Burst: 10}) {
		t.Errorf("free rate limit = %+v", free.RateLimit)
	}
	if free.Quota == nil || *free.Quota.Day != 1000 || free.Quota.Month != nil {
		t.Errorf("free quota = %+v, want day 1000 and no month cap", free.Quota)
	}
	if !free.Publish || free.Deprecate || free.Close || *free.Approval != client.ApprovalAuto || !reflect.DeepEqual(*free.Versions, []string{"v1"}) {
		t.Errorf("free = %+v", free)
	}
	if !pro.RateLimit.Set || pro.RateLimit.Value != nil {
		t.Errorf("pro rate limit = %+v, want explicitly null", pro.RateLimit)
	}
	if pro.Quota != nil || pro.Approval != nil || pro.Versions != nil || pro.Publish {
		t.Errorf("pro leaves quota, approval, versions and publish out: %+v", pro)
	}
	if *pro.OverageCentsPer1000.Value != 25 {
		t.Errorf("pro overage = %v", pro.OverageCentsPer1000.Value)
	}
}

func TestParseLeavesOutMeansUnmanaged(t *testing.T) {
	d, err := Parse([]byte("apiVersion: portico/v1\nkind: API\nslug: pets\nplans:\n  - slug: free\n"), ".")
	if err != nil {
		t.Fatal(err)
	}
	if d.Org != "" || d.Name != nil || d.Tags != nil || d.Visibility != nil {
		t.Errorf("unset fields came back set: %+v", d)
	}
	if p := d.Plans[0]; p.OverageCentsPer1000.Set || p.RateLimit.Set || p.Quota != nil || p.Name != nil {
		t.Errorf("unset plan fields came back set: %+v", p)
	}
}

func TestParseRejects(t *testing.T) {
	const head = "apiVersion: portico/v1\nkind: API\nslug: pets\n"
	tests := []struct {
		name string
		body string
		want []string // every one must appear in the error
	}{
		{"unknown top-level key, with its line", head + "nmae: Pets\n", []string{`line 4: unknown key "nmae" at the top level`, "known keys: apiVersion"}},
		{"unknown key in a version", head + "versions:\n  - version: v1\n    upstream: {targets: [{url: https://a.example}], timeout: 5}\n",
			[]string{`unknown key "timeout" in versions[0].upstream`, "timeout_ms"}},
		{"unknown key in a target", head + "versions:\n  - version: v1\n    upstream: {targets: [{url: https://a.example, wieght: 2}]}\n",
			[]string{`unknown key "wieght" in versions[0].upstream.targets[0]`}},
		{"unknown key in a rate limit", head + "plans:\n  - slug: free\n    rate_limit: {rps: 5}\n", []string{`unknown key "rps" in plans[0].rate_limit`}},
		{"unknown key in a quota", head + "plans:\n  - slug: free\n    quota: {week: 5}\n", []string{`unknown key "week" in plans[0].quota`}},
		{"key twice", head + "slug: cats\n", []string{`key "slug" appears twice`}},
		{"several problems at once", head + "colour: red\nversions:\n  - verison: v1\n", []string{`"colour"`, `"verison"`}},
		{"wrong apiVersion", "apiVersion: portico/v2\nkind: API\nslug: pets\n", []string{`apiVersion: "portico/v2" is not supported`}},
		{"wrong kind", "apiVersion: portico/v1\nkind: Plan\nslug: pets\n", []string{`kind: "Plan" is not supported`}},
		{"missing slug", "apiVersion: portico/v1\nkind: API\n", []string{"slug: missing"}},
		{"bad slug", "apiVersion: portico/v1\nkind: API\nslug: Pet_Store\n", []string{`slug: "Pet_Store"`}},
		{"visibility", head + "visibility: secret\n", []string{`visibility: "secret": use public, unlisted or private`}},
		{"version name", head + "versions:\n  - version: \"1.0\"\n", []string{`"1.0": use a version like v1`}},
		{"missing version name", head + "versions:\n  - mock: true\n", []string{"versions[0].version: missing"}},
		{"duplicate version", head + "versions:\n  - version: v1\n  - version: v1\n", []string{"version v1 is listed twice"}},
		{"environment", head + "versions:\n  - version: v1\n    deploy: [staging]\n", []string{`unknown environment "staging"`}},
		{"sunset", head + "versions:\n  - version: v1\n    deploy: [production]\n    deprecate: {sunset_at: next year}\n", []string{`sunset_at: "next year"`}},
		{"upstream and mock", head + "versions:\n  - version: v1\n    mock: true\n    upstream: {targets: [{url: https://a.example}]}\n", []string{"either upstream or mock"}},
		{"upstream url", head + "versions:\n  - version: v1\n    upstream: {targets: [{url: ftp://a.example}]}\n", []string{`targets[0].url: "ftp://a.example"`}},
		{"no targets", head + "versions:\n  - version: v1\n    upstream: {timeout_ms: 10}\n", []string{"add at least one target"}},
		{"weight", head + "versions:\n  - version: v1\n    upstream: {targets: [{url: https://a.example, weight: 5000}]}\n", []string{"weight: 5000"}},
		{"timeout", head + "versions:\n  - version: v1\n    upstream: {targets: [{url: https://a.example}], timeout_ms: 999999}\n", []string{"timeout_ms: 999999"}},
		{"deprecate without production", head + "versions:\n  - version: v1\n    deploy: [test]\n    deprecate: {sunset_at: 2027-01-01}\n", []string{"add production to deploy"}},
		{"missing openapi file", head + "versions:\n  - version: v1\n    openapi: nope.yaml\n", []string{"nope.yaml does not exist", "relative to the manifest"}},
		{"word for a number", head + "plans:\n  - slug: free\n    price_cents: ten\n", []string{`line 6: "ten" is not valid here: use a whole number`}},
		{"list for a string", head + "name: [a, b]\n", []string{"line 4: a list is not valid here: use a string"}},
		{"public with credentials", head + "versions:\n  - version: v1\n    mock: true\n    settings: {public: true, allow_app_code: true}\n",
			[]string{"version v1.settings.public", "drop require_nonce and allow_app_code"}},
		{"approval", head + "plans:\n  - slug: free\n    approval: maybe\n", []string{`approval: "maybe": use auto or manual`}},
		{"currency", head + "plans:\n  - slug: free\n    currency: dollars\n", []string{`currency: "dollars"`}},
		{"rate", head + "plans:\n  - slug: free\n    rate_limit: {requests_per_second: 0}\n", []string{"requests_per_second: 0"}},
		{"burst below rate", head + "plans:\n  - slug: free\n    rate_limit: {requests_per_second: 10, burst: 5}\n", []string{"burst: 5"}},
		{"negative price", head + "plans:\n  - slug: free\n    price_cents: -1\n", []string{"price_cents: -1"}},
		{"duplicate plan", head + "plans:\n  - slug: free\n  - slug: free\n", []string{"plan free is listed twice"}},
		{"two documents", head + "---\n" + head, []string{"more than one YAML document"}},
		{"not a mapping", "- a\n- b\n", []string{"must be a YAML mapping"}},
		{"syntax", head + "name: [unclosed\n", []string{"YAML syntax"}},
		{"empty", "", []string{"the file is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.body), t.TempDir())
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a *ValidationError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestParseFileNamesTheFile(t *testing.T) {
	p := writeManifest(t, "apiVersion: portico/v1\nkind: API\nslug: pets\nbogus: 1\n")
	_, err := ParseFile(p)
	if err == nil || !strings.HasPrefix(err.Error(), p+": ") {
		t.Errorf("err = %v, want it to start with the file name", err)
	}
}

func TestParseOpenAPIChecks(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notapi.yaml"), []byte("hello: world\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "broken.json"), []byte(`{"openapi": "3.0.3",`), 0o644)
	for name, want := range map[string]string{"notapi.yaml": "not an OpenAPI 3 document", "broken.json": "not valid JSON"} {
		body := "apiVersion: portico/v1\nkind: API\nslug: pets\nversions:\n  - version: v1\n    openapi: " + name + "\n"
		_, err := Parse([]byte(body), dir)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", name, err, want)
		}
	}
}

func TestYAMLToJSONMatchesJSON(t *testing.T) {
	y := []byte(`
openapi: 3.1.0
info: {title: T, version: "1"}
x-base: &base {type: string, nullable: true}
paths:
  /a:
    get:
      responses:
        200: {description: ok}
        "404": {description: missing}
      x-when: 2027-06-30
      x-numbers: [1, 2.5, -3, 0x10]
      x-schema:
        <<: *base
        type: integer
`)
	j := []byte(`{"openapi":"3.1.0","info":{"title":"T","version":"1"},"x-base":{"type":"string","nullable":true},
	"paths":{"/a":{"get":{"responses":{"200":{"description":"ok"},"404":{"description":"missing"}},
	"x-when":"2027-06-30","x-numbers":[1,2.5,-3,16],"x-schema":{"type":"integer","nullable":true}}}}}`)
	fromYAML, err := parseDocument(y)
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := parseDocument(j)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromYAML, fromJSON) {
		t.Errorf("YAML gives\n%#v\nJSON gives\n%#v", fromYAML, fromJSON)
	}
}

// FuzzParse feeds Parse arbitrary files: it must answer with a document or
// a ValidationError, never panic or hang.
func FuzzParse(f *testing.F) {
	f.Add([]byte(fullManifest))
	f.Add([]byte(diffManifest))
	f.Add([]byte("apiVersion: portico/v1\nkind: API\nslug: pets\nplans:\n  - {slug: a, rate_limit: null, quota: {}}\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("versions: [{version: v1, upstream: {targets: [{url: 'http://[::1'}]}}]\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data, dir)
		var ve *ValidationError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("err = %v (%T), want a *ValidationError", err, err)
		}
		if err == nil && d == nil {
			t.Fatal("no document and no error")
		}
	})
}

func TestHostileAliases(t *testing.T) {
	// Ten levels of ten aliases each would expand to 10^7 nodes.
	var b strings.Builder
	b.WriteString("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 7; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [", i, i)
		for j := 0; j < 10; j++ {
			fmt.Fprintf(&b, "*l%d, ", i-1)
		}
		b.WriteString("]\n")
	}
	bomb := b.String()
	if _, err := parseDocument([]byte(bomb)); err == nil || !strings.Contains(err.Error(), "expand too far") {
		t.Errorf("alias bomb as an OpenAPI document: err = %v", err)
	}
	for _, body := range []string{
		"versions: &a [*a, *a]\n",
		"plans: &p [{slug: ab, versions: *p}]\n",
		bomb + "versions: [*l6]\n",
	} {
		_, err := Parse([]byte(body), ".")
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("err = %v, want a *ValidationError", err)
		}
	}
}
