package gateway

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenTTL is the lifetime of an OAuth2 client-credentials access token.
const TokenTTL = time.Hour

// TokenClockSkew is how far apart gateway nodes' clocks may be for a token
// one issued to be valid on another at once (nbf) and to the end of its
// life (exp): RFC 7519's small leeway.
const TokenClockSkew = 30 * time.Second

const tokenIssuer = "portico-gateway"

// tokenIssuerKeys signs and verifies the gateway's access tokens (EdDSA).
type tokenIssuerKeys struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	kid  string
}

func newTokenKeys(seed []byte) (*tokenIssuerKeys, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, errors.New("gateway: the token signing seed must be 32 bytes")
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	sum := sha256.Sum256(pub)
	return &tokenIssuerKeys{priv: priv, pub: pub, kid: base64.RawURLEncoding.EncodeToString(sum[:12])}, nil
}

type tokenClaims struct {
	AccessKey string `json:"ak"`
	jwt.RegisteredClaims
}

// serveToken is POST /oauth/token: client credentials (the app's AK/SK by
// HTTP Basic) for a short-lived JWT. ck is the caller's per-IP key (behind
// trusted proxies, the forwarded client's): bad credentials count against
// it.
//
// The client is authenticated before the request's parameters are looked
// at, so that every bad credential counts against ck whatever else is
// wrong with the request (checking the grant first would answer the same
// for any credentials, but let them go uncounted).
func (h *Handler) serveToken(w http.ResponseWriter, r *http.Request, id string, ck clientKey) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		h.problem(w, http.StatusMethodNotAllowed, "method-not-allowed", "Use POST.", id, nil)
		return
	}
	snap := h.store.Load()
	if snap == nil {
		// No key is known yet: that says nothing about the caller's.
		h.noConfiguration(w, id)
		return
	}
	ak, sk, ok := r.BasicAuth()
	var key Key
	if ok {
		key, ok = snap.Key(ak)
	}
	if !ok || !key.Active(h.now()) || !clientSecretMatches(sk, key.Secret) {
		h.protect.failed(ck, h.now())
		w.Header().Set("WWW-Authenticate", `Basic realm="portico"`)
		oauthError(w, http.StatusUnauthorized, "invalid_client", "The access key and secret key do not match an active app key.")
		return
	}
	form, desc := tokenForm(w, r)
	switch {
	case desc != "":
		oauthError(w, http.StatusBadRequest, "invalid_request", desc)
		return
	case form.Get("grant_type") != "client_credentials":
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Only grant_type=client_credentials is supported.")
		return
	}
	now := h.now()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, tokenClaims{AccessKey: key.AccessKey, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: tokenIssuer, Subject: key.AppID, Audience: jwt.ClaimStrings{tokenIssuer},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Second)), ExpiresAt: jwt.NewNumericDate(now.Add(TokenTTL)),
	}})
	tok.Header["kid"] = h.tokens.kid
	s, err := tok.SignedString(h.tokens.priv)
	if err != nil {
		h.problem(w, http.StatusInternalServerError, "internal", "Internal error.", id, nil)
		return
	}
	setNoStore(w.Header())
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": s, "token_type": "Bearer", "expires_in": int(TokenTTL.Seconds())})
}

// clientSecretMatches compares the password of HTTP Basic with the key's
// secret. RFC 6749 §2.3.1 has clients form-encode the client id and secret
// before Basic encoding, and conforming clients do (golang.org/x/oauth2
// sends url.QueryEscape(secret)): a Portico secret's '/' and '+' then
// arrive as %2F and %2B. Tools that take a user and password (curl --user,
// Postman) send the secret as it is, and a raw '+' would decode to a
// space. So either form is accepted; both are the same secret, and both
// comparisons always run, in constant time.
func clientSecretMatches(sent string, secret []byte) bool {
	eq := subtle.ConstantTimeCompare([]byte(sent), secret)
	dec, err := url.QueryUnescape(sent)
	if err != nil {
		dec = sent
	}
	return eq|subtle.ConstantTimeCompare([]byte(dec), secret) == 1
}

// tokenForm reads the token request's parameters from its body (RFC 6749
// §4.4.2: application/x-www-form-urlencoded; a body without a Content-Type
// is read as one too). It returns a description of what is wrong for an
// invalid_request answer, or "".
func tokenForm(w http.ResponseWriter, r *http.Request) (url.Values, string) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/x-www-form-urlencoded" {
			return nil, "Send the parameters as application/x-www-form-urlencoded."
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4096))
	if err != nil {
		return nil, "The request body could not be read or is larger than 4096 bytes."
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, "The request body is not valid application/x-www-form-urlencoded."
	}
	for name, vals := range form {
		if len(vals) > 1 { // RFC 6749 §3.2
			return nil, "The parameter " + strconv.Quote(name) + " appears more than once."
		}
	}
	if form.Get("grant_type") == "" {
		return nil, "The grant_type parameter is missing; send grant_type=client_credentials."
	}
	return form, ""
}

// setNoStore marks a response that carries a token or an OAuth error as
// never to be cached (RFC 6749 §5.1, which also asks for Pragma for
// HTTP/1.0 caches).
func setNoStore(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// oauthError writes an RFC 6749 §5.2 error and notes its code as the
// rejection's reason for the access log and the metrics, as problem does.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	if mw, ok := w.(*meteredWriter); ok {
		mw.reason = code
	}
	setNoStore(w.Header())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// serveJWKS is GET /.well-known/jwks.json: the public keys tokens are
// verified with (during a master-key rotation, the previous key's too). Other methods than GET and HEAD get 405.
func (h *Handler) serveJWKS(w http.ResponseWriter, r *http.Request, id string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.problem(w, http.StatusMethodNotAllowed, "method-not-allowed", "Use GET.", id, nil)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(h.jwks)
}

// jwksDocument is the JWK set (RFC 7517, OKP keys of RFC 8037) of keys.
func jwksDocument(keys []*tokenIssuerKeys) []byte {
	set := make([]map[string]string, 0, len(keys))
	for _, k := range keys {
		set = append(set, map[string]string{
			"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": k.kid,
			"x": base64.RawURLEncoding.EncodeToString(k.pub),
		})
	}
	b, _ := json.Marshal(map[string]any{"keys": set}) // strings only: cannot fail
	return append(b, '\n')
}

// bearerKey verifies an access token locally (no database) and returns the
// key it was issued to, and its record, which must still be active in the
// snapshot — so a revoked key's tokens stop at the next reload.
func (h *Handler) bearerKey(r *http.Request, snap *Snapshot) (Key, *keyRec, error) {
	// The scheme name is case-insensitive (RFC 9110 §11.1): "bearer" is
	// Bearer too.
	raw := r.Header.Get("Authorization")
	if len(raw) >= len("Bearer ") && strings.EqualFold(raw[:len("Bearer ")], "Bearer ") {
		raw = raw[len("Bearer "):]
	}
	raw = strings.TrimSpace(raw)
	var cl tokenClaims
	_, err := jwt.ParseWithClaims(raw, &cl, func(t *jwt.Token) (any, error) {
		kid := t.Header["kid"]
		if kid == h.tokens.kid {
			return h.tokens.pub, nil
		}
		for _, k := range h.prevTokens {
			if kid == k.kid {
				return k.pub, nil
			}
		}
		return nil, errors.New("unknown kid")
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithIssuer(tokenIssuer), jwt.WithAudience(tokenIssuer),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(h.now), jwt.WithLeeway(TokenClockSkew))
	if err != nil {
		return Key{}, nil, err
	}
	if rec := snap.keyRec(cl.AccessKey); rec != nil {
		if key := snap.key(rec); key.AppID == cl.Subject && key.Active(h.now()) {
			return key, rec, nil
		}
	}
	return Key{}, nil, errors.New("key no longer active")
}
