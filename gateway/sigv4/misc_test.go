package sigv4

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSigningKeyMACMatchesCryptoHMAC(t *testing.T) {
	// One scratch serves every key and message in turn, as the pooled
	// scratch of successive verifications does: each MAC must start from
	// its own key's states, whatever the last one left.
	shared := newMACScratch()
	for _, secret := range []string{testSecret, "another secret key of forty characters!!"} {
		for _, msg := range []string{"", "a", strings.Repeat("x", 55), strings.Repeat("x", 63), strings.Repeat("y", 64), strings.Repeat("z", 1000)} {
			sk := newSigningKey("", []byte(secret), "20260314", "local", "apigw")
			if !sk.states {
				t.Fatal("this Go's SHA-256 state encoding does not fit signingKey: every MAC takes the slow path")
			}
			plain := *sk // as on a Go whose encoding does not fit
			plain.states = false
			h := hmac.New(sha256.New, deriveSigningKey([]byte(secret), "20260314", "local", "apigw"))
			h.Write([]byte(msg))
			want := h.Sum(nil)
			for _, ms := range []*macScratch{nil, shared, shared} {
				if got := sk.mac([]byte(msg), ms); !hmac.Equal(got[:], want) {
					t.Fatalf("mac(%d bytes) differs from crypto/hmac", len(msg))
				}
				if got := plain.mac([]byte(msg), ms); !hmac.Equal(got[:], want) {
					t.Fatalf("mac(%d bytes) without the states differs from crypto/hmac", len(msg))
				}
			}
		}
	}
}

func TestKeyCache(t *testing.T) {
	t.Run("bounded", func(t *testing.T) {
		c := newKeyCache("local", "apigw", 64)
		for i := range 1000 {
			c.get(&Credential{AccessKey: fmt.Sprintf("PK%018d", i), Secret: []byte("s")}, "20260314")
		}
		if n := c.len(); n > 64 || n == 0 {
			t.Fatalf("cache holds %d keys, want 1..64", n)
		}
	})
	t.Run("hit-returns-same-key", func(t *testing.T) {
		c := newKeyCache("local", "apigw", 64)
		cred := &Credential{AccessKey: testAK, Secret: []byte(testSecret)}
		if c.get(cred, "20260314") != c.get(cred, "20260314") {
			t.Fatal("second lookup derived a new key")
		}
		if c.get(cred, "20260314") == c.get(cred, "20260315") {
			t.Fatal("different days share a key")
		}
	})
	t.Run("secret-changed-under-same-access-key", func(t *testing.T) {
		keys := mapKeys{testAK: {AccessKey: testAK, Secret: []byte(testSecret), Active: true}}
		v := newTestVerifier(t, func(c *Config) { c.Keys = keys })
		r := signedServerRequest(t, "GET", base+"/f", "", Signer{})
		if _, err := v.Verify(context.Background(), r, "", VerifyOptions{}); err != nil {
			t.Fatal(err)
		}
		keys[testAK] = Credential{AccessKey: testAK, Secret: []byte("another-secret"), Active: true}
		_, err := v.Verify(context.Background(), signedServerRequest(t, "GET", base+"/f", "", Signer{}), "", VerifyOptions{})
		wantProblem(t, err, TypeSignatureMismatch, 403)
	})
	t.Run("slot", func(t *testing.T) {
		// A credential's slot serves its key without the sets, per day
		// and per verifier: another region's verifier derives its own.
		c, other := newKeyCache("local", "apigw", 64), newKeyCache("eu-west-1", "apigw", 64)
		cred := &Credential{AccessKey: testAK, Secret: []byte(testSecret), Slot: &KeySlot{}}
		first := c.get(cred, "20260314")
		if cred.Slot.p.Load() != first {
			t.Fatal("the slot was not filled")
		}
		c.sets[c.set(testAK)] = keySet{} // only the slot can answer now
		if c.get(cred, "20260314") != first {
			t.Fatal("the slot's key was not used")
		}
		if k := other.get(cred, "20260314"); k == first || k.key == first.key {
			t.Fatal("another region's verifier used the slot's key")
		}
		if k := c.get(cred, "20260315"); k == first || cred.Slot.p.Load() != k {
			t.Fatal("the next day's key did not replace the slot's")
		}
		want := newSigningKey(testAK, []byte(testSecret), "20260315", "local", "apigw")
		if c.get(cred, "20260315").key != want.key {
			t.Fatal("the slot's key is not the derived one")
		}
	})
	t.Run("hot-key-survives-one-off-keys", func(t *testing.T) {
		c := newKeyCache("local", "apigw", 64)
		hot := &Credential{AccessKey: testAK, Secret: []byte(testSecret)}
		first := c.get(hot, "20260314")
		set := c.set(testAK)
		// Keys of the hot key's set, the hot key used in between: each
		// evicts the previous one-off key, never the hot one.
		n := 0
		for i := 0; n < 20; i++ {
			ak := fmt.Sprintf("PK%018d", i)
			if c.set(ak) != set {
				continue
			}
			n++
			c.get(&Credential{AccessKey: ak, Secret: []byte("s")}, "20260314")
			if c.get(hot, "20260314") != first {
				t.Fatalf("hot key evicted by one-off key %d", n)
			}
		}
	})
	t.Run("long-keys-are-derived-not-cached", func(t *testing.T) {
		c := newKeyCache("local", "apigw", 64)
		for _, tc := range []struct{ name, ak, secret string }{
			{"access-key", strings.Repeat("A", maxCachedAccessKey+1), testSecret},
			{"secret", testAK, strings.Repeat("s", maxCachedSecret+1)},
		} {
			cred := &Credential{AccessKey: tc.ak, Secret: []byte(tc.secret)}
			got := c.get(cred, "20260314")
			mac := got.mac([]byte("msg"), nil)
			h := hmac.New(sha256.New, deriveSigningKey(cred.Secret, "20260314", "local", "apigw"))
			h.Write([]byte("msg"))
			if !hmac.Equal(mac[:], h.Sum(nil)) {
				t.Fatalf("%s: wrong key for a long credential", tc.name)
			}
			if c.get(cred, "20260314") == got || c.len() != 0 {
				t.Fatalf("%s: long credential was cached", tc.name)
			}
		}
		// The longest that fit are cached.
		cred := &Credential{AccessKey: strings.Repeat("A", maxCachedAccessKey), Secret: []byte(strings.Repeat("s", maxCachedSecret))}
		if c.get(cred, "20260314") != c.get(cred, "20260314") {
			t.Fatal("credential of the maximum cached size was not cached")
		}
	})
	t.Run("long-keys-verify", func(t *testing.T) {
		ak, secret := strings.Repeat("PKLONG", 10), strings.Repeat("L0ng/+", 20)
		keys := mapKeys{ak: {AccessKey: ak, Secret: []byte(secret), Active: true}}
		v := newTestVerifier(t, func(c *Config) { c.Keys = keys })
		sign := func(secret string) *http.Request {
			r, _ := http.NewRequest("GET", base+"/f", nil)
			if err := (&Signer{}).Sign(r, ak, secret, "", testTime); err != nil {
				t.Fatal(err)
			}
			return toServer(t, r)
		}
		for range 2 {
			if _, err := v.Verify(context.Background(), sign(secret), "", VerifyOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		_, err := v.Verify(context.Background(), sign(secret+"x"), "", VerifyOptions{})
		wantProblem(t, err, TypeSignatureMismatch, 403)
	})
	t.Run("new-day-replaces-old", func(t *testing.T) {
		c := newKeyCache("local", "apigw", 64)
		cred := &Credential{AccessKey: testAK, Secret: []byte(testSecret)}
		other := &Credential{AccessKey: "PKOTHER", Secret: []byte("s")}
		c.get(cred, "20260314")
		c.get(cred, "20260315")
		if n := c.len(); n != 1 {
			t.Fatalf("after a day change the cache holds %d keys, want 1 (the old day replaced)", n)
		}
		_ = c.get(other, "20260315")
		if c.get(cred, "20260315") != c.get(cred, "20260315") {
			t.Fatal("lookup after the day change derived again")
		}
	})
}

func TestHashBody(t *testing.T) {
	t.Run("nil-and-empty", func(t *testing.T) {
		for _, r := range []*http.Request{{}, {Body: http.NoBody}} {
			if h, err := HashBody(r, 0); h != EmptySHA256 || err != nil {
				t.Fatalf("HashBody = %q, %v", h, err)
			}
		}
	})
	t.Run("hashes-and-stays-readable", func(t *testing.T) {
		r, _ := http.NewRequest("POST", base, io.NopCloser(strings.NewReader("hello"))) // unknown length
		h, err := HashBody(r, 5)
		if err != nil || h != sha256Hex("hello") {
			t.Fatalf("HashBody = %q, %v", h, err)
		}
		for range 2 {
			b, _ := io.ReadAll(r.Body)
			if string(b) != "hello" {
				t.Fatalf("body after HashBody = %q", b)
			}
			r.Body, _ = r.GetBody()
		}
	})
	t.Run("over-limit-unknown-length", func(t *testing.T) {
		r, _ := http.NewRequest("POST", base, io.NopCloser(strings.NewReader("hello!")))
		_, err := HashBody(r, 5)
		wantProblem(t, err, TypeBodyTooLarge, 413)
		if b, _ := io.ReadAll(r.Body); string(b) != "hello!" {
			t.Fatalf("body not restored: %q", b)
		}
	})
	t.Run("over-limit-declared-length", func(t *testing.T) {
		r, _ := http.NewRequest("POST", base, strings.NewReader("hello!"))
		_, err := HashBody(r, 5)
		wantProblem(t, err, TypeBodyTooLarge, 413)
	})
	t.Run("read-error", func(t *testing.T) {
		r, _ := http.NewRequest("POST", base, io.NopCloser(errReader{}))
		_, err := HashBody(r, 5)
		var perr *Error
		if err == nil || errors.As(err, &perr) {
			t.Fatalf("err = %v, want a read error", err)
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// TestPresignedRawRetry: a presigning client that signs the query as sent
// (unsorted) is accepted through the raw retry, which leaves out
// X-Amz-Signature but keeps the order of everything else.
func TestPresignedRawRetry(t *testing.T) {
	amzDate := testTime.Format(amzDateFormat)
	scope := amzDate[:8] + "/local/apigw/aws4_request"
	query := "z=1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + testAK + "%2F" + strings.ReplaceAll(scope, "/", "%2F") +
		"&X-Amz-Date=" + amzDate + "&X-Amz-Expires=60&X-Amz-SignedHeaders=host&a=2"
	cr := "GET\n/f\n" + query + "\nhost:127.0.0.1:8000\n\nhost\n" + EmptySHA256
	sum := sha256.Sum256([]byte(cr))
	sts := fmt.Sprintf("AWS4-HMAC-SHA256\n%s\n%s\n%x", amzDate, scope, sum)
	k := refHMAC(refHMAC(refHMAC(refHMAC([]byte("AWS4"+testSecret), amzDate[:8]), "local"), "apigw"), "aws4_request")
	sig := fmt.Sprintf("%x", refHMAC(k, sts))
	v := newTestVerifier(t)
	for _, tc := range []struct {
		name, target string
		ok           bool
	}{
		{"signature-last", "/f?" + query + "&X-Amz-Signature=" + sig, true},
		{"signature-in-the-middle", "/f?z=1&X-Amz-Signature=" + sig + strings.TrimPrefix(query, "z=1"), true},
		{"reordered", "/f?a=2&" + strings.TrimSuffix(query, "&a=2") + "&X-Amz-Signature=" + sig, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := serverRequest(t, "GET "+tc.target+" HTTP/1.1\nHost: 127.0.0.1:8000\n\n")
			_, err := v.Verify(context.Background(), r, "", VerifyOptions{})
			if tc.ok && err != nil {
				t.Fatal(err)
			}
			if !tc.ok {
				wantProblem(t, err, TypeSignatureMismatch, 403)
			}
		})
	}
}

func TestSignerArguments(t *testing.T) {
	r := func() *http.Request { return mustRequest("GET", base+"/f") }
	var s Signer
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"empty-access-key", s.Sign(r(), "", testSecret, "", testTime)},
		{"access-key-with-slash", s.Sign(r(), "PK/1", testSecret, "", testTime)},
		{"empty-secret", s.Sign(r(), testAK, "", "", testTime)},
		{"bad-payload-hash", s.Sign(r(), testAK, testSecret, "abc", testTime)},
		{"presign-zero-expiry", func() error { _, err := s.Presign(r(), testAK, testSecret, "", testTime, 0); return err }()},
		{"presign-fractional-expiry", func() error {
			_, err := s.Presign(r(), testAK, testSecret, "", testTime, 1500*time.Millisecond)
			return err
		}()},
		{"presign-already-presigned", func() error {
			u, _ := s.Presign(r(), testAK, testSecret, "", testTime, time.Minute)
			_, err := s.Presign(mustRequest("GET", u), testAK, testSecret, "", testTime, time.Minute)
			return err
		}()},
	} {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestSignerHashesBody(t *testing.T) {
	v := newTestVerifier(t)
	for _, tc := range []struct {
		name string
		req  func() *http.Request
	}{
		{"with-get-body", func() *http.Request { r, _ := http.NewRequest("POST", base+"/f", strings.NewReader("data")); return r }},
		{"without-get-body", func() *http.Request {
			r, _ := http.NewRequest("POST", base+"/f", io.NopCloser(strings.NewReader("data")))
			r.ContentLength = 4
			return r
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req()
			if err := (&Signer{}).Sign(r, testAK, testSecret, "", testTime); err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(context.Background(), toServer(t, r), "", VerifyOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestNewNonce(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		n := NewNonce()
		if len(n) != 22 || !validNonce(n) || seen[n] {
			t.Fatalf("nonce %q: bad length, characters or repeated", n)
		}
		seen[n] = true
	}
}

func TestParseAmzDate(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"20260314T150926Z", true},
		{"20240229T000000Z", true},
		{"20250229T000000Z", false},
		{"20260431T000000Z", false},
		{"20261301T000000Z", false},
		{"20260314T240000Z", false},
		{"20260314T150960Z", false},
		{"20260314 150926Z", false},
		{"20260314T150926", false},
		{"2026031AT150926Z", false},
		{"", false},
	} {
		if _, ok := parseAmzDate(tc.in); ok != tc.ok {
			t.Errorf("parseAmzDate(%q) ok = %v, want %v", tc.in, ok, tc.ok)
		}
	}
}

// TestVerifyOptionsKeys checks that a per-request key store replaces the
// configured one: a gateway passes the snapshot it serves the request with.
func TestVerifyOptionsKeys(t *testing.T) {
	v := newTestVerifier(t)
	req := func() *http.Request { return signedServerRequest(t, "GET", base+"/f", "", Signer{}) }
	cred, err := v.Verify(context.Background(), req(), "", VerifyOptions{})
	if err != nil || cred.Owner != "app-1" {
		t.Fatalf("configured store: %v %v", cred.Owner, err)
	}
	own := mapKeys{testAK: {AccessKey: testAK, Secret: []byte(testSecret), Owner: "from the request's store", Active: true}}
	cred, err = v.Verify(context.Background(), req(), "", VerifyOptions{Keys: own})
	if err != nil || cred.Owner != "from the request's store" {
		t.Fatalf("request's store: %v %v", cred.Owner, err)
	}
	_, err = v.Verify(context.Background(), req(), "", VerifyOptions{Keys: mapKeys{}})
	wantProblem(t, err, TypeInvalidAccessKey, 403)
}

func TestParseAmzDateMatchesTime(t *testing.T) {
	for _, y := range []int{0, 1900, 1970, 2000, 2024, 2025, 2100, 9999} {
		for m := 1; m <= 12; m++ {
			for d := 1; d <= 31; d++ {
				s := fmt.Sprintf("%04d%02d%02dT235959Z", y, m, d)
				want := time.Date(y, time.Month(m), d, 23, 59, 59, 0, time.UTC)
				got, ok := parseAmzDate(s)
				if wantOK := want.Day() == d; ok != wantOK || ok && got != want {
					t.Fatalf("parseAmzDate(%q) = %v, %v; want %v, %v", s, got, ok, want, wantOK)
				}
			}
		}
	}
}

func TestDecodeSignature(t *testing.T) {
	valid := "0123456789abcdef0123456789ABCDEF" + strings.Repeat("fF", 16)
	var got [32]byte
	if !decodeSignature(valid, &got) {
		t.Fatalf("decodeSignature(%q) failed", valid)
	}
	if want, _ := hex.DecodeString(valid); !bytes.Equal(got[:], want) {
		t.Fatalf("decodeSignature(%q) = %x, want %x", valid, got, want)
	}
	for _, bad := range []string{"", valid[:63], valid + "0", valid[:63] + "g", "G" + valid[1:], valid[:10] + "\xff" + valid[11:], valid[:10] + " " + valid[11:]} {
		if decodeSignature(bad, &got) {
			t.Errorf("decodeSignature(%q) accepted it", bad)
		}
	}
}

func TestCheckSignedHeaders(t *testing.T) {
	for _, tc := range []struct {
		list  string
		ok    bool
		signs signedFlags
	}{
		{"host", true, signsHost},
		{"host;x-amz-date", true, signsHost | signsAmzDate},
		{"content-length;host;x-amz-content-sha256;x-amz-date;x-portico-nonce", true, signsHost | signsAmzDate | signsContentSHA256 | signsNonce},
		{"x-amz-date;host", true, signsHost | signsAmzDate}, // unsorted is accepted
		{"b;a;c", true, 0},
		{"host;host", false, 0},
		{"a;b;a", false, 0},
		{"b;a;b", false, 0},
		{"c;a;b;a", false, 0},
		{"a;c;b;c", false, 0},
		{"host;Host", false, 0},
		{"host;;x", false, 0},
		{"host;authorization", false, 0},
	} {
		a := authRequest{signedHeaders: tc.list}
		err := a.checkSignedHeaders()
		if (err == nil) != tc.ok {
			t.Errorf("checkSignedHeaders(%q) = %v, want ok %v", tc.list, err, tc.ok)
		}
		if tc.ok && a.signs != tc.signs {
			t.Errorf("checkSignedHeaders(%q) signs = %b, want %b", tc.list, a.signs, tc.signs)
		}
	}
}

// TestParseDateRemembers: the last date parsed is remembered, and what is
// remembered never answers for another date or lets a bad one through.
func TestParseDateRemembers(t *testing.T) {
	dates := []string{"20261127T120000Z", "20261127T120000Z", "20261127T120001Z", "20240229T235959Z", "20261127T120000Z"}
	for i, s := range dates {
		var a authRequest
		if err := a.parseDate(s, "X-Amz-Date"); err != nil {
			t.Fatalf("%d %s: %v", i, s, err)
		}
		want, _ := time.Parse("20060102T150405Z", s)
		if !a.date.Equal(want) || a.amzDate != s {
			t.Fatalf("%d %s: %v %q, want %v", i, s, a.date, a.amzDate, want)
		}
		if d := lastDate.Load(); d == nil || d.s != s {
			t.Fatalf("%d: remembered %+v, want %s", i, d, s)
		}
	}
	for _, bad := range []string{"20261127T120000", "20250229T120000Z", "20261127t120000Z", ""} {
		var a authRequest
		if err := a.parseDate(bad, "X-Amz-Date"); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
	if d := lastDate.Load(); d.s != "20261127T120000Z" {
		t.Fatalf("a bad date was remembered: %+v", d)
	}
}
