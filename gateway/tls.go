package gateway

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// Certificate is a custom domain's certificate chain (PEM, leaf first) and
// private key (PEM), unsealed by the control plane. Neither appears in JSON
// or String/GoString output.
type Certificate struct {
	ChainPEM []byte `json:"-"`
	KeyPEM   []byte `json:"-"`
}

// String implements fmt.Stringer without the key.
func (Certificate) String() string { return "certificate" }

// GoString implements fmt.GoStringer without the key.
func (Certificate) GoString() string { return "gateway.Certificate{}" }

// tlsCerts are a snapshot's parsed custom-domain certificates.
type tlsCerts struct {
	byHost   map[string]*tls.Certificate
	problems []error
}

// compileCertificates parses every custom domain's certificate once, when
// the configuration is compiled, so handshakes only look one up.
//
// A certificate that does not parse, does not match its key or names a
// host that is not a custom domain is left out and reported by
// Snapshot.CertificateProblems rather than failing the whole Compile: the
// control plane checked it when it was stored, so a bad one means a
// damaged row, and one tenant's damaged row must not stop every other
// change from reaching the gateway. Its host keeps routing over plain
// HTTP; over TLS it gets the default certificate.
func compileCertificates(cfg *Config) tlsCerts {
	out := tlsCerts{byHost: make(map[string]*tls.Certificate, len(cfg.Certificates))}
	if len(cfg.Certificates) == 0 {
		return out
	}
	custom := make(map[string]bool, len(cfg.CustomDomains))
	for h := range cfg.CustomDomains {
		custom[normHost(h)] = true
	}
	for _, h := range sortedKeys(cfg.Certificates) {
		host := normHost(h)
		if !custom[host] {
			out.problems = append(out.problems, fmt.Errorf("certificate for %s: not a custom domain; left out", h))
			continue
		}
		c := cfg.Certificates[h]
		cert, err := tls.X509KeyPair(c.ChainPEM, c.KeyPEM)
		if err != nil {
			// The tls error names no key material.
			out.problems = append(out.problems, fmt.Errorf("certificate for %s: %v; left out", h, err))
			continue
		}
		if cert.Leaf == nil || cert.Leaf.VerifyHostname(host) != nil {
			out.problems = append(out.problems, fmt.Errorf("certificate for %s: does not cover the host; left out", h))
			continue
		}
		out.byHost[host] = &cert
	}
	return out
}

func normHost(h string) string { return strings.ToLower(strings.TrimSuffix(h, ".")) }

// Certificate returns the custom-domain certificate for a TLS server name.
func (s *Snapshot) Certificate(serverName string) (*tls.Certificate, bool) {
	c, ok := s.tls.byHost[normHost(serverName)]
	return c, ok
}

// Certificates is the number of custom-domain certificates the snapshot
// serves.
func (s *Snapshot) Certificates() int { return len(s.tls.byHost) }

// CertificateProblems lists the custom-domain certificates Compile left
// out, each naming its host; the rest of the configuration is unaffected.
func (s *Snapshot) CertificateProblems() []error { return s.tls.problems }

// TLSConfig returns the TLS configuration of the gateway's TLS listener:
// TLS 1.2 or later, HTTP/2 and HTTP/1.1 offered by ALPN, and the
// certificate chosen per handshake by SNI from the store's current
// snapshot — so a certificate added, replaced or removed in the control
// plane is served from the next reload, without a restart. A server name
// without a custom-domain certificate (or no server name at all) gets
// fallback, the default certificate from files; with no fallback such a
// handshake fails.
func TLSConfig(store *Store, fallback *tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if hello.ServerName != "" {
				if s := store.Load(); s != nil {
					if c, ok := s.Certificate(hello.ServerName); ok {
						return c, nil
					}
				}
			}
			if fallback != nil {
				return fallback, nil
			}
			return nil, fmt.Errorf("no certificate for server name %q", clip(hello.ServerName))
		},
	}
}

// LoadCertificate reads the default certificate: a PEM chain (leaf first)
// and its PEM private key.
func LoadCertificate(certFile, keyFile string) (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("default TLS certificate: %w", err)
	}
	return &c, nil
}
