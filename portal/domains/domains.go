package domains

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/portico-dev/portico/tenants"
	"github.com/portico-dev/portico/tenants/keyring"
)

// Options configure a Service.
type Options struct {
	// Keyring seals the certificates' private keys. Required.
	Keyring *keyring.Keyring
	// GatewayDomain is PORTICO_GATEWAY_DOMAIN: host names under it belong to
	// the platform ({org}.{domain}) and cannot be added as custom domains.
	GatewayDomain string
	// ReservedHosts are the platform's own host names — the console's (the
	// host of PORTICO_BASE_URL), the gateway's public ones (those its
	// default certificate names) — which no organisation may add: a custom
	// domain takes over the gateway's routing and, on its TLS listener, the
	// certificate served for its name. Entries may carry a port or a
	// scheme; case and a trailing dot do not matter. A wildcard entry, as
	// a certificate names them (*.api.example.com), reserves every name
	// it covers: one label in place of the "*" (RFC 6125 §6.4.3).
	ReservedHosts []string
	// ReservedHostsFunc, when set, returns more reserved host names, in
	// the same forms, and is called at every check: for names that change
	// while the service runs, such as those of a default certificate
	// renewed in place. It may be called from several goroutines at once.
	ReservedHostsFunc func() []string
	// AnyIssuer accepts a certificate whatever issued it. By default a
	// custom domain's certificate must chain to a trusted root (Roots):
	// a certificate authority issues one only to whoever controls the
	// name, so it proves the domain is the organisation's. Without that an
	// organisation could claim a host name another will point at the
	// gateway, with a self-signed certificate, and take its calls. Set it
	// for deployments on a private CA (PORTICO_CUSTOM_DOMAIN_ANY_ISSUER).
	AnyIssuer bool
	// Roots are the trusted roots; nil means the system's.
	Roots *x509.CertPool
	// Now returns the current time; tests override it.
	Now func() time.Time
	// Logger receives operational logs (never key material).
	Logger *slog.Logger
	// OnChange, when set, is called after a domain is added, replaced or
	// deleted, so the gateway's configuration is recompiled.
	OnChange func(ctx context.Context)
}

// Service manages custom domains. Every method that touches an
// organisation's domains takes its id and filters by it.
type Service struct {
	db       *gorm.DB
	kr       *keyring.Keyring
	domain   string
	reserved []string // normalised ReservedHosts
	moreRes  func() []string
	trust    *x509.VerifyOptions // nil: any issuer
	now      func() time.Time
	log      *slog.Logger
	onChange func(ctx context.Context)
}

// NewService returns a Service over db.
func NewService(db *gorm.DB, opts Options) *Service {
	s := &Service{db: db, kr: opts.Keyring, now: opts.Now, log: opts.Logger, onChange: opts.OnChange, moreRes: opts.ReservedHostsFunc,
		domain: strings.ToLower(strings.Trim(strings.TrimSpace(opts.GatewayDomain), "."))}
	if !opts.AnyIssuer {
		s.trust = &x509.VerifyOptions{Roots: opts.Roots}
	}
	for _, h := range opts.ReservedHosts {
		if h = reservedHost(h); h != "" {
			s.reserved = append(s.reserved, h)
		}
	}
	if s.now == nil {
		s.now = func() time.Time { return time.Now().UTC() }
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// GatewayDomain is the platform's own gateway domain ("" when none).
func (s *Service) GatewayDomain() string { return s.domain }

// Domain is a custom domain as callers see it: its certificate's public
// details, never its private key.
type Domain struct {
	ID          string
	OrgID       string
	Hostname    string
	Certificate CertificateInfo
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// CertificateInfo describes a stored certificate's leaf.
type CertificateInfo struct {
	Subject string
	// DNSNames are the leaf's subject alternative names.
	DNSNames  []string
	Issuer    string
	NotBefore time.Time
	NotAfter  time.Time
	// Fingerprint is the hex SHA-256 of the leaf certificate (DER).
	Fingerprint string
}

// ExpiringWithin is how close to its expiry a certificate is reported as
// expiring.
const ExpiringWithin = 30 * 24 * time.Hour

// Status is "valid", "expiring" (within ExpiringWithin) or "expired" at now.
func (c CertificateInfo) Status(now time.Time) string {
	switch {
	case !now.Before(c.NotAfter):
		return "expired"
	case c.NotAfter.Sub(now) <= ExpiringWithin:
		return "expiring"
	default:
		return "valid"
	}
}

// Input is what a provider gives to add a domain or replace its
// certificate: PEM text as pasted or uploaded.
type Input struct {
	Hostname string
	// CertificatePEM is the certificate chain, leaf first.
	CertificatePEM string
	// PrivateKeyPEM is the leaf's private key (PKCS #8, PKCS #1 or SEC 1).
	PrivateKeyPEM string
}

// String implements fmt.Stringer without the private key.
func (in Input) String() string { return "custom domain input " + in.Hostname }

// GoString implements fmt.GoStringer without the private key.
func (in Input) GoString() string { return "domains.Input{" + in.Hostname + "}" }

// row is the stored form.
type row struct {
	ID          string
	OrgID       string
	Hostname    string
	CertChain   string
	KeySealed   string
	NotBefore   time.Time
	NotAfter    time.Time
	Fingerprint string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (row) TableName() string { return "custom_domains" }

func sealContext(hostname string) string { return SealedKeys.Context(hostname) }

// SealedKeys is where custom domains' TLS private keys are sealed.
var SealedKeys = keyring.Column{Table: "custom_domains", Key: "id", Sealed: "key_sealed", ContextFrom: "hostname", ContextPrefix: "custom-domain:"}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func notFound() error { return tenants.Errorf(tenants.ENotFound, "No such custom domain.") }

func (s *Service) changed(ctx context.Context) {
	if s.onChange != nil {
		s.onChange(ctx)
	}
}

// public turns a row into a Domain; the chain was checked when stored, so a
// parse failure here means the row was damaged.
func public(r *row) (Domain, error) {
	d := Domain{ID: r.ID, OrgID: r.OrgID, Hostname: r.Hostname, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	certs, err := parseChain(r.CertChain)
	if err != nil {
		return Domain{}, fmt.Errorf("custom domain %s: stored certificate: %s", r.Hostname, tenants.ErrorMessage(err))
	}
	d.Certificate = describe(certs[0])
	return d, nil
}

// Add adds a custom domain with its certificate to the organisation.
func (s *Service) Add(ctx context.Context, orgID string, a tenants.Actor, in Input) (Domain, error) {
	now := s.now()
	host, err := s.checkHostname(in.Hostname)
	v := tenants.Validation{}
	if err != nil {
		v.Add("hostname", tenants.ErrorMessage(err))
	}
	var m material
	if err == nil {
		m, err = checkCertificate(host, in.CertificatePEM, in.PrivateKeyPEM, now, s.trust)
		if err != nil {
			for f, msg := range tenants.ErrorFields(err) {
				v.Add(f, msg)
			}
		}
	} else {
		// Without a host name the certificate cannot be matched; still
		// say what is wrong with the PEM on its own.
		if _, err := checkCertificate("", in.CertificatePEM, in.PrivateKeyPEM, now, nil); err != nil {
			for f, msg := range tenants.ErrorFields(err) {
				v.Add(f, msg)
			}
		}
	}
	if err := v.Err(); err != nil {
		return Domain{}, err
	}
	r := row{ID: newID(), OrgID: orgID, Hostname: host, CertChain: m.chainPEM, KeySealed: s.kr.Seal([]byte(m.keyPEM), sealContext(host)),
		NotBefore: m.leaf.NotBefore.UTC(), NotAfter: m.leaf.NotAfter.UTC(), Fingerprint: fingerprint(m.leaf), CreatedAt: now, UpdatedAt: now}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&row{}).Where("hostname = ?", host).Count(&n).Error; err != nil {
			return fmt.Errorf("add custom domain: %w", err)
		}
		if n > 0 {
			return taken(host)
		}
		if err := tx.Create(&r).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return taken(host)
			}
			return fmt.Errorf("add custom domain: %w", err)
		}
		return tenants.WriteAudit(tx, now, a, orgID, "domain.add", "custom_domain", r.ID,
			map[string]any{"hostname": host, "fingerprint": r.Fingerprint, "not_after": r.NotAfter})
	})
	if err != nil {
		return Domain{}, err
	}
	s.changed(ctx)
	return public(&r)
}

// taken is the conflict for a host name in use, here or in another
// organisation: it never says which.
func taken(host string) error {
	return tenants.ConflictError("hostname", "The host name "+host+" is already in use; each host name can be added once.")
}

// List lists the organisation's domains by host name.
func (s *Service) List(ctx context.Context, orgID string, p tenants.Page) (tenants.List[Domain], error) {
	after, err := tenants.DecodeCursor(p.Cursor)
	if err != nil {
		return tenants.List[Domain]{}, err
	}
	limit := p.Size()
	q := s.db.WithContext(ctx).Where("org_id = ?", orgID)
	if after != "" {
		q = q.Where("hostname > ?", after)
	}
	var rows []row
	if err := q.Order("hostname").Limit(limit + 1).Find(&rows).Error; err != nil {
		return tenants.List[Domain]{}, fmt.Errorf("list custom domains: %w", err)
	}
	out := make([]Domain, 0, len(rows))
	for i := range rows {
		d, err := public(&rows[i])
		if err != nil {
			return tenants.List[Domain]{}, err
		}
		out = append(out, d)
	}
	return tenants.Paginate(out, limit, func(d Domain) string { return d.Hostname }), nil
}

// Get returns one of the organisation's domains by id.
func (s *Service) Get(ctx context.Context, orgID, id string) (Domain, error) {
	r, err := s.get(s.db.WithContext(ctx), orgID, id)
	if err != nil {
		return Domain{}, err
	}
	return public(&r)
}

func (s *Service) get(tx *gorm.DB, orgID, id string) (row, error) {
	var r row
	if _, err := uuid.Parse(id); err != nil {
		return r, notFound()
	}
	err := tx.Where("org_id = ? AND id = ?", orgID, id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return r, notFound()
	}
	if err != nil {
		return r, fmt.Errorf("get custom domain: %w", err)
	}
	return r, nil
}

// ReplaceCertificate replaces a domain's certificate and key (a renewal);
// the host name stays. in.Hostname is ignored.
func (s *Service) ReplaceCertificate(ctx context.Context, orgID, id string, a tenants.Actor, in Input) (Domain, error) {
	var r row
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if r, err = s.get(tx, orgID, id); err != nil {
			return err
		}
		now := s.now()
		m, err := checkCertificate(r.Hostname, in.CertificatePEM, in.PrivateKeyPEM, now, s.trust)
		if err != nil {
			return err
		}
		old := r.Fingerprint
		r.CertChain, r.KeySealed = m.chainPEM, s.kr.Seal([]byte(m.keyPEM), sealContext(r.Hostname))
		r.NotBefore, r.NotAfter, r.Fingerprint, r.UpdatedAt = m.leaf.NotBefore.UTC(), m.leaf.NotAfter.UTC(), fingerprint(m.leaf), now
		res := tx.Model(&row{}).Where("org_id = ? AND id = ?", orgID, id).Updates(map[string]any{
			"cert_chain": r.CertChain, "key_sealed": r.KeySealed, "not_before": r.NotBefore, "not_after": r.NotAfter,
			"fingerprint": r.Fingerprint, "updated_at": r.UpdatedAt})
		if res.Error != nil {
			return fmt.Errorf("replace certificate: %w", res.Error)
		}
		return tenants.WriteAudit(tx, now, a, orgID, "domain.certificate.replace", "custom_domain", r.ID,
			map[string]any{"hostname": r.Hostname, "fingerprint": r.Fingerprint, "previous_fingerprint": old, "not_after": r.NotAfter})
	})
	if err != nil {
		return Domain{}, err
	}
	s.changed(ctx)
	return public(&r)
}

// Delete removes a domain: the gateway stops routing it and serving its
// certificate.
func (s *Service) Delete(ctx context.Context, orgID, id string, a tenants.Actor) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		r, err := s.get(tx, orgID, id)
		if err != nil {
			return err
		}
		if err := tx.Where("org_id = ? AND id = ?", orgID, id).Delete(&row{}).Error; err != nil {
			return fmt.Errorf("delete custom domain: %w", err)
		}
		return tenants.WriteAudit(tx, s.now(), a, orgID, "domain.delete", "custom_domain", r.ID,
			map[string]any{"hostname": r.Hostname, "fingerprint": r.Fingerprint})
	})
	if err != nil {
		return err
	}
	s.changed(ctx)
	return nil
}

// Material is a domain as the gateway needs it: host name, organisation
// slug, and the unsealed chain and key. It never appears in String or
// GoString output.
type Material struct {
	Hostname string
	OrgSlug  string
	ChainPEM []byte
	KeyPEM   []byte
}

// String implements fmt.Stringer without the key.
func (m Material) String() string { return "custom domain " + m.Hostname }

// GoString implements fmt.GoStringer without the key.
func (m Material) GoString() string { return "domains.Material{" + m.Hostname + "}" }

// LogValue implements slog.LogValuer without the key.
func (m Material) LogValue() slog.Value { return slog.StringValue(m.String()) }

// Live returns every custom domain of every organisation with its key
// unsealed, for the gateway's configuration. A key that does not unseal
// (a damaged row, a wrong master key) is logged and its domain left out, so
// one bad row cannot stop the whole platform's configuration from updating.
func (s *Service) Live(ctx context.Context) ([]Material, error) {
	type liveRow struct {
		Hostname  string
		OrgSlug   string
		CertChain string
		KeySealed string
	}
	var rows []liveRow
	err := s.db.WithContext(ctx).Table("custom_domains AS d").
		Select("d.hostname, o.slug AS org_slug, d.cert_chain, d.key_sealed").
		Joins("JOIN organizations o ON o.id = d.org_id").Order("d.hostname").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("live custom domains: %w", err)
	}
	out := make([]Material, 0, len(rows))
	for _, r := range rows {
		key, err := s.kr.Open(r.KeySealed, sealContext(r.Hostname))
		if err != nil {
			s.log.ErrorContext(ctx, "custom domain left out of the gateway configuration: its private key does not unseal", "hostname", r.Hostname, "err", err)
			continue
		}
		out = append(out, Material{Hostname: r.Hostname, OrgSlug: r.OrgSlug, ChainPEM: []byte(r.CertChain), KeyPEM: key})
	}
	return out, nil
}

// checkHostname normalises and checks a host name: lower case, no port, no
// trailing dot, no wildcard, not an IP address, not under the platform's
// gateway domain.
func (s *Service) checkHostname(h string) (string, error) {
	h = strings.ToLower(strings.TrimSpace(h))
	h = strings.TrimSuffix(h, ".")
	bad := func(msg string) (string, error) { return "", tenants.FieldError("hostname", msg) }
	switch {
	case h == "":
		return bad("Enter the host name your API is called at, like api.example.com.")
	case strings.Contains(h, "://") || strings.ContainsAny(h, "/?#@"):
		return bad("Enter a host name only, like api.example.com — no scheme, path or user.")
	case strings.Contains(h, "*"):
		return bad("Wildcard host names are not supported; add each host name on its own.")
	case net.ParseIP(strings.Trim(h, "[]")) != nil:
		return bad("Use a host name, not an IP address.")
	case strings.Contains(h, ":"):
		return bad("Leave out the port: the gateway serves custom domains on its own ports.")
	case len(h) > 253:
		return bad("The host name is longer than 253 characters.")
	}
	labels := strings.Split(h, ".")
	if len(labels) < 2 {
		return bad("Use a fully qualified host name with a dot, like api.example.com.")
	}
	for _, l := range labels {
		if !ValidLabel(l) {
			return bad("\"" + h + "\" is not a valid host name: use letters, digits and dashes between dots, each part at most 63 characters and not starting or ending with a dash.")
		}
	}
	if isDigits(labels[len(labels)-1]) {
		return bad("The last part of a host name cannot be all digits.")
	}
	if s.domain != "" && (h == s.domain || strings.HasSuffix(h, "."+s.domain)) {
		return bad("Host names under " + s.domain + " belong to the platform; every organisation already has " + "{org}." + s.domain + ".")
	}
	if s.isReserved(h) {
		return bad("The host name " + h + " belongs to the platform itself; use a host name of your own.")
	}
	return h, nil
}

// isReserved reports whether the platform holds the normalised host name
// h: a reserved name is h, or is a wildcard that covers it.
func (s *Service) isReserved(h string) bool {
	for _, r := range s.reserved {
		if coversHost(r, h) {
			return true
		}
	}
	if s.moreRes != nil {
		for _, r := range s.moreRes() {
			if coversHost(reservedHost(r), h) {
				return true
			}
		}
	}
	return false
}

// coversHost reports whether the reserved name pattern, normalised, covers
// the host name h: it is h, or a wildcard whose "*" stands for h's first
// label. As TLS clients match them (RFC 6125 §6.4.3) a wildcard is only
// honoured in the first label and stands for exactly one label; one
// within a label (w*.example.com, which some clients accept) covers the
// labels it could match, so that the platform keeps whatever a client
// might take its certificate to serve.
func coversHost(pattern, h string) bool {
	if pattern == "" {
		return false
	}
	if pattern == h {
		return true
	}
	first, parent, ok := strings.Cut(pattern, ".")
	if !ok || !strings.Contains(first, "*") || strings.Contains(parent, "*") || parent == "" {
		return false
	}
	label, hostParent, ok := strings.Cut(h, ".")
	if !ok || hostParent != parent || label == "" {
		return false
	}
	// The label must start with what comes before the first "*" and end
	// with what comes after the last.
	pre, post := first[:strings.IndexByte(first, '*')], first[strings.LastIndexByte(first, '*')+1:]
	return len(label) >= len(pre)+len(post) && strings.HasPrefix(label, pre) && strings.HasSuffix(label, post)
}

// reservedHost normalises an Options.ReservedHosts entry: a host name, or
// a URL or host:port holding one.
func reservedHost(h string) string {
	h = strings.TrimSpace(h)
	if i := strings.Index(h, "://"); i >= 0 {
		h = h[i+3:]
	}
	if i := strings.IndexAny(h, "/?#"); i >= 0 {
		h = h[:i]
	}
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// ValidLabel reports whether l is one label of a DNS host name: letters,
// digits and dashes, 1 to 63 of them, not starting or ending with a dash.
func ValidLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
