package web

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gin-gonic/gin"
	"github.com/gorilla/csrf"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/portal/domains"
	"github.com/portico-dev/portico/portal/httpx"
	"github.com/portico-dev/portico/portal/mail"
	"github.com/portico-dev/portico/portal/market"
	"github.com/portico-dev/portico/portal/session"
	"github.com/portico-dev/portico/portal/throttle"
	"github.com/portico-dev/portico/templates/layout"
	"github.com/portico-dev/portico/templates/pages/errorpage"
	"github.com/portico-dev/portico/tenants"
)

// Deps are what the console needs.
type Deps struct {
	Tenants *tenants.Service
	// Catalog serves the provider's APIs, versions and deployments.
	Catalog *catalog.Service
	// Market serves the public market pages.
	Market *market.Service
	// Plans serves the plans console.
	Plans *billing.Service
	// Domains serves the custom domains page.
	Domains  *domains.Service
	Sessions *session.Manager
	// Operator authenticates the server operator's pages; nil disables them.
	Operator *session.Manager
	// OperatorToken is the secret the operator logs in with.
	OperatorToken string
	// Outbox is the development outbox; nil when emails go through SMTP.
	Outbox *mail.Outbox
	Logger *slog.Logger
	// CSRFKey is the 32-byte key gorilla/csrf signs its cookie with.
	CSRFKey []byte
	// Secure is true when the console is served over HTTPS (directly or
	// behind a TLS-terminating proxy).
	Secure bool
	// AllowPrivateUpstreams lets "Test connection" reach private, loopback
	// and link-local addresses, as the catalog's UpstreamGuard does when
	// the operator allows private upstreams (single-machine installs).
	AllowPrivateUpstreams bool

	LoginIPThrottle      *throttle.Limiter
	LoginAccountThrottle *throttle.Limiter
	SignupThrottle       *throttle.Limiter
	ResetThrottle        *throttle.Limiter

	// Region is the deployment's signing region (PORTICO_REGION), shown in
	// the example request of a new key; "" means "local".
	Region string
	// GatewayURL is the gateway's external URL, like
	// "https://gw.example.com", for the example request of a new key; ""
	// writes GATEWAY_URL for the user to fill in.
	GatewayURL string
}

// Console serves the web console.
type Console struct {
	Deps
}

const (
	ctxUser    = "portico.web.user"
	ctxSession = "portico.web.session"
	ctxOrg     = "portico.web.org"
	ctxRole    = "portico.web.role"
)

// Register mounts the console on r.
func Register(r *gin.Engine, d Deps) *Console {
	w := &Console{Deps: d}
	protect := csrf.Protect(d.CSRFKey,
		csrf.Secure(d.Secure), csrf.Path("/"), csrf.HttpOnly(true), csrf.SameSite(csrf.SameSiteLaxMode),
		csrf.CookieName("portico_csrf"),
		csrf.ErrorHandler(http.HandlerFunc(w.csrfFailed)),
	)
	g := r.Group("", w.csrf(protect), w.loadUser)

	g.GET("/", w.showLanding)
	g.GET("/signup", w.showSignUp)
	g.POST("/signup", w.signUp)
	g.GET("/login", w.showLogin)
	g.POST("/login", w.logIn)
	g.POST("/logout", w.logOut)
	g.GET("/forgot-password", w.showForgotPassword)
	g.POST("/forgot-password", w.forgotPassword)
	g.GET("/reset-password", w.showResetPassword)
	g.POST("/reset-password", w.resetPassword)
	g.GET("/verify-email", w.verifyEmail)
	g.GET("/invitations/:token", w.showInvitation)

	u := g.Group("", w.requireUser)
	u.POST("/invitations/:token/accept", w.acceptInvitation)
	u.POST("/account/verify/resend", w.resendVerification)
	u.GET("/account", w.showAccount)
	u.POST("/account/profile", w.updateProfile)
	u.POST("/account/password", w.changePassword)
	u.GET("/account/tokens", w.showTokens)
	u.POST("/account/tokens", w.createToken)
	u.POST("/account/tokens/:id/revoke", w.revokeToken)
	u.GET("/orgs/new", w.showNewOrg)
	u.POST("/orgs/new", w.createOrg)

	w.registerMarket(g)

	o := u.Group("/orgs/:org", w.loadOrg)
	w.registerPlans(o)
	w.registerPartner(o)
	w.registerProvider(o)
	w.registerDomains(o)
	o.GET("", w.showDashboard)
	o.GET("/members", w.showMembers)
	o.POST("/invitations", w.createInvitation)
	o.POST("/invitations/:id/revoke", w.revokeInvitation)
	o.POST("/members/:user/role", w.changeRole)
	o.POST("/members/:user/remove", w.removeMember)
	o.GET("/audit", w.showAudit)
	o.GET("/settings", w.showOrgSettings)
	o.POST("/settings", w.updateOrgSettings)

	cw := w.requireCatalogWriter
	o.GET("/apis", w.showAPIs)
	o.GET("/apis/new", cw, w.showNewAPI)
	o.POST("/apis", cw, w.createAPI)
	o.GET("/apis/:api", w.showAPI)
	o.POST("/apis/:api", cw, w.updateAPI)
	o.POST("/apis/:api/versions", cw, w.createVersion)
	v := "/apis/:api/versions/:version"
	o.GET(v, w.showVersion)
	o.POST(v+"/openapi", cw, w.replaceSpec)
	o.POST(v+"/upstream", cw, w.updateUpstream)
	o.POST(v+"/test-connection", cw, w.testConnection)
	o.POST(v+"/mock", cw, w.switchBackend)
	o.POST(v+"/settings", cw, w.updateVersionSettings)
	o.POST(v+"/operations/:operation", cw, w.updateOperation)
	o.POST(v+"/backend-keys", cw, w.rotateBackendKey)
	o.POST(v+"/backend-keys/:key/retire", cw, w.retireBackendKey)
	o.POST(v+"/deprecate", cw, w.deprecateVersion)
	o.POST(v+"/offline", cw, w.takeVersionOffline)
	o.GET(v+"/environments/:env/deploy", cw, w.showDeploy)
	o.POST(v+"/environments/:env/deploy", cw, w.deploy)
	o.GET(v+"/revisions", w.showRevisions)
	o.POST(v+"/environments/:env/revisions/:rev/rollback", cw, w.rollback)

	if d.Operator != nil {
		g.GET("/operator/login", w.showOperatorLogin)
		g.POST("/operator/login", w.operatorLogIn)
		g.POST("/operator/logout", w.operatorLogOut)
		g.GET("/operator/outbox", w.requireOperator, w.showOutbox)
	}
	return w
}

// csrf runs gorilla/csrf as gin middleware. Requests over plain HTTP are
// marked as such, so the strict Referer check meant for HTTPS does not
// reject them; Origin is still checked.
func (w *Console) csrf(protect func(http.Handler) http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		r := c.Request
		if r.TLS == nil && !w.Secure {
			r = csrf.PlaintextHTTPRequest(r)
		}
		passed := false
		protect(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			passed = true
			c.Request = r
			c.Next()
		})).ServeHTTP(c.Writer, r)
		if !passed {
			c.Abort()
		}
	}
}

func (w *Console) csrfFailed(rw http.ResponseWriter, r *http.Request) {
	w.Logger.WarnContext(r.Context(), "csrf check failed", "request_id", httpx.RequestID(r.Context()), "path", r.URL.Path, "reason", csrf.FailureReason(r))
	p := errorpage.Props{
		Page:      layout.Page{Title: "Form expired"},
		Status:    http.StatusForbidden,
		Title:     "This form has expired",
		Detail:    "For your security the form could not be accepted. Go back, reload the page and try again.",
		RequestID: httpx.RequestID(r.Context()),
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.Header().Set("Cache-Control", "no-store")
	rw.WriteHeader(http.StatusForbidden)
	errorpage.Page(p).Render(r.Context(), rw)
}

// render writes a page with a status.
func (w *Console) render(c *gin.Context, status int, comp templ.Component) {
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("Cache-Control", "no-store")
	c.Status(status)
	if err := comp.Render(c.Request.Context(), c.Writer); err != nil {
		w.Logger.ErrorContext(c.Request.Context(), "render failed", "request_id", httpx.RequestID(c.Request.Context()), "err", err)
	}
}

// redirect answers 303 See Other, so a reload never re-submits a form.
func redirect(c *gin.Context, to string) {
	c.Redirect(http.StatusSeeOther, to)
	c.Abort()
}

// fail renders the error page for err (404, 403, 500 …).
func (w *Console) fail(c *gin.Context, err error) {
	status := httpx.Status(err)
	detail := tenants.ErrorMessage(err)
	title := http.StatusText(status)
	switch status {
	case http.StatusNotFound:
		title, detail = "Page not found", "There is nothing here, or you do not have access to it."
	case http.StatusInternalServerError:
		w.Logger.ErrorContext(c.Request.Context(), "internal error", "request_id", httpx.RequestID(c.Request.Context()), "path", c.Request.URL.Path, "err", err)
		title, detail = "Something went wrong", "Internal error. Please try again; if it keeps happening, contact support with the request id below."
	}
	p := errorpage.Props{Page: w.page(c, title, ""), Status: status, Title: title, Detail: detail, RequestID: httpx.RequestID(c.Request.Context())}
	w.render(c, status, errorpage.Page(p))
	c.Abort()
}

// NotFound renders the console's 404 page.
func (w *Console) NotFound(c *gin.Context) {
	w.fail(c, tenants.Errorf(tenants.ENotFound, "Not found."))
}

// page builds the frame every page needs.
func (w *Console) page(c *gin.Context, title, active string) layout.Page {
	p := layout.Page{Title: title, CSRF: csrf.Token(c.Request), Active: active, Flashes: takeFlashes(c)}
	if v, ok := c.Get(ctxUser); ok {
		u := v.(tenants.User)
		p.User = &layout.User{Name: u.Name, Email: u.Email, Verified: u.Verified()}
		if orgs, err := w.Tenants.ListOrganizations(c.Request.Context(), u.ID); err == nil {
			for _, o := range orgs {
				p.Orgs = append(p.Orgs, layout.Org{Slug: o.Org.Slug, Name: o.Org.Name, Role: string(o.Role)})
			}
		}
	}
	if v, ok := c.Get(ctxOrg); ok {
		o := v.(tenants.Organization)
		p.Org = &layout.Org{Slug: o.Slug, Name: o.Name, Role: string(c.MustGet(ctxRole).(tenants.Role))}
	}
	return p
}

func (w *Console) user(c *gin.Context) tenants.User { return c.MustGet(ctxUser).(tenants.User) }

func (w *Console) actor(c *gin.Context) tenants.Actor {
	u := w.user(c)
	return tenants.Actor{UserID: u.ID, Email: u.Email, IP: c.ClientIP()}
}

func currentOrg(c *gin.Context) tenants.Organization { return c.MustGet(ctxOrg).(tenants.Organization) }
func currentRole(c *gin.Context) tenants.Role        { return c.MustGet(ctxRole).(tenants.Role) }

// loadUser attaches the signed-in user, if any. A cookie whose session has
// ended is cleared.
func (w *Console) loadUser(c *gin.Context) {
	cl, ok := w.Sessions.Read(c.Request)
	if !ok {
		if _, err := c.Request.Cookie(session.CookieName); err == nil {
			w.Sessions.Clear(c.Writer) // forged or expired
		}
		c.Next()
		return
	}
	u, err := w.Tenants.SessionUser(c.Request.Context(), cl.ID, cl.Subject)
	if err != nil {
		if tenants.ErrorCode(err) != tenants.EUnauthorized {
			w.fail(c, err)
			return
		}
		w.Sessions.Clear(c.Writer)
		c.Next()
		return
	}
	c.Set(ctxUser, u)
	c.Set(ctxSession, cl.ID)
	c.Next()
}

// requireUser sends signed-out visitors to the log-in page and back here
// afterwards.
func (w *Console) requireUser(c *gin.Context) {
	if _, ok := c.Get(ctxUser); ok {
		c.Next()
		return
	}
	next := c.Request.URL.Path
	if c.Request.Method != http.MethodGet {
		next = ""
	}
	to := "/login"
	if next != "" && next != "/" {
		to += "?next=" + url.QueryEscape(next)
	}
	redirect(c, to)
}

// loadOrg resolves :org for a member; anyone else sees a 404.
func (w *Console) loadOrg(c *gin.Context) {
	org, role, err := w.Tenants.OrganizationForMember(c.Request.Context(), w.user(c).ID, c.Param("org"))
	if err != nil {
		w.fail(c, err)
		return
	}
	c.Set(ctxOrg, org)
	c.Set(ctxRole, role)
	c.Next()
}

// safeNext keeps post-login redirects on this site: a path, not a URL and
// not a protocol-relative "//host".
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\r\n\t") || len(next) > 512 {
		return ""
	}
	return next
}

// startSession creates a session and sets its cookie; the old cookie, if
// any, is replaced, so a fixed session id cannot be planted before login.
func (w *Console) startSession(c *gin.Context, u tenants.User) error {
	s, err := w.Tenants.CreateSession(c.Request.Context(), u, c.ClientIP(), c.Request.UserAgent(), w.Sessions.TTL())
	if err != nil {
		return err
	}
	return w.Sessions.Issue(c.Writer, u.ID, s.ID, s.ExpiresAt)
}

// home is where a signed-in user lands: their first organisation.
func (w *Console) home(c *gin.Context, u tenants.User) string {
	orgs, err := w.Tenants.ListOrganizations(c.Request.Context(), u.ID)
	if err != nil || len(orgs) == 0 {
		return "/orgs/new"
	}
	return "/orgs/" + orgs[0].Org.Slug
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func formatTimePtr(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return formatTime(*t)
}

// pageURLs returns the first-page and next-page links of a paginated table.
func pageURLs(c *gin.Context, next string) (first, nextURL string) {
	base := c.Request.URL.Path
	if c.Query("cursor") != "" {
		first = base
	}
	if next != "" {
		nextURL = base + "?cursor=" + url.QueryEscape(next)
	}
	return first, nextURL
}

func pageParam(c *gin.Context) tenants.Page {
	return tenants.Page{Cursor: c.Query("cursor"), Limit: 25}
}
