package limits

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestWriteHeaders(t *testing.T) {
	cases := []struct {
		name                string
		policies            []Policy
		wantPolicy, wantNow string
	}{
		{
			"burst and day",
			[]Policy{
				{Name: "burst", Quota: 10, Window: time.Second, Remaining: 7, Reset: 300 * time.Millisecond},
				{Name: "day", Quota: 1000, Window: 24 * time.Hour, Remaining: 990, Reset: time.Hour},
			},
			`"burst";q=10;w=1, "day";q=1000;w=86400`,
			`"burst";r=7;t=1, "day";r=990;t=3600`,
		},
		{
			"negative remaining and reset clamp to zero",
			[]Policy{{Name: "period", Quota: 5, Window: 30 * 24 * time.Hour, Remaining: -3, Reset: -time.Second}},
			`"period";q=5;w=2592000`,
			`"period";r=0;t=0`,
		},
		{
			"name is escaped as an sf-string",
			[]Policy{{Name: "a\"b\\c\né", Quota: 1, Window: 1500 * time.Millisecond, Remaining: 1, Reset: 1}},
			`"a\"b\\c???";q=1;w=2`,
			`"a\"b\\c???";r=1;t=1`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			WriteHeaders(h, c.policies...)
			if got := h.Get(HeaderPolicy); got != c.wantPolicy {
				t.Errorf("RateLimit-Policy = %q, want %q", got, c.wantPolicy)
			}
			if got := h.Get(HeaderRateLimit); got != c.wantNow {
				t.Errorf("RateLimit = %q, want %q", got, c.wantNow)
			}
		})
	}
	h := http.Header{}
	WriteHeaders(h)
	if len(h) != 0 {
		t.Fatalf("no policies wrote %v", h)
	}
}

func TestWriteRetryAfter(t *testing.T) {
	cases := []struct {
		name string
		d    time.Duration
		want string
	}{
		{"whole seconds", 3 * time.Second, "3"},
		{"rounds up", 1100 * time.Millisecond, "2"},
		{"never zero", 0, "1"},
		{"sub-second", time.Millisecond, "1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			WriteRetryAfter(h, c.d)
			if got := h.Get(HeaderRetryAfter); got != c.want {
				t.Fatalf("Retry-After = %q, want %q", got, c.want)
			}
		})
	}
}

func TestWriteRefusal(t *testing.T) {
	cases := []struct {
		name     string
		reason   Reason
		wantType string
	}{
		{"rate limited", RateLimited, "https://portico.dev/problems/rate-limited"},
		{"quota exceeded", QuotaExceeded, "https://portico.dev/problems/quota-exceeded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteRefusal(rec, c.reason, 2500*time.Millisecond, "req-1",
				Policy{Name: "burst", Quota: 10, Window: time.Second, Remaining: 0, Reset: time.Second})
			if rec.Code != http.StatusTooManyRequests {
				t.Fatalf("status %d", rec.Code)
			}
			if got := rec.Header().Get("Retry-After"); got != "3" {
				t.Fatalf("Retry-After = %q", got)
			}
			if got := rec.Header().Get("RateLimit"); got != `"burst";r=0;t=1` {
				t.Fatalf("RateLimit = %q", got)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json; charset=utf-8" {
				t.Fatalf("Content-Type = %q", ct)
			}
			var p struct {
				Type      string `json:"type"`
				Status    int    `json:"status"`
				RequestID string `json:"request_id"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			if p.Type != c.wantType || p.Status != 429 || p.RequestID != "req-1" {
				t.Fatalf("problem = %+v", p)
			}
		})
	}
}

func BenchmarkWriteHeaders(b *testing.B) {
	h := http.Header{}
	ps := []Policy{
		{Name: "burst", Quota: 10, Window: time.Second, Remaining: 7, Reset: time.Second},
		{Name: "day", Quota: 1000, Window: 24 * time.Hour, Remaining: 990, Reset: time.Hour},
	}
	b.ReportAllocs()
	for b.Loop() {
		WriteHeaders(h, ps...)
	}
}

func TestCanonicalHeaderNames(t *testing.T) {
	for name, canon := range map[string]string{HeaderPolicy: canonicalPolicy, HeaderRateLimit: canonicalRateLimit} {
		if got := http.CanonicalHeaderKey(name); got != canon {
			t.Errorf("CanonicalHeaderKey(%q) = %q, constant says %q", name, got, canon)
		}
	}
}
