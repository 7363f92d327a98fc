package session

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testKey  = bytes.Repeat([]byte{0x42}, 32)
	otherKey = bytes.Repeat([]byte{0x24}, 32)
)

// issue runs m.Issue and returns the Set-Cookie it produced.
func issue(t *testing.T, m *Manager, userID, sessionID string, expires time.Time) *http.Cookie {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := m.Issue(rec, userID, sessionID, expires); err != nil {
		t.Fatalf("Issue: %v", err)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("Issue set %d cookies, want 1", len(cookies))
	}
	return cookies[0]
}

// requestWith returns a request carrying the raw cookie header name=value,
// bypassing http.Cookie's sanitising so tests control the exact bytes.
func requestWith(name, value string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Cookie", name+"="+value)
	return r
}

// signed builds a token with the given method and claims.
func signed(t *testing.T, method jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

// goodClaims are claims that the Manager named name would accept if signed
// with its key.
func goodClaims(name string) Claims {
	now := time.Now()
	return Claims{jwt.RegisteredClaims{
		Issuer: "portico:" + name, Subject: "user-1", ID: "sess-1",
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Second)),
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	}}
}

func TestIssueReadRoundTrip(t *testing.T) {
	m := NewManager(CookieName, testKey, false, 12*time.Hour)
	expires := time.Now().Add(time.Hour).Truncate(time.Second)
	c := issue(t, m, "user-123", "sess-456", expires)

	r := httptest.NewRequest(http.MethodGet, "/console", nil)
	r.AddCookie(c)
	cl, ok := m.Read(r)
	if !ok {
		t.Fatal("Read rejected a freshly issued cookie")
	}
	if cl.Subject != "user-123" || cl.ID != "sess-456" {
		t.Errorf("claims subject/id = %q/%q, want user-123/sess-456", cl.Subject, cl.ID)
	}
	if cl.Issuer != "portico:"+CookieName {
		t.Errorf("issuer = %q", cl.Issuer)
	}
	if cl.ExpiresAt == nil || !cl.ExpiresAt.Time.Equal(expires) {
		t.Errorf("expires = %v, want %v", cl.ExpiresAt, expires)
	}
	if m.TTL() != 12*time.Hour {
		t.Errorf("TTL = %v", m.TTL())
	}
}

func TestIssueCookieFlags(t *testing.T) {
	tests := []struct {
		name   string
		secure bool
	}{
		{name: "plain http", secure: false},
		{name: "tls", secure: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewManager("console", testKey, tt.secure, time.Hour)
			expires := time.Now().Add(time.Hour)
			c := issue(t, m, "u", "s", expires)
			if c.Name != "console" {
				t.Errorf("Name = %q, want console", c.Name)
			}
			if !c.HttpOnly {
				t.Error("HttpOnly not set")
			}
			if c.SameSite != http.SameSiteLaxMode {
				t.Errorf("SameSite = %v, want Lax", c.SameSite)
			}
			if c.Secure != tt.secure {
				t.Errorf("Secure = %v, want %v", c.Secure, tt.secure)
			}
			if c.Path != "/" {
				t.Errorf("Path = %q, want /", c.Path)
			}
			if c.MaxAge < 3590 || c.MaxAge > 3600 {
				t.Errorf("MaxAge = %d, want about 3600", c.MaxAge)
			}
			if c.Value == "" {
				t.Error("empty cookie value")
			}
		})
	}
}

func TestClear(t *testing.T) {
	for _, secure := range []bool{false, true} {
		m := NewManager(CookieName, testKey, secure, time.Hour)
		rec := httptest.NewRecorder()
		m.Clear(rec)
		cookies := rec.Result().Cookies()
		if len(cookies) != 1 {
			t.Fatalf("Clear set %d cookies, want 1", len(cookies))
		}
		c := cookies[0]
		if c.Name != CookieName || c.Value != "" || c.MaxAge >= 0 || c.Path != "/" {
			t.Errorf("Clear cookie = %+v, want empty %s with MaxAge<0 on /", c, CookieName)
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != secure {
			t.Errorf("Clear cookie flags = HttpOnly %v SameSite %v Secure %v", c.HttpOnly, c.SameSite, c.Secure)
		}
		if !strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") {
			t.Errorf("Set-Cookie %q does not expire the cookie", rec.Header().Get("Set-Cookie"))
		}
	}
}

func TestReadRejects(t *testing.T) {
	m := NewManager(CookieName, testKey, false, time.Hour)
	good := issue(t, m, "user-1", "sess-1", time.Now().Add(time.Hour)).Value

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	parts := strings.Split(good, ".")
	if len(parts) != 3 {
		t.Fatalf("issued token %q is not a JWS compact serialisation", good)
	}
	// tamperedPayload swaps the payload for one naming another user and
	// keeps the original header and signature.
	tamperedPayload := func() string {
		raw, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		var claims map[string]any
		if err := json.Unmarshal(raw, &claims); err != nil {
			t.Fatal(err)
		}
		claims["sub"] = "admin"
		b, _ := json.Marshal(claims)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	}
	flipSig := func() string {
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sig[0] ^= 1
		return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	withClaims := func(edit func(*Claims)) jwt.Claims {
		c := goodClaims(CookieName)
		edit(&c)
		return c
	}
	noneToken := func() string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodNone, goodClaims(CookieName)).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// huge is a correctly signed token whose subject pushes it past the
	// 4 KiB cap.
	huge := func() string {
		c := issue(t, m, strings.Repeat("u", 5000), "sess-1", time.Now().Add(time.Hour))
		if len(c.Value) <= 4096 {
			t.Fatalf("oversized fixture is only %d bytes", len(c.Value))
		}
		return c.Value
	}

	tests := []struct {
		name  string
		value string
	}{
		{name: "empty", value: ""},
		{name: "garbage", value: "not-a-jwt"},
		{name: "two segments", value: parts[0] + "." + parts[1]},
		{name: "expired", value: issue(t, m, "user-1", "sess-1", time.Now().Add(-time.Minute)).Value},
		{name: "signed with another key", value: signed(t, jwt.SigningMethodHS256, otherKey, goodClaims(CookieName))},
		{name: "signed by another manager's key", value: issue(t, NewManager(CookieName, otherKey, false, time.Hour), "user-1", "sess-1", time.Now().Add(time.Hour)).Value},
		{name: "alg none", value: noneToken()},
		{name: "HS512 with the right key", value: signed(t, jwt.SigningMethodHS512, testKey, goodClaims(CookieName))},
		{name: "HS384 with the right key", value: signed(t, jwt.SigningMethodHS384, testKey, goodClaims(CookieName))},
		{name: "RS256", value: signed(t, jwt.SigningMethodRS256, rsaKey, goodClaims(CookieName))},
		{name: "PS256", value: signed(t, jwt.SigningMethodPS256, rsaKey, goodClaims(CookieName))},
		{name: "ES256", value: signed(t, jwt.SigningMethodES256, ecKey, goodClaims(CookieName))},
		{name: "issued by the manager of another cookie", value: issue(t, NewManager("other_cookie", testKey, false, time.Hour), "user-1", "sess-1", time.Now().Add(time.Hour)).Value},
		{name: "wrong issuer", value: signed(t, jwt.SigningMethodHS256, testKey, withClaims(func(c *Claims) { c.Issuer = "someone-else" }))},
		{name: "no issuer", value: signed(t, jwt.SigningMethodHS256, testKey, withClaims(func(c *Claims) { c.Issuer = "" }))},
		{name: "no expiry", value: signed(t, jwt.SigningMethodHS256, testKey, withClaims(func(c *Claims) { c.ExpiresAt = nil }))},
		{name: "not yet valid", value: signed(t, jwt.SigningMethodHS256, testKey, withClaims(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(time.Now().Add(time.Hour)) }))},
		{name: "no subject", value: signed(t, jwt.SigningMethodHS256, testKey, withClaims(func(c *Claims) { c.Subject = "" }))},
		{name: "no session id", value: signed(t, jwt.SigningMethodHS256, testKey, withClaims(func(c *Claims) { c.ID = "" }))},
		{name: "tampered payload", value: tamperedPayload()},
		{name: "flipped signature bit", value: flipSig()},
		{name: "signature stripped", value: parts[0] + "." + parts[1] + "."},
		{name: "oversized but correctly signed", value: huge()},
		{name: "trailing garbage", value: good + "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if cl, ok := m.Read(requestWith(CookieName, tt.value)); ok {
				t.Fatalf("Read accepted %q: %+v", tt.value, cl)
			}
		})
	}

	t.Run("control: the untampered token is accepted", func(t *testing.T) {
		if _, ok := m.Read(requestWith(CookieName, good)); !ok {
			t.Fatal("Read rejected the good token; the rejections above prove nothing")
		}
	})
	t.Run("control: a large token under the cap is accepted", func(t *testing.T) {
		c := issue(t, m, strings.Repeat("u", 2000), "sess-1", time.Now().Add(time.Hour))
		if _, ok := m.Read(requestWith(CookieName, c.Value)); !ok {
			t.Fatalf("Read rejected a %d-byte token", len(c.Value))
		}
	})
	t.Run("no cookie", func(t *testing.T) {
		if _, ok := m.Read(httptest.NewRequest(http.MethodGet, "/", nil)); ok {
			t.Fatal("Read accepted a request without cookies")
		}
	})
	t.Run("good token under another cookie name", func(t *testing.T) {
		if _, ok := m.Read(requestWith("other_cookie", good)); ok {
			t.Fatal("Read accepted a token sent under another cookie name")
		}
	})
}

func TestReadWithinLeeway(t *testing.T) {
	// Expiry is checked with a few seconds of leeway for clock skew
	// between replicas, not more.
	m := NewManager(CookieName, testKey, false, time.Hour)
	tests := []struct {
		name    string
		expired time.Duration
		ok      bool
	}{
		{name: "expired 2s ago", expired: 2 * time.Second, ok: true},
		{name: "expired 30s ago", expired: 30 * time.Second, ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := goodClaims(CookieName)
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-tt.expired))
			_, ok := m.Read(requestWith(CookieName, signed(t, jwt.SigningMethodHS256, testKey, c)))
			if ok != tt.ok {
				t.Fatalf("Read ok = %v, want %v", ok, tt.ok)
			}
		})
	}
}

func FuzzRead(f *testing.F) {
	m := NewManager(CookieName, testKey, false, time.Hour)
	// Seeds are real tokens from a manager with another key, and variants:
	// structurally valid, never acceptable.
	other := NewManager(CookieName, otherKey, false, time.Hour)
	rec := httptest.NewRecorder()
	if err := other.Issue(rec, "user-1", "sess-1", time.Now().Add(time.Hour)); err != nil {
		f.Fatal(err)
	}
	tok := rec.Result().Cookies()[0].Value
	f.Add(tok)
	f.Add(tok + ".")
	f.Add(strings.SplitN(tok, ".", 2)[0] + ".e30.")
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4In0.")
	f.Add("")
	f.Add("a.b.c")
	f.Add("..")
	f.Add(strings.Repeat("A", 5000))
	f.Fuzz(func(t *testing.T, value string) {
		if cl, ok := m.Read(requestWith(CookieName, value)); ok {
			t.Fatalf("Read accepted forged cookie %q: %+v", value, cl)
		}
	})
}

// During a master-key rotation a manager signs with the new key and still
// reads cookies the previous key signed; without the previous key they
// are refused.
func TestManagerPreviousKeys(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	old := NewManager("s", otherKey, false, time.Hour)
	oldCookie := issue(t, old, "u1", "s1", exp)

	rotating := NewManager("s", testKey, false, time.Hour, otherKey)
	r := requestWith(oldCookie.Name, oldCookie.Value)
	if cl, ok := rotating.Read(r); !ok || cl.Subject != "u1" {
		t.Fatal("a cookie signed with the previous key was refused during the rotation")
	}
	newCookie := issue(t, rotating, "u2", "s2", exp)
	if _, ok := old.Read(requestWith(newCookie.Name, newCookie.Value)); ok {
		t.Fatal("a new cookie was signed with the previous key")
	}
	after := NewManager("s", testKey, false, time.Hour)
	if _, ok := after.Read(requestWith(newCookie.Name, newCookie.Value)); !ok {
		t.Fatal("a new cookie is not readable once the previous key is dropped")
	}
	if _, ok := after.Read(r); ok {
		t.Fatal("a cookie of the dropped key is still accepted")
	}
}
