package portal

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/gateway/sigv4"
	"github.com/portico-dev/portico/portal/api"
	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/portal/domains"
	"github.com/portico-dev/portico/portal/httpx"
	"github.com/portico-dev/portico/portal/mail"
	"github.com/portico-dev/portico/portal/market"
	"github.com/portico-dev/portico/portal/session"
	"github.com/portico-dev/portico/portal/throttle"
	"github.com/portico-dev/portico/portal/web"
	"github.com/portico-dev/portico/static"
	"github.com/portico-dev/portico/tenants"
	"github.com/portico-dev/portico/tenants/keyring"
)

// Config configures the portal.
type Config struct {
	// BaseURL is the console's external URL (links in emails; https:// makes
	// cookies Secure and turns on HSTS).
	BaseURL string
	// SessionTTL is how long a console login lasts.
	SessionTTL time.Duration
	// TrustedProxies are the proxy addresses (CIDRs) whose X-Forwarded-For is
	// believed when finding the client IP. Empty trusts none.
	TrustedProxies []string
	// MaxBodyBytes caps request bodies (413 beyond).
	MaxBodyBytes int64
	// OperatorToken unlocks the operator pages; "" disables them.
	OperatorToken string
	// TokenTTL is the default lifetime of API tokens issued with a password.
	TokenTTL time.Duration
	// Region names the region in AK/SK credential scopes (default "local").
	Region string
	// GatewayURL is the gateway's external URL, for examples shown to
	// partners.
	GatewayURL string
	// DemoEcho serves the demo's echo backend at /_demo/echo/ (portico
	// serve --demo only).
	DemoEcho bool
	// AllowPrivateUpstreams lets the console's "Test connection" reach
	// private, loopback and link-local addresses. Set it exactly when the
	// catalog's UpstreamGuard allows private upstreams.
	AllowPrivateUpstreams bool
}

// Pinger checks the database.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are the portal's collaborators, wired in cmd.
type Deps struct {
	Tenants *tenants.Service
	Catalog *catalog.Service
	Plans   *billing.Service
	Market  *market.Service
	// Domains manages providers' custom domains; nil hides them.
	Domains *domains.Service
	// Nonces remembers X-Portico-Nonce values of signed management requests
	// (shared through Redis on several nodes); nil keeps them in memory.
	Nonces  sigv4.NonceStore
	DB      Pinger
	Keyring *keyring.Keyring
	Outbox  *mail.Outbox // nil when SMTP is configured
	Logger  *slog.Logger
}

// Server is the portal's HTTP handler and the routes it serves.
type Server struct {
	http.Handler
	// Routes lists every method and path pattern (":param" style), for
	// tests that walk them all.
	Routes []Route
}

// Route is one registered method and path pattern.
type Route struct {
	Method, Path string
}

// New returns the portal's HTTP handler.
func New(cfg Config, d Deps) (*Server, error) {
	if _, _, err := api.Document(); err != nil {
		return nil, err
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 7 * 24 * time.Hour
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 90 * 24 * time.Hour
	}
	secure := strings.HasPrefix(cfg.BaseURL, "https://")
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = false
	r.RedirectTrailingSlash = true
	if err := r.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	if len(cfg.TrustedProxies) == 0 {
		r.ForwardedByClientIP = false
	}

	ipLogin := throttle.New(3*time.Second, 20)    // 20 at once, then one per 3 s per IP
	acctLogin := throttle.New(30*time.Second, 10) // 10 at once, then one per 30 s per account
	signup := throttle.New(time.Minute, 10)       // 10 sign-ups, then one a minute per IP
	reset := throttle.New(20*time.Second, 5)      // password-reset emails per IP

	r.GET("/healthz", func(c *gin.Context) { httpx.WriteJSON(c.Writer, http.StatusOK, gin.H{"status": "ok"}, "") })
	r.GET("/readyz", func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		if err := d.DB.Ping(ctx); err != nil {
			d.Logger.WarnContext(ctx, "readiness check failed", "err", err)
			httpx.WriteJSON(c.Writer, http.StatusServiceUnavailable, gin.H{"status": "unavailable", "database": "unreachable"}, "")
			return
		}
		httpx.WriteJSON(c.Writer, http.StatusOK, gin.H{"status": "ok", "database": "ok"}, "")
	})
	r.GET("/static/*path", serveStatic)
	if cfg.DemoEcho {
		r.Any("/_demo/echo/*path", echo)
	}

	verifier, err := api.NewSigV4Verifier(d.Tenants, cfg.Region, d.Nonces)
	if err != nil {
		return nil, fmt.Errorf("sigv4 verifier: %w", err)
	}
	apiSrv := api.Register(r, api.Deps{
		SigV4:   verifier,
		Tenants: d.Tenants, Catalog: d.Catalog, Plans: d.Plans, Market: d.Market, Domains: d.Domains, Logger: d.Logger, LoginIPThrottle: ipLogin, LoginAccountThrottle: acctLogin,
		SignupThrottle: signup, TokenTTL: cfg.TokenTTL,
		AppDeleted: func(ctx context.Context, orgID, appID string, a tenants.Actor) error {
			if d.Plans == nil {
				return nil
			}
			_, err := d.Plans.CancelForApp(ctx, orgID, appID, a)
			return err
		},
	})
	wd := web.Deps{
		Tenants: d.Tenants,
		Catalog: d.Catalog,
		Market:  d.Market,
		Plans:   d.Plans,
		Domains: d.Domains,
		Region:  cfg.Region, GatewayURL: cfg.GatewayURL,
		Sessions: session.NewManager(session.CookieName, d.Keyring.Derive("console session"), secure, cfg.SessionTTL, d.Keyring.DeriveAll("console session")[1:]...),
		Outbox:   d.Outbox, Logger: d.Logger, CSRFKey: d.Keyring.Derive("csrf"), Secure: secure,
		LoginIPThrottle: ipLogin, LoginAccountThrottle: acctLogin, SignupThrottle: signup, ResetThrottle: reset,
		AllowPrivateUpstreams: cfg.AllowPrivateUpstreams,
	}
	if cfg.OperatorToken != "" {
		wd.Operator = session.NewManager("portico_operator", d.Keyring.Derive("operator session"), secure, 12*time.Hour, d.Keyring.DeriveAll("operator session")[1:]...)
		wd.OperatorToken = cfg.OperatorToken
	}
	console := web.Register(r, wd)
	r.NoRoute(func(c *gin.Context) {
		if strings.HasPrefix(c.Request.URL.Path, "/api/") {
			apiSrv.NotFound(c)
			return
		}
		console.NotFound(c)
	})

	var h http.Handler = r
	h = httpx.LimitBody(cfg.MaxBodyBytes)(h)
	h = httpx.SecurityHeaders(secure)(h)
	h = httpx.AccessLog(d.Logger)(h)
	h = httpx.WithRequestID(h)
	srv := &Server{Handler: h}
	for _, ri := range r.Routes() {
		srv.Routes = append(srv.Routes, Route{Method: ri.Method, Path: ri.Path})
	}
	return srv, nil
}

// echo is the demo's backend: it answers with the request it received,
// as JSON, so a caller sees exactly what the gateway forwarded.
func echo(c *gin.Context) {
	body, _ := io.ReadAll(io.LimitReader(c.Request.Body, 1<<20))
	headers := map[string]string{}
	for k, v := range c.Request.Header {
		headers[k] = strings.Join(v, ", ")
	}
	httpx.WriteJSON(c.Writer, http.StatusOK, gin.H{
		"method": c.Request.Method, "path": strings.TrimPrefix(c.Request.URL.EscapedPath(), "/_demo/echo"),
		"query": c.Request.URL.RawQuery, "headers": headers, "body": string(body),
	}, "")
}

// serveStatic serves embedded assets; versioned URLs (?v=hash) are cached
// for a year, others briefly.
func serveStatic(c *gin.Context) {
	path := strings.TrimPrefix(c.Param("path"), "/")
	b, err := static.FS.ReadFile(path)
	if err != nil || strings.Contains(path, "..") {
		httpx.WriteProblem(c.Writer, c.Request, slog.Default(), tenants.Errorf(tenants.ENotFound, "No such asset."))
		return
	}
	if c.Query("v") != "" {
		c.Header("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		c.Header("Cache-Control", "public, max-age=300")
	}
	ct := "application/octet-stream"
	switch {
	case strings.HasSuffix(path, ".css"):
		ct = "text/css; charset=utf-8"
	case strings.HasSuffix(path, ".js"):
		ct = "text/javascript; charset=utf-8"
	case strings.HasSuffix(path, ".svg"):
		ct = "image/svg+xml"
	case strings.HasSuffix(path, ".png"):
		ct = "image/png"
	case strings.HasSuffix(path, ".ico"):
		ct = "image/x-icon"
	}
	c.Data(http.StatusOK, ct, b)
}
