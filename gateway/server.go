package gateway

import (
	"net/http"
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
	d := DefaultServerLimits
	if l.ReadHeaderTimeout <= 0 {
		l.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = d.ReadTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = d.IdleTimeout
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	return &http.Server{Handler: h, ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: l.ReadTimeout,
		IdleTimeout: l.IdleTimeout, MaxHeaderBytes: l.MaxHeaderBytes}
}
