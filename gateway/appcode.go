package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
)

// AppCodeHeader carries an app code: the opt-in credential of signing.md for
// clients that cannot sign at all. It is weaker than a signature (a bearer
// value that binds nothing of the request), so a version must allow it
// (Settings.AllowAppCode) and the console labels it as such.
const AppCodeHeader = "X-Portico-App-Code"

// AppCode is an active app code as the gateway knows it; Config.AppCodes
// lists them under the hex SHA-256 of the code.
type AppCode struct {
	// Prefix is the code's visible beginning (pac_…). Usage events carry it
	// where a signed call carries the access key id.
	Prefix string `json:"prefix"`
	AppID  string `json:"app_id"`
	// OrgID is the partner organisation that owns the app.
	OrgID string `json:"org_id"`
	// Stage is the app's environment when the code is limited to one; empty
	// means any.
	Stage string `json:"stage,omitempty"`
}

// appCodes indexes cfg.AppCodes by the binary hash, as the Key the rest of
// the request path works with (its AccessKey is the code's prefix, and it
// has no secret: nothing can sign with it).
func (c *compiler) appCodes(cfg *Config, s *Snapshot, b *tableBuilder) {
	s.codes = make(map[[32]byte]keyRec, len(cfg.AppCodes))
	for _, h := range sortedKeys(cfg.AppCodes) {
		ac := cfg.AppCodes[h]
		var sum [32]byte
		if n, err := hex.Decode(sum[:], []byte(h)); err != nil || n != len(sum) || len(h) != 2*len(sum) {
			c.errorf("app code %s: not listed under a hex SHA-256", ac.Prefix)
			continue
		}
		stage, stageOK := stageCode(ac.Stage)
		switch {
		case ac.Prefix == "":
			c.errorf("app code %.12s…: no prefix", h)
		case ac.AppID == "":
			c.errorf("app code %s: no app id", ac.Prefix)
		case !stageOK:
			c.errorf("app code %s: unknown stage %q", ac.Prefix, ac.Stage)
		}
		s.codes[sum] = keyRec{access: b.add(ac.Prefix), app: b.share(ac.AppID), org: b.share(ac.OrgID), stage: stage}
	}
}

// AppCode returns the key an app code stands for, if the configuration
// has the code.
func (s *Snapshot) AppCode(code string) (Key, bool) {
	r, ok := s.codes[sha256.Sum256([]byte(code))]
	if !ok {
		return Key{}, false
	}
	return s.key(&r), true
}

// appCodeKey authenticates a call by its X-Portico-App-Code header. A
// version that does not allow app codes refuses them whatever their value
// (so it reveals nothing about the code); an unknown or revoked code counts
// as an authentication failure towards the client IP's ban. The body is
// still hashed: it binds the backend signature.
func (h *Handler) appCodeKey(w http.ResponseWriter, r *http.Request, snap *Snapshot, api *APIVersion, ck clientKey, id string, maxBody int64) (Key, string, bool) {
	if !api.Settings.AllowAppCode {
		w.Header()["Www-Authenticate"] = authChallenges
		h.problem(w, http.StatusUnauthorized, "app-code-not-allowed",
			"This API version does not accept app codes; sign the request with the app's access key (AWS SigV4) or use an OAuth2 access token.", id, nil)
		return Key{}, "", false
	}
	key, ok := snap.AppCode(r.Header.Get(AppCodeHeader))
	if !ok {
		h.protect.failed(ck, h.now())
		w.Header()["Www-Authenticate"] = authChallenges
		h.problem(w, http.StatusUnauthorized, "invalid-app-code", "The app code is unknown or revoked.", id, nil)
		return Key{}, "", false
	}
	bodyHash, ok := h.hashBody(w, r, maxBody, id)
	return key, bodyHash, ok
}
