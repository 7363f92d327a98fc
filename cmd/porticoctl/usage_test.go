package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// usagePortico is a fake Portico answering GET …/subscriptions/{id}/usage
// as the real server does: sub_1 of beta has usage, any other id is not
// found, and a from or to that is neither a date nor an RFC 3339 time is a
// 422 problem naming the field.
func usagePortico(t *testing.T) (srv *httptest.Server, requests func() []string) {
	t.Helper()
	const usage = `{"calls":6,"billable":5,"errors":2,"by_day":[{"day":"2026-11-01","calls":3,"billable":2,"errors":1},{"day":"2026-11-02","calls":2,"billable":2,"errors":1},{"day":"2026-11-03","calls":1,"billable":1,"errors":0}]}`
	dateOrTime := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))?$`)
	var mu sync.Mutex
	var seen []string
	problem := func(w http.ResponseWriter, status int, body string) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/orgs/{org}/subscriptions/{id}/usage", func(w http.ResponseWriter, r *http.Request) {
		for _, name := range []string{"from", "to"} {
			if v := r.URL.Query().Get(name); v != "" && !dateOrTime.MatchString(v) {
				msg := name + " must be a date (2026-11-01) or an RFC 3339 time."
				problem(w, 422, `{"type":"https://portico.dev/problems/invalid","title":"Unprocessable Entity","status":422,"detail":"`+msg+`",
					"instance":"`+r.URL.Path+`","errors":[{"field":"`+name+`","message":"`+msg+`"}]}`)
				return
			}
		}
		if r.PathValue("org") != "beta" || r.PathValue("id") != "sub_1" {
			problem(w, 404, `{"type":"https://portico.dev/problems/not-found","title":"Not Found","status":404,"detail":"No such subscription.","instance":"`+r.URL.Path+`"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("from") == "2020-01-01" {
			io.WriteString(w, `{"calls":0,"billable":0,"errors":0,"by_day":[]}`)
			return
		}
		io.WriteString(w, usage)
	})
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

func TestSubscriptionsUsage(t *testing.T) {
	srv, requests := usagePortico(t)
	c := newCLI(t)
	c.env["PORTICO_URL"] = srv.URL
	c.env["PORTICO_TOKEN"] = "pat_given"
	last := func() string {
		t.Helper()
		r := requests()
		if len(r) == 0 {
			t.Fatal("no request reached the server")
		}
		return r[len(r)-1]
	}

	// Table: the totals, then one row per day.
	if code := c.run("subscriptions", "usage", "sub_1", "--org", "beta", "--from", "2026-11-01", "--to", "2026-11-03"); code != 0 {
		t.Fatalf("exit %d: %s", code, c.stderr.String())
	}
	want := "subscription:  sub_1\n" +
		"period:        2026-11-01 to 2026-11-03\n" +
		"calls:         6\n" +
		"billable:      5\n" +
		"errors:        2\n" +
		"error rate:    33.3%\n" +
		"\n" +
		"DAY (UTC)   CALLS  BILLABLE  ERRORS  ERROR RATE\n" +
		"2026-11-01  3      2         1       33.3%\n" +
		"2026-11-02  2      2         1       50.0%\n" +
		"2026-11-03  1      1         0       0.0%\n"
	if got := c.stdout.String(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
	if got := last(); got != "GET /api/v1/orgs/beta/subscriptions/sub_1/usage?from=2026-11-01&to=2026-11-03 Bearer pat_given" {
		t.Errorf("sent %q", got)
	}

	// JSON: the API's object as it came, whatever the flags' order; an
	// RFC 3339 time is sent as given.
	if code := c.run("--org", "beta", "-o", "json", "subscriptions", "usage", "--to", "2026-11-04T12:00:00+01:00", "sub_1"); code != 0 {
		t.Fatalf("exit %d: %s", code, c.stderr.String())
	}
	var got, api map[string]any
	if err := json.Unmarshal(c.stdout.Bytes(), &got); err != nil {
		t.Fatalf("json output %q: %v", c.stdout.String(), err)
	}
	json.Unmarshal([]byte(`{"calls":6,"billable":5,"errors":2,"by_day":[{"day":"2026-11-01","calls":3,"billable":2,"errors":1},{"day":"2026-11-02","calls":2,"billable":2,"errors":1},{"day":"2026-11-03","calls":1,"billable":1,"errors":0}]}`), &api)
	if !reflect.DeepEqual(got, api) {
		t.Errorf("json output:\n%s\nwant the API's object", c.stdout.String())
	}
	if got := last(); got != "GET /api/v1/orgs/beta/subscriptions/sub_1/usage?to=2026-11-04T12%3A00%3A00%2B01%3A00 Bearer pat_given" {
		t.Errorf("sent %q", got)
	}

	// Without flags the server's default range applies; no calls is said
	// in words, and an empty by_day stays an empty array in JSON.
	if code := c.run("subscriptions", "usage", "sub_1", "--org", "beta"); code != 0 || !strings.Contains(c.stdout.String(), "period:        30 days ago to now\n") {
		t.Errorf("exit %d, stdout:\n%s", code, c.stdout.String())
	}
	if got := last(); got != "GET /api/v1/orgs/beta/subscriptions/sub_1/usage? Bearer pat_given" {
		t.Errorf("sent %q", got)
	}
	if code := c.run("subscriptions", "usage", "sub_1", "--org", "beta", "--from", "2020-01-01"); code != 0 ||
		!strings.Contains(c.stdout.String(), "error rate:    -\n\nNo calls in this period.\n") || strings.Contains(c.stdout.String(), "DAY") {
		t.Errorf("exit %d, stdout:\n%s", code, c.stdout.String())
	}
	if code := c.run("subscriptions", "usage", "sub_1", "--org", "beta", "--from", "2020-01-01", "-o", "json"); code != 0 ||
		!strings.Contains(c.stdout.String(), `"by_day": []`) {
		t.Errorf("exit %d, stdout:\n%s", code, c.stdout.String())
	}

	// The server's problems: a bad date names its field; another
	// organisation's subscription is not found. Both exit 1.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "yesterday"}, "porticoctl: from must be a date (2026-11-01) or an RFC 3339 time.\n  field: from\n"},
		{[]string{"--from", "2026-11-01", "--to", "11/03/2026"}, "porticoctl: to must be a date (2026-11-01) or an RFC 3339 time.\n  field: to\n"},
		{[]string{"--org", "acme"}, "porticoctl: No such subscription.\n"},
	} {
		args := append([]string{"subscriptions", "usage", "sub_1", "--org", "beta"}, tt.args...)
		if code := c.run(args...); code != 1 || c.stderr.String() != tt.want || c.stdout.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 1 and %q", tt.args, code, c.stdout.String(), c.stderr.String(), tt.want)
		}
	}

	// Command-line mistakes exit 2 without calling the server.
	n := len(requests())
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"subscriptions", "usage"}, "missing <id>"},
		{[]string{"subscriptions", "usage", "sub_1", "sub_2"}, `unexpected argument "sub_2"`},
		{[]string{"subscriptions", "usage", "sub_1", "--since", "2026-11-01"}, "flag provided but not defined: -since"},
		{[]string{"subscriptions", "usage", "sub_1", "-o", "csv"}, "use -o table or -o json"},
	} {
		if code := c.run(tt.args...); code != 2 || !strings.Contains(c.stderr.String(), tt.want) || !strings.Contains(c.stderr.String(), "-h' for usage.") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, code, c.stderr.String(), tt.want)
		}
	}
	if r := requests(); len(r) != n {
		t.Errorf("usage errors reached the server: %v", r[n:])
	}

	// Help names the flags; the group lists the command.
	if code := c.run("subscriptions", "usage", "-h"); code != 0 || !strings.Contains(c.stdout.String(), "Usage: porticoctl subscriptions usage <id> [--from DATE] [--to DATE]") ||
		!strings.Contains(c.stdout.String(), "--from") || !strings.Contains(c.stdout.String(), "--to") {
		t.Errorf("help: exit %d\n%s", code, c.stdout.String())
	}
	if code := c.run("subscriptions", "help"); code != 0 || !strings.Contains(c.stdout.String(), "  usage ") {
		t.Errorf("group help: exit %d\n%s", code, c.stdout.String())
	}
}
