package gateway

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// errForbiddenUpstream is returned by the dialer's guard when an upstream
// resolves to an address tenants must not reach; the gateway answers 502
// upstream-forbidden.
type forbiddenAddrError struct{ addr string }

func (e *forbiddenAddrError) Error() string {
	return "upstream address " + e.addr + " is loopback, private, link-local or reserved"
}

// blockedUpstreamPrefixes are the ranges a multi-tenant gateway never
// connects to. portal/catalog's UpstreamGuard checks URLs against the same
// list when they are saved; this check runs again at connect time,
// after DNS resolution, so a name that later resolves to (or rebinds to)
// an internal address is still refused.
var blockedUpstreamPrefixes = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
		"::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "64:ff9b::/96", "fd00:ec2::254/128",
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// BlockedUpstreamAddr reports whether a multi-tenant gateway refuses to
// connect to addr: loopback, private (RFC 1918, ULA), CGNAT, link-local
// (including the 169.254.169.254 metadata service), unspecified, multicast
// and reserved addresses, IPv4-mapped forms included.
func BlockedUpstreamAddr(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range blockedUpstreamPrefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// guardControl is the dialer's Control hook: it runs for every connection
// attempt with the resolved IP address, just before connect(2).
func guardControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || BlockedUpstreamAddr(ap.Addr()) {
		return &forbiddenAddrError{addr: address}
	}
	return nil
}

// newTransport is the tuned transport to upstreams: a large idle pool per
// host (a gateway talks to few hosts, hard), pass-through compression, and
// a dialer whose timeout is the upstream's ConnectTimeout and which, unless
// private upstreams are allowed, refuses internal addresses after DNS.
// Plain http:// targets go through h1Transport on the same dialer; the
// std transport serves https://, upgrades and the rest.
func (h *Handler) newTransport(allowPrivate bool) http.RoundTripper {
	d := &net.Dialer{KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = guardControl
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, h.ups.dialTimeout(addr))
		defer cancel()
		return d.DialContext(ctx, network, addr)
	}
	return newH1Transport(dial, &http.Transport{
		Proxy:                 nil,
		DialContext:           dial,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		// The backend's encoding passes through untouched.
		DisableCompression: true,
		ForceAttemptHTTP2:  true,
	})
}

// bufferPool recycles ReverseProxy's 32 KiB copy buffers; without it every
// request allocates one. The pool holds array pointers so Put does not
// allocate.
type bufferPool struct{ p sync.Pool }

const proxyBufferSize = 32 << 10

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[proxyBufferSize]byte); ok {
		return v[:]
	}
	return new([proxyBufferSize]byte)[:]
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) >= proxyBufferSize {
		b.p.Put((*[proxyBufferSize]byte)(buf[:proxyBufferSize]))
	}
}
