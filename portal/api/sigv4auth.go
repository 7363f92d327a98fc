package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/gateway/sigv4"
	"github.com/portico-dev/portico/portal/httpx"
	"github.com/portico-dev/portico/tenants"
)

// userKeys looks management-API keys (PU…) up for the SigV4 verifier. App
// keys (PK…) are the gateway's and are not accepted here.
type userKeys struct{ t *tenants.Service }

// Lookup implements sigv4.KeyStore.
func (k userKeys) Lookup(ctx context.Context, accessKey string) (sigv4.Credential, bool) {
	if !strings.HasPrefix(accessKey, tenants.UserKeyPrefix) {
		return sigv4.Credential{}, false
	}
	km, err := k.t.KeyByAccessKey(ctx, accessKey)
	if err != nil || km.Kind != tenants.KindUser {
		return sigv4.Credential{}, false
	}
	c := sigv4.Credential{AccessKey: km.AccessKey, Secret: []byte(km.SecretKey), Owner: km, Active: true}
	if km.ExpiresAt != nil {
		c.ExpiresAt = *km.ExpiresAt
	}
	return c, true
}

// maxSignedBody bounds the body of a signed management request; the API's
// own body limit is smaller still.
const maxSignedBody = 8 << 20

// NewSigV4Verifier returns the verifier the management API uses for AK/SK
// requests signed with a user's PU… key.
func NewSigV4Verifier(t *tenants.Service, region string, nonces sigv4.NonceStore) (*sigv4.Verifier, error) {
	if nonces == nil {
		nonces = sigv4.NewMemoryNonces(100_000)
	}
	return sigv4.New(sigv4.Config{Region: region, Keys: userKeys{t}, Nonces: nonces, MaxBodyBytes: maxSignedBody})
}

// signed reports whether the request carries a SigV4 signature (header or
// presigned form).
func signed(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256") || r.URL.Query().Get("X-Amz-Algorithm") != ""
}

// authenticateSigV4 verifies a SigV4-signed request and returns the key's
// user.
func (a *API) authenticateSigV4(c *gin.Context) (tenants.User, bool) {
	// Hash the (bounded) body up front, so a body that differs from a signed
	// X-Amz-Content-Sha256 is refused here as a signature mismatch rather
	// than surfacing half-way through a handler's read.
	hash, err := sigv4.HashBody(c.Request, maxSignedBody)
	var cred sigv4.Credential
	if err == nil {
		cred, err = a.SigV4.Verify(c.Request.Context(), c.Request, hash, sigv4.VerifyOptions{})
	}
	if err != nil {
		var se *sigv4.Error
		if errors.As(err, &se) {
			writeSigV4Problem(c, se)
			c.Abort()
			return tenants.User{}, false
		}
		a.fail(c, err)
		return tenants.User{}, false
	}
	km := cred.Owner.(tenants.KeyMaterial)
	u, err := a.Tenants.User(c.Request.Context(), km.UserID)
	if err != nil {
		a.fail(c, tenants.Errorf(tenants.EUnauthorized, "The key's user no longer exists."))
		return tenants.User{}, false
	}
	if err := a.Tenants.TouchKeys(c.Request.Context(), map[string]time.Time{km.AccessKey: a.Tenants.Now()}); err != nil {
		a.Logger.WarnContext(c.Request.Context(), "key last-used update failed", "err", err)
	}
	return u, true
}

// writeSigV4Problem renders a signature rejection as RFC 9457 problem+json
// with the verifier's extension members (canonical request and string to
// sign on a mismatch, so callers can diff them with their own).
func writeSigV4Problem(c *gin.Context, e *sigv4.Error) {
	body := map[string]any{
		"type": e.ProblemType(), "title": e.Title, "status": e.Status, "detail": e.Detail,
		"instance": c.Request.URL.Path, "request_id": httpx.RequestID(c.Request.Context()),
	}
	for k, v := range e.Extensions() {
		body[k] = v
	}
	if e.Status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `AWS4-HMAC-SHA256 realm="portico"`)
	}
	httpx.WriteJSON(c.Writer, e.Status, body, "application/problem+json")
}
