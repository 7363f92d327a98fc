package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"

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
// domain: the console's (PORTICO_BASE_URL) and those the gateway's default
// certificate names. A custom domain would take over the gateway's routing
// for its name and, on the TLS listener, the certificate served for it.
func platformHosts(cfg *Config) []string {
	hosts := []string{cfg.BaseURL}
	if cfg.TLSCertFile != "" {
		// An unreadable pair fails the TLS listener's start-up instead.
		if c, err := gateway.LoadCertificate(cfg.TLSCertFile, cfg.TLSKeyFile); err == nil && c.Leaf != nil {
			hosts = append(hosts, c.Leaf.DNSNames...)
		}
	}
	return hosts
}
