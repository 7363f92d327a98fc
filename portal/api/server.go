package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/gateway/sigv4"
	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/portal/domains"
	"github.com/portico-dev/portico/portal/httpx"
	"github.com/portico-dev/portico/portal/market"
	"github.com/portico-dev/portico/portal/throttle"
	"github.com/portico-dev/portico/tenants"
)

// Deps are what the API needs.
type Deps struct {
	Tenants *tenants.Service
	Catalog *catalog.Service
	Plans   *billing.Service
	Market  *market.Service
	// Domains manages providers' custom domains.
	Domains *domains.Service
	Logger  *slog.Logger
	// LoginThrottle limits password attempts per IP ("ip:…") and per account
	// ("acct:…"), shared with the console.
	LoginIPThrottle      *throttle.Limiter
	LoginAccountThrottle *throttle.Limiter
	// SignupThrottle limits sign-ups per IP.
	SignupThrottle *throttle.Limiter
	// AppDeleted, when set, runs before an app is deleted (billing cancels
	// its subscriptions).
	AppDeleted func(ctx context.Context, orgID, appID string, a tenants.Actor) error
	// SigV4 verifies AK/SK-signed requests made with users' PU… keys; nil
	// accepts bearer tokens only.
	SigV4 *sigv4.Verifier
	// TokenTTL is the lifetime of tokens issued at sign-up and through
	// POST /api/v1/tokens when the caller names none.
	TokenTTL time.Duration
}

// API serves /api/v1.
type API struct {
	Deps
}

// Register mounts the API's routes on r under /api/v1.
func Register(r gin.IRouter, d Deps) *API {
	a := &API{Deps: d}
	g := r.Group("/api/v1")
	g.GET("/openapi.json", a.showOpenAPI)
	g.POST("/signup", a.signUp)
	g.POST("/tokens", a.createTokenWithPassword)
	a.registerMarket(g)

	auth := g.Group("", a.authenticate)
	auth.GET("/tokens", a.listTokens)
	auth.DELETE("/tokens/:id", a.revokeToken)
	auth.GET("/me", a.showMe)
	auth.GET("/orgs", a.listOrgs)
	auth.POST("/orgs", a.createOrg)
	auth.POST("/invitations/accept", a.acceptInvitation)

	org := auth.Group("/orgs/:org", a.loadOrg)
	org.GET("", a.showOrg)
	org.PATCH("", a.updateOrg)
	org.GET("/members", a.listMembers)
	org.POST("/members", a.createInvitation)
	org.GET("/members/:user", a.showMember)
	org.PATCH("/members/:user", a.updateMember)
	org.DELETE("/members/:user", a.removeMember)
	org.GET("/invitations", a.listInvitations)
	org.POST("/invitations", a.createInvitation)
	org.DELETE("/invitations/:id", a.revokeInvitation)
	org.GET("/audit", a.listAudit)
	a.registerCatalog(org)
	a.registerPlans(org)
	a.registerApps(auth, org)
	a.registerSubscriptions(org)
	a.registerDomains(org)

	return a
}

// NotFound answers an unknown /api/ path with a 404 problem.
func (a *API) NotFound(c *gin.Context) {
	a.fail(c, tenants.Errorf(tenants.ENotFound, "No such API route: %s %s.", c.Request.Method, c.Request.URL.Path))
}

// fail writes err as a problem and stops the chain.
func (a *API) fail(c *gin.Context, err error) {
	httpx.WriteProblem(c.Writer, c.Request, a.Logger, err)
	c.Abort()
}

func (a *API) ok(c *gin.Context, status int, v any) {
	httpx.WriteJSON(c.Writer, status, v, "")
}

const (
	ctxUser  = "portico.user"
	ctxToken = "portico.token"
	ctxOrg   = "portico.org"
	ctxRole  = "portico.role"
)

func (a *API) actor(c *gin.Context) tenants.Actor {
	u := c.MustGet(ctxUser).(tenants.User)
	return tenants.Actor{UserID: u.ID, Email: u.Email, IP: c.ClientIP()}
}

func currentOrg(c *gin.Context) tenants.Organization { return c.MustGet(ctxOrg).(tenants.Organization) }

// authenticate requires a valid personal access token or an AK/SK
// signature made with one of the user's management-API keys.
func (a *API) authenticate(c *gin.Context) {
	if a.SigV4 != nil && signed(c.Request) {
		u, ok := a.authenticateSigV4(c)
		if !ok {
			return
		}
		c.Set(ctxUser, u)
		c.Next()
		return
	}
	h := c.GetHeader("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if h == "" {
		a.fail(c, tenants.Errorf(tenants.EUnauthorized, "Send a personal access token (Authorization: Bearer pat_…) or sign the request with an AK/SK key (AWS4-HMAC-SHA256)."))
		return
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		a.fail(c, tenants.Errorf(tenants.EUnauthorized, "Unsupported authorization scheme; use Authorization: Bearer pat_…"))
		return
	}
	u, pt, err := a.Tenants.AuthenticateToken(c.Request.Context(), strings.TrimSpace(tok))
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Set(ctxUser, u)
	c.Set(ctxToken, pt)
	c.Next()
}

// loadOrg resolves {org} for a member; anyone else gets 404.
func (a *API) loadOrg(c *gin.Context) {
	org, role, err := a.Tenants.OrganizationForMember(c.Request.Context(), c.MustGet(ctxUser).(tenants.User).ID, c.Param("org"))
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Set(ctxOrg, org)
	c.Set(ctxRole, role)
	c.Next()
}

// decode reads a JSON body into v strictly: unknown fields, trailing data
// and wrong types are 400s naming the field; an oversized body is 413.
func decode(c *gin.Context, v any) error {
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return tenants.Errorf(tenants.EMalformed, "Send the body as application/json.")
		}
	}
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.More() {
			return tenants.Errorf(tenants.EMalformed, "The body has data after the JSON value.")
		}
		if _, err := dec.Token(); err != io.EOF {
			return tenants.Errorf(tenants.EMalformed, "The body has data after the JSON value.")
		}
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return tenants.Errorf(tenants.ETooLarge, "The request body is larger than %d bytes.", tooBig.Limit)
	case errors.Is(err, io.EOF):
		return tenants.Errorf(tenants.EMalformed, "The request body is empty; send a JSON object.")
	case errors.As(err, &syn):
		return tenants.Errorf(tenants.EMalformed, "The body is not valid JSON (error at byte %d).", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return tenants.Errorf(tenants.EMalformed, "The body must be a JSON object.")
		}
		return &tenants.Error{Code: tenants.EMalformed, Message: fmt.Sprintf("Field %q must be a %s.", field, jsonKind(typ.Type.Kind().String())),
			Fields: map[string]string{field: "must be a " + jsonKind(typ.Type.Kind().String())}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &tenants.Error{Code: tenants.EMalformed, Message: fmt.Sprintf("Unknown field %q.", field), Fields: map[string]string{field: "unknown field"}}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return tenants.Errorf(tenants.EMalformed, "The body is not valid JSON (it ends early).")
	default:
		return tenants.Errorf(tenants.EMalformed, "The body is not valid JSON.")
	}
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	case "bool":
		return "boolean"
	default:
		return "number"
	}
}

// page reads ?cursor= and ?limit=.
func page(c *gin.Context) (tenants.Page, error) {
	p := tenants.Page{Cursor: c.Query("cursor")}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 100 {
			return p, tenants.FieldError("limit", "limit must be a whole number from 1 to 100.")
		}
		p.Limit = n
	}
	return p, nil
}

// listBody is the shape of every list response.
type listBody[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func listOf[S, T any](l tenants.List[S], conv func(S) T) listBody[T] {
	out := listBody[T]{Items: make([]T, 0, len(l.Items))}
	for _, it := range l.Items {
		out.Items = append(out.Items, conv(it))
	}
	if l.NextCursor != "" {
		nc := l.NextCursor
		out.NextCursor = &nc
	}
	return out
}

// throttled checks a limiter and returns a rate_limited error when refused.
func throttled(l *throttle.Limiter, key string) error {
	if l == nil {
		return nil
	}
	if ok, retry := l.Allow(key); !ok {
		return httpx.RateLimitError{
			Err:        tenants.Errorf(tenants.ERateLimited, "Too many attempts; try again in %d seconds.", int(retry.Seconds())+1),
			RetryAfter: int(retry.Seconds()) + 1,
		}
	}
	return nil
}
