package sigv4

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The AWS Signature Version 4 test suite (aws-sig-v4-test-suite, 2015-08-30)
// signs with these example credentials. The expected canonical requests
// follow from the SigV4 definition; the expected signatures are the
// published ones of the suite (get-header-value-order is left out: its
// published signature could not be reconstructed with certainty; the order
// of repeated values is covered by get-header-key-duplicate and by the
// aws-sdk-go-v2 cross-checks).
const (
	suiteAK     = "AKIDEXAMPLE"
	suiteSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	suiteDate   = "20150830T123600Z"
	suiteScope  = "20150830/us-east-1/service/aws4_request"
)

type suiteCase struct {
	name      string
	request   func(t *testing.T) *http.Request
	canonical string // expected canonical request
	signature string // published signature
}

// suiteRequest builds a request as a server receives it: the target exactly
// as on the request line (the suite has targets net/http would not parse,
// such as "/example space/"), header lines in order.
func suiteRequest(method, target string, headers [][2]string, body string) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		r, err := http.NewRequest(method, "http://example.amazonaws.com/", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.RequestURI = target
		r.Host = "example.amazonaws.com"
		r.Header = http.Header{}
		for _, h := range headers {
			r.Header.Add(h[0], h[1])
		}
		r.Header.Set("X-Amz-Date", suiteDate)
		return r
	}
}

const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func suiteCases() []suiteCase {
	vanilla := "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" + emptyHash
	const vanillaSig = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
	getCR := func(path, query string) string {
		return "GET\n" + path + "\n" + query + "\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" + emptyHash
	}
	return []suiteCase{
		{"get-vanilla", suiteRequest("GET", "/", nil, ""), vanilla, vanillaSig},
		{"get-vanilla-query-order-key-case", suiteRequest("GET", "/?Param2=value2&Param1=value1", nil, ""),
			getCR("/", "Param1=value1&Param2=value2"), "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
		{"get-vanilla-query-order-value", suiteRequest("GET", "/?Param1=value2&Param1=value1", nil, ""),
			getCR("/", "Param1=value1&Param1=value2"), "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"},
		{"get-vanilla-empty-query-key", suiteRequest("GET", "/?Param1=value1", nil, ""),
			getCR("/", "Param1=value1"), "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
		{"get-vanilla-query-unreserved", suiteRequest("GET", "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", nil, ""),
			getCR("/", "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
			"9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
		{"get-vanilla-utf8-query", suiteRequest("GET", "/?ሴ=bar", nil, ""),
			getCR("/", "%E1%88%B4=bar"), "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
		{"get-unreserved", suiteRequest("GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", nil, ""),
			getCR("/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", ""), "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
		{"get-utf8", suiteRequest("GET", "/ሴ", nil, ""),
			getCR("/%E1%88%B4", ""), "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
		{"normalize-path/get-space", suiteRequest("GET", "/example space/", nil, ""),
			getCR("/example%20space/", ""), "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
		{"normalize-path/get-slash", suiteRequest("GET", "//", nil, ""), vanilla, vanillaSig},
		{"normalize-path/get-slash-dot-slash", suiteRequest("GET", "/./", nil, ""), vanilla, vanillaSig},
		{"normalize-path/get-relative", suiteRequest("GET", "/example/..", nil, ""), vanilla, vanillaSig},
		{"normalize-path/get-relative-relative", suiteRequest("GET", "/example1/example2/../..", nil, ""), vanilla, vanillaSig},
		{"normalize-path/get-slashes", suiteRequest("GET", "//example//", nil, ""),
			getCR("/example/", ""), "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
		{"normalize-path/get-slash-pointless-dot", suiteRequest("GET", "/./example", nil, ""),
			getCR("/example", ""), "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"},
		{"get-header-key-duplicate", suiteRequest("GET", "/", [][2]string{{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}}, ""),
			"GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n" + emptyHash,
			"c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
		{"get-header-value-trim", suiteRequest("GET", "/", [][2]string{{"My-Header1", " value1"}, {"My-Header2", ` "a   b   c"`}}, ""),
			"GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n" + emptyHash,
			"acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
		{"post-vanilla", suiteRequest("POST", "/", nil, ""),
			"POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" + emptyHash,
			"5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
		{"post-vanilla-query", suiteRequest("POST", "/?Param1=value1", nil, ""),
			"POST\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" + emptyHash,
			"28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
		{"post-header-key-sort", suiteRequest("POST", "/", [][2]string{{"My-Header1", "value1"}}, ""),
			"POST\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n" + emptyHash,
			"c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
		{"post-header-value-case", suiteRequest("POST", "/", [][2]string{{"My-Header1", "VALUE1"}}, ""),
			"POST\n/\n\nhost:example.amazonaws.com\nmy-header1:VALUE1\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n" + emptyHash,
			"cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
		{"post-x-www-form-urlencoded", suiteRequest("POST", "/", [][2]string{{"Content-Type", "application/x-www-form-urlencoded"}}, "Param1=value1"),
			"POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
			"ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
		{"post-x-www-form-urlencoded-parameters", suiteRequest("POST", "/", [][2]string{{"Content-Type", "application/x-www-form-urlencoded; charset=utf8"}}, "Param1=value1"),
			"POST\n/\n\ncontent-type:application/x-www-form-urlencoded; charset=utf8\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
			"1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"},
	}
}

func signedHeadersOf(cr string) string {
	lines := strings.Split(cr, "\n")
	return lines[len(lines)-2]
}

// TestAWSSuiteCanonicalRequest checks the canonical request and signature the
// shared code computes for each suite request against the published values.
func TestAWSSuiteCanonicalRequest(t *testing.T) {
	for _, tc := range suiteCases() {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.request(t)
			payload, err := HashBody(r, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			path, query := requestTarget(r)
			in := canonInput{method: r.Method, path: path, query: query, signedHeaders: signedHeadersOf(tc.canonical), payload: payload}
			sc := getScratch()
			defer putScratch(sc)
			sk := newSigningKey("", []byte(suiteSecret), "20150830", "us-east-1", "service")
			cr, sts, mac := signParts(nil, nil, r, &in, suiteDate, suiteScope, sk, sc)
			if string(cr) != tc.canonical {
				t.Fatalf("canonical request:\n%s\nwant:\n%s", cr, tc.canonical)
			}
			sum := sha256.Sum256([]byte(tc.canonical))
			if want := "AWS4-HMAC-SHA256\n" + suiteDate + "\n" + suiteScope + "\n" + hex.EncodeToString(sum[:]); string(sts) != want {
				t.Fatalf("string to sign:\n%s\nwant:\n%s", sts, want)
			}
			if got := hex.EncodeToString(mac[:]); got != tc.signature {
				t.Fatalf("signature = %s, want %s", got, tc.signature)
			}
		})
	}
}

// TestAWSSuiteVerify verifies each suite request end to end, with a verifier
// for region us-east-1 and service "service", and checks that changing one
// signed byte makes it fail.
func TestAWSSuiteVerify(t *testing.T) {
	keys := mapKeys{suiteAK: {AccessKey: suiteAK, Secret: []byte(suiteSecret), Active: true}}
	now := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	v, err := newVerifier(Config{Region: "us-east-1", Keys: keys, Nonces: NewMemoryNonces(10), Now: func() time.Time { return now }}, "service")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range suiteCases() {
		t.Run(tc.name, func(t *testing.T) {
			authz := "AWS4-HMAC-SHA256 Credential=" + suiteAK + "/" + suiteScope + ", SignedHeaders=" + signedHeadersOf(tc.canonical) + ", Signature=" + tc.signature
			r := tc.request(t)
			r.Header.Set("Authorization", authz)
			if _, err := v.Verify(context.Background(), r, "", VerifyOptions{}); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			r = tc.request(t)
			r.Header.Set("Authorization", authz)
			r.Method += "X"
			_, err := v.Verify(context.Background(), r, "", VerifyOptions{})
			wantProblem(t, err, TypeSignatureMismatch, 403)
		})
	}
}
