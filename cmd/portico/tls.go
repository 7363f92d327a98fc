package main

import (
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"

	"github.com/portico-dev/portico/gateway"
)

// gatewayTLS opens the gateway's TLS listener when --gateway-tls-addr is
// set (nil, nil, nil when it is not) and returns the server to run on it:
// TLS 1.2 or later, HTTP/2, each custom domain's certificate chosen by SNI
// from the store's current snapshot, and the default certificate from
// --tls-cert-file/--tls-key-file for every other name.
func gatewayTLS(cfg *Config, store *gateway.Store, h http.Handler, log *slog.Logger) (*http.Server, net.Listener, error) {
	if cfg.GatewayTLSAddr == "" {
		log.Info("gateway TLS: off (set PORTICO_GATEWAY_TLS_ADDR to serve HTTPS)")
		return nil, nil, nil
	}
	var def *gateway.CertFiles
	tc := gateway.TLSConfig(store, nil)
	if cfg.TLSCertFile != "" {
		c, err := gateway.LoadCertFiles(cfg.TLSCertFile, cfg.TLSKeyFile, log)
		if err != nil {
			return nil, nil, err
		}
		def, tc = c, gateway.TLSConfigFiles(store, c)
	}
	ln, err := listenGateway(cfg, cfg.GatewayTLSAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway TLS listener: %w", err)
	}
	n := 0
	if s := store.Load(); s != nil {
		n = s.Certificates()
	}
	if def != nil {
		log.Info("gateway TLS: on with the default certificate from files (read again within 30 s when they change) and custom domains' certificates by SNI",
			"addr", ln.Addr().String(), "cert_file", cfg.TLSCertFile, "custom_domains", n, "min_version", "TLS 1.2", "http2", true)
	} else {
		log.Warn("gateway TLS: on with custom domains' certificates only; a client naming no custom domain fails the handshake (set PORTICO_TLS_CERT_FILE and PORTICO_TLS_KEY_FILE for a default certificate)",
			"addr", ln.Addr().String(), "custom_domains", n, "min_version", "TLS 1.2", "http2", true)
	}
	// The same limits as the plain listener's (read header, read, idle,
	// header size; the send timeout is the listener's).
	srv := gateway.NewServer(h, cfg.GatewayLimits)
	srv.TLSConfig = tc
	srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	return srv, tls.NewListener(ln, tc), nil
}

// platformHosts are the host names no organisation may add as a custom
// domain besides the default certificate's (defaultCertNames): the
// console's (PORTICO_BASE_URL). A custom domain would take over the
// gateway's routing for its name and, on the TLS listener, the
// certificate served for it.
func platformHosts(cfg *Config) []string {
	return []string{cfg.BaseURL}
}

// defaultCertNames returns the DNS names of the gateway's default
// certificate as they are at each call (nil when there is none), for the
// custom-domain service to reserve: the TLS listener reads the files
// again when they change (within gateway.CertFilesCheckEvery), so the
// names reserved must follow the files too, not stay those read at
// start-up. Wildcard names are returned as they are; the service
// reserves every name one covers.
func defaultCertNames(cfg *Config, log *slog.Logger) func() []string {
	if cfg.TLSCertFile == "" {
		return nil
	}
	if log == nil {
		log = slog.Default()
	}
	c := &certNames{certFile: cfg.TLSCertFile, keyFile: cfg.TLSKeyFile, log: log}
	c.current() // an unreadable pair fails the TLS listener's start-up instead
	return c.current
}

// certNames reads a certificate's names from its files when they have
// changed. Custom domains are added seldom, so every call reads the files:
// a renewal is seen at the first check after it, and no state but the
// last pair's digest is kept (not the key).
type certNames struct {
	certFile, keyFile string
	log               *slog.Logger

	mu     sync.Mutex // guards the rest; calls come from any request
	digest [sha256.Size]byte
	names  []string // replaced, never changed: callers may keep it
}

func (c *certNames) current() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	chain, err := os.ReadFile(c.certFile)
	var key []byte
	if err == nil {
		key, err = os.ReadFile(c.keyFile)
	}
	if err != nil {
		c.log.Warn("custom domains: cannot read the default certificate's files; the names of the one read before stay reserved", "cert_file", c.certFile, "err", err)
		return c.names
	}
	h := sha256.New()
	h.Write(chain)
	h.Write([]byte{0})
	h.Write(key)
	var d [sha256.Size]byte
	h.Sum(d[:0])
	if d == c.digest && c.names != nil {
		return c.names
	}
	// As the listener: a pair that does not load (a renewal caught half
	// written) leaves the certificate before it in place.
	pair, err := tls.X509KeyPair(chain, key)
	if err != nil || pair.Leaf == nil {
		c.log.Warn("custom domains: the default certificate's files do not load; the names of the one read before stay reserved", "cert_file", c.certFile, "err", err)
		return c.names
	}
	c.digest, c.names = d, append([]string{}, pair.Leaf.DNSNames...)
	return c.names
}
