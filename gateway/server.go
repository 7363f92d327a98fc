package gateway

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// ServerLimits bound what one client connection can make the gateway hold.
type ServerLimits struct {
	// ReadHeaderTimeout closes a connection whose request headers have not
	// fully arrived in time (slow-header clients).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included (slow-body
	// clients); authentication reads the body before forwarding.
	ReadTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle for this long.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps the request line and headers; larger requests get
	// 431 Request Header Fields Too Large.
	MaxHeaderBytes int
}

// DefaultServerLimits suit a public gateway.
var DefaultServerLimits = ServerLimits{ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}

// NewServer returns the http.Server a gateway listener runs, with l's
// limits (zero fields take DefaultServerLimits').
func NewServer(h http.Handler, l ServerLimits) *http.Server {
	l = l.withDefaults()
	return &http.Server{Handler: h, ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: l.ReadTimeout,
		IdleTimeout: l.IdleTimeout, MaxHeaderBytes: l.MaxHeaderBytes}
}

// The servers a plain-HTTP gateway listener may run
// (portico --gateway-http-server).
const (
	LeanServer = "lean"     // H1Server
	StdServer  = "net/http" // Go's http.Server
)

// NewPlainServer returns the server of kind (LeanServer or StdServer) for a
// plain-HTTP gateway listener, with l's limits.
func NewPlainServer(kind string, h http.Handler, l ServerLimits) (Server, error) {
	switch kind {
	case LeanServer:
		return NewH1Server(h, l), nil
	case StdServer:
		return NewServer(h, l), nil
	}
	return nil, fmt.Errorf("%q: use %s or %s", kind, LeanServer, StdServer)
}

// LimitConns caps the connections one client address may hold open at
// once: a flood of idle keep-alive connections from one address cannot
// exhaust the gateway's file descriptors and memory. Connections beyond the
// cap are closed as soon as they are accepted. Addresses in exempt (the
// load balancers in front of the gateway, whose connections carry many
// clients) are not counted. perIP <= 0 returns ln unchanged.
func LimitConns(ln net.Listener, perIP int, exempt []netip.Prefix) net.Listener {
	if perIP <= 0 {
		return ln
	}
	return &connLimiter{Listener: ln, perIP: perIP, exempt: exempt, open: map[netip.Addr]int{}}
}

type connLimiter struct {
	net.Listener
	perIP  int
	exempt []netip.Prefix
	mu     sync.Mutex
	open   map[netip.Addr]int
}

// Accept implements net.Listener.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
		if err != nil {
			return c, nil
		}
		ip := ap.Addr().Unmap()
		if inPrefixes(ip, l.exempt) {
			return c, nil
		}
		l.mu.Lock()
		if l.open[ip] >= l.perIP {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.open[ip]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, l: l, ip: ip}, nil
	}
}

type limitedConn struct {
	net.Conn
	l      *connLimiter
	ip     netip.Addr
	closed atomic.Bool
}

// CloseWrite half-closes the connection where the one it wraps can.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Close implements net.Conn, releasing the address's slot once.
func (c *limitedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.l.mu.Lock()
		if c.l.open[c.ip]--; c.l.open[c.ip] <= 0 {
			delete(c.l.open, c.ip)
		}
		c.l.mu.Unlock()
	}
	return c.Conn.Close()
}
