package gateway

import (
	"net/http"
	"testing"
	"time"
)

// TestGatewayDeprecationHeaders: a deprecated version's answers carry
// Deprecation with the deprecation date as @<unix seconds> (RFC 9745) and
// Sunset with the sunset date as an HTTP-date (RFC 8594); a published
// version's carry neither, and without a known deprecation date the
// Deprecation header, which has no dateless form, is left out.
func TestGatewayDeprecationHeaders(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	deprecatedAt := time.Date(2026, 10, 1, 9, 30, 0, 0, time.FixedZone("CEST", 2*3600))
	sunset := time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name                  string
		state                 VersionState
		deprecatedAt, sunset  *time.Time
		wantDeprecation, want string
	}{
		{name: "published", state: StatePublished},
		{name: "deprecated", state: StateDeprecated, deprecatedAt: &deprecatedAt, sunset: &sunset,
			wantDeprecation: "@1790839800", want: "Sun, 31 Jan 2027 00:00:00 GMT"},
		{name: "deprecated without a sunset", state: StateDeprecated, deprecatedAt: &deprecatedAt, wantDeprecation: "@1790839800"},
		{name: "deprecated without a date", state: StateDeprecated, sunset: &sunset, want: "Sun, 31 Jan 2027 00:00:00 GMT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := demoConfig(Limits{}, SubActive, now)
			cfg.APIs[0].State, cfg.APIs[0].DeprecatedAt, cfg.APIs[0].SunsetAt = tc.state, tc.deprecatedAt, tc.sunset
			srv := newTestGateway(t, cfg, now)
			res, m := signedGet(t, srv.URL+"/acme/echo/v1/things/1", now)
			if res.StatusCode != 200 {
				t.Fatalf("%d %v", res.StatusCode, m)
			}
			if got := res.Header.Values("Deprecation"); tc.wantDeprecation == "" && len(got) != 0 || tc.wantDeprecation != "" && (len(got) != 1 || got[0] != tc.wantDeprecation) {
				t.Errorf("Deprecation = %q, want %q", got, tc.wantDeprecation)
			}
			if got := res.Header.Values("Sunset"); tc.want == "" && len(got) != 0 || tc.want != "" && (len(got) != 1 || got[0] != tc.want) {
				t.Errorf("Sunset = %q, want %q", got, tc.want)
			}
		})
	}
}

// A deprecated public version says so too: the headers do not depend on
// how the caller authenticated.
func TestGatewayDeprecationHeadersOnPublicVersions(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	deprecatedAt := time.Unix(1790839800, 0)
	cfg := demoConfig(Limits{}, SubActive, now)
	cfg.APIs[0].State, cfg.APIs[0].DeprecatedAt, cfg.APIs[0].Settings.Public = StateDeprecated, &deprecatedAt, true
	srv := newTestGateway(t, cfg, now)
	res, err := http.Get(srv.URL + "/acme/echo/v1/things/1")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Deprecation") != "@1790839800" {
		t.Fatalf("public deprecated version: %d, Deprecation %q", res.StatusCode, res.Header.Get("Deprecation"))
	}
}

// A deprecated version's 404 and 405 answers say so too: a client that
// calls an operation the version lacks, or the wrong method, learns that
// the whole version is going away.
func TestGatewayDeprecationHeadersOnRouteErrors(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	deprecatedAt := time.Date(2026, 10, 1, 9, 30, 0, 0, time.UTC)
	sunset := time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
	cfg := demoConfig(Limits{}, SubActive, now)
	cfg.APIs[0].State, cfg.APIs[0].DeprecatedAt, cfg.APIs[0].SunsetAt = StateDeprecated, &deprecatedAt, &sunset
	srv := newTestGateway(t, cfg, now)
	for path, method := range map[string]string{"/acme/echo/v1/nothing-here": "GET", "/acme/echo/v1/things/1": "DELETE"} {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 404 && res.StatusCode != 405 {
			t.Fatalf("%s %s: %d", method, path, res.StatusCode)
		}
		if res.Header.Get("Deprecation") != "@1790847000" || res.Header.Get("Sunset") != "Sun, 31 Jan 2027 00:00:00 GMT" {
			t.Errorf("%s %s (%d): Deprecation %q, Sunset %q", method, path, res.StatusCode, res.Header.Get("Deprecation"), res.Header.Get("Sunset"))
		}
	}
}
