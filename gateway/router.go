package gateway

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// MaxParams is the most {name} parameters one path template may have.
const MaxParams = 8

// WildcardParam is the name under which a final "/*" match is reported.
const WildcardParam = "*"

// Param is one path parameter of a match.
type Param struct {
	Name, Value string
}

// Params are a match's path parameters, held inline so a lookup does not
// allocate. A "/*" match is the last entry, named WildcardParam.
type Params struct {
	n int
	p [MaxParams + 1]Param
}

// Len is the number of parameters.
func (ps *Params) Len() int { return ps.n }

// At returns the i-th parameter, in template order.
func (ps *Params) At(i int) Param { return ps.p[i] }

// Get returns the parameter's value.
func (ps *Params) Get(name string) (string, bool) {
	for i := 0; i < ps.n; i++ {
		if ps.p[i].Name == name {
			return ps.p[i].Value, true
		}
	}
	return "", false
}

// Match is a routed request.
type Match struct {
	API       *APIVersion
	Operation *Operation
	// Stage is the environment the request was routed to.
	Stage string
	// Path is the request path relative to the version, as matched against
	// the operation's template ("/" when empty).
	Path   string
	Params Params
}

// Route error codes, the last segment of the problem type.
const (
	CodeNoRoute          = "no-route"
	CodeGone             = "gone"
	CodeMethodNotAllowed = "method-not-allowed"
	CodeNoOperation      = "no-operation"
	CodeInvalidStage     = "invalid-stage"
)

// RouteError is a request the router could not route, with the HTTP status
// and problem code to answer it with.
type RouteError struct {
	Status int
	Code   string
	Detail string
	// Allow lists the methods the path accepts, for a 405's Allow header.
	Allow string
	// API is the version the request reached, when it reached one.
	API *APIVersion
}

func (e *RouteError) Error() string { return e.Code + ": " + e.Detail }

// Router maps requests to API versions and operations. It is built by
// Compile and read-only afterwards, so any number of goroutines may use it.
type Router struct {
	domain  string // lower case, without leading dot
	custom  map[string]string
	orgs    map[string]map[string]map[string]*versionEntry // org → api → version
	nRoutes int
}

// versionEntry holds a version's deployments, indexed by stage.
type versionEntry struct {
	production, test *deployed
}

type deployed struct {
	api  *APIVersion
	root *node
}

// node is a segment-tree node. Static children beat the parameter child,
// which beats a "/*" ending here; the search backtracks in that order.
type node struct {
	static map[string]*node
	param  *node
	end    *leaf // a template ends at this node
	rest   *leaf // a template ends with "/*" at this node
}

type leaf struct {
	routes []route // sorted by method
	any    *route  // method "*"
	allow  []string
}

type route struct {
	method string
	op     *Operation
	names  []string // parameter names in order; WildcardParam last for "/*"
}

// find returns the route for method: an exact match, then GET for HEAD, then
// a "*" route.
func (l *leaf) find(method string) *route {
	for i := range l.routes {
		if l.routes[i].method == method {
			return &l.routes[i]
		}
	}
	if method == http.MethodHead {
		for i := range l.routes {
			if l.routes[i].method == http.MethodGet {
				return &l.routes[i]
			}
		}
	}
	return l.any
}

// Routes is the number of (version, stage, operation) routes compiled.
func (r *Router) Routes() int { return r.nRoutes }

// LookupRequest routes an HTTP request by its Host, URL path, method and
// X-Portico-Stage header. A path that came with an encoded slash (%2F) is
// routed on its escaped form, segment by segment, so the encoded slash
// stays inside its segment (a parameter's value then holds "/"): decoding
// first would cut the path where the backend, which gets the escaped
// path, does not, and the operation the gateway checked, limited and
// metered would not be the one the backend serves.
func (r *Router) LookupRequest(req *http.Request) (Match, error) {
	return r.lookup(req.Host, req.URL.Path, escapedPath(req), req.Method, field(req.Header, StageHeader))
}

// escapedPath is the request's escaped path for lookup when it differs
// from the decoded one, else "".
func escapedPath(req *http.Request) string {
	if req.URL.RawPath != "" { // set only when the decoded path does not encode back to the one sent
		return req.URL.EscapedPath()
	}
	return ""
}

// Lookup routes a request. host may carry a port; path is the decoded URL
// path; stage is the X-Portico-Stage header value ("" for production). A
// miss is a *RouteError.
func (r *Router) Lookup(host, path, method, stage string) (Match, error) {
	return r.lookup(host, path, "", method, stage)
}

// lookup routes on esc, the escaped path, when it is not empty, else on
// path, the decoded one.
func (r *Router) lookup(host, path, esc, method, stage string) (Match, error) {
	var m Match
	switch {
	case stage == "" || stage == StageProduction:
		m.Stage = StageProduction
	case stage == StageTest:
		m.Stage = StageTest
	case strings.EqualFold(stage, StageProduction):
		m.Stage = StageProduction
	case strings.EqualFold(stage, StageTest):
		m.Stage = StageTest
	default:
		return m, &RouteError{Status: http.StatusBadRequest, Code: CodeInvalidStage,
			Detail: fmt.Sprintf("Unknown stage %q in %s; use production or test.", clip(stage), StageHeader)}
	}
	// A dot segment ("..", or "%2e%2e" decoded) means another path to
	// anything that resolves it (RFC 3986 §5.2.4), as many backends do:
	// /files/../admin would be checked as /files/* and served as /admin,
	// and ../.. would leave the target's base path. No route has one, nor
	// a path that has one to some backends (hasDotSegment).
	if hasDotSegment(path) {
		return m, &RouteError{Status: http.StatusNotFound, Code: CodeNoRoute,
			Detail: "Paths with a \".\" or \"..\" segment are not routed, nor ones that are such a segment to some servers (\"..;\", dots between backslashes, or \".\", \"/\" or \"\\\" encoded twice); send the path it stands for."}
	}
	escaped := esc != ""
	if escaped {
		path = esc
	}
	org, ok, stray := r.hostOrg(host)
	rest := path
	if stray {
		// a.acme.{domain}: no organisation's name, and no name for
		// path-based routing either (that is the bare domain's).
		return m, &RouteError{Status: http.StatusNotFound, Code: CodeNoRoute,
			Detail: "Host names under " + r.domain + " name one organisation: {org}." + r.domain + "."}
	}
	if !ok {
		org, rest, ok = cutSegment(rest, escaped)
		if !ok {
			return m, noRoute(path)
		}
	}
	api, rest, ok := cutSegment(rest, escaped)
	if !ok {
		return m, noRoute(path)
	}
	ver, rest, ok := cutSegment(rest, escaped)
	if !ok {
		return m, noRoute(path)
	}
	ve := r.orgs[org][api][ver]
	if ve == nil {
		return m, noRoute(path)
	}
	d := ve.production
	if m.Stage == StageTest {
		d = ve.test
	}
	if d == nil {
		return m, &RouteError{Status: http.StatusNotFound, Code: CodeNoRoute,
			Detail: fmt.Sprintf("%s/%s/%s is not deployed to %s.", org, api, ver, m.Stage)}
	}
	m.API = d.api
	if d.api.State == StateOffline {
		return m, &RouteError{Status: http.StatusGone, Code: CodeGone, API: d.api,
			Detail: fmt.Sprintf("%s/%s/%s has been taken offline.", org, api, ver)}
	}
	if rest == "/" {
		rest = ""
	}
	var vals [MaxParams + 1]string
	rt, n := d.root.find(rest, method, &vals, 0, nil, escaped)
	switch {
	case rest == "":
		m.Path = "/"
	case escaped:
		// The decoded rest, a suffix of the decoded path (escapes never
		// span a "/"): what the forwarder cuts the escaped path by.
		m.Path = unescapeSegment(rest)
	default:
		m.Path = rest
	}
	if rt != nil {
		m.Operation = rt.op
		m.Params.n = n
		for i := 0; i < n; i++ {
			m.Params.p[i] = Param{Name: rt.names[i], Value: vals[i]}
		}
		return m, nil
	}
	// A miss: collect every leaf the path reaches to build the Allow list.
	var leaves []*leaf
	d.root.find(rest, method, &vals, 0, &leaves, escaped)
	if len(leaves) == 0 {
		return m, &RouteError{Status: http.StatusNotFound, Code: CodeNoOperation, API: d.api,
			Detail: fmt.Sprintf("%s/%s/%s has no operation at %s.", org, api, ver, clip(m.Path))}
	}
	set := map[string]bool{}
	for _, l := range leaves {
		for _, a := range l.allow {
			set[a] = true
		}
	}
	allow := sortedKeys(set)
	return m, &RouteError{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed, API: d.api,
		Allow:  strings.Join(allow, ", "),
		Detail: fmt.Sprintf("%s %s is not allowed; use %s.", clip(method), clip(m.Path), strings.Join(allow, ", "))}
}

// hasDotSegment reports whether the decoded path p has a "." or ".."
// segment, plainly or for some backend: before a ';' (Tomcat and Jetty
// drop path parameters before they resolve dots: /files/..;/admin is
// /admin to them), between backslashes (IIS and some frameworks read '\'
// as '/'), or as a percent-escape of '.', '/' or '\' left after decoding
// (a path encoded twice, for a backend that decodes again). Each is a way
// past the operation the gateway matched, and out of the target's base
// path. A path without '%' or '.' costs two scans and allocates nothing.
func hasDotSegment(p string) bool {
	for i := strings.IndexByte(p, '%'); i >= 0 && i+2 < len(p); {
		if c, d := p[i+1], p[i+2]|0x20; c == '2' && (d == 'e' || d == 'f') || c == '5' && d == 'c' {
			return true
		}
		j := strings.IndexByte(p[i+1:], '%')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	if strings.IndexByte(p, '.') < 0 {
		return false
	}
	for rest := p; rest != ""; {
		var seg string
		if i := strings.IndexAny(rest, "/\\"); i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
		} else {
			seg, rest = rest, ""
		}
		if i := strings.IndexByte(seg, ';'); i >= 0 {
			seg = seg[:i]
		}
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// unescapeSegment decodes an escaped path or segment; it allocates only
// when s holds an escape. An escape that does not decode is kept as sent
// (the URL parser has already refused those).
func unescapeSegment(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

func noRoute(path string) *RouteError {
	return &RouteError{Status: http.StatusNotFound, Code: CodeNoRoute,
		Detail: fmt.Sprintf("No API is published at %s.", clip(path))}
}

// clip bounds echoed request data in error details.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// hostOrg returns the organisation a host name selects, if any. Names
// under the gateway domain are the platform's: the domain itself routes
// by path and {org}.{domain} selects {org}, whatever the custom domains
// say, so that no organisation's custom domain can stand for another's
// host name (the control plane refuses such names, but one added before
// the gateway domain was set or changed would still be in the
// configuration). stray reports a name deeper under the domain
// (a.{org}.{domain}), which selects nothing and must not be routed by path
// either.
func (r *Router) hostOrg(host string) (org string, ok, stray bool) {
	if host == "" || (r.domain == "" && len(r.custom) == 0) {
		return "", false, false
	}
	if strings.HasPrefix(host, "[") {
		return "", false, false // an IP literal selects nothing
	}
	if i := strings.IndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	host = strings.ToLower(strings.TrimSuffix(host, ".")) // no allocation when already lower case
	if d := r.domain; d != "" && strings.HasSuffix(host, d) {
		if len(host) == len(d) {
			return "", false, false
		}
		if host[len(host)-len(d)-1] == '.' {
			label := host[:len(host)-len(d)-1]
			if label != "" && !strings.Contains(label, ".") {
				return label, true, false
			}
			return "", false, true
		}
	}
	if org, ok := r.custom[host]; ok {
		return org, true, false
	}
	return "", false, false
}

// cutSegment splits "/seg/rest" into "seg" and "/rest", decoding seg when
// the path is escaped. It fails on a path not starting with "/" or an
// empty segment.
func cutSegment(p string, escaped bool) (seg, rest string, ok bool) {
	if len(p) < 2 || p[0] != '/' {
		return "", "", false
	}
	p = p[1:]
	if i := strings.IndexByte(p, '/'); i >= 0 {
		seg, rest = p[:i], p[i:]
	} else {
		seg = p
	}
	if escaped {
		seg = unescapeSegment(seg)
	}
	return seg, rest, seg != ""
}

// find searches the tree in precedence order for a route accepting method.
// path is "" or starts with "/"; escaped says its segments are still
// percent-encoded, each to be decoded on its own. With all non-nil it
// instead appends every leaf the path reaches and returns nil.
func (n *node) find(path, method string, vals *[MaxParams + 1]string, nv int, all *[]*leaf, escaped bool) (*route, int) {
	if path == "" {
		if n.end != nil {
			if all != nil {
				*all = append(*all, n.end)
			} else if rt := n.end.find(method); rt != nil {
				return rt, nv
			}
		}
		if n.rest != nil {
			if all != nil {
				*all = append(*all, n.rest)
			} else if rt := n.rest.find(method); rt != nil {
				vals[nv] = ""
				return rt, nv + 1
			}
		}
		return nil, 0
	}
	p := path[1:]
	seg, tail := p, ""
	if i := strings.IndexByte(p, '/'); i >= 0 {
		seg, tail = p[:i], p[i:]
	}
	if escaped {
		seg = unescapeSegment(seg)
	}
	if c := n.static[seg]; c != nil {
		if rt, k := c.find(tail, method, vals, nv, all, escaped); rt != nil {
			return rt, k
		}
	}
	if n.param != nil && seg != "" && nv < MaxParams {
		vals[nv] = seg
		if rt, k := n.param.find(tail, method, vals, nv+1, all, escaped); rt != nil {
			return rt, k
		}
	}
	if n.rest != nil {
		if all != nil {
			*all = append(*all, n.rest)
		} else if rt := n.rest.find(method); rt != nil {
			if escaped {
				p = unescapeSegment(p)
			}
			vals[nv] = p
			return rt, nv + 1
		}
	}
	return nil, 0
}

// router builds the routing tables, recording problems in c.
func (c *compiler) router(cfg *Config) *Router {
	r := &Router{
		domain: strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(cfg.Domain, "."), ".")),
		custom: make(map[string]string, len(cfg.CustomDomains)),
		orgs:   map[string]map[string]map[string]*versionEntry{},
	}
	if r.domain != "" && (strings.ContainsAny(r.domain, "/:[] ") || !strings.Contains(r.domain, ".") && r.domain != "localhost") {
		c.errorf("domain %q is not a host name", cfg.Domain)
	}
	for _, h := range sortedKeys(cfg.CustomDomains) {
		org := cfg.CustomDomains[h]
		lh := strings.ToLower(strings.TrimSuffix(h, "."))
		if lh == "" || strings.ContainsAny(lh, "/:[] ") {
			c.errorf("custom domain %q is not a host name", h)
			continue
		}
		if !validSlug(org) {
			c.errorf("custom domain %s: bad organisation slug %q", h, org)
			continue
		}
		if prev, dup := r.custom[lh]; dup && prev != org {
			c.errorf("custom domain %s is mapped to both %s and %s", lh, prev, org)
		}
		r.custom[lh] = org
	}
	for i := range cfg.APIs {
		v := &cfg.APIs[i]
		at := fmt.Sprintf("api %s/%s/%s (%s)", v.OrgSlug, v.APISlug, v.Version, v.Stage)
		if !validSlug(v.OrgSlug) || !validSlug(v.APISlug) || !validSlug(v.Version) {
			c.errorf("%s: organisation, api and version must be non-empty path segments", at)
			continue
		}
		if v.Stage != StageProduction && v.Stage != StageTest {
			c.errorf("%s: unknown stage %q; use production or test", at, v.Stage)
			continue
		}
		c.validateVersion(at, v)
		apis := r.orgs[v.OrgSlug]
		if apis == nil {
			apis = map[string]map[string]*versionEntry{}
			r.orgs[v.OrgSlug] = apis
		}
		vers := apis[v.APISlug]
		if vers == nil {
			vers = map[string]*versionEntry{}
			apis[v.APISlug] = vers
		}
		ve := vers[v.Version]
		if ve == nil {
			ve = &versionEntry{}
			vers[v.Version] = ve
		}
		slot := &ve.production
		if v.Stage == StageTest {
			slot = &ve.test
		}
		if *slot != nil {
			c.errorf("%s: deployed twice", at)
			continue
		}
		d := &deployed{api: v, root: &node{}}
		*slot = d
		if v.State == StateOffline {
			continue
		}
		for j := range v.Operations {
			op := &v.Operations[j]
			if err := d.root.add(op); err != nil {
				c.errorf("%s: operation %s %s: %v", at, op.Method, op.Path, err)
				continue
			}
			r.nRoutes++
		}
		d.root.finish()
	}
	return r
}

// CheckOperations applies the router's rules to one version's operations
// (their methods and path templates only), as Compile does: a template it
// cannot parse, or two operations on one method and route — /pets/{id}
// and /pets/{name} are one route — is an error naming the operation. The
// catalog calls it before a deployment, so that a revision the gateway
// could not serve is refused there, with the reason, rather than left out
// of the gateway's configuration.
func CheckOperations(ops []Operation) error {
	root := &node{}
	for i := range ops {
		if err := root.add(&ops[i]); err != nil {
			return fmt.Errorf("%s %s: %v", ops[i].Method, ops[i].Path, err)
		}
	}
	return nil
}

// add inserts an operation's template into the tree.
func (n *node) add(op *Operation) error {
	method := op.Method
	if method != "*" && (method == "" || strings.ToUpper(method) != method || strings.ContainsAny(method, " \t/()<>@,;:\\\"[]?={}")) {
		return fmt.Errorf("method %q must be an upper-case HTTP method or \"*\"", method)
	}
	p := op.Path
	if p == "" || p[0] != '/' {
		return fmt.Errorf("path template must start with \"/\"")
	}
	var names []string
	cur := n
	wild := false
	if p != "/" {
		segs := strings.Split(p[1:], "/")
		for i, s := range segs {
			switch {
			case s == "":
				return fmt.Errorf("empty segment %d in path template", i+1)
			case hasDotSegment("/" + s):
				return fmt.Errorf("segment %d is %q, which no request reaches (the gateway refuses dot segments, also as \"..;\", with backslashes or encoded twice)", i+1, s)
			case s == "*":
				if i != len(segs)-1 {
					return fmt.Errorf("\"*\" is only allowed as the last segment")
				}
				wild = true
			case s[0] == '{' && s[len(s)-1] == '}':
				name := s[1 : len(s)-1]
				if name == "" || strings.ContainsAny(name, "{}*") {
					return fmt.Errorf("bad parameter %q", s)
				}
				for _, prev := range names {
					if prev == name {
						return fmt.Errorf("parameter {%s} appears twice", name)
					}
				}
				if len(names) == MaxParams {
					return fmt.Errorf("more than %d parameters", MaxParams)
				}
				names = append(names, name)
				if cur.param == nil {
					cur.param = &node{}
				}
				cur = cur.param
			case strings.ContainsAny(s, "{}*"):
				return fmt.Errorf("segment %q mixes text with a parameter or \"*\"; a parameter must fill a whole segment", s)
			default:
				if cur.static == nil {
					cur.static = map[string]*node{}
				}
				c := cur.static[s]
				if c == nil {
					c = &node{}
					cur.static[s] = c
				}
				cur = c
			}
		}
	}
	lp := &cur.end
	if wild {
		names = append(names, WildcardParam)
		lp = &cur.rest
	}
	if *lp == nil {
		*lp = &leaf{}
	}
	l := *lp
	if method == "*" {
		if l.any != nil {
			return fmt.Errorf("duplicates operation %s %s", l.any.method, l.any.op.Path)
		}
		l.any = &route{method: method, op: op, names: names}
		return nil
	}
	for _, rt := range l.routes {
		if rt.method == method {
			return fmt.Errorf("duplicates operation %s %s", rt.method, rt.op.Path)
		}
	}
	l.routes = append(l.routes, route{method: method, op: op, names: names})
	return nil
}

// finish sorts each leaf's routes and precomputes its Allow list.
func (n *node) finish() {
	for _, l := range []*leaf{n.end, n.rest} {
		if l == nil {
			continue
		}
		sort.Slice(l.routes, func(i, j int) bool { return l.routes[i].method < l.routes[j].method })
		get, head := false, false
		for _, rt := range l.routes {
			l.allow = append(l.allow, rt.method)
			get = get || rt.method == http.MethodGet
			head = head || rt.method == http.MethodHead
		}
		if get && !head {
			l.allow = append(l.allow, http.MethodHead)
		}
		sort.Strings(l.allow)
	}
	for _, c := range n.static {
		c.finish()
	}
	if n.param != nil {
		n.param.finish()
	}
}
