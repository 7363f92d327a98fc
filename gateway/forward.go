package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/portico-dev/portico/gateway/backendsig"
)

// gatewayOnly reports whether a (canonical) request header never reaches
// the backend as the partner sent it: the partner's credentials
// (Authorization, X-Amz-*, the nonce and app code), and the headers only the
// gateway sets (a partner's own X-Portico-Consumer and the like would let it
// pose as another consumer to a backend).
func gatewayOnly(name string) bool {
	switch name {
	case "Authorization", "X-Portico-Nonce", AppCodeHeader,
		backendsig.HeaderRequestID, backendsig.HeaderConsumer, backendsig.HeaderApp,
		backendsig.HeaderPlan, backendsig.HeaderTimestamp, backendsig.HeaderSignature:
		return true
	}
	return len(name) > 6 && strings.EqualFold(name[:6], "x-amz-")
}

// errNoHealthyUpstream: every target of the upstream is down or its
// breaker open.
var errNoHealthyUpstream = errors.New("no healthy upstream target")

// fwdKey finds a request's fwdCall in the context the proxy passes on.
type fwdKey struct{}

// fwdCall is one forwarded request. It is also the context the proxy and
// the transport see, so Rewrite and RoundTrip find it without a context
// value of its own (one allocation for both).
type fwdCall struct {
	context.Context
	in   *http.Request
	mw   *meteredWriter
	pool *pool
	api  *APIVersion
	// consumer, app and plan name the caller to the backend.
	consumer, app, plan string
	id                  string
	bodyHash            string
	rel                 string
	idempotent          bool
	// deadline ends the call. h1Transport sets it on the connection, so a
	// call it carries needs no timer context (forward makes one only for
	// the other transports).
	deadline time.Time
	// signedAt is the backend signature's timestamp.
	signedAt time.Time
	// handshake ends an upgrade's call at its deadline unless the
	// upstream has switched protocols by then.
	handshake *time.Timer
	// tried marks the pool's targets already used; target is the last.
	tried  uint32
	target *targetState
	// hdr and sig back the values of the headers rewrite and the first
	// attempt's aim set, saving one allocation per header.
	hdr [4]string
	sig backendsig.Values
	// held is the outbound request whose backend-signature headers are
	// heldVals, not yet in its header map: h1Transport writes them
	// straight into the request head (six map entries fewer, and a map
	// that stays small); any other transport gets them set (setHeld).
	held     *http.Request
	heldVals *backendsig.Values
	// header is the inbound request's header map when forward handed it
	// over: rewrite makes it the outbound request's (handOver).
	header http.Header
}

// heldFor returns the call whose backend-signature headers are held for
// req, outside its header map, or nil.
func heldFor(req *http.Request) *fwdCall {
	if call, _ := req.Context().Value(fwdKey{}).(*fwdCall); call != nil && call.held == req {
		return call
	}
	return nil
}

// heldSignature returns the backend-signature header values held for req,
// or nil.
func heldSignature(req *http.Request) *backendsig.Values {
	if call := heldFor(req); call != nil {
		return call.heldVals
	}
	return nil
}

// setHeldSignature moves the backend-signature headers held for req into
// its header map, for a transport that writes only the map.
func setHeldSignature(req *http.Request) {
	if call := heldFor(req); call != nil {
		call.heldVals.Set(req.Header)
		call.held, call.heldVals = nil, nil
	}
}

// Value implements context.Context.
func (c *fwdCall) Value(k any) any {
	if _, ok := k.(fwdKey); ok {
		return c
	}
	return c.Context.Value(k)
}

// idempotent reports whether a request may be sent twice: the idempotent
// methods of RFC 9110, or any request that carries an Idempotency-Key.
func idempotent(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	return r.Header.Get("Idempotency-Key") != ""
}

// forward sends the call to the API's upstream; now is when it arrived
// (the backend signature's timestamp).
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, m Match, key *Key, sub *Subscription, id, bodyHash string, now time.Time) {
	api := m.API
	p := h.ups.poolFor(api)
	if p == nil || len(p.targets) == 0 {
		h.problem(w, http.StatusBadGateway, "no-upstream", "The API has no upstream target.", id, nil)
		return
	}
	timeout := api.Upstream.Timeout
	if m.Operation.Timeout > 0 {
		timeout = m.Operation.Timeout
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	mw, _ := w.(*meteredWriter)
	call := &fwdCall{Context: r.Context(), in: r, mw: mw, pool: p, api: api, consumer: key.OrgID, app: key.AppID, plan: sub.PlanID,
		id: id, bodyHash: bodyHash, rel: relativeEscapedPath(r, m.Path), idempotent: idempotent(r), deadline: time.Now().Add(timeout), signedAt: now}
	switch {
	case len(r.Header["Upgrade"]) != 0: // as h1Carries tells an upgrade
		// An upgrade's timeout bounds its handshake, not the tunnel
		// that follows (a WebSocket lives as long as its two ends want):
		// the timer stops when the upstream switches protocols.
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		call.Context = ctx
		call.handshake = time.AfterFunc(time.Until(call.deadline), cancel)
		defer call.handshake.Stop()
	case !p.plain || !h.h1 || !h1Carries(r):
		// Other transports end the call through its context.
		ctx, cancel := context.WithDeadline(r.Context(), call.deadline)
		defer cancel()
		call.Context = ctx
	}
	defer func() {
		// The proxy aborts with ErrAbortHandler when the answer broke off
		// after its headers went out: the client sees a truncated
		// response. Note it for the usage event and the log, count it and
		// blame the target unless the client left, and let the server
		// close the connection.
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				reason := "client-gone"
				if r.Context().Err() == nil {
					kind := "truncated"
					reason = "upstream-truncated"
					if call.expired() {
						kind, reason = "timeout", "upstream-timeout"
					}
					h.countUpstream(mw, kind)
					if call.target != nil {
						// Its head was a success, which closed the breaker
						// if this was the probe: an ordinary failure now.
						call.target.failed(h.ups, 0)
						h.log.WarnContext(r.Context(), "upstream answer broke off", "request_id", id, "target", call.target.url, "kind", kind)
					}
				}
				if mw != nil {
					mw.brokeOff(reason)
				}
			}
			panic(v)
		}
	}()
	if rc, ok := r.Context().(*reqCtx); ok && call.Context == context.Context(rc) {
		// The request's own context carries the call: no copy of the
		// request for a context of its own.
		rc.call.Store(call)
		defer rc.call.Store(nil)
		if hd := handOver(rc, r); hd != nil {
			r.Header, call.header = nil, hd
			h.proxy.ServeHTTP(w, r)
			r.Header = hd
			return
		}
		h.proxy.ServeHTTP(w, r)
		return
	}
	h.proxy.ServeHTTP(w, r.WithContext(call))
}

// newProxy builds the ReverseProxy: Rewrite prepares what is the same for
// every attempt, the upstream transport picks targets, signs and retries.
func (h *Handler) newProxy(inner http.RoundTripper) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:        h.rewrite,
		ModifyResponse: takeHeader,
		Transport:      &upstreamTransport{h: h, inner: inner},
		ErrorHandler:   h.upstreamError,
		BufferPool:     &bufferPool{},
		// The proxy's own lines (a body copy that broke off) go to the
		// gateway's log, at debug: forward logs the same event as a
		// warning with the request id and target.
		ErrorLog: slog.NewLogLogger(h.log.Handler(), slog.LevelDebug),
	}
}

// takeHeader hands the upstream's answer fields to the client's answer
// whole: the proxy would copy them one value at a time (a
// canonicalisation and a new slice per field, though both sides key by
// canonical names), then parse the answer's Content-Type to decide how
// to flush. The proxy has already removed the hop-by-hop fields; what it
// finds left it copies as before. A Content-Type naming an event stream
// stays for the proxy to see (it flushes every event at once).
func takeHeader(res *http.Response) error {
	if res.StatusCode == http.StatusSwitchingProtocols || res.Request == nil {
		return nil
	}
	call, _ := res.Request.Context().Value(fwdKey{}).(*fwdCall)
	if call == nil || call.mw == nil {
		return nil
	}
	moveHeader(call.mw.Header(), res.Header)
	return nil
}

// moveHeader moves src's fields into dst, after any values dst already
// has for them (the proxy's order: the gateway's own first), leaving src
// with only an event stream's Content-Type. The value slices move too, so
// nothing may write to src's afterwards: an answer's header is parsed
// afresh for each call.
func moveHeader(dst, src http.Header) {
	for k, vv := range src {
		if k == "Content-Type" && len(vv) > 0 && eventStream(vv[0]) {
			continue
		}
		if cur, ok := dst[k]; ok {
			dst[k] = append(cur[:len(cur):len(cur)], vv...) // cur may be shared: never append into it
		} else {
			dst[k] = vv
		}
		delete(src, k)
	}
}

// eventStream reports whether a Content-Type value's media type is
// text/event-stream, as the proxy's mime.ParseMediaType check would find
// (or more loosely: it only decides what the proxy gets to check).
func eventStream(ct string) bool {
	base, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(base), "text/event-stream")
}

// expired reports whether the call ran out of time.
func (c *fwdCall) expired() bool { return c.Context.Err() != nil || !time.Now().Before(c.deadline) }

// facts are what the backend signature binds besides the request.
func (c *fwdCall) facts() backendsig.Facts {
	return backendsig.Facts{Consumer: c.consumer, App: c.app, Plan: c.plan, RequestID: c.id, BodySHA256: c.bodyHash, Timestamp: c.signedAt}
}

// handOver returns the header map of r, a request the gateway's own
// server parsed, when the proxy may send it on as it is rather than copy
// it: the proxy clones the inbound request's map (a map, a slice for the
// values, an insertion per field), removes the hop-by-hop fields from the
// copy, and calls Rewrite, where the gateway deletes the partner's
// credentials and sets its own fields — on every call, about a
// microsecond, for a map nothing reads once the call is forwarded. The
// parser says whether the map holds any field the proxy would have
// removed; keep-alive's two are removed here, and a map with any other
// (or one a middleware replaced) takes the proxy's way. forward then
// hides the map from the proxy's clone (the request's Header is nil while
// the proxy runs) and rewrite installs it in the outbound request, and
// back in the inbound one, which from then on shows what the backend is
// sent.
func handOver(rc *reqCtx, r *http.Request) http.Header {
	hd := rc.header
	if hd == nil || reflect.ValueOf(hd).UnsafePointer() != reflect.ValueOf(r.Header).UnsafePointer() {
		return nil
	}
	if rc.keepAlive {
		delete(hd, "Connection")
		delete(hd, "Keep-Alive")
	}
	return hd
}

// rewrite turns the proxy's copy of the request's headers into those the
// backend receives: the partner's credentials and the headers only the
// gateway may set go; the forwarding, trace and request-id headers come in
// (aim adds the backend signature per target). The proxy has already
// removed hop-by-hop and X-Forwarded-* headers.
func (h *Handler) rewrite(pr *httputil.ProxyRequest) {
	call, _ := pr.Out.Context().Value(fwdKey{}).(*fwdCall)
	if call == nil {
		return
	}
	if call.header != nil {
		// The proxy's copy is empty: the inbound map was handed over.
		pr.Out.Header, pr.In.Header = call.header, call.header
	}
	hd := pr.Out.Header
	for name := range hd {
		if gatewayOnly(name) {
			delete(hd, name)
		}
	}
	// X-Forwarded-For appends the client's address to what earlier
	// proxies said (the backend decides how far to trust it); Host and
	// Proto say what the client asked for.
	in := pr.In
	xff := clientIP(in)
	if prior := in.Header["X-Forwarded-For"]; len(prior) > 0 {
		xff = strings.Join(prior, ", ") + ", " + xff
	}
	proto := "http"
	if in.TLS != nil {
		proto = "https"
	}
	v := &call.hdr
	v[0], v[1], v[2], v[3] = xff, in.Host, proto, traceparent(hd)
	hd["X-Forwarded-For"] = v[0:1:1]
	hd["X-Forwarded-Host"] = v[1:2:2]
	hd["X-Forwarded-Proto"] = v[2:3:3]
	hd["Traceparent"] = v[3:4:4]
	if len(call.api.BackendKeys) == 0 {
		call.sig[0] = call.id
		hd[backendsig.HeaderRequestID] = call.sig[0:1:1]
	}
	pr.Out.URL.RawQuery = stripSigQuery(pr.Out.URL.RawQuery)
}

// relativeEscapedPath returns the request's escaped path after the
// /{org}/{api}/{version} (or host-routed /{api}/{version}) prefix.
func relativeEscapedPath(r *http.Request, matched string) string {
	decoded := r.URL.Path
	prefix := decoded
	if matched != "/" && strings.HasSuffix(decoded, matched) {
		prefix = decoded[:len(decoded)-len(matched)]
	} else if matched == "/" {
		prefix = strings.TrimRight(decoded, "/")
	}
	n := strings.Count(prefix, "/")
	esc := r.URL.EscapedPath()
	i := 0
	for seen := 0; i < len(esc); i++ {
		if esc[i] == '/' {
			if seen == n {
				break
			}
			seen++
		}
	}
	return esc[i:]
}

// stripSigQuery removes presigned-URL parameters before forwarding.
func stripSigQuery(raw string) string {
	if !strings.Contains(raw, "X-Amz-") {
		return raw
	}
	parts := strings.Split(raw, "&")
	kept := parts[:0]
	for _, p := range parts {
		if !strings.HasPrefix(p, "X-Amz-") {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "&")
}

// upstreamTransport sends a prepared request to a target of its pool:
// pick by weight among the healthy targets, point the URL at it, sign,
// and retry an idempotent request on another target after a connection
// failure. It runs before the proxy writes anything to the client, so a
// retry never follows response bytes.
type upstreamTransport struct {
	h     *Handler
	inner http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *upstreamTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	call, _ := req.Context().Value(fwdKey{}).(*fwdCall)
	if call == nil {
		return t.inner.RoundTrip(req)
	}
	u := t.h.ups
	var lastErr error
	for attempt := 0; ; attempt++ {
		out, vals := req, &call.sig
		if attempt > 0 {
			// The failed attempt's request (and its header values) may
			// still be referenced by the transport; send a fresh copy
			// with a rewound body. (Before the pick: a probe slot
			// acquired must be used.)
			out, vals = req.Clone(req.Context()), new(backendsig.Values)
			if req.Body != nil {
				b, err := req.GetBody()
				if err != nil {
					return nil, lastErr
				}
				out.Body = b
			}
		}
		i, probe := call.pool.pick(u, call.tried, call.deadline)
		if i < 0 {
			if lastErr != nil {
				return nil, lastErr
			}
			return nil, errNoHealthyUpstream
		}
		tg := call.pool.targets[i].targetState
		call.tried |= 1 << i
		call.target = tg
		t.h.aim(out, call, tg, vals)
		if !t.h.h1 {
			setHeldSignature(out)
		}
		res, err := t.inner.RoundTrip(out)
		if err == nil && res.StatusCode == http.StatusSwitchingProtocols && call.handshake != nil {
			call.handshake.Stop()
		}
		if err == nil {
			if call.api.cors != nil {
				stripCORS(res.Header) // the version's CORS settings stand
			}
			switch res.StatusCode {
			case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
				tg.failed(u, probe)
			default:
				tg.succeeded(u, probe)
			}
			return res, nil
		}
		var fe *forbiddenAddrError
		if errors.As(err, &fe) || call.in.Context().Err() != nil {
			// A refused address is configuration, a vanished client
			// says nothing about the target: neither counts, and a
			// probe's slot goes back.
			tg.release(probe)
			return nil, err
		}
		tg.failed(u, probe)
		lastErr = err
		if attempt >= call.pool.retries || !call.idempotent || call.expired() || !connectionFailure(err) ||
			(call.mw != nil && call.mw.status != 0) || (req.Body != nil && req.GetBody == nil) {
			return nil, err
		}
		t.h.log.InfoContext(req.Context(), "retrying upstream call", "request_id", call.id, "target", tg.url, "attempt", attempt+1, "err", err)
	}
}

// aim points the outbound request at a target and signs it for the
// backend: the signature covers the path, which includes the target's base
// path. vals backs the signature headers' values.
func (h *Handler) aim(out *http.Request, call *fwdCall, tg *targetState, vals *backendsig.Values) {
	u := out.URL
	u.Scheme, u.Host = tg.scheme, tg.host
	raw := tg.basePath + call.rel
	u.RawPath, u.Path = raw, raw
	if strings.IndexByte(raw, '%') >= 0 {
		if p, err := url.PathUnescape(raw); err == nil {
			u.Path = p
		}
	}
	out.Host = tg.host
	if len(call.api.BackendKeys) > 0 {
		f := call.facts()
		sig := call.api.BackendKeys[0].signer.Value(out.Method, u.EscapedPath(), u.RawQuery, f) // Compile built the signer
		vals.Fill(f, sig)
		call.held, call.heldVals = out, vals // the transport writes them
	}
}

// connectionFailure reports whether err means the request got no answer
// at all: the connection could not be made, or was refused, reset or
// closed before any response byte arrived.
func connectionFailure(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// upstreamError maps upstream failures deliberately: a timeout is 504, a
// refused or reset connection 502, every target down 503, a client that
// went away 499 in logs.
func (h *Handler) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	// w is the request's meteredWriter, handed to the proxy by forward.
	mw, _ := w.(*meteredWriter)
	var id string
	if mw != nil {
		id = mw.requestID
	}
	var fe *forbiddenAddrError
	// An upgrade's handshake timer cancels the call's context: canceled,
	// but by the clock, not by the client.
	call, _ := r.Context().Value(fwdKey{}).(*fwdCall)
	handshakeTimedOut := call != nil && call.handshake != nil && call.in.Context().Err() == nil && call.expired()
	// A client that went away gets no answer, whatever the upstream did
	// meanwhile (a reset racing the cancellation is no upstream failure).
	clientGone := call != nil && call.in.Context().Err() != nil
	switch {
	case clientGone || errors.Is(err, context.Canceled) && !handshakeTimedOut:
		h.log.InfoContext(r.Context(), "client closed request", "request_id", id, "status", 499)
		w.WriteHeader(499)
	case errors.Is(err, errNoHealthyUpstream):
		h.countUpstream(mw, "no-healthy")
		w.Header().Set("Retry-After", "5")
		writeProblem(w, http.StatusServiceUnavailable, "no-healthy-upstream", "Every backend of the API is failing its health checks; try again shortly.", id, nil)
	case errors.As(err, &fe):
		h.countUpstream(mw, "forbidden")
		h.log.WarnContext(r.Context(), "upstream address forbidden", "request_id", id, "err", err)
		writeProblem(w, http.StatusBadGateway, "upstream-forbidden", "The API's backend resolves to an address the gateway may not connect to.", id, nil)
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err) || handshakeTimedOut:
		h.countUpstream(mw, "timeout")
		writeProblem(w, http.StatusGatewayTimeout, "upstream-timeout", "The API's backend did not answer in time.", id, nil)
	default:
		h.countUpstream(mw, "unavailable")
		h.log.WarnContext(r.Context(), "upstream failed", "request_id", id, "err", err)
		writeProblem(w, http.StatusBadGateway, "upstream-unavailable", "The API's backend could not be reached.", id, nil)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (h *Handler) countUpstream(mw *meteredWriter, kind string) {
	if mw != nil {
		provider, api := mw.labels()
		h.metrics.upstreamError(provider, api, kind)
	}
}

// traceparent continues the caller's W3C trace with the gateway's hop as
// the new parent, or starts a trace when traceparent is absent or invalid
// (and then drops tracestate, which belongs to that trace). It returns the
// traceparent to send.
func traceparent(hd http.Header) string {
	var b [55]byte
	in := hd["Traceparent"]
	valid := len(in) == 1 && validTraceparent(in[0])
	copy(b[:], "00-")
	if valid {
		copy(b[3:35], in[0][3:35])
		copy(b[53:55], in[0][53:55])
	} else {
		putHex(b[3:19], rand.Uint64())
		putHex(b[19:35], rand.Uint64())
		b[53], b[54] = '0', '0'
		delete(hd, "Tracestate")
	}
	b[35] = '-'
	putHex(b[36:52], rand.Uint64()|1) // never the invalid all-zero id
	b[52] = '-'
	return string(b[:])
}

// validTraceparent checks version-traceid-parentid-flags: version 00 is
// exactly 55 characters; later versions may append fields after a dash.
func validTraceparent(s string) bool {
	if len(s) < 55 || (len(s) > 55 && s[55] != '-') || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return false
	}
	if !lowerHex(s[0:2]) || s[0:2] == "ff" || (s[0:2] == "00" && len(s) != 55) {
		return false
	}
	return lowerHex(s[3:35]) && s[3:35] != "00000000000000000000000000000000" &&
		lowerHex(s[36:52]) && s[36:52] != "0000000000000000" && lowerHex(s[53:55])
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func putHex(dst []byte, v uint64) {
	const digits = "0123456789abcdef"
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = digits[v&0xf]
		v >>= 4
	}
}
