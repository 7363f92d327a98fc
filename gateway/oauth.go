package gateway

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenTTL is the lifetime of an OAuth2 client-credentials access token.
const TokenTTL = time.Hour

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
func (h *Handler) serveToken(w http.ResponseWriter, r *http.Request, id string, ck clientKey) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		h.problem(w, http.StatusMethodNotAllowed, "method-not-allowed", "Use POST.", id, nil)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Send grant_type=client_credentials as a form.")
		return
	}
	ak, sk, ok := r.BasicAuth()
	snap := h.store.Load()
	var key Key
	if ok && snap != nil {
		key, ok = snap.Key(ak)
	}
	if !ok || snap == nil || !key.Active(h.now()) || subtle.ConstantTimeCompare([]byte(sk), key.Secret) != 1 {
		h.protect.failed(ck, h.now())
		w.Header().Set("WWW-Authenticate", `Basic realm="portico"`)
		oauthError(w, http.StatusUnauthorized, "invalid_client", "The access key and secret key do not match an active app key.")
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
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{"access_token": s, "token_type": "Bearer", "expires_in": int(TokenTTL.Seconds())})
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// serveJWKS is GET /.well-known/jwks.json: the public key tokens are
// verified with.
func (h *Handler) serveJWKS(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
		"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": h.tokens.kid,
		"x": base64.RawURLEncoding.EncodeToString(h.tokens.pub),
	}}})
}

// bearerKey verifies an access token locally (no database) and returns the
// key it was issued to, which must still be active in the snapshot — so a
// revoked key's tokens stop at the next reload.
func (h *Handler) bearerKey(r *http.Request, snap *Snapshot) (Key, error) {
	raw := strings.TrimSpace(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	var cl tokenClaims
	_, err := jwt.ParseWithClaims(raw, &cl, func(t *jwt.Token) (any, error) {
		if t.Header["kid"] != h.tokens.kid {
			return nil, errors.New("unknown kid")
		}
		return h.tokens.pub, nil
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithIssuer(tokenIssuer), jwt.WithAudience(tokenIssuer),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(h.now))
	if err != nil {
		return Key{}, err
	}
	key, ok := snap.Key(cl.AccessKey)
	if !ok || key.AppID != cl.Subject || !key.Active(h.now()) {
		return Key{}, errors.New("key no longer active")
	}
	return key, nil
}
