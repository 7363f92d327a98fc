package catalog

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/portico-dev/portico/gateway"
	"github.com/portico-dev/portico/gateway/origin"
	"github.com/portico-dev/portico/tenants"
)

// Limits of an upstream definition.
const (
	maxTargets          = 16
	defaultConnectMS    = 2000
	defaultTimeoutMS    = 30000
	maxTimeoutMS        = 300000
	maxRetries          = 5
	defaultMaxBodyBytes = 10 << 20
)

// UpstreamGuard rejects upstream URLs that would let a tenant reach the
// platform's own network (SSRF): loopback, private, link-local, CGNAT,
// multicast and cloud metadata addresses — unless the operator allows
// private upstreams, as the embedded single-machine default does.
type UpstreamGuard struct {
	AllowPrivate bool
	// Resolver resolves host names; nil uses net.DefaultResolver.
	Resolver interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	}
}

// BlockedAddr reports whether an upstream must not reach addr in
// multi-tenant mode: the gateway's own connect-time list, so that what is
// refused when a URL is saved and what is refused when it is dialled agree.
func BlockedAddr(addr netip.Addr) bool { return gateway.BlockedUpstreamAddr(addr) }

// normalizeUpstream fills defaults and validates an upstream, including the
// SSRF guard. Field names in errors are as the API names them.
func (g UpstreamGuard) normalizeUpstream(ctx context.Context, u Upstream) (Upstream, error) {
	v := tenants.Validation{}
	if len(u.Targets) == 0 {
		v.Add("upstream.targets", "Add at least one target URL, or use a mock backend.")
	}
	if len(u.Targets) > maxTargets {
		v.Add("upstream.targets", fmt.Sprintf("Use at most %d targets.", maxTargets))
	}
	for i := range u.Targets {
		field := fmt.Sprintf("upstream.targets[%d].url", i)
		t := &u.Targets[i]
		if t.Weight == 0 {
			t.Weight = 1
		}
		if t.Weight < 0 || t.Weight > 1000 {
			v.Add(fmt.Sprintf("upstream.targets[%d].weight", i), "Use a weight from 1 to 1000.")
		}
		pu, err := url.Parse(strings.TrimSpace(t.URL))
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || pu.User != nil || pu.RawQuery != "" || pu.Fragment != "" {
			v.Add(field, "Use an http:// or https:// URL with a host, and no credentials, query or fragment.")
			continue
		}
		pu.Path = strings.TrimRight(pu.Path, "/")
		t.URL = pu.String()
		if msg := g.checkHost(ctx, pu.Hostname()); msg != "" {
			v.Add(field, msg)
		}
	}
	if u.ConnectTimeoutMS == 0 {
		u.ConnectTimeoutMS = defaultConnectMS
	}
	if u.TimeoutMS == 0 {
		u.TimeoutMS = defaultTimeoutMS
	}
	if u.ConnectTimeoutMS < 1 || u.ConnectTimeoutMS > 60000 {
		v.Add("upstream.connect_timeout_ms", "Use 1 to 60000 milliseconds.")
	}
	if u.TimeoutMS < 1 || u.TimeoutMS > maxTimeoutMS {
		v.Add("upstream.timeout_ms", "Use 1 to 300000 milliseconds.")
	}
	if u.Retries < 0 || u.Retries > maxRetries {
		v.Add("upstream.retries", "Use 0 to 5 retries.")
	}
	if u.HealthCheckPath != "" && !gateway.ValidHealthCheckPath(u.HealthCheckPath) {
		v.Add("upstream.health_check_path", "Use a path starting with /, without spaces or control characters.")
	}
	return u, v.Err()
}

// checkHost returns why a host may not be an upstream, or "".
func (g UpstreamGuard) checkHost(ctx context.Context, host string) string {
	if g.AllowPrivate {
		return ""
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if BlockedAddr(addr) {
			return "This address is private, loopback, link-local or reserved; upstreams must be public."
		}
		return ""
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return "localhost cannot be an upstream; upstreams must be public."
	}
	var r interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	} = net.DefaultResolver
	if g.Resolver != nil {
		r = g.Resolver
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return "The host name does not resolve."
	}
	for _, a := range addrs {
		if BlockedAddr(a) {
			return "The host name resolves to a private, loopback, link-local or reserved address; upstreams must be public."
		}
	}
	return ""
}

func normalizeSettings(s Settings) (Settings, error) {
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = defaultMaxBodyBytes
	}
	if s.MaxBodyBytes < 0 || s.MaxBodyBytes > 1<<30 {
		return s, tenants.FieldError("settings.max_body_bytes", "Use 1 byte to 1 GiB.")
	}
	if s.Public {
		// No credentials are checked, so there is no nonce to require and
		// no app code to accept.
		s.RequireNonce, s.AllowAppCode = false, false
	}
	if err := normalizeCORS(&s); err != nil {
		return s, err
	}
	if s.RequireNonce && s.AllowAppCode {
		// The gateway refuses app codes where a nonce is required: an
		// app code cannot carry one.
		return s, tenants.FieldError("settings.allow_app_code",
			"An app code cannot carry a nonce, so a version that requires one cannot accept app codes: turn one of the two off.")
	}
	return s, nil
}

// normalizeCORS writes the CORS origins as browsers send them (dropping
// blank and repeated ones) and checks them and the preflight cache time
// with the gateway's own rules (package origin), so that what the catalog
// saves the gateway serves.
func normalizeCORS(s *Settings) error {
	origins, err := origin.List(s.CORSOrigins)
	if err != nil {
		return tenants.FieldError("settings.cors_origins", err.Error())
	}
	s.CORSOrigins = origins
	if len(origins) == 0 {
		s.CORSMaxAge = nil // means nothing without origins
		return nil
	}
	if s.CORSMaxAge == nil {
		d := origin.DefaultMaxAge
		s.CORSMaxAge = &d
	}
	if err := origin.CheckMaxAge(*s.CORSMaxAge); err != nil {
		return tenants.FieldError("settings.cors_max_age", err.Error())
	}
	return nil
}
