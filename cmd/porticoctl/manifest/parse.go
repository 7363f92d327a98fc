package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/portico-dev/portico/gateway/origin"
	"github.com/portico-dev/portico/portal/client"
)

// The YAML shapes. Field order is the order Export writes them in.
type rawDoc struct {
	APIVersion  string       `yaml:"apiVersion"`
	Kind        string       `yaml:"kind"`
	Org         string       `yaml:"org,omitempty"`
	Slug        string       `yaml:"slug"`
	Name        *string      `yaml:"name,omitempty"`
	Summary     *string      `yaml:"summary,omitempty"`
	Description *string      `yaml:"description,omitempty"`
	Category    *string      `yaml:"category,omitempty"`
	Tags        *[]string    `yaml:"tags,omitempty,flow"`
	LogoURL     *string      `yaml:"logo_url,omitempty"`
	Visibility  *string      `yaml:"visibility,omitempty"`
	ContactURL  *string      `yaml:"contact_url,omitempty"`
	TermsURL    *string      `yaml:"terms_url,omitempty"`
	Versions    []rawVersion `yaml:"versions,omitempty"`
	Plans       []rawPlan    `yaml:"plans,omitempty"`
}

type rawVersion struct {
	Version   string        `yaml:"version"`
	OpenAPI   string        `yaml:"openapi,omitempty"`
	Upstream  *rawUpstream  `yaml:"upstream,omitempty"`
	Mock      *bool         `yaml:"mock,omitempty"`
	Settings  *rawSettings  `yaml:"settings,omitempty,flow"`
	Deploy    []string      `yaml:"deploy,omitempty,flow"`
	Deprecate *rawDeprecate `yaml:"deprecate,omitempty,flow"`
	Offline   *bool         `yaml:"offline,omitempty"`
}

type rawUpstream struct {
	Targets          []rawTarget `yaml:"targets,flow"`
	ConnectTimeoutMS int         `yaml:"connect_timeout_ms,omitempty"`
	TimeoutMS        int         `yaml:"timeout_ms,omitempty"`
	Retries          int         `yaml:"retries,omitempty"`
	HealthCheckPath  string      `yaml:"health_check_path,omitempty"`
}

type rawTarget struct {
	URL    string `yaml:"url"`
	Weight int    `yaml:"weight,omitempty"`
}

type rawSettings struct {
	MaxBodyBytes int64 `yaml:"max_body_bytes,omitempty"`
	RequireNonce bool  `yaml:"require_nonce,omitempty"`
	AllowAppCode bool  `yaml:"allow_app_code,omitempty"`
	Public       bool  `yaml:"public,omitempty"`
	// CORSOrigins and CORSMaxAge: web origins allowed to call from a
	// browser, and the preflight cache time in seconds.
	CORSOrigins []string `yaml:"cors_origins,omitempty,flow"`
	CORSMaxAge  *int     `yaml:"cors_max_age,omitempty"`
}

type rawDeprecate struct {
	SunsetAt string `yaml:"sunset_at"`
}

type rawPlan struct {
	Slug                string        `yaml:"slug"`
	Name                *string       `yaml:"name,omitempty"`
	Description         *string       `yaml:"description,omitempty"`
	PriceCents          *int64        `yaml:"price_cents,omitempty"`
	Currency            *string       `yaml:"currency,omitempty"`
	IncludedCalls       *int64        `yaml:"included_calls,omitempty"`
	OverageCentsPer1000 *int64        `yaml:"overage_cents_per_1000"`
	RateLimit           *rawRateLimit `yaml:"rate_limit,flow"`
	Quota               *rawQuota     `yaml:"quota,omitempty,flow"`
	Approval            *string       `yaml:"approval,omitempty"`
	Versions            *[]string     `yaml:"versions,omitempty,flow"`
	TrialDays           *int          `yaml:"trial_days,omitempty"`
	Publish             *bool         `yaml:"publish,omitempty"`
	Deprecate           *bool         `yaml:"deprecate,omitempty"`
	Close               *bool         `yaml:"close,omitempty"`
}

type rawRateLimit struct {
	RequestsPerSecond int `yaml:"requests_per_second"`
	Burst             int `yaml:"burst,omitempty"`
}

type rawQuota struct {
	Day   *int64 `yaml:"day"`
	Month *int64 `yaml:"month"`
}

// ValidationError lists everything wrong with a manifest.
type ValidationError struct {
	// File is the manifest's path ("" for one read from memory).
	File     string
	Problems []string
}

// Error names the file and lists the problems, one per line when there
// are several.
func (e *ValidationError) Error() string {
	prefix := "manifest"
	if e.File != "" {
		prefix = e.File
	}
	if len(e.Problems) == 1 {
		return prefix + ": " + e.Problems[0]
	}
	return fmt.Sprintf("%s: %d problems:\n  %s", prefix, len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// ParseFile reads and validates the manifest at path, resolving OpenAPI
// paths against its directory.
func ParseFile(path string) (*Document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	doc, err := Parse(data, filepath.Dir(path))
	var ve *ValidationError
	if errors.As(err, &ve) {
		ve.File = path
	}
	return doc, err
}

// Parse validates a manifest; dir is where relative OpenAPI paths start.
// Unknown keys are refused with their name and line, so a typo never
// silently leaves a field unmanaged.
func Parse(data []byte, dir string) (*Document, error) {
	p := &parser{dir: dir}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ValidationError{Problems: []string{"the file is empty"}}
		}
		return nil, &ValidationError{Problems: []string{yamlProblem(err)}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &ValidationError{Problems: []string{fmt.Sprintf("line %d: the file holds more than one YAML document; put one API in each file", extra.Line)}}
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, &ValidationError{Problems: []string{"the file must be a YAML mapping with apiVersion, kind, slug, …"}}
	}
	top := root.Content[0]
	p.checkKeys(top, reflect.TypeOf(rawDoc{}), "", 0)
	if len(p.problems) > 0 {
		return nil, &ValidationError{Problems: p.problems}
	}
	var raw rawDoc
	if err := top.Decode(&raw); err != nil {
		return nil, &ValidationError{Problems: typeProblems(err)}
	}
	doc := p.document(raw, top)
	if len(p.problems) > 0 {
		return nil, &ValidationError{Problems: p.problems}
	}
	return doc, nil
}

type parser struct {
	dir      string
	problems []string
	onPath   map[*yaml.Node]bool // nodes being walked, against alias cycles
	walked   int
}

func (p *parser) addf(format string, args ...any) {
	p.problems = append(p.problems, fmt.Sprintf(format, args...))
}

// checkKeys walks n against the YAML shape t and reports every key the
// shape does not have, with its path and line.
func (p *parser) checkKeys(n *yaml.Node, t reflect.Type, at string, depth int) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	// Aliases could make the walk cycle (an anchor inside itself) or blow
	// up (aliases of aliases); decoding reports such files, the walk stops.
	p.walked++
	if depth > maxDepth || n == nil || p.walked > maxNodes || p.onPath[n] {
		return
	}
	if p.onPath == nil {
		p.onPath = map[*yaml.Node]bool{}
	}
	p.onPath[n] = true
	defer delete(p.onPath, n)
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // a type error, reported when decoding
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			fields[name] = f.Type
			names = append(names, name)
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			switch {
			case !ok:
				where := "at the top level"
				if at != "" {
					where = "in " + at
				}
				p.addf("line %d: unknown key %q %s (known keys: %s)", k.Line, k.Value, where, strings.Join(names, ", "))
			case seen[k.Value]:
				p.addf("line %d: key %q appears twice%s", k.Line, k.Value, inPath(at))
			default:
				p.checkKeys(v, ft, join(at, k.Value), depth+1)
			}
			seen[k.Value] = true
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			p.checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", at, i), depth+1)
		}
	}
}

func join(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

func inPath(at string) string {
	if at == "" {
		return ""
	}
	return " in " + at
}

var lineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlProblem words a YAML syntax error.
func yamlProblem(err error) string {
	s := err.Error()
	if m := lineRE.FindStringSubmatch(s); m != nil {
		return "line " + m[1] + ": " + strings.TrimPrefix(s, m[0]) + " (YAML syntax)"
	}
	return strings.TrimPrefix(s, "yaml: ")
}

var typeErrRE = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+) (?:`(.*)` )?into (\\S+)$")

// typeProblems words the decoder's type errors, such as a word where a
// number belongs.
func typeProblems(err error) []string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []string{yamlProblem(err)}
	}
	out := make([]string, 0, len(te.Errors))
	for _, e := range te.Errors {
		m := typeErrRE.FindStringSubmatch(e)
		if m == nil {
			out = append(out, e)
			continue
		}
		want := m[4]
		switch {
		case strings.Contains(want, "int"):
			want = "a whole number"
		case want == "bool":
			want = "true or false"
		case want == "string":
			want = "a string"
		case strings.HasPrefix(want, "[]"):
			want = "a list"
		default:
			want = "a mapping"
		}
		got := m[3]
		if m[2] == "map" || m[2] == "seq" {
			got = map[string]string{"map": "a mapping", "seq": "a list"}[m[2]]
		} else {
			got = fmt.Sprintf("%q", got)
		}
		out = append(out, fmt.Sprintf("line %s: %s is not valid here: use %s", m[1], got, want))
	}
	return out
}

var (
	slugRE     = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`)
	versionRE  = regexp.MustCompile(`^v[0-9]+(?:\.[0-9]+){0,2}(?:-[a-z0-9]+)?$`)
	currencyRE = regexp.MustCompile(`^[a-zA-Z]{3}$`)
)

// document checks the decoded file and builds the Document.
func (p *parser) document(r rawDoc, top *yaml.Node) *Document {
	d := &Document{Org: strings.TrimSpace(r.Org), Slug: strings.TrimSpace(r.Slug), Name: r.Name, Summary: r.Summary, Description: r.Description,
		Category: r.Category, Tags: r.Tags, LogoURL: r.LogoURL, ContactURL: r.ContactURL, TermsURL: r.TermsURL, Dir: p.dir}
	switch {
	case r.APIVersion == "":
		p.addf("apiVersion: missing; write apiVersion: %s", APIVersion)
	case r.APIVersion != APIVersion:
		p.addf("apiVersion: %q is not supported; use %s", r.APIVersion, APIVersion)
	}
	switch {
	case r.Kind == "":
		p.addf("kind: missing; write kind: %s", KindAPI)
	case r.Kind != KindAPI:
		p.addf("kind: %q is not supported; use %s", r.Kind, KindAPI)
	}
	if d.Org != "" && !slugRE.MatchString(d.Org) {
		p.addf("org: %q is not an organisation slug (lower-case letters, digits and dashes)", d.Org)
	}
	switch {
	case d.Slug == "":
		p.addf("slug: missing; every API needs a permanent slug, like pets")
	case len(d.Slug) < 2 || len(d.Slug) > 40 || !slugRE.MatchString(d.Slug):
		p.addf("slug: %q: use 2 to 40 lower-case letters, digits and dashes, starting and ending with a letter or digit", d.Slug)
	}
	if d.Name != nil && strings.TrimSpace(*d.Name) == "" {
		p.addf("name: must not be empty")
	}
	if r.Visibility != nil {
		v := client.Visibility(strings.TrimSpace(*r.Visibility))
		switch v {
		case client.Public, client.Unlisted, client.Private:
			d.Visibility = &v
		default:
			p.addf("visibility: %q: use public, unlisted or private", *r.Visibility)
		}
	}
	for field, u := range map[string]*string{"logo_url": r.LogoURL, "contact_url": r.ContactURL, "terms_url": r.TermsURL} {
		if u == nil || strings.TrimSpace(*u) == "" {
			continue
		}
		pu, err := url.Parse(strings.TrimSpace(*u))
		if err != nil || pu.Scheme == "" || (pu.Host == "" && pu.Opaque == "") {
			p.addf("%s: %q is not an absolute URL", field, *u)
		}
	}
	seen := map[string]bool{}
	for i, rv := range r.Versions {
		v := p.version(rv, fmt.Sprintf("versions[%d]", i))
		if v.Version != "" && seen[v.Version] {
			p.addf("versions[%d]: version %s is listed twice", i, v.Version)
		}
		seen[v.Version] = true
		d.Versions = append(d.Versions, v)
	}
	planNodes := nodeOf(top, "plans")
	seenPlans := map[string]bool{}
	for i, rp := range r.Plans {
		var n *yaml.Node
		if planNodes != nil && i < len(planNodes.Content) {
			n = planNodes.Content[i]
		}
		pl := p.plan(rp, n, fmt.Sprintf("plans[%d]", i))
		if pl.Slug != "" && seenPlans[pl.Slug] {
			p.addf("plans[%d]: plan %s is listed twice", i, pl.Slug)
		}
		seenPlans[pl.Slug] = true
		if pl.Versions != nil {
			for _, name := range *pl.Versions {
				if d.version(name) == nil && len(d.Versions) > 0 && !versionRE.MatchString(name) {
					p.addf("plans[%d].versions: %q is not a version name like v1", i, name)
				}
			}
		}
		d.Plans = append(d.Plans, pl)
	}
	return d
}

// nodeOf returns the value node of key in mapping n, or nil.
func nodeOf(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func (p *parser) version(r rawVersion, at string) Version {
	v := Version{Version: strings.TrimSpace(r.Version), Mock: r.Mock, Offline: r.Offline != nil && *r.Offline}
	if v.Version == "" {
		p.addf("%s.version: missing; name the version, like v1", at)
	} else if !versionRE.MatchString(v.Version) {
		p.addf("%s.version: %q: use a version like v1, v2 or v2.1", at, v.Version)
		at = "version " + v.Version
	} else {
		at = "version " + v.Version
	}
	if r.OpenAPI != "" {
		v.OpenAPI = p.spec(r.OpenAPI, at)
	}
	if r.Upstream != nil {
		if r.Mock != nil && *r.Mock {
			p.addf("%s: give either upstream or mock: true, not both", at)
		}
		up := client.Upstream{ConnectTimeoutMS: r.Upstream.ConnectTimeoutMS, TimeoutMS: r.Upstream.TimeoutMS,
			Retries: r.Upstream.Retries, HealthCheckPath: r.Upstream.HealthCheckPath}
		if len(r.Upstream.Targets) == 0 {
			p.addf("%s.upstream.targets: add at least one target, like {url: https://api.example.com}", at)
		}
		for i, t := range r.Upstream.Targets {
			u, err := url.Parse(strings.TrimSpace(t.URL))
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				p.addf("%s.upstream.targets[%d].url: %q: use an http:// or https:// URL", at, i, t.URL)
			}
			if t.Weight < 0 || t.Weight > 1000 {
				p.addf("%s.upstream.targets[%d].weight: %d: use 1 to 1000", at, i, t.Weight)
			}
			up.Targets = append(up.Targets, client.Target{URL: strings.TrimSpace(t.URL), Weight: t.Weight})
		}
		if up.ConnectTimeoutMS < 0 || up.ConnectTimeoutMS > 60000 {
			p.addf("%s.upstream.connect_timeout_ms: %d: use 1 to 60000 milliseconds", at, up.ConnectTimeoutMS)
		}
		if up.TimeoutMS < 0 || up.TimeoutMS > 300000 {
			p.addf("%s.upstream.timeout_ms: %d: use 1 to 300000 milliseconds", at, up.TimeoutMS)
		}
		if up.Retries < 0 || up.Retries > 5 {
			p.addf("%s.upstream.retries: %d: use 0 to 5", at, up.Retries)
		}
		if up.HealthCheckPath != "" && !strings.HasPrefix(up.HealthCheckPath, "/") {
			p.addf("%s.upstream.health_check_path: %q: use a path starting with /", at, up.HealthCheckPath)
		}
		v.Upstream = &up
	} else if r.Mock != nil && !*r.Mock {
		p.addf("%s: mock: false needs an upstream to send calls to", at)
	}
	if r.Settings != nil {
		if r.Settings.MaxBodyBytes < 0 || r.Settings.MaxBodyBytes > 1<<30 {
			p.addf("%s.settings.max_body_bytes: %d: use 1 byte to 1 GiB", at, r.Settings.MaxBodyBytes)
		}
		if r.Settings.Public && (r.Settings.RequireNonce || r.Settings.AllowAppCode) {
			p.addf("%s.settings.public: a public version checks no credentials: drop require_nonce and allow_app_code", at)
		}
		if _, err := origin.List(r.Settings.CORSOrigins); err != nil {
			p.addf("%s.settings.cors_origins: %v", at, err)
		}
		if a := r.Settings.CORSMaxAge; a != nil {
			if err := origin.CheckMaxAge(*a); err != nil {
				p.addf("%s.settings.cors_max_age: %d: %v", at, *a, err)
			}
		}
		v.Settings = &client.Settings{MaxBodyBytes: r.Settings.MaxBodyBytes, RequireNonce: r.Settings.RequireNonce, AllowAppCode: r.Settings.AllowAppCode,
			Public: r.Settings.Public, CORSOrigins: r.Settings.CORSOrigins, CORSMaxAge: r.Settings.CORSMaxAge}
	}
	for _, env := range r.Deploy {
		switch {
		case env != client.EnvTest && env != client.EnvProduction:
			p.addf("%s.deploy: unknown environment %q; use test or production", at, env)
		case slices.Contains(v.Deploy, env):
			p.addf("%s.deploy: %s is listed twice", at, env)
		default:
			v.Deploy = append(v.Deploy, env)
		}
	}
	if r.Deprecate != nil {
		s := strings.TrimSpace(r.Deprecate.SunsetAt)
		t, err := parseSunset(s)
		if err != nil {
			p.addf("%s.deprecate.sunset_at: %q: give a date (2027-06-30) or an RFC 3339 time", at, r.Deprecate.SunsetAt)
		}
		v.Deprecate = &Deprecation{SunsetAt: s, Sunset: t}
	}
	if (v.Deprecate != nil || v.Offline) && !slices.Contains(v.Deploy, client.EnvProduction) && len(v.Deploy) > 0 {
		// Only a published version can be deprecated or taken offline;
		// publishing is the first production deployment. Without any deploy
		// list the server's state decides (Diff checks it).
		p.addf("%s: deprecate and offline need the version published: add production to deploy", at)
	}
	return v
}

// parseSunset accepts a date (midnight UTC) or an RFC 3339 time.
func parseSunset(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	return t.UTC(), err
}

// spec loads an OpenAPI document referred to by a version.
func (p *parser) spec(path, at string) *Spec {
	s := &Spec{Path: path, File: path}
	if !filepath.IsAbs(path) {
		s.File = filepath.Join(p.dir, path)
	}
	raw, err := os.ReadFile(s.File)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			p.addf("%s.openapi: %s does not exist (paths are relative to the manifest's folder)", at, s.File)
		} else {
			p.addf("%s.openapi: %v", at, err)
		}
		return s
	}
	s.Raw = raw
	val, err := parseDocument(raw)
	if err != nil {
		p.addf("%s.openapi: %s: %v", at, s.File, err)
		return s
	}
	m, ok := val.(map[string]any)
	if !ok {
		p.addf("%s.openapi: %s is not an OpenAPI document (it is not a mapping)", at, s.File)
		return s
	}
	if ver, _ := m["openapi"].(string); !strings.HasPrefix(ver, "3.") {
		p.addf("%s.openapi: %s is not an OpenAPI 3 document (it has no openapi: 3.x field)", at, s.File)
	}
	s.Value = val
	return s
}

func (p *parser) plan(r rawPlan, n *yaml.Node, at string) PricePlan {
	pl := PricePlan{Slug: strings.TrimSpace(r.Slug), Name: r.Name, Description: r.Description, PriceCents: r.PriceCents,
		IncludedCalls: r.IncludedCalls, Versions: r.Versions, TrialDays: r.TrialDays,
		Publish: r.Publish != nil && *r.Publish, Deprecate: r.Deprecate != nil && *r.Deprecate, Close: r.Close != nil && *r.Close}
	if pl.Slug == "" {
		p.addf("%s.slug: missing; name the plan, like free", at)
	} else if len(pl.Slug) < 2 || len(pl.Slug) > 40 || !slugRE.MatchString(pl.Slug) {
		p.addf("%s.slug: %q: use 2 to 40 lower-case letters, digits and dashes", at, pl.Slug)
	} else {
		at = "plan " + pl.Slug
	}
	if pl.Name != nil && strings.TrimSpace(*pl.Name) == "" {
		p.addf("%s.name: must not be empty", at)
	}
	if pl.PriceCents != nil && *pl.PriceCents < 0 {
		p.addf("%s.price_cents: %d: use 0 (free) or more", at, *pl.PriceCents)
	}
	if r.Currency != nil {
		c := strings.ToLower(strings.TrimSpace(*r.Currency))
		if !currencyRE.MatchString(c) {
			p.addf("%s.currency: %q: use a three-letter ISO 4217 code, like usd", at, *r.Currency)
		}
		pl.Currency = &c
	}
	if pl.IncludedCalls != nil && *pl.IncludedCalls < 0 {
		p.addf("%s.included_calls: %d: use 0 or more", at, *pl.IncludedCalls)
	}
	if nodeOf(n, "overage_cents_per_1000") != nil {
		pl.OverageCentsPer1000 = client.Nullable[int64]{Set: true, Value: r.OverageCentsPer1000}
		if r.OverageCentsPer1000 != nil && *r.OverageCentsPer1000 < 0 {
			p.addf("%s.overage_cents_per_1000: %d: use 0 or more, or null for a hard limit", at, *r.OverageCentsPer1000)
		}
	}
	if nodeOf(n, "rate_limit") != nil {
		pl.RateLimit = client.Nullable[client.RateLimit]{Set: true}
		if r.RateLimit != nil {
			rl := client.RateLimit{RequestsPerSecond: r.RateLimit.RequestsPerSecond, Burst: r.RateLimit.Burst}
			if rl.RequestsPerSecond < 1 {
				p.addf("%s.rate_limit.requests_per_second: %d: use 1 or more, or rate_limit: null for none", at, rl.RequestsPerSecond)
			}
			if rl.Burst != 0 && rl.Burst < rl.RequestsPerSecond {
				p.addf("%s.rate_limit.burst: %d: use at least requests_per_second (%d)", at, rl.Burst, rl.RequestsPerSecond)
			}
			pl.RateLimit.Value = &rl
		}
	}
	if nodeOf(n, "quota") != nil {
		pl.Quota = &client.Quota{}
		if r.Quota != nil {
			pl.Quota.Day, pl.Quota.Month = r.Quota.Day, r.Quota.Month
		}
		for name, q := range map[string]*int64{"day": pl.Quota.Day, "month": pl.Quota.Month} {
			if q != nil && *q < 1 {
				p.addf("%s.quota.%s: %d: use 1 or more, or leave it out for no cap", at, name, *q)
			}
		}
	}
	if r.Approval != nil {
		a := client.Approval(strings.ToLower(strings.TrimSpace(*r.Approval)))
		if a != client.ApprovalAuto && a != client.ApprovalManual {
			p.addf("%s.approval: %q: use auto or manual", at, *r.Approval)
		}
		pl.Approval = &a
	}
	if pl.TrialDays != nil && (*pl.TrialDays < 0 || *pl.TrialDays > 365) {
		p.addf("%s.trial_days: %d: use 0 to 365", at, *pl.TrialDays)
	}
	if pl.Versions != nil {
		vs := []string{}
		for _, v := range *pl.Versions {
			v = strings.TrimSpace(v)
			if !slices.Contains(vs, v) {
				vs = append(vs, v)
			}
		}
		pl.Versions = &vs
	}
	return pl
}

// parseDocument reads a JSON or YAML document into a JSON value.
func parseDocument(raw []byte) (any, error) {
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		var v any
		if err := json.Unmarshal(t, &v); err != nil {
			return nil, fmt.Errorf("not valid JSON: %w", err)
		}
		return v, nil
	}
	var n yaml.Node
	if err := yaml.Unmarshal(raw, &n); err != nil {
		return nil, errors.New(yamlProblem(err))
	}
	if len(n.Content) == 0 {
		return nil, errors.New("the document is empty")
	}
	return yamlToJSON(n.Content[0], 0)
}
