package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/tenants"
)

type signUpRequest struct {
	Name         string `json:"name"`
	Email        string `json:"email"`
	Password     string `json:"password"`
	Organization struct {
		Name string `json:"name"`
		Slug string `json:"slug"`
	} `json:"organization"`
}

// signUp creates a user and their organisation and returns a first token.
func (a *API) signUp(c *gin.Context) {
	if err := throttled(a.SignupThrottle, "ip:"+c.ClientIP()); err != nil {
		a.fail(c, err)
		return
	}
	var req signUpRequest
	if err := decode(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	res, err := a.Tenants.SignUp(ctx, tenants.SignUpInput{
		Name: req.Name, Email: req.Email, Password: req.Password, OrgName: req.Organization.Name, OrgSlug: req.Organization.Slug,
	}, c.ClientIP())
	if err != nil {
		a.fail(c, err)
		return
	}
	actor := tenants.Actor{UserID: res.User.ID, Email: res.User.Email, IP: c.ClientIP()}
	tok, err := a.Tenants.CreateToken(ctx, actor, "Created at sign-up", a.TokenTTL)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusCreated, gin.H{
		"user":         viewUser(res.User),
		"organization": viewOrg(res.Org),
		"token":        tok.Token,
		"token_id":     tok.ID,
		"expires_at":   tok.ExpiresAt,
	})
}

type createTokenRequest struct {
	Name          string `json:"name"`
	ExpiresInDays *int   `json:"expires_in_days"`
}

// createTokenWithPassword exchanges HTTP Basic email:password for a token.
func (a *API) createTokenWithPassword(c *gin.Context) {
	email, password, ok := c.Request.BasicAuth()
	if !ok {
		c.Header("WWW-Authenticate", `Basic realm="portico"`)
		a.fail(c, tenants.Errorf(tenants.EUnauthorized, "Send your email and password with HTTP Basic authentication."))
		return
	}
	if err := throttled(a.LoginIPThrottle, "ip:"+c.ClientIP()); err != nil {
		a.fail(c, err)
		return
	}
	if err := throttled(a.LoginAccountThrottle, "acct:"+tenants.NormalizeEmail(email)); err != nil {
		a.fail(c, err)
		return
	}
	var req createTokenRequest
	if c.Request.ContentLength != 0 {
		if err := decode(c, &req); err != nil {
			a.fail(c, err)
			return
		}
	}
	ctx := c.Request.Context()
	u, err := a.Tenants.Authenticate(ctx, email, password)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.LoginAccountThrottle.Reset("acct:" + u.Email)
	ttl := a.TokenTTL
	if req.ExpiresInDays != nil {
		if *req.ExpiresInDays < 0 || *req.ExpiresInDays > 366 {
			a.fail(c, tenants.FieldError("expires_in_days", "Choose from 1 to 366 days, or 0 for no expiry."))
			return
		}
		ttl = time.Duration(*req.ExpiresInDays) * 24 * time.Hour
	}
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name = "API token " + time.Now().UTC().Format("2006-01-02 15:04")
	}
	tok, err := a.Tenants.CreateToken(ctx, tenants.Actor{UserID: u.ID, Email: u.Email, IP: c.ClientIP()}, name, ttl)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusCreated, gin.H{"token": tok.Token, "id": tok.ID, "name": tok.Name, "expires_at": tok.ExpiresAt})
}

// showMe returns the caller and their memberships.
func (a *API) showMe(c *gin.Context) {
	u := c.MustGet(ctxUser).(tenants.User)
	orgs, err := a.Tenants.ListOrganizations(c.Request.Context(), u.ID)
	if err != nil {
		a.fail(c, err)
		return
	}
	ms := make([]membershipView, len(orgs))
	for i, o := range orgs {
		ms[i] = membershipView{Organization: viewOrg(o.Org), Role: o.Role}
	}
	a.ok(c, http.StatusOK, gin.H{"user": viewUser(u), "memberships": ms})
}

// listTokens lists the caller's personal access tokens.
func (a *API) listTokens(c *gin.Context) {
	p, err := page(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	l, err := a.Tenants.ListTokens(c.Request.Context(), a.actor(c), p)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, listOf(l, viewToken(a.Tenants.Now())))
}

// revokeToken revokes one of the caller's tokens.
func (a *API) revokeToken(c *gin.Context) {
	if err := a.Tenants.RevokeToken(c.Request.Context(), a.actor(c), c.Param("id")); err != nil {
		a.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
