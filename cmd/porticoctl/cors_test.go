package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// versions update --cors-origin (repeatable, or comma-separated) and
// --cors-max-age become the version's settings, keeping the others it has;
// --cors-origin "" turns CORS off.
func TestVersionsUpdateCORSFlags(t *testing.T) {
	var mu sync.Mutex
	var patches []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "GET" && r.URL.Path == "/api/v1/orgs/acme/apis/pets/versions/v1":
			io.WriteString(w, `{"id":"ver1","version":"v1","state":"draft","settings":{"max_body_bytes":2048,"allow_app_code":true,"cors_origins":["https://old.example"],"cors_max_age":60}}`)
		case r.Method == "PATCH" && r.URL.Path == "/api/v1/orgs/acme/apis/pets/versions/v1":
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			patches = append(patches, string(b))
			mu.Unlock()
			io.WriteString(w, `{"id":"ver1","version":"v1","state":"draft","settings":{"max_body_bytes":2048,"allow_app_code":true,"cors_origins":["https://app.example.com","http://localhost:3000"],"cors_max_age":120}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := newCLI(t)
	c.env["PORTICO_TOKEN"], c.env["PORTICO_URL"], c.env["PORTICO_ORG"] = "pat_new", srv.URL, "acme"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--cors-origin", "https://app.example.com", "--cors-origin", "http://localhost:3000", "--cors-max-age", "120"},
			`{"settings":{"max_body_bytes":2048,"allow_app_code":true,"cors_origins":["https://app.example.com","http://localhost:3000"],"cors_max_age":120}}`},
		{[]string{"--cors-origin", "https://a.example, https://b.example"},
			`{"settings":{"max_body_bytes":2048,"allow_app_code":true,"cors_origins":["https://a.example","https://b.example"],"cors_max_age":60}}`},
		{[]string{"--cors-max-age", "0"},
			`{"settings":{"max_body_bytes":2048,"allow_app_code":true,"cors_origins":["https://old.example"],"cors_max_age":0}}`},
		{[]string{"--cors-origin", ""},
			`{"settings":{"max_body_bytes":2048,"allow_app_code":true}}`},
	} {
		args := append([]string{"versions", "update", "pets", "v1"}, tc.args...)
		if code := c.run(args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, c.stderr.String())
		}
		mu.Lock()
		got := patches[len(patches)-1]
		mu.Unlock()
		if got != tc.want {
			t.Errorf("%v: body = %s\nwant   %s", tc.args, got, tc.want)
		}
	}
	if code := c.run("versions", "get", "pets", "v1"); code != 0 || !strings.Contains(c.stdout.String(), "https://old.example (preflight max age 60 s)") {
		t.Errorf("get: exit %d: %s%s", code, c.stdout.String(), c.stderr.String())
	}
}
