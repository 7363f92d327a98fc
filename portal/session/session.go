// Package session carries console logins in a cookie: an HS256 JWT naming the
// user and the server-side session row. The JWT proves the cookie was issued
// by us; the row lets logout and password changes end a session before the
// token expires.
package session

import (
	"errors"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// CookieName is the console session cookie's name.
const CookieName = "portico_session"

// Claims are the session token's claims: Subject is the user id, ID (jti)
// the session id.
type Claims struct {
	jwt.RegisteredClaims
}

// Manager issues and reads session cookies.
type Manager struct {
	name   string
	issuer string
	key    []byte
	verify any // key, or a jwt.VerificationKeySet with the previous keys
	secure bool
	ttl    time.Duration
	parser *jwt.Parser
}

// NewManager returns a Manager for the cookie called name, signing with key
// (32 bytes, derived from the master key for this purpose only). secure marks
// cookies Secure, for deployments served over TLS.
//
// previous are the keys derived the same way from the master keys of a
// rotation (keyring.DeriveAll): cookies they signed stay valid until they
// expire; new ones are signed with key.
func NewManager(name string, key []byte, secure bool, ttl time.Duration, previous ...[]byte) *Manager {
	issuer := "portico:" + name
	var verify any = key
	if len(previous) > 0 {
		set := jwt.VerificationKeySet{Keys: []jwt.VerificationKey{key}}
		for _, p := range previous {
			set.Keys = append(set.Keys, p)
		}
		verify = set
	}
	return &Manager{name: name, issuer: issuer, key: key, verify: verify, secure: secure, ttl: ttl, parser: jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(5*time.Second),
	)}
}

// TTL is how long a session lasts.
func (m *Manager) TTL() time.Duration { return m.ttl }

// Issue sets the session cookie for a session that ends at expires.
func (m *Manager) Issue(w http.ResponseWriter, userID, sessionID string, expires time.Time) error {
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{jwt.RegisteredClaims{
		Issuer: m.issuer, Subject: userID, ID: sessionID,
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Second)), ExpiresAt: jwt.NewNumericDate(expires),
	}})
	s, err := tok.SignedString(m.key)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: m.name, Value: s, Path: "/", Expires: expires, MaxAge: int(time.Until(expires).Seconds()),
		HttpOnly: true, Secure: m.secure, SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// Read returns the claims of a valid session cookie. A missing, forged or
// expired cookie answers false.
func (m *Manager) Read(r *http.Request) (Claims, bool) {
	c, err := r.Cookie(m.name)
	if err != nil || c.Value == "" || len(c.Value) > 4096 {
		return Claims{}, false
	}
	var cl Claims
	_, err = m.parser.ParseWithClaims(c.Value, &cl, func(*jwt.Token) (any, error) { return m.verify, nil })
	if err != nil || cl.Subject == "" || cl.ID == "" {
		return Claims{}, false
	}
	return cl, true
}

// Clear deletes the session cookie.
func (m *Manager) Clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: m.name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: m.secure, SameSite: http.SameSiteLaxMode})
}

// ErrNoSession is returned when a request carries no valid session.
var ErrNoSession = errors.New("no session")
