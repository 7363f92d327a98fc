package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portico-dev/portico/gateway/sigv4"
)

// BenchmarkForward measures the gateway's whole request path (routing,
// SigV4 verification, subscription, limits, forwarding with the backend
// signature) against an in-process upstream over loopback. The signed
// request is prepared once and replayed (no nonce, frozen clock).
func BenchmarkForward(b *testing.B) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true,"padding":"0123456789012345678901234567890123456789012345678901234567890123456789"}`))
	}))
	defer upstream.Close()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	cfg := demoConfig(Limits{}, SubActive, now)
	cfg.APIs[0].Mock = false
	cfg.APIs[0].Upstream = Upstream{Targets: []Target{{URL: upstream.URL + "/base", Weight: 1}}}
	cfg.APIs[0].BackendKeys = []BackendKey{{ID: "bk1", Secret: []byte("backendsecretbackendsecret")}}
	snap, err := Compile(cfg)
	if err != nil {
		b.Fatal(err)
	}
	h, err := NewHandler(NewStore(snap), benchOptions(now))
	if err != nil {
		b.Fatal(err)
	}
	signed, _ := http.NewRequest("GET", "http://gw.example/acme/echo/v1/things/42?x=1", nil)
	if err := (&sigv4.Signer{Region: "local"}).Sign(signed, "PKTESTTESTTESTTEST01", "secretsecretsecretsecretsecretsecret1234", "", now); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := httptest.NewRequest("GET", "http://gw.example/acme/echo/v1/things/42?x=1", nil)
		for k, v := range signed.Header {
			r.Header[k] = v
		}
		w := discardWriter{h: http.Header{}}
		h.ServeHTTP(&w, r)
		if w.status != 200 {
			b.Fatalf("status %d", w.status)
		}
	}
}

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	return io.Discard.Write(p)
}
