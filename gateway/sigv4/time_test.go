package sigv4

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestClockSkew(t *testing.T) {
	cases := []struct {
		name    string
		skew    time.Duration // default when 0
		offset  time.Duration // server clock minus signing time
		wantErr bool
	}{
		{"same-instant", 0, 0, false},
		{"exactly-15m-late", 0, 15 * time.Minute, false},
		{"15m1s-late", 0, 15*time.Minute + time.Second, true},
		{"exactly-15m-early", 0, -15 * time.Minute, false},
		{"15m1s-early", 0, -15*time.Minute - time.Second, true},
		{"configured-5m-passes", 5 * time.Minute, 5 * time.Minute, false},
		{"configured-5m-fails", 5 * time.Minute, 5*time.Minute + time.Second, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := testTime.Add(tc.offset)
			v := newTestVerifier(t, func(c *Config) { c.Now = func() time.Time { return now }; c.MaxSkew = tc.skew })
			_, err := v.Verify(context.Background(), signedServerRequest(t, "GET", base+"/f", "", Signer{}), "", VerifyOptions{})
			if !tc.wantErr {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			e := wantProblem(t, err, TypeRequestExpired, 403)
			if e.ServerTime != now.Format(amzDateFormat) || !strings.Contains(e.Detail, e.ServerTime) {
				t.Fatalf("server time %q / detail %q, want %s", e.ServerTime, e.Detail, now.Format(amzDateFormat))
			}
		})
	}
}

func TestPresignExpiry(t *testing.T) {
	cases := []struct {
		name     string
		expires  string // X-Amz-Expires as sent
		offset   time.Duration
		maxCfg   time.Duration
		wantType string
	}{
		{name: "within", expires: "60", offset: 30 * time.Second},
		{name: "at-expiry", expires: "60", offset: 60 * time.Second},
		{name: "one-second-after-expiry", expires: "60", offset: 61 * time.Second, wantType: TypeRequestExpired},
		{name: "seven-days-at-end", expires: "604800", offset: 604800 * time.Second},
		{name: "seven-days-after-end", expires: "604800", offset: 604801 * time.Second, wantType: TypeRequestExpired},
		{name: "over-seven-days", expires: "604801", wantType: TypeMalformedAuthorization},
		{name: "zero", expires: "0", wantType: TypeMalformedAuthorization},
		{name: "negative", expires: "-5", wantType: TypeMalformedAuthorization},
		{name: "not-a-number", expires: "1e3", wantType: TypeMalformedAuthorization},
		{name: "over-configured-max", expires: "3601", maxCfg: time.Hour, wantType: TypeMalformedAuthorization},
		{name: "signed-15m-in-future", expires: "60", offset: -15 * time.Minute},
		{name: "signed-15m1s-in-future", expires: "60", offset: -15*time.Minute - time.Second, wantType: TypeRequestExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := testTime.Add(tc.offset)
			v := newTestVerifier(t, func(c *Config) { c.Now = func() time.Time { return now }; c.MaxPresignExpiry = tc.maxCfg })
			r := presignWithExpires(t, base+"/f?a=1", tc.expires)
			_, err := v.Verify(context.Background(), r, "", VerifyOptions{})
			switch tc.wantType {
			case "":
				if err != nil {
					t.Fatal(err)
				}
			case TypeMalformedAuthorization:
				e := wantProblem(t, err, tc.wantType, 400)
				if !strings.Contains(e.Detail, "X-Amz-Expires") {
					t.Fatalf("detail %q does not name X-Amz-Expires", e.Detail)
				}
			default:
				wantProblem(t, err, tc.wantType, 403)
			}
		})
	}
}

// presignWithExpires presigns rawURL at testTime with an arbitrary
// X-Amz-Expires string, which Signer.Presign would refuse to produce.
func presignWithExpires(t *testing.T, rawURL, expires string) *http.Request {
	t.Helper()
	r, _ := http.NewRequest("GET", rawURL, nil)
	amzDate := testTime.Format(amzDateFormat)
	scope := amzDate[:8] + "/local/apigw/aws4_request"
	r.URL.RawQuery += "&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + testAK + "%2F" + strings.ReplaceAll(scope, "/", "%2F") +
		"&X-Amz-Date=" + amzDate + "&X-Amz-Expires=" + expires + "&X-Amz-SignedHeaders=host"
	path, query := requestTarget(r)
	in := canonInput{method: "GET", path: path, query: query, presigned: true, signedHeaders: "host", payload: EmptySHA256}
	sig := signRequest(r, &in, amzDate, scope, newSigningKey("", []byte(testSecret), amzDate[:8], "local", "apigw"))
	r.URL.RawQuery += "&X-Amz-Signature=" + sig
	return toServer(t, r)
}
