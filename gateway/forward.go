package gateway

import (
	"context"
	"crypto/rand"
	"errors"
	"math/big"
	"net/http"
	"net/url"
	"strings"

	"github.com/portico-dev/portico/gateway/backendsig"
)

// pickTarget chooses an upstream target by weight.
func pickTarget(ts []Target) *Target {
	total := 0
	for _, t := range ts {
		total += t.Weight
	}
	if total <= 0 {
		return nil
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(total)))
	x := int(n.Int64())
	for i := range ts {
		if x < ts[i].Weight {
			return &ts[i]
		}
		x -= ts[i].Weight
	}
	return &ts[len(ts)-1]
}

// credentialHeaders are the partner's credentials, never forwarded.
var credentialHeaders = []string{"Authorization", "X-Portico-Nonce", "X-Portico-App-Code"}

func (h *Handler) forward(w http.ResponseWriter, r *http.Request, m Match, key *Key, sub *Subscription, id, bodyHash string) {
	api := m.API
	t := pickTarget(api.Upstream.Targets)
	if t == nil {
		h.problem(w, http.StatusBadGateway, "no-upstream", "The API has no upstream target.", id, nil)
		return
	}
	target, err := url.Parse(t.URL)
	if err != nil {
		h.problem(w, http.StatusBadGateway, "bad-upstream", "The API's upstream URL is invalid.", id, nil)
		return
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	rel := relativeEscapedPath(r, m.Path)
	out.URL = &url.URL{Scheme: target.Scheme, Host: target.Host, RawQuery: stripSigQuery(r.URL.RawQuery)}
	out.URL.RawPath = strings.TrimRight(target.EscapedPath(), "/") + rel
	if p, err := url.PathUnescape(out.URL.RawPath); err == nil {
		out.URL.Path = p
	}
	out.Host = target.Host
	for _, hname := range credentialHeaders {
		out.Header.Del(hname)
	}
	for name := range out.Header {
		if strings.HasPrefix(strings.ToLower(name), "x-amz-") {
			out.Header.Del(name)
		}
	}
	out.Header.Set("X-Forwarded-Host", r.Host)
	if r.TLS != nil {
		out.Header.Set("X-Forwarded-Proto", "https")
	} else {
		out.Header.Set("X-Forwarded-Proto", "http")
	}
	if len(api.BackendKeys) > 0 {
		bk := api.BackendKeys[0]
		backendsig.Apply(out, bk.ID, bk.Secret, backendsig.Facts{
			Consumer: key.OrgID, App: key.AppID, Plan: sub.PlanID, RequestID: id, BodySHA256: bodyHash, Timestamp: h.now(),
		})
	}
	timeout := api.Upstream.Timeout
	if m.Operation.Timeout > 0 {
		timeout = m.Operation.Timeout
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(out.Context(), timeout)
	defer cancel()
	h.proxy.ServeHTTP(w, out.WithContext(ctx))
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
	rel := esc[i:]
	if rel == "" {
		return ""
	}
	return rel
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

// upstreamError maps upstream failures deliberately: a timeout is 504, a
// refused or reset connection 502, a client that went away 499 in logs.
func (h *Handler) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	// w is the request's meteredWriter, handed to the proxy by forward.
	mw, _ := w.(*meteredWriter)
	var id string
	if mw != nil {
		id = mw.requestID
	}
	switch {
	case errors.Is(err, context.Canceled):
		h.log.InfoContext(r.Context(), "client closed request", "request_id", id, "status", 499)
		w.WriteHeader(499)
	case errors.Is(err, context.DeadlineExceeded):
		h.countUpstream(mw, "timeout")
		writeProblem(w, http.StatusGatewayTimeout, "upstream-timeout", "The API's backend did not answer in time.", id, nil)
	default:
		h.countUpstream(mw, "unavailable")
		h.log.WarnContext(r.Context(), "upstream failed", "request_id", id, "err", err)
		writeProblem(w, http.StatusBadGateway, "upstream-unavailable", "The API's backend could not be reached.", id, nil)
	}
}

func (h *Handler) countUpstream(mw *meteredWriter, kind string) {
	if mw != nil {
		h.metrics.upstreamError(mw.provider, mw.api, kind)
	}
}
