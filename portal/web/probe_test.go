package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/portico-dev/portico/portal/catalog"
)

func TestCheckDialAddr(t *testing.T) {
	tests := []struct {
		addr    string
		blocked bool
	}{
		{"93.184.216.34:443", false},
		{"[2606:2800:220:1:248:1893:25c8:1946]:443", false},
		{"127.0.0.1:8080", true},
		{"10.1.2.3:80", true},
		{"169.254.169.254:80", true},
		{"[::1]:80", true},
		{"[::ffff:127.0.0.1]:80", true},
		{"[fe80::1%eth0]:80", true},
		{"[fd00:ec2::254]:80", true},
		{"not-an-address", true},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			if got := checkDialAddr(tc.addr) != nil; got != tc.blocked {
				t.Fatalf("blocked = %t, want %t", got, tc.blocked)
			}
		})
	}
}

func TestProbeUpstream(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch {
		case r.URL.Path == "/nohead" && r.Method == http.MethodHead:
			w.WriteHeader(http.StatusMethodNotAllowed)
		case r.URL.Path == "/base/healthz" && r.Method == http.MethodGet:
			w.WriteHeader(http.StatusOK)
		case r.URL.Path == "/moved":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data", http.StatusFound)
		case r.URL.Path == "/":
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	ctx := context.Background()

	t.Run("private allowed", func(t *testing.T) {
		got := probeUpstream(ctx, []catalog.Target{{URL: srv.URL}, {URL: srv.URL + "/nohead"}, {URL: srv.URL + "/moved"}, {URL: closed.URL}, {URL: "ftp://x"}}, "", true)
		want := []struct {
			method string
			status int
			err    string
		}{
			{http.MethodHead, 204, ""},
			{http.MethodGet, 418, ""},  // HEAD refused, asked again with GET
			{http.MethodHead, 302, ""}, // reported, not followed
			{http.MethodHead, 0, "Connection refused"},
			{http.MethodHead, 0, "Not an http:// or https:// URL"},
		}
		for i, w := range want {
			r := got[i]
			if r.Method != w.method || r.Status != w.status || !strings.HasPrefix(r.Error, w.err) || (w.err == "") != (r.Latency != "") {
				t.Errorf("target %d = %+v, want %+v", i, r, w)
			}
		}
	})
	t.Run("health check path", func(t *testing.T) {
		got := probeUpstream(ctx, []catalog.Target{{URL: srv.URL + "/base/"}}, "/healthz", true)
		if got[0].Method != http.MethodGet || got[0].Status != 200 || got[0].URL != srv.URL+"/base/healthz" {
			t.Fatalf("got %+v", got[0])
		}
	})
	t.Run("private refused", func(t *testing.T) {
		before := hits.Load()
		got := probeUpstream(ctx, []catalog.Target{{URL: srv.URL}, {URL: "http://localhost:1/"}}, "", false)
		for _, r := range got {
			if !strings.HasPrefix(r.Error, "Blocked:") {
				t.Errorf("%s: %+v, want blocked", r.URL, r)
			}
		}
		if hits.Load() != before {
			t.Fatal("a blocked target was reached")
		}
	})
}
