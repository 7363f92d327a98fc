package gateway

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/portico-dev/portico/gateway/origin"
	"github.com/portico-dev/portico/gateway/sigv4"
)

// CORS (the Fetch standard's cross-origin protocol) lets web apps on the
// origins a provider lists call its API version from a browser. The
// gateway answers preflights itself, before authentication (a preflight
// never carries credentials), and marks every other answer to an allowed
// origin — the backend's and the gateway's own refusals alike — so that
// the app can read it. Credentials mode is never allowed: calls
// authenticate with headers, not cookies.

// TypeCORSOriginNotAllowed is the problem code of a preflight from an
// origin the version does not list.
const TypeCORSOriginNotAllowed = "cors-origin-not-allowed"

// corsAllowHeaders is what a preflight allows when the caller names no
// request headers (or names one that is not a token): every header a
// Portico client sends.
const corsAllowHeaders = "Authorization, Content-Type, X-Amz-Date, X-Amz-Content-Sha256, X-Amz-Security-Token, " +
	sigv4.NonceHeader + ", " + AppCodeHeader + ", " + StageHeader

// corsExposeHeaders are the answer's headers a web app may read besides
// the CORS-safelisted ones.
const corsExposeHeaders = "RateLimit, RateLimit-Policy, Retry-After, " + RequestIDHeader + ", Deprecation, Sunset"

// Header values shared by every answer. Each slice's capacity is its
// length, so a later Add to the same field (say, the backend's Vary)
// copies rather than writes into it.
var (
	corsVaryOrigin   = []string{"Origin"}
	corsAnyOrigin    = []string{"*"}
	corsExposeValue  = []string{corsExposeHeaders}
	corsAllowHdValue = []string{corsAllowHeaders}
)

// corsPolicy is a version's CORS settings compiled for the request path.
type corsPolicy struct {
	any bool
	// origins maps each allowed origin to its Access-Control-Allow-Origin
	// value.
	origins map[string][]string
	maxAge  []string
}

// compileCORS validates a version's CORS settings and builds its policy;
// nil when the version lists no origin.
func compileCORS(s *Settings) (*corsPolicy, error) {
	if err := origin.CheckMaxAge(s.CORSMaxAge); err != nil {
		return nil, fmt.Errorf("cors max age %d: %v", s.CORSMaxAge, err)
	}
	if len(s.CORSOrigins) == 0 {
		return nil, nil
	}
	list, err := origin.List(s.CORSOrigins)
	switch {
	case err != nil:
		return nil, fmt.Errorf("cors origins: %v", err)
	case !slices.Equal(list, s.CORSOrigins):
		return nil, fmt.Errorf("cors origins %q are not in normal form (%q)", s.CORSOrigins, list)
	}
	p := &corsPolicy{maxAge: []string{strconv.Itoa(s.CORSMaxAge)}, any: list[0] == "*"}
	if !p.any {
		p.origins = make(map[string][]string, len(list))
		for _, n := range list {
			p.origins[n] = []string{n}
		}
	}
	return p, nil
}

// allowOrigin returns the Access-Control-Allow-Origin value for the
// request's Origin header values, or nil when the origin is not allowed.
func (p *corsPolicy) allowOrigin(origin []string) []string {
	if len(origin) != 1 {
		return nil // none, or a header repeated: not a browser's
	}
	if p.any {
		return corsAnyOrigin
	}
	return p.origins[origin[0]]
}

// setCORS marks the answer h to a request with header req for an allowed
// origin: the app may read it and the headers it names. It adds nothing
// for a version without CORS (and reads no request header then). On a
// version that lists origins every answer carries Vary: Origin, with an
// Origin or without, allowed or not: the answers differ by Origin, and a
// shared cache that stored one without the field could hand a page an
// answer made for no origin, or for another.
func setCORS(h http.Header, api *APIVersion, req http.Header) {
	if api == nil || api.cors == nil {
		return
	}
	if allow := api.cors.vary(h, req["Origin"]); allow != nil {
		h["Access-Control-Allow-Origin"] = allow
		h["Access-Control-Expose-Headers"] = corsExposeValue
	}
}

// vary marks an answer of the version as one that depends on Origin
// (unless every origin gets the same) and returns the answer's
// Access-Control-Allow-Origin for the request's Origin values, or nil.
func (p *corsPolicy) vary(h http.Header, origin []string) []string {
	if !p.any {
		h["Vary"] = corsVaryOrigin
	}
	return p.allowOrigin(origin)
}

// stripCORS removes the CORS fields a backend sent: on a version with
// CORS settings the gateway's own stand.
func stripCORS(h http.Header) {
	for k := range h {
		if len(k) > len("Access-Control-") && strings.EqualFold(k[:len("Access-Control-")], "Access-Control-") {
			delete(h, k)
		}
	}
}

// isPreflight reports whether r is a CORS preflight request.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && len(r.Header["Origin"]) != 0 && len(r.Header["Access-Control-Request-Method"]) != 0
}

// servePreflight answers a CORS preflight for a version with CORS
// settings, before authentication (a preflight carries no credentials),
// without the backend and without metering. It reports false, having
// written nothing, when the request is not its to answer: the path reaches
// no version with CORS settings or no operation of one, and the ordinary
// path then answers it as any OPTIONS request.
func (h *Handler) servePreflight(w http.ResponseWriter, r *http.Request, snap *Snapshot, addr netip.Addr, id string) bool {
	api, allow, ok := snap.Router().preflight(r)
	if !ok || api.cors == nil {
		return false
	}
	if mw, ok := w.(*meteredWriter); ok {
		mw.route = api
	}
	if !api.ips.Empty() && !api.ips.Admits(addr) {
		h.problem(w, http.StatusForbidden, "ip-denied", "Your address may not call "+api.OrgSlug+"/"+api.APISlug+".", id, nil)
		return true
	}
	hd := w.Header()
	origin := api.cors.vary(hd, r.Header["Origin"])
	if origin == nil {
		h.problem(w, http.StatusForbidden, TypeCORSOriginNotAllowed,
			"This API version does not accept calls from web pages on this origin; its provider lists the origins it accepts.", id, nil)
		return true
	}
	hd["Access-Control-Allow-Origin"] = origin
	if allow == "*" {
		// An operation takes any method: allow the one asked for.
		allow = r.Header.Get("Access-Control-Request-Method")
		if !httpguts.ValidHeaderFieldName(allow) {
			allow = "*"
		}
	}
	hd.Set("Access-Control-Allow-Methods", allow)
	if asked := r.Header.Values("Access-Control-Request-Headers"); len(asked) > 0 && tokenList(asked) {
		hd.Set("Access-Control-Allow-Headers", strings.Join(asked, ", "))
	} else {
		hd["Access-Control-Allow-Headers"] = corsAllowHdValue
	}
	hd["Access-Control-Max-Age"] = api.cors.maxAge
	setDeprecation(hd, api)
	w.WriteHeader(http.StatusNoContent)
	return true
}

// tokenList reports whether every comma-separated element of the values
// is an HTTP token (a header name), and there is at least one.
func tokenList(vals []string) bool {
	n := 0
	for _, v := range vals {
		for _, e := range strings.Split(v, ",") {
			e = strings.TrimSpace(e)
			if e == "" {
				continue
			}
			if !httpguts.ValidHeaderFieldName(e) {
				return false
			}
			n++
		}
	}
	return n > 0
}

// preflight routes a preflight request to its version, whatever its method,
// and returns the methods the path's operations accept ("*" when one takes
// any), as a 405's Allow header lists them. A preflight carries no
// X-Portico-Stage (a browser names it in Access-Control-Request-Headers,
// without its value): it is routed to production, or to test when the
// version is deployed there only.
func (rt *Router) preflight(r *http.Request) (*APIVersion, string, bool) {
	esc := escapedPath(r)
	stage := r.Header.Get(StageHeader)
	// No method is named "": the lookup finds only an operation taking
	// any method, or fails with the path's Allow list.
	m, err := rt.lookup(r.Host, r.URL.Path, esc, "", stage)
	if re, ok := err.(*RouteError); ok && re.Code == CodeNoRoute && m.API == nil && stage == "" {
		m, err = rt.lookup(r.Host, r.URL.Path, esc, "", StageTest)
	}
	if err == nil {
		return m.API, "*", true
	}
	re, ok := err.(*RouteError)
	if !ok || re.API == nil || re.Code != CodeMethodNotAllowed {
		return nil, "", false
	}
	return re.API, re.Allow, true
}
