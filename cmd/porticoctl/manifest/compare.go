package manifest

import (
	"encoding/json"
	"net/url"
	"reflect"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/portico-dev/portico/gateway/origin"
	"github.com/portico-dev/portico/portal/client"
)

// The server's defaults for what a manifest may leave out. They mirror
// portal/catalog (upstream.go) and billing (validate.go): a value left out
// of the file means "the default", so changing it back is a change.
const (
	defaultConnectTimeoutMS = 2000
	defaultTimeoutMS        = 30000
	defaultMaxBodyBytes     = 10 << 20
)

// sameSpec reports whether the manifest's OpenAPI document and the
// server's (a JSON value) are the same document. The server stores the
// document as its OpenAPI loader re-encodes it, which drops values that
// equal their defaults (required: false, …); so when the plain values
// differ, the file is compared once more after the same re-encoding.
func sameSpec(s *Spec, current any) bool {
	if s == nil || s.Value == nil || current == nil {
		return false
	}
	if reflect.DeepEqual(s.Value, current) {
		return true
	}
	norm := s.normalized()
	return norm != nil && reflect.DeepEqual(norm, current)
}

// normalized returns the document as the server's loader re-encodes it, or
// nil when the loader refuses it (the server will then say why).
func (s *Spec) normalized() any {
	if s.norm != nil || s.normErr {
		return s.norm
	}
	l := openapi3.NewLoader()
	l.IsExternalRefsAllowed = false
	l.IncludeOrigin = true
	doc, err := l.LoadFromData(s.Raw)
	if err == nil {
		var b []byte
		if b, err = json.Marshal(doc); err == nil {
			err = json.Unmarshal(b, &s.norm)
		}
	}
	s.normErr = err != nil
	return s.norm
}

// normalUpstream fills the defaults the server fills, so a manifest that
// leaves them out matches what the server stored.
func normalUpstream(u client.Upstream) client.Upstream {
	out := u
	out.Targets = make([]client.Target, len(u.Targets))
	for i, t := range u.Targets {
		t.URL = strings.TrimSpace(t.URL)
		if pu, err := url.Parse(t.URL); err == nil {
			pu.Path = strings.TrimRight(pu.Path, "/")
			pu.RawPath = ""
			t.URL = pu.String()
		}
		if t.Weight == 0 {
			t.Weight = 1
		}
		out.Targets[i] = t
	}
	if out.ConnectTimeoutMS == 0 {
		out.ConnectTimeoutMS = defaultConnectTimeoutMS
	}
	if out.TimeoutMS == 0 {
		out.TimeoutMS = defaultTimeoutMS
	}
	return out
}

func sameUpstream(want client.Upstream, have *client.Upstream) bool {
	if have == nil {
		return false
	}
	return reflect.DeepEqual(normalUpstream(want), normalUpstream(*have))
}

func normalSettings(s client.Settings) client.Settings {
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = defaultMaxBodyBytes
	}
	if s.Public { // the server clears what a keyless version cannot use
		s.RequireNonce, s.AllowAppCode = false, false
	}
	// CORS origins as the server stores them (origin.List), the
	// preflight cache time only with origins, 600 s by default.
	origins, err := origin.List(s.CORSOrigins)
	if err != nil {
		origins = s.CORSOrigins // the server will refuse them
	}
	age := origin.DefaultMaxAge
	if s.CORSMaxAge != nil {
		age = *s.CORSMaxAge
	}
	s.CORSOrigins, s.CORSMaxAge = origins, nil
	if len(origins) > 0 {
		s.CORSMaxAge = &age
	}
	return s
}

// normalTags mirrors the server: trimmed, lower case, no repeats.
func normalTags(tags []string) []string {
	out := []string{}
	for _, t := range tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func eqPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// normalRateLimit fills burst the way the server does (burst 0 = rate).
func normalRateLimit(r *client.RateLimit) *client.RateLimit {
	if r == nil {
		return nil
	}
	out := *r
	if out.Burst == 0 {
		out.Burst = out.RequestsPerSecond
	}
	return &out
}
