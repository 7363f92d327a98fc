package gateway

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
	domain := normHost(strings.TrimPrefix(cfg.Domain, "."))
	for _, h := range sortedKeys(cfg.Certificates) {
		host := normHost(h)
		if domain != "" && (host == domain || strings.HasSuffix(host, "."+domain)) {
			// The router never lets a custom domain stand for the
			// platform's own names; neither does the TLS listener.
			out.problems = append(out.problems, fmt.Errorf("certificate for %s: under the gateway domain %s; left out", h, domain))
			continue
		}
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

// misdirected reports whether a request over TLS names a host its
// connection's server name does not stand for (RFC 9110 §15.5.20, 421):
// the custom-domain certificate the connection presented does not cover
// the Host, or the Host is a custom domain reached under another name.
// Routing follows Host, so without this a client could open a connection
// for one provider's domain and send its calls to another's (domain
// fronting), or reach a custom domain under a certificate that is not
// its own. Names under the default certificate may share a connection,
// as HTTP/2 clients do when it covers them all.
func (s *Snapshot) misdirected(r *http.Request) bool {
	sni := r.TLS.ServerName
	if sni == "" || len(s.tls.byHost) == 0 {
		return false
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host = normHost(host); host == normHost(sni) {
		return false
	}
	if c, ok := s.Certificate(sni); ok {
		return c.Leaf.VerifyHostname(host) != nil // Compile keeps only certificates with a leaf
	}
	_, custom := s.Certificate(host)
	return custom
}

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
// fallback, the default certificate; with no fallback such a handshake
// fails. TLSConfigFiles is the same with the default certificate read
// from files and reloaded when they change.
func TLSConfig(store *Store, fallback *tls.Certificate) *tls.Config {
	return tlsConfig(store, func() *tls.Certificate { return fallback })
}

// TLSConfigFiles is TLSConfig with the default certificate from files.
func TLSConfigFiles(store *Store, files *CertFiles) *tls.Config {
	return tlsConfig(store, files.Certificate)
}

func tlsConfig(store *Store, fallback func() *tls.Certificate) *tls.Config {
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
			if c := fallback(); c != nil {
				return c, nil
			}
			return nil, fmt.Errorf("no certificate for server name %q", clip(hello.ServerName))
		},
	}
}

// CertFilesCheckEvery is how often CertFiles looks at its files.
const CertFilesCheckEvery = 30 * time.Second

// CertFiles is the default certificate read from a PEM chain file and a
// PEM key file, and read again when either changes (a renewal by certbot
// or cert-manager): a handshake at most every CertFilesCheckEvery looks at
// the files' size and modification time, so a renewed certificate is
// served within that time without a restart. A pair that fails to load
// (a renewal caught half-written, a key that does not match) is logged
// and the certificate already loaded goes on serving; it is tried again
// at the next look.
type CertFiles struct {
	certFile, keyFile string
	log               *slog.Logger
	now               func() time.Time

	cur     atomic.Pointer[tls.Certificate]
	epoch   time.Time    // the load; looks are timed from it (monotonic)
	checked atomic.Int64 // nanoseconds after epoch of the last look
	mu      sync.Mutex   // one look at a time; guards stamp
	stamp   [2]fileStamp
}

type fileStamp struct {
	size int64
	mod  time.Time
}

// LoadCertFiles reads the default certificate; log gets reloads and their
// failures (nil: slog.Default()).
func LoadCertFiles(certFile, keyFile string, log *slog.Logger) (*CertFiles, error) {
	if log == nil {
		log = slog.Default()
	}
	f := &CertFiles{certFile: certFile, keyFile: keyFile, log: log, now: time.Now}
	st, err := f.stamps()
	if err != nil {
		return nil, fmt.Errorf("default TLS certificate: %w", err)
	}
	c, err := LoadCertificate(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	f.cur.Store(c)
	f.stamp = st
	f.epoch = f.now()
	return f, nil
}

// Certificate returns the current certificate, reading the files again
// first when they changed and a look is due.
func (f *CertFiles) Certificate() *tls.Certificate {
	now := int64(f.now().Sub(f.epoch)) // a wall clock stepped back does not stall it
	last := f.checked.Load()
	if now-last >= int64(CertFilesCheckEvery) && f.checked.CompareAndSwap(last, now) {
		f.reload()
	}
	return f.cur.Load()
}

func (f *CertFiles) reload() {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := f.stamps()
	if err != nil {
		f.log.Warn("gateway TLS: cannot read the default certificate's files; serving the one loaded", "cert_file", f.certFile, "err", err)
		return
	}
	if st == f.stamp {
		return
	}
	c, err := LoadCertificate(f.certFile, f.keyFile)
	if err != nil {
		f.log.Warn("gateway TLS: the default certificate's files changed but do not load; serving the one loaded until they do", "cert_file", f.certFile, "err", err)
		return
	}
	f.cur.Store(c)
	f.stamp = st
	attrs := []any{"cert_file", f.certFile}
	if c.Leaf != nil {
		attrs = append(attrs, "not_after", c.Leaf.NotAfter.UTC().Format(time.RFC3339), "dns_names", c.Leaf.DNSNames)
	}
	f.log.Info("gateway TLS: default certificate reloaded from its files", attrs...)
}

func (f *CertFiles) stamps() ([2]fileStamp, error) {
	var st [2]fileStamp
	for i, name := range []string{f.certFile, f.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return st, err
		}
		st[i] = fileStamp{size: fi.Size(), mod: fi.ModTime()}
	}
	return st, nil
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
