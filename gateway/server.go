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
	// SendTimeout closes a connection when one write to the client makes
	// no progress for this long (slow readers). It is applied by
	// SendTimeoutListener, below whichever server (and TLS) runs.
	SendTimeout time.Duration
}

// DefaultServerLimits suit a public gateway.
var DefaultServerLimits = ServerLimits{ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second,
	MaxHeaderBytes: 64 << 10, SendTimeout: 60 * time.Second}

// SendTimeoutListener fails a write to an accepted connection when the
// client takes nothing of it for d (nginx's send_timeout), and the server
// then closes the connection. A client that stops reading — a slow-read
// attack, or a client that asked for a large answer and stalled — would
// otherwise hold its request, the upstream call behind it and their
// buffers for as long as it keeps the connection open, because neither
// server sets a write deadline of its own. The deadline is set afresh
// before each write, so a download or a stream to a client that keeps
// reading is never cut, however long it lasts, and an idle keep-alive
// connection keeps no stale deadline. A write deadline set explicitly
// (by the server, a handler or TLS) still applies when it is sooner.
// d <= 0 returns ln unchanged.
func SendTimeoutListener(ln net.Listener, d time.Duration) net.Listener {
	if d <= 0 {
		return ln
	}
	return &sendTimeoutListener{Listener: ln, d: d}
}

type sendTimeoutListener struct {
	net.Listener
	d time.Duration
}

// Accept implements net.Listener.
func (l *sendTimeoutListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &sendTimeoutConn{Conn: rawIO(c), d: l.d}, nil
}

// sendTimeoutConn sets a write deadline before each write.
type sendTimeoutConn struct {
	net.Conn
	d time.Duration
	// explicit is a write deadline set through the conn (unix ns, 0 for
	// none); it wins when it is sooner.
	explicit atomic.Int64
	// armed is the deadline Write last set itself (unix ns; 0 for none,
	// or when one was set through the conn since). Write renews it only
	// once an eighth of d has passed, not before every write: updating a
	// socket's deadline moves a runtime timer, and an answer usually
	// goes out in one or two writes a few microseconds apart. A write
	// that makes no progress therefore fails after between 7/8 d and d.
	armed atomic.Int64
}

// Write writes p with a deadline d ahead, renewed whenever the client
// took some of it in time: Go's Write waits for all of p, and a slow
// client that keeps reading may need longer than d for a large p.
func (c *sendTimeoutConn) Write(p []byte) (int, error) {
	written := 0
	for {
		now := time.Now()
		dl := now.Add(c.d)
		own := true
		if e := c.explicit.Load(); e != 0 && e < dl.UnixNano() {
			dl, own = time.Unix(0, e), false
		}
		switch a := c.armed.Load(); {
		case !own:
			c.armed.Store(0)
			c.Conn.SetWriteDeadline(dl)
		case a == 0 || a-now.UnixNano() < int64(c.d-c.d/8):
			c.armed.Store(dl.UnixNano())
			c.Conn.SetWriteDeadline(dl)
		}
		n, err := c.Conn.Write(p[written:])
		written += n
		if err == nil || n == 0 || !own || !isTimeout(err) {
			return written, err
		}
	}
}

// SetDeadline implements net.Conn, remembering the write side.
func (c *sendTimeoutConn) SetDeadline(t time.Time) error {
	c.remember(t)
	return c.Conn.SetDeadline(t)
}

// SetWriteDeadline implements net.Conn, remembering the deadline.
func (c *sendTimeoutConn) SetWriteDeadline(t time.Time) error {
	c.remember(t)
	return c.Conn.SetWriteDeadline(t)
}

func (c *sendTimeoutConn) remember(t time.Time) {
	c.armed.Store(0) // the next Write sets its own again
	var e int64
	if !t.IsZero() {
		e = max(t.UnixNano(), 1)
	}
	c.explicit.Store(e)
}

// CloseWrite half-closes the connection where the one it wraps can.
func (c *sendTimeoutConn) CloseWrite() error { return closeWrite(c.Conn) }

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
// clients) are not counted. An IPv6 client counts by its first ipv6Prefix
// bits (0: DefaultIPv6PrefixLen), as for the per-IP request limits: one
// holder of a /64 cannot rotate addresses past the cap. perIP <= 0 returns
// ln unchanged.
func LimitConns(ln net.Listener, perIP, ipv6Prefix int, exempt []netip.Prefix) (net.Listener, error) {
	if perIP <= 0 {
		return ln, nil
	}
	switch {
	case ipv6Prefix == 0:
		ipv6Prefix = DefaultIPv6PrefixLen
	case ipv6Prefix < 1 || ipv6Prefix > 128:
		return nil, fmt.Errorf("connection limit: IPv6 prefix length %d: use 1 to 128, or 0 for %d", ipv6Prefix, DefaultIPv6PrefixLen)
	}
	return &connLimiter{Listener: ln, perIP: perIP, v6bits: ipv6Prefix, exempt: exempt, open: map[netip.Addr]int{}}, nil
}

type connLimiter struct {
	net.Listener
	perIP  int
	v6bits int
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
		if inPrefixes(ap.Addr().Unmap(), l.exempt) {
			return c, nil
		}
		ip := clientNet(ap.Addr(), l.v6bits)
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
func (c *limitedConn) CloseWrite() error { return closeWrite(c.Conn) }

// closeWrite half-closes c where it can (a TCP connection, or a wrapper
// of one that can): the servers half-close before a lingering close.
func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
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
