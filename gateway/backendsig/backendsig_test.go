package backendsig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func hexSum(b string) string { s := sha256.Sum256([]byte(b)); return hex.EncodeToString(s[:]) }

func TestStringToSignLayout(t *testing.T) {
	f := Facts{Consumer: "org_1", App: "app_1", Plan: "plan_1", RequestID: "req_1", BodySHA256: hexSum(""), Timestamp: time.Unix(1700000000, 0)}
	got := string(StringToSign("get", "/v1/forecast", "city=Paris&a=b%20c&a=a", f))
	want := strings.Join([]string{"1700000000", "GET", "/v1/forecast", "a=a&a=b%20c&city=Paris", "org_1", "app_1", "plan_1", "req_1", hexSum("")}, "\n")
	if got != want {
		t.Fatalf("string to sign:\n%q\nwant\n%q", got, want)
	}
	// Independent HMAC: the signature is hex HMAC-SHA256(secret, sts).
	m := hmac.New(sha256.New, []byte("s3cret"))
	m.Write([]byte(want))
	if Sign([]byte("s3cret"), []byte(want)) != hex.EncodeToString(m.Sum(nil)) {
		t.Fatal("signature is not hex HMAC-SHA256")
	}
}

func TestApplyThenVerify(t *testing.T) {
	now := time.Unix(1700000000, 0)
	secrets := map[string][]byte{"bk_old": []byte("old"), "bk_new": []byte("new")}
	body := `{"x":1}`
	cases := []struct {
		name   string
		tamper func(r *http.Request)
		at     time.Time
		want   error
	}{
		{"valid with the new key", nil, now, nil},
		{"four minutes old", nil, now.Add(4 * time.Minute), nil},
		{"six minutes old", nil, now.Add(6 * time.Minute), ErrStale},
		{"path changed", func(r *http.Request) { r.URL.Path = "/v1/other" }, now, ErrMismatch},
		{"query changed", func(r *http.Request) { r.URL.RawQuery = "city=Rome" }, now, ErrMismatch},
		{"consumer changed", func(r *http.Request) { r.Header.Set(HeaderConsumer, "org_2") }, now, ErrMismatch},
		{"method changed", func(r *http.Request) { r.Method = "DELETE" }, now, ErrMismatch},
		{"unknown key", func(r *http.Request) {
			r.Header.Set(HeaderSignature, strings.Replace(r.Header.Get(HeaderSignature), "bk_new", "bk_gone", 1))
		}, now, ErrUnknown},
		{"no signature", func(r *http.Request) { r.Header.Del(HeaderSignature) }, now, ErrMissing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "http://backend/v1/forecast?city=Paris", strings.NewReader(body))
			Apply(r, "bk_new", secrets["bk_new"], Facts{Consumer: "org_1", App: "app_1", Plan: "plan_1", RequestID: "req_1", BodySHA256: hexSum(body), Timestamp: now})
			if tc.tamper != nil {
				tc.tamper(r)
			}
			_, err := Verify(r, secrets, hexSum(body), tc.at)
			if err != tc.want {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	// A different body digest fails.
	r := httptest.NewRequest("POST", "http://backend/v1/forecast", strings.NewReader(body))
	Apply(r, "bk_old", secrets["bk_old"], Facts{RequestID: "r", BodySHA256: hexSum(body), Timestamp: now})
	if _, err := Verify(r, secrets, hexSum("other"), now); err != ErrMismatch {
		t.Fatalf("body tamper: %v", err)
	}
}

// A Signer signs exactly as Apply does, also when used concurrently.
func TestSignerMatchesApply(t *testing.T) {
	f := Facts{Consumer: "org_1", App: "app_1", Plan: "plan_1", RequestID: "req_1", BodySHA256: hexSum("{}"), Timestamp: time.Unix(1700000000, 0)}
	secret := []byte("backend-secret-backend-secret-32")
	s := NewSigner("bk_1", secret)
	done := make(chan string, 8)
	for i := range 8 {
		go func() {
			r1 := httptest.NewRequest("POST", "http://b/items/"+strconv.Itoa(i)+"?b=2&a=1", nil)
			r2 := httptest.NewRequest("POST", "http://b/items/"+strconv.Itoa(i)+"?b=2&a=1", nil)
			Apply(r1, "bk_1", secret, f)
			s.Apply(r2, f)
			if a, b := r1.Header.Get(HeaderSignature), r2.Header.Get(HeaderSignature); a != b || !strings.HasPrefix(a, "keyId=bk_1, v1=") {
				done <- a + " != " + b
				return
			}
			done <- ""
		}()
	}
	for range 8 {
		if msg := <-done; msg != "" {
			t.Fatal(msg)
		}
	}
}

// TestFillTimestamp: the timestamp Fill writes is the facts' own, whether
// or not the call before it was in the same second (Fill shares the
// formatted second between calls).
func TestFillTimestamp(t *testing.T) {
	base := time.Unix(1_800_000_000, 0)
	for _, d := range []time.Duration{0, 500 * time.Millisecond, time.Second, -time.Hour, 0, 36 * time.Hour, 36*time.Hour + 999*time.Millisecond} {
		ts := base.Add(d)
		var vals Values
		vals.Fill(Facts{Timestamp: ts}, "sig")
		if want := strconv.FormatInt(ts.Unix(), 10); vals[4] != want {
			t.Fatalf("%v: timestamp %q, want %q", d, vals[4], want)
		}
	}
}
