package gateway

// An audit of the gateway's ways in besides the SigV4 header form: OAuth2
// client credentials (/oauth/token, the bearer tokens and the JWKS), app
// codes, presigned URLs with nonces, and how each failed credential counts
// towards the per-IP ban.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/portico-dev/portico/gateway/sigv4"
)

const (
	auditAK = "PKTESTTESTTESTTEST01"
	auditSK = "secretsecretsecretsecretsecretsecret1234"
	// auditSlashAK's secret holds '/' and '+', as most of Portico's
	// 40-character secrets from [A-Za-z0-9/+] do.
	auditSlashAK = "PKTESTTESTTESTSLASH2"
	auditSlashSK = "ab/cd+efghijklmnopqrstuvwxyz0123456789+/"
	// auditTestAK belongs to an app limited to the test stage.
	auditTestAK = "PKTESTTESTTESTSTAGE3"
)

// authAuditGW is a handler on demoConfig's mock API plus a mock version
// "kiosk" that allows app codes, with a fake clock and ban protection.
type authAuditGW struct {
	h     *Handler
	store *Store
	clk   *fakeClock
}

func authAuditConfig(now time.Time) *Config {
	cfg := demoConfig(Limits{}, SubActive, now)
	cfg.Keys[auditSlashAK] = Key{AccessKey: auditSlashAK, Secret: []byte(auditSlashSK), AppID: "app1", OrgID: "p1"}
	cfg.Keys[auditTestAK] = Key{AccessKey: auditTestAK, Secret: []byte(auditSK), AppID: "app1", OrgID: "p1", Stage: StageTest}
	v := cfg.APIs[0]
	v.APIID, v.APISlug, v.VersionID = "a2", "kiosk", "v2id"
	v.Settings.AllowAppCode = true
	cfg.APIs = append(cfg.APIs, v)
	sub := cfg.Subscriptions[0]
	sub.ID, sub.APIID = "s2", "a2"
	cfg.Subscriptions = append(cfg.Subscriptions, sub)
	cfg.AppCodes = map[string]AppCode{appCodeHash(testAppCode): {Prefix: testAppPrefix, AppID: "app1", OrgID: "p1"}}
	return cfg
}

func newAuthAuditGW(t *testing.T, cfg *Config, opts Options) *authAuditGW {
	t.Helper()
	clk := &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	if cfg == nil {
		cfg = authAuditConfig(clk.t)
	}
	var snap *Snapshot
	if len(cfg.APIs) > 0 {
		var err error
		if snap, err = Compile(cfg); err != nil {
			t.Fatal(err)
		}
	}
	store := NewStore(snap)
	opts.Region, opts.Now = "local", clk.Now
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if opts.Protection == nil {
		opts.Protection = &Protection{BanAfter: 1000, BanWindow: time.Hour, BanFor: time.Hour}
	}
	h, err := NewHandler(store, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &authAuditGW{h: h, store: store, clk: clk}
}

func (g *authAuditGW) serve(r *http.Request, remote string) *httptest.ResponseRecorder {
	r.RemoteAddr = remote
	w := httptest.NewRecorder()
	g.h.ServeHTTP(w, r)
	return w
}

// failures is how many authentication failures the protector holds
// against remote (host:port) in its current window.
func (g *authAuditGW) failures(remote string) int {
	k := g.h.protect.key(netip.MustParseAddrPort(remote).Addr())
	sh := g.h.protect.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if f := sh.failures[k]; f != nil {
		return f.count
	}
	return 0
}

// tokenRequest is POST /oauth/token with body; user and pass are sent by
// HTTP Basic unless user is "".
func tokenRequest(user, pass, contentType, body string) *http.Request {
	r := httptest.NewRequest("POST", "http://gw/oauth/token", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if user != "" {
		r.SetBasicAuth(user, pass)
	}
	return r
}

const formType = "application/x-www-form-urlencoded"

// grantInQuery is a token request with good credentials whose grant_type
// is in the URL's query, not in the body where RFC 6749 §4.4.2 puts it.
func grantInQuery() *http.Request {
	r := tokenRequest(auditAK, auditSK, formType, "")
	r.URL.RawQuery = "grant_type=client_credentials"
	return r
}

func oauthBody(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("%d: body is not JSON: %v: %s", w.Code, err, w.Body)
	}
	return m
}

// TestAuthAuditTokenFormEncodedCredentials: RFC 6749 §2.3.1 has a client
// form-encode its id and secret before HTTP Basic encoding, which is what
// golang.org/x/oauth2 does (url.QueryEscape of each, in its default and in
// AuthStyleInHeader); most Portico secrets hold '/' or '+', which then
// arrive as %2F and %2B. Those clients must get a token, and so must
// tools that send the secret as it is (curl --user).
func TestAuthAuditTokenFormEncodedCredentials(t *testing.T) {
	g := newAuthAuditGW(t, nil, Options{})
	for name, c := range map[string]struct {
		user, pass string
		want       int
	}{
		"form-encoded (RFC 6749, x/oauth2)": {url.QueryEscape(auditSlashAK), url.QueryEscape(auditSlashSK), 200},
		"as is (curl --user)":               {auditSlashAK, auditSlashSK, 200},
		"plain secret form-encoded":         {url.QueryEscape(auditAK), url.QueryEscape(auditSK), 200},
		"'+' decoded to a space":            {auditSlashAK, strings.ReplaceAll(auditSlashSK, "+", " "), 401},
		"another key's secret encoded":      {auditAK, url.QueryEscape(auditSlashSK), 401},
		"double-encoded":                    {auditSlashAK, url.QueryEscape(url.QueryEscape(auditSlashSK)), 401},
	} {
		t.Run(name, func(t *testing.T) {
			w := g.serve(tokenRequest(c.user, c.pass, formType, "grant_type=client_credentials"), "192.0.2.1:1000")
			if w.Code != c.want {
				t.Fatalf("%d, want %d: %s", w.Code, c.want, w.Body)
			}
		})
	}
}

// TestAuthAuditTokenErrors: the token endpoint's answers are those of
// RFC 6749 §5.1 and §5.2: invalid_request for a missing, repeated or
// unreadable parameter, unsupported_grant_type for another grant,
// invalid_client (401 with WWW-Authenticate) for bad client credentials,
// and no-store on every one of them.
func TestAuthAuditTokenErrors(t *testing.T) {
	g := newAuthAuditGW(t, nil, Options{})
	grant := "grant_type=client_credentials"
	for name, c := range map[string]struct {
		r          *http.Request
		status     int
		error      string
		authHeader string
	}{
		"good":                   {tokenRequest(auditAK, auditSK, formType, grant), 200, "", ""},
		"good, charset":          {tokenRequest(auditAK, auditSK, formType+"; charset=utf-8", grant), 200, "", ""},
		"no grant_type":          {tokenRequest(auditAK, auditSK, formType, "scope=x"), 400, "invalid_request", ""},
		"empty body":             {tokenRequest(auditAK, auditSK, formType, ""), 400, "invalid_request", ""},
		"grant_type twice":       {tokenRequest(auditAK, auditSK, formType, grant+"&grant_type=password"), 400, "invalid_request", ""},
		"scope twice":            {tokenRequest(auditAK, auditSK, formType, grant+"&scope=a&scope=b"), 400, "invalid_request", ""},
		"JSON body":              {tokenRequest(auditAK, auditSK, "application/json", `{"grant_type":"client_credentials"}`), 400, "invalid_request", ""},
		"bad encoding":           {tokenRequest(auditAK, auditSK, formType, grant+"&x=%zz"), 400, "invalid_request", ""},
		"too large":              {tokenRequest(auditAK, auditSK, formType, grant+"&pad="+strings.Repeat("x", 5000)), 400, "invalid_request", ""},
		"password grant":         {tokenRequest(auditAK, auditSK, formType, "grant_type=password&username=a&password=b"), 400, "unsupported_grant_type", ""},
		"grant in query only":    {grantInQuery(), 400, "invalid_request", ""},
		"wrong secret":           {tokenRequest(auditAK, "nope", formType, grant), 401, "invalid_client", `Basic realm="portico"`},
		"unknown key":            {tokenRequest("PKNOSUCHKEY000000000", auditSK, formType, grant), 401, "invalid_client", `Basic realm="portico"`},
		"no credentials":         {tokenRequest("", "", formType, grant), 401, "invalid_client", `Basic realm="portico"`},
		"wrong secret and grant": {tokenRequest(auditAK, "nope", formType, "grant_type=password"), 401, "invalid_client", `Basic realm="portico"`},
	} {
		t.Run(name, func(t *testing.T) {
			w := g.serve(c.r, "192.0.2.1:1000")
			m := oauthBody(t, w)
			if w.Code != c.status || c.error != "" && m["error"] != c.error {
				t.Fatalf("%d %v, want %d %s", w.Code, m, c.status, c.error)
			}
			if cc, p := w.Header().Get("Cache-Control"), w.Header().Get("Pragma"); cc != "no-store" || p != "no-cache" {
				t.Errorf("Cache-Control %q, Pragma %q; want no-store, no-cache", cc, p)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != c.authHeader {
				t.Errorf("WWW-Authenticate %q, want %q", got, c.authHeader)
			}
			if c.status == 200 && (m["token_type"] != "Bearer" || m["expires_in"] != float64(3600) || m["access_token"] == "") {
				t.Errorf("token response %v", m)
			}
		})
	}
}

// TestAuthAuditTokenWithoutConfiguration: before the first configuration
// the gateway knows no key; a token request then says so (503) and does
// not count against the caller, whose credentials may well be good.
func TestAuthAuditTokenWithoutConfiguration(t *testing.T) {
	g := newAuthAuditGW(t, &Config{}, Options{})
	const remote = "192.0.2.9:1000"
	w := g.serve(tokenRequest(auditAK, auditSK, formType, "grant_type=client_credentials"), remote)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("%d %v %s, want 503 with Retry-After", w.Code, w.Header(), w.Body)
	}
	if n := g.failures(remote); n != 0 {
		t.Fatalf("counted %d authentication failures", n)
	}
}

// failingNonces is a nonce store that cannot answer (Redis down).
type failingNonces struct{}

func (failingNonces) Claim(context.Context, string, string, time.Duration) (bool, error) {
	return false, errors.New("redis: connection refused")
}

// TestAuthAuditNonceStoreDown: a gateway whose nonce store fails cannot
// tell a replay from a first use: it answers 503 unavailable with
// Retry-After, says nothing of the cause, and does not count the caller's
// good signature as a failure.
func TestAuthAuditNonceStoreDown(t *testing.T) {
	g := newAuthAuditGW(t, nil, Options{Nonces: failingNonces{}})
	r := httptest.NewRequest("GET", "http://gw/acme/echo/v1/things/1", nil)
	r.Header.Set(sigv4.NonceHeader, "n-1")
	if err := (&sigv4.Signer{Region: "local"}).Sign(r, auditAK, auditSK, "", g.clk.Now()); err != nil {
		t.Fatal(err)
	}
	const remote = "192.0.2.10:1000"
	w := g.serve(r, remote)
	if w.Code != http.StatusServiceUnavailable || problemType(w.Body.String()) != "unavailable" || w.Header().Get("Retry-After") != "1" ||
		strings.Contains(w.Body.String(), "redis") {
		t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body)
	}
	if n := g.failures(remote); n != 0 {
		t.Fatalf("counted %d authentication failures", n)
	}
}

// token gets an access token for ak at the gateway's current time.
func (g *authAuditGW) token(t *testing.T, ak, sk string) string {
	t.Helper()
	w := g.serve(tokenRequest(ak, sk, formType, "grant_type=client_credentials"), "192.0.2.200:1000")
	if w.Code != 200 {
		t.Fatalf("token for %s: %d %s", ak, w.Code, w.Body)
	}
	return oauthBody(t, w)["access_token"].(string)
}

func bearerGet(path, token string) *http.Request {
	r := httptest.NewRequest("GET", "http://gw"+path, nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// claims are a token's claims as serveToken issues them at now.
func auditClaims(ak, app string, now time.Time) jwt.MapClaims {
	return jwt.MapClaims{"ak": ak, "iss": tokenIssuer, "sub": app, "aud": []string{tokenIssuer},
		"iat": now.Unix(), "nbf": now.Add(-time.Second).Unix(), "exp": now.Add(TokenTTL).Unix()}
}

// sign signs claims with method and key, with the header fields given.
func auditSign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAuthAuditBearer: tokens the gateway did not issue, or issued for
// something else, are refused (401 invalid_token); the ones it issued work
// until they expire or their key goes, and still pass the stage and
// subscription checks like a signature.
func TestAuthAuditBearer(t *testing.T) {
	g := newAuthAuditGW(t, nil, Options{})
	now := g.clk.Now()
	kid := g.h.tokens.kid
	priv := g.h.tokens.priv
	_, otherPriv, _ := ed25519.GenerateKey(nil)
	with := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := auditClaims(auditAK, "app1", now)
		mod(c)
		return c
	}
	hdr := map[string]any{"kid": kid}
	jwk := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(otherPriv.Public().(ed25519.PublicKey))}
	const path = "/acme/echo/v1/things/1"

	good := auditSign(t, jwt.SigningMethodEdDSA, priv, auditClaims(auditAK, "app1", now), hdr)
	if w := g.serve(bearerGet(path, good), "192.0.2.1:1000"); w.Code != 200 {
		t.Fatalf("a token signed like serveToken's: %d %s", w.Code, w.Body)
	}
	for name, tok := range map[string]string{
		"alg none":                        auditSign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, auditClaims(auditAK, "app1", now), hdr),
		"HS256 keyed with the public key": auditSign(t, jwt.SigningMethodHS256, []byte(g.h.tokens.pub), auditClaims(auditAK, "app1", now), hdr),
		"another Ed25519 key, our kid":    auditSign(t, jwt.SigningMethodEdDSA, otherPriv, auditClaims(auditAK, "app1", now), hdr),
		"another key in an embedded jwk":  auditSign(t, jwt.SigningMethodEdDSA, otherPriv, auditClaims(auditAK, "app1", now), map[string]any{"kid": kid, "jwk": jwk}),
		"unknown kid":                     auditSign(t, jwt.SigningMethodEdDSA, priv, auditClaims(auditAK, "app1", now), map[string]any{"kid": "other"}),
		"no kid":                          auditSign(t, jwt.SigningMethodEdDSA, priv, auditClaims(auditAK, "app1", now), map[string]any{"kid": nil}),
		"numeric kid":                     auditSign(t, jwt.SigningMethodEdDSA, priv, auditClaims(auditAK, "app1", now), map[string]any{"kid": 1}),
		"expired":                         auditSign(t, jwt.SigningMethodEdDSA, priv, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-TokenClockSkew - time.Second).Unix() }), hdr),
		"not yet valid":                   auditSign(t, jwt.SigningMethodEdDSA, priv, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() }), hdr),
		"no exp":                          auditSign(t, jwt.SigningMethodEdDSA, priv, with(func(c jwt.MapClaims) { delete(c, "exp") }), hdr),
		"other issuer":                    auditSign(t, jwt.SigningMethodEdDSA, priv, with(func(c jwt.MapClaims) { c["iss"] = "someone" }), hdr),
		"no issuer":                       auditSign(t, jwt.SigningMethodEdDSA, priv, with(func(c jwt.MapClaims) { delete(c, "iss") }), hdr),
		"other audience":                  auditSign(t, jwt.SigningMethodEdDSA, priv, with(func(c jwt.MapClaims) { c["aud"] = "someone" }), hdr),
		"no audience":                     auditSign(t, jwt.SigningMethodEdDSA, priv, with(func(c jwt.MapClaims) { delete(c, "aud") }), hdr),
		"subject is another app":          auditSign(t, jwt.SigningMethodEdDSA, priv, with(func(c jwt.MapClaims) { c["sub"] = "app2" }), hdr),
		"unknown access key":              auditSign(t, jwt.SigningMethodEdDSA, priv, with(func(c jwt.MapClaims) { c["ak"] = "PKNOSUCHKEY000000000" }), hdr),
		"no access key":                   auditSign(t, jwt.SigningMethodEdDSA, priv, with(func(c jwt.MapClaims) { delete(c, "ak") }), hdr),
		"app code prefix as access key":   auditSign(t, jwt.SigningMethodEdDSA, priv, with(func(c jwt.MapClaims) { c["ak"] = testAppPrefix }), hdr),
		"tampered payload":                good[:strings.IndexByte(good, '.')+1] + base64.RawURLEncoding.EncodeToString([]byte(`{"ak":"`+auditAK+`","sub":"app2"}`)) + good[strings.LastIndexByte(good, '.'):],
		"not a JWT":                       "nope",
		"empty":                           "",
	} {
		t.Run(name, func(t *testing.T) {
			w := g.serve(bearerGet(path, tok), "192.0.2.1:1000")
			if w.Code != 401 || problemType(w.Body.String()) != "invalid-token" ||
				w.Header().Get("WWW-Authenticate") != `Bearer realm="portico", error="invalid_token"` {
				t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body)
			}
		})
	}

	// Another node's clock may be up to TokenClockSkew ahead (a token not
	// yet valid here) or behind (one just expired here).
	t.Run("clock skew", func(t *testing.T) {
		for name, tok := range map[string]string{
			"nbf 20 s ahead": auditSign(t, jwt.SigningMethodEdDSA, priv, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(20 * time.Second).Unix() }), hdr),
			"exp 20 s ago":   auditSign(t, jwt.SigningMethodEdDSA, priv, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-20 * time.Second).Unix() }), hdr),
		} {
			if w := g.serve(bearerGet(path, tok), "192.0.2.1:1000"); w.Code != 200 {
				t.Errorf("%s: %d %s", name, w.Code, w.Body)
			}
		}
	})

	t.Run("issued tokens", func(t *testing.T) {
		tok := g.token(t, auditAK, auditSK)
		if w := g.serve(bearerGet(path, tok), "192.0.2.1:1000"); w.Code != 200 {
			t.Fatalf("fresh token: %d %s", w.Code, w.Body)
		}
		// A test-stage app's token cannot call production.
		if w := g.serve(bearerGet(path, g.token(t, auditTestAK, auditSK)), "192.0.2.1:1000"); w.Code != 403 || problemType(w.Body.String()) != "wrong-stage" {
			t.Fatalf("test-stage token on production: %d %s", w.Code, w.Body)
		}
		// Another handler with another signing seed (a rotated or another
		// deployment's key) does not accept it.
		other := newAuthAuditGW(t, nil, Options{})
		if w := other.serve(bearerGet(path, tok), "192.0.2.1:1000"); w.Code != 401 {
			t.Fatalf("token of another signing key: %d %s", w.Code, w.Body)
		}
		// Nodes that share the seed accept each other's tokens.
		seed := make([]byte, 32)
		a, b := newAuthAuditGW(t, nil, Options{TokenSeed: seed}), newAuthAuditGW(t, nil, Options{TokenSeed: seed})
		if w := b.serve(bearerGet(path, a.token(t, auditAK, auditSK)), "192.0.2.1:1000"); w.Code != 200 {
			t.Fatalf("token of a node sharing the seed: %d %s", w.Code, w.Body)
		}
		g.clk.Add(TokenTTL - time.Second)
		if w := g.serve(bearerGet(path, tok), "192.0.2.1:1000"); w.Code != 200 {
			t.Fatalf("a second before expiry: %d %s", w.Code, w.Body)
		}
		// At expiry the token is still good for TokenClockSkew, for nodes
		// whose clocks run behind the issuer's, and no longer.
		g.clk.Add(time.Second + TokenClockSkew - time.Second)
		if w := g.serve(bearerGet(path, tok), "192.0.2.1:1000"); w.Code != 200 {
			t.Fatalf("within the clock skew after expiry: %d %s", w.Code, w.Body)
		}
		g.clk.Add(time.Second)
		if w := g.serve(bearerGet(path, tok), "192.0.2.1:1000"); w.Code != 401 {
			t.Fatalf("at expiry + the clock skew: %d %s", w.Code, w.Body)
		}
	})

	t.Run("after the configuration changes", func(t *testing.T) {
		tok := g.token(t, auditAK, auditSK)
		swap := func(mod func(*Config)) {
			cfg := authAuditConfig(g.clk.Now())
			cfg.Version++
			mod(cfg)
			snap, err := Compile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			g.store.Swap(snap)
		}
		for name, c := range map[string]struct {
			mod     func(*Config)
			status  int
			problem string
		}{
			"unchanged":                {func(*Config) {}, 200, ""},
			"subscription cancelled":   {func(c *Config) { c.Subscriptions = c.Subscriptions[1:] }, 403, "no-subscription"},
			"subscription suspended":   {func(c *Config) { c.Subscriptions[0].Status = SubSuspended }, 403, "subscription-suspended"},
			"key revoked":              {func(c *Config) { delete(c.Keys, auditAK) }, 401, "invalid-token"},
			"key expired":              {func(c *Config) { k := c.Keys[auditAK]; k.ExpiresAt = g.clk.Now(); c.Keys[auditAK] = k }, 401, "invalid-token"},
			"key moved to another app": {func(c *Config) { k := c.Keys[auditAK]; k.AppID = "app2"; c.Keys[auditAK] = k }, 401, "invalid-token"},
			"key limited to test":      {func(c *Config) { k := c.Keys[auditAK]; k.Stage = StageTest; c.Keys[auditAK] = k }, 403, "wrong-stage"},
		} {
			t.Run(name, func(t *testing.T) {
				swap(c.mod)
				w := g.serve(bearerGet(path, tok), "192.0.2.1:1000")
				if w.Code != c.status || c.problem != "" && problemType(w.Body.String()) != c.problem {
					t.Fatalf("%d %s, want %d %s", w.Code, w.Body, c.status, c.problem)
				}
			})
		}
	})
}

// TestAuthAuditJWKS: the published key set is an RFC 7517 set of one
// RFC 8037 OKP key that verifies the tokens the gateway issues, under the
// kid their header names, and caches can keep it a while.
func TestAuthAuditJWKS(t *testing.T) {
	g := newAuthAuditGW(t, nil, Options{})
	w := g.serve(httptest.NewRequest("GET", "http://gw/.well-known/jwks.json", nil), "192.0.2.1:1000")
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") ||
		!strings.Contains(w.Header().Get("Cache-Control"), "max-age=") {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("%v: %s", err, w.Body)
	}
	k := set.Keys[0]
	for name, want := range map[string]string{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig"} {
		if k[name] != want {
			t.Errorf("%s = %v, want %s", name, k[name], want)
		}
	}
	if _, ok := k["d"]; ok {
		t.Fatal("the key set publishes the private key")
	}
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		w := g.serve(httptest.NewRequest(m, "http://gw/.well-known/jwks.json", nil), "192.0.2.1:1000")
		if w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" || problemType(w.Body.String()) != "method-not-allowed" {
			t.Errorf("%s: %d %v %s", m, w.Code, w.Header(), w.Body)
		}
	}
	x, _ := k["x"].(string)
	pub, err := base64.RawURLEncoding.Strict().DecodeString(x) // RFC 8037 §2: base64url, no padding
	if err != nil || len(pub) != ed25519.PublicKeySize {
		t.Fatalf("x = %q: %v", x, err)
	}
	tok := g.token(t, auditAK, auditSK)
	parsed, err := jwt.Parse(tok, func(tk *jwt.Token) (any, error) {
		if tk.Header["kid"] != k["kid"] {
			t.Errorf("token kid %v, key set kid %v", tk.Header["kid"], k["kid"])
		}
		return ed25519.PublicKey(pub), nil
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithTimeFunc(g.clk.Now))
	if err != nil || !parsed.Valid {
		t.Fatalf("the issued token does not verify with the published key: %v", err)
	}
}

// TestAuthAuditTokenKeyRotation: during a master-key rotation nodes sign
// with the new key, still accept tokens the previous key signed (until
// they expire) and publish both keys; once the previous key is dropped its
// tokens are refused.
func TestAuthAuditTokenKeyRotation(t *testing.T) {
	oldSeed, newSeed := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	before := newAuthAuditGW(t, nil, Options{TokenSeed: oldSeed})
	path := "/acme/echo/v1/things/1"
	oldTok := before.token(t, auditAK, auditSK)

	during := newAuthAuditGW(t, nil, Options{TokenSeed: newSeed, PreviousTokenSeeds: [][]byte{oldSeed}})
	if w := during.serve(bearerGet(path, oldTok), "192.0.2.1:1000"); w.Code != 200 {
		t.Fatalf("a token of the previous key during the rotation: %d %s", w.Code, w.Body)
	}
	newTok := during.token(t, auditAK, auditSK)
	if w := before.serve(bearerGet(path, newTok), "192.0.2.2:1000"); w.Code != 401 {
		t.Fatalf("a new token verified with the previous key alone: %d (signed with the previous key?)", w.Code)
	}
	w := during.serve(httptest.NewRequest("GET", "http://gw/.well-known/jwks.json", nil), "192.0.2.1:1000")
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil || len(set.Keys) != 2 {
		t.Fatalf("JWKS during the rotation: %v %s", err, w.Body)
	}
	kid := func(tok string) string {
		p, _, _ := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
		s, _ := p.Header["kid"].(string)
		return s
	}
	if set.Keys[0]["kid"] != kid(newTok) || set.Keys[1]["kid"] != kid(oldTok) || kid(newTok) == kid(oldTok) {
		t.Fatalf("JWKS kids %s, %s; tokens' %s (new), %s (old)", set.Keys[0]["kid"], set.Keys[1]["kid"], kid(newTok), kid(oldTok))
	}

	after := newAuthAuditGW(t, nil, Options{TokenSeed: newSeed})
	if w := after.serve(bearerGet(path, newTok), "192.0.2.1:1000"); w.Code != 200 {
		t.Fatalf("a new token after the rotation: %d %s", w.Code, w.Body)
	}
	if w := after.serve(bearerGet(path, oldTok), "192.0.2.3:1000"); w.Code != 401 {
		t.Fatalf("a token of the dropped key: %d", w.Code)
	}
	if _, err := NewHandler(after.store, Options{TokenSeed: newSeed, PreviousTokenSeeds: [][]byte{{1, 2}}}); err == nil {
		t.Fatal("a short previous seed was accepted")
	}
}

// TestAuthAuditFailureAccounting: every request with a bad credential, on
// every way in, counts exactly once towards the per-IP ban, and good
// credentials never count, whatever else is wrong with the request.
func TestAuthAuditFailureAccounting(t *testing.T) {
	g := newAuthAuditGW(t, nil, Options{})
	grant := "grant_type=client_credentials"
	signed := func(path, sk string, mod func(*http.Request)) func() *http.Request {
		return func() *http.Request {
			r := httptest.NewRequest("GET", "http://gw"+path, nil)
			if mod != nil {
				mod(r)
			}
			if err := (&sigv4.Signer{Region: "local"}).Sign(r, auditAK, sk, "", g.clk.Now()); err != nil {
				t.Fatal(err)
			}
			return r
		}
	}
	presigned := func(sk string) func() *http.Request {
		return func() *http.Request {
			r := httptest.NewRequest("GET", "http://gw/acme/echo/v1/things/1", nil)
			u, err := (&sigv4.Signer{Region: "local"}).Presign(r, auditAK, sk, "", g.clk.Now(), time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return httptest.NewRequest("GET", u, nil)
		}
	}
	withCode := func(path, code string, mod func(*http.Request)) func() *http.Request {
		return func() *http.Request {
			r := httptest.NewRequest("GET", "http://gw"+path, nil)
			r.Header.Set(AppCodeHeader, code)
			if mod != nil {
				mod(r)
			}
			return r
		}
	}
	tokenReq := func(user, pass, body string) func() *http.Request {
		return func() *http.Request { return tokenRequest(user, pass, formType, body) }
	}
	goodToken, testStageToken := g.token(t, auditAK, auditSK), g.token(t, auditTestAK, auditSK)
	for name, c := range map[string]struct {
		req   func() *http.Request
		count int
	}{
		"token: good":                            {tokenReq(auditAK, auditSK, grant), 0},
		"token: good, form-encoded secret":       {tokenReq(auditSlashAK, url.QueryEscape(auditSlashSK), grant), 0},
		"token: good, unsupported grant":         {tokenReq(auditAK, auditSK, "grant_type=password"), 0},
		"token: good, no grant":                  {tokenReq(auditAK, auditSK, ""), 0},
		"token: wrong secret":                    {tokenReq(auditAK, "nope", grant), 1},
		"token: wrong secret, unsupported grant": {tokenReq(auditAK, "nope", "grant_type=password"), 1},
		"token: wrong secret, no grant":          {tokenReq(auditAK, "nope", ""), 1},
		"token: unknown key":                     {tokenReq("PKNOSUCHKEY000000000", auditSK, grant), 1},
		"token: no credentials":                  {tokenReq("", "", grant), 1},
		"token: GET":                             {func() *http.Request { return httptest.NewRequest("GET", "http://gw/oauth/token", nil) }, 0},
		"bearer: good":                           {func() *http.Request { return bearerGet("/acme/echo/v1/things/1", goodToken) }, 0},
		"bearer: good, wrong stage":              {func() *http.Request { return bearerGet("/acme/echo/v1/things/1", testStageToken) }, 0},
		"bearer: forged":                         {func() *http.Request { return bearerGet("/acme/echo/v1/things/1", goodToken+"x") }, 1},
		"app code: good":                         {withCode("/acme/kiosk/v1/things/1", testAppCode, nil), 0},
		"app code: unknown":                      {withCode("/acme/kiosk/v1/things/1", "pac_guess", nil), 1},
		"app code: unknown, with a good bearer":  {withCode("/acme/kiosk/v1/things/1", "pac_guess", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+goodToken) }), 1},
		"sigv4: good":                            {signed("/acme/echo/v1/things/1", auditSK, nil), 0},
		"sigv4: wrong secret":                    {signed("/acme/echo/v1/things/1", "nope", nil), 1},
		"presigned: good":                        {presigned(auditSK), 0},
		"presigned: wrong secret":                {presigned("nope"), 1},
	} {
		t.Run(name, func(t *testing.T) {
			// Each case from its own address.
			addr := auditAddr(name)
			before := g.failures(addr)
			w := g.serve(c.req(), addr)
			if got := g.failures(addr) - before; got != c.count {
				t.Fatalf("%d %s: counted %d failures, want %d", w.Code, w.Body, got, c.count)
			}
		})
	}
}

// auditAddr is an address (host:port) of its own for each name.
func auditAddr(name string) string {
	var h uint32 = 2166136261
	for i := 0; i < len(name); i++ {
		h = (h ^ uint32(name[i])) * 16777619
	}
	return netip.AddrFrom4([4]byte{10, byte(h >> 16), byte(h >> 8), byte(h)}).String() + ":1000"
}

// TestAuthAuditPresignedParamsNeverReachTheBackend: the gateway removes a
// presigned URL's parameters before forwarding, so that the backend (its
// logs, its operator) never holds a URL it could replay against the
// gateway until it expires, on the partner's account. Parameter names
// percent-encoded (X%2DAmz-Signature), which the SigV4 rules decode, must
// not slip past that: such a URL is refused.
func TestAuthAuditPresignedParamsNeverReachTheBackend(t *testing.T) {
	var seen []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.URL.RawQuery)
	}))
	defer up.Close()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	cfg := demoConfig(Limits{}, SubActive, now)
	cfg.APIs[0].Mock = false
	cfg.APIs[0].Upstream = Upstream{Targets: []Target{{URL: up.URL, Weight: 1}}}
	cfg.APIs[0].BackendKeys = []BackendKey{{ID: "bk1", Secret: []byte("backend-secret-backend-secret-32")}}
	g := newAuthAuditGW(t, cfg, Options{AllowPrivateUpstreams: true})
	r := httptest.NewRequest("GET", "http://gw/acme/echo/v1/things/1?q=1", nil)
	u, err := (&sigv4.Signer{Region: "local"}).Presign(r, auditAK, auditSK, "", g.clk.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for name, rewrite := range map[string]func(string) string{
		"as signed": func(u string) string { return u },
		"signature name encoded": func(u string) string {
			return strings.Replace(u, "X-Amz-Signature=", "X%2DAmz-Signature=", 1)
		},
		"every name but the algorithm's encoded": func(u string) string {
			for _, p := range []string{"Credential", "Date", "Expires", "SignedHeaders", "Signature"} {
				u = strings.Replace(u, "X-Amz-"+p+"=", "X%2DAmz-"+p+"=", 1)
			}
			return u
		},
	} {
		t.Run(name, func(t *testing.T) {
			seen = nil
			w := g.serve(httptest.NewRequest("GET", rewrite(u), nil), "192.0.2.1:1000")
			for _, q := range seen {
				dq, _ := url.QueryUnescape(q)
				if strings.Contains(dq, "X-Amz-") || strings.Contains(q, "X-Amz-") {
					t.Fatalf("%d: the backend received the presigned parameters: %s", w.Code, q)
				}
			}
			if name == "as signed" && (w.Code != 200 || len(seen) != 1 || seen[0] != "q=1") {
				t.Fatalf("%d %s; backend saw %q", w.Code, w.Body, seen)
			}
		})
	}
}

// TestAuthAuditTokenRefusalsAreCounted: refused token requests show in the
// rejection metrics by their OAuth error, like every other refusal, so that
// guessing at /oauth/token is as visible as guessing at a signature.
func TestAuthAuditTokenRefusalsAreCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := newAuthAuditGW(t, nil, Options{Registry: reg})
	g.serve(tokenRequest(auditAK, "nope", formType, "grant_type=client_credentials"), "192.0.2.1:1000")
	g.serve(tokenRequest(auditAK, auditSK, formType, "grant_type=password"), "192.0.2.1:1000")
	g.serve(tokenRequest(auditAK, auditSK, formType, "grant_type=client_credentials"), "192.0.2.1:1000")
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`portico_gateway_rejections_total{reason="invalid_client"} 1`,
		`portico_gateway_rejections_total{reason="unsupported_grant_type"} 1`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestAuthAuditPresignedNonce: a presigned URL whose signed headers carry
// X-Portico-Nonce is good once; a replay is refused (and counts as a
// failure) for as long as the URL is valid, and after that the URL itself
// has expired. A URL carrying both a header and a query signature is
// malformed.
func TestAuthAuditPresignedNonce(t *testing.T) {
	g := newAuthAuditGW(t, nil, Options{Protection: &Protection{BanAfter: 1000, BanWindow: 24 * time.Hour, BanFor: time.Hour}})
	r := httptest.NewRequest("GET", "http://gw/acme/echo/v1/things/1", nil)
	r.Header.Set(sigv4.NonceHeader, "once-only")
	u, err := (&sigv4.Signer{Region: "local"}).Presign(r, auditAK, auditSK, "", g.clk.Now(), 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	call := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", u, nil)
		r.Header.Set(sigv4.NonceHeader, "once-only")
		return g.serve(r, "192.0.2.1:1000")
	}
	if w := call(); w.Code != 200 {
		t.Fatalf("first use: %d %s", w.Code, w.Body)
	}
	for _, after := range []time.Duration{0, time.Hour, time.Hour - time.Second} { // to 2h - 1s
		g.clk.Add(after)
		if w := call(); w.Code != 403 || problemType(w.Body.String()) != "replayed-nonce" {
			t.Fatalf("replay: %d %s", w.Code, w.Body)
		}
	}
	g.clk.Add(2 * time.Second)
	if w := call(); w.Code != 403 || problemType(w.Body.String()) != "request-expired" {
		t.Fatalf("after expiry: %d %s", w.Code, w.Body)
	}
	if n := g.failures("192.0.2.1:1000"); n != 4 {
		t.Fatalf("%d failures counted for 3 replays and 1 expired URL", n)
	}
	both := httptest.NewRequest("GET", u, nil)
	both.Header.Set(sigv4.NonceHeader, "another")
	if err := (&sigv4.Signer{Region: "local"}).Sign(both, auditAK, auditSK, "", g.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if w := g.serve(both, "192.0.2.2:1000"); w.Code != 400 || !strings.Contains(w.Body.String(), "both") {
		t.Fatalf("header and query signature: %d %s", w.Code, w.Body)
	}
}

// TestAuthAuditBearerSchemeCase: the auth-scheme is case-insensitive
// (RFC 9110 §11.1, RFC 6750 §2.1), so bearerKey takes "bearer" and
// "BEARER" as Bearer. (authenticate in gateway.go still dispatches on
// "Bearer " exactly: see the audit report.)
func TestAuthAuditBearerSchemeCase(t *testing.T) {
	g := newAuthAuditGW(t, nil, Options{})
	tok := g.token(t, auditAK, auditSK)
	snap := g.store.Load()
	for _, scheme := range []string{"Bearer ", "bearer ", "BEARER ", "Bearer   "} {
		r := httptest.NewRequest("GET", "http://gw/acme/echo/v1/things/1", nil)
		r.Header.Set("Authorization", scheme+tok)
		if k, _, err := g.h.bearerKey(r, snap); err != nil || k.AccessKey != auditAK {
			t.Errorf("%q: %v %v", scheme, k, err)
		}
	}
}

// TestAuthAuditRequireNonce: a version that requires a nonce refuses the
// credentials that cannot carry one (a bearer token, an app code) with
// nonce-required, and a good signature that lacks the nonce too; none of
// these is a bad credential, so none counts toward the client's ban. A
// lowercase "bearer" scheme is a bearer token like "Bearer".
func TestAuthAuditRequireNonce(t *testing.T) {
	clk := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	cfg := authAuditConfig(clk)
	for i := range cfg.APIs {
		cfg.APIs[i].Settings.RequireNonce = true
	}
	g := newAuthAuditGW(t, cfg, Options{})
	tok := g.token(t, auditAK, auditSK)
	signed := func(nonce string) *http.Request {
		r := httptest.NewRequest("GET", "http://gw/acme/echo/v1/things/1", nil)
		if nonce != "" {
			r.Header.Set(sigv4.NonceHeader, nonce)
		}
		if err := (&sigv4.Signer{Region: "local"}).Sign(r, auditAK, auditSK, "", g.clk.Now()); err != nil {
			t.Fatal(err)
		}
		return r
	}
	withCode := httptest.NewRequest("GET", "http://gw/acme/kiosk/v1/things/1", nil)
	withCode.Header.Set(AppCodeHeader, testAppCode)
	for name, c := range map[string]struct {
		req  *http.Request
		code int
		typ  string
	}{
		"bearer": {bearerGet("/acme/echo/v1/things/1", tok), 403, sigv4.TypeNonceRequired},
		"lowercase bearer": {func() *http.Request {
			r := bearerGet("/acme/echo/v1/things/1", tok)
			r.Header.Set("Authorization", "bearer "+tok)
			return r
		}(), 403, sigv4.TypeNonceRequired},
		"app code":         {withCode, 403, sigv4.TypeNonceRequired},
		"signed, no nonce": {signed(""), 403, sigv4.TypeNonceRequired},
		"signed, nonce":    {signed("n-0001"), 200, ""},
	} {
		t.Run(name, func(t *testing.T) {
			addr := auditAddr("nonce " + name)
			w := g.serve(c.req, addr)
			if w.Code != c.code || (c.typ != "" && !strings.Contains(w.Body.String(), "/problems/"+c.typ)) {
				t.Fatalf("%d %s, want %d %s", w.Code, w.Body, c.code, c.typ)
			}
			if n := g.failures(addr); n != 0 {
				t.Fatalf("counted %d failures against the client", n)
			}
		})
	}
	// Without the requirement, a lowercase scheme is served as a token.
	g2 := newAuthAuditGW(t, nil, Options{})
	tok2 := g2.token(t, auditAK, auditSK)
	r := bearerGet("/acme/echo/v1/things/1", tok2)
	r.Header.Set("Authorization", "bearer "+tok2)
	if w := g2.serve(r, auditAddr("lowercase")); w.Code != 200 {
		t.Fatalf("lowercase bearer: %d %s", w.Code, w.Body)
	}
}

// TestAuthAuditChallenges: every 401 names the schemes the gateway takes
// in WWW-Authenticate (RFC 9110 §11.6.1), a bad bearer token the Bearer
// error of RFC 6750; a 403 carries none.
func TestAuthAuditChallenges(t *testing.T) {
	g := newAuthAuditGW(t, nil, Options{})
	want := `AWS4-HMAC-SHA256 realm="portico"|Bearer realm="portico"`
	codeOn := func(path, code string) *http.Request {
		r := httptest.NewRequest("GET", "http://gw"+path, nil)
		r.Header.Set(AppCodeHeader, code)
		return r
	}
	badSig := httptest.NewRequest("GET", "http://gw/acme/echo/v1/things/1", nil)
	if err := (&sigv4.Signer{Region: "local"}).Sign(badSig, auditAK, "not-the-secret", "", g.clk.Now()); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		req       *http.Request
		code      int
		typ, want string
	}{
		"unsigned":             {httptest.NewRequest("GET", "http://gw/acme/echo/v1/things/1", nil), 401, "missing-signature", want},
		"app code not allowed": {codeOn("/acme/echo/v1/things/1", testAppCode), 401, "app-code-not-allowed", want},
		"unknown app code":     {codeOn("/acme/kiosk/v1/things/1", "nope"), 401, "invalid-app-code", want},
		"bad token":            {bearerGet("/acme/echo/v1/things/1", "nope"), 401, "invalid-token", `Bearer realm="portico", error="invalid_token"`},
		"bad signature":        {badSig, 403, "signature-mismatch", ""},
	} {
		t.Run(name, func(t *testing.T) {
			w := g.serve(c.req, auditAddr("challenge "+name))
			got := strings.Join(w.Header().Values("WWW-Authenticate"), "|")
			if w.Code != c.code || problemType(w.Body.String()) != c.typ || got != c.want {
				t.Fatalf("%d %s %q, want %d %s %q", w.Code, problemType(w.Body.String()), got, c.code, c.typ, c.want)
			}
		})
	}
}

// TestAuthAuditNonceCapacity: a key over its share of the nonce store gets
// 429 nonce-capacity with Retry-After (when its oldest nonce expires), and
// that is not counted toward the client's ban; the share is its
// organisation's, so its other keys are refused too.
func TestAuthAuditNonceCapacity(t *testing.T) {
	clk := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	cfg := authAuditConfig(clk)
	for i := range cfg.APIs {
		cfg.APIs[i].Settings.RequireNonce = true
	}
	g := newAuthAuditGW(t, cfg, Options{Nonces: sigv4.NewMemoryNonces(100, sigv4.MaxNoncesPerKey(1))})
	signed := func(nonce string) *http.Request {
		r := httptest.NewRequest("GET", "http://gw/acme/echo/v1/things/1", nil)
		r.Header.Set(sigv4.NonceHeader, nonce)
		if err := (&sigv4.Signer{Region: "local"}).Sign(r, auditAK, auditSK, "", g.clk.Now()); err != nil {
			t.Fatal(err)
		}
		return r
	}
	addr := auditAddr("nonce capacity")
	if w := g.serve(signed("cap-1"), addr); w.Code != 200 {
		t.Fatalf("first nonce: %d %s", w.Code, w.Body)
	}
	w := g.serve(signed("cap-2"), addr)
	ra, _ := strconv.Atoi(w.Header().Get("Retry-After"))
	// The nonce is kept until the request expires: X-Amz-Date + 15 min.
	if w.Code != 429 || problemType(w.Body.String()) != sigv4.TypeNonceCapacity || ra < 890 || ra > 902 {
		t.Fatalf("second nonce: %d %v %s", w.Code, w.Header(), w.Body)
	}
	// Another key of the same organisation shares its share.
	other := httptest.NewRequest("GET", "http://gw/acme/echo/v1/things/1", nil)
	other.Header.Set(sigv4.NonceHeader, "cap-3")
	if err := (&sigv4.Signer{Region: "local"}).Sign(other, auditSlashAK, auditSlashSK, "", g.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if w := g.serve(other, addr); w.Code != 429 || problemType(w.Body.String()) != sigv4.TypeNonceCapacity {
		t.Fatalf("the organisation's other key: %d %s", w.Code, w.Body)
	}
	if n := g.failures(addr); n != 0 {
		t.Fatalf("counted %d failures against the client", n)
	}
}
