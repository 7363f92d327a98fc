package client

import (
	"context"
	"time"
)

// CustomDomain is a provider's own host name routed by the gateway, with
// the public details of its certificate (never its key).
type CustomDomain struct {
	ID       string `json:"id"`
	Hostname string `json:"hostname"`
	// Status is valid, expiring (within 30 days) or expired.
	Status      string            `json:"status"`
	Certificate DomainCertificate `json:"certificate"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
}

// DomainCertificate describes a custom domain's leaf certificate.
type DomainCertificate struct {
	Subject   string    `json:"subject"`
	DNSNames  []string  `json:"dns_names"`
	Issuer    string    `json:"issuer"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// Fingerprint is the hex SHA-256 of the leaf certificate (DER).
	Fingerprint string `json:"fingerprint"`
}

// DomainRequest adds a custom domain (Hostname, Certificate, PrivateKey)
// or replaces its certificate (Certificate, PrivateKey; Hostname empty or
// unchanged). Certificate is the PEM chain, leaf first; PrivateKey the
// leaf's unencrypted PEM key, which the server stores encrypted and never
// returns.
type DomainRequest struct {
	Hostname    string `json:"hostname,omitempty"`
	Certificate string `json:"certificate"`
	PrivateKey  string `json:"private_key"`
}

// String implements fmt.Stringer without the private key.
func (r DomainRequest) String() string { return "domain request " + r.Hostname }

// GoString implements fmt.GoStringer without the private key.
func (r DomainRequest) GoString() string { return "client.DomainRequest{" + r.Hostname + "}" }

func domainPath(org string, rest ...string) string {
	return path(append([]string{"orgs", org, "domains"}, rest...)...)
}

// ListDomains lists the organisation's custom domains by host name.
func (c *Client) ListDomains(ctx context.Context, org string, opts ListOptions) (*Page[CustomDomain], error) {
	return listPage[CustomDomain](ctx, c, domainPath(org), nil, opts)
}

// AddDomain adds a custom domain with its certificate (owners, admins and
// developers).
func (c *Client) AddDomain(ctx context.Context, org string, req DomainRequest) (*CustomDomain, error) {
	var out CustomDomain
	if err := c.do(ctx, request{method: "POST", path: domainPath(org), body: req, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetDomain returns one custom domain by id.
func (c *Client) GetDomain(ctx context.Context, org, id string) (*CustomDomain, error) {
	var out CustomDomain
	if err := c.do(ctx, request{method: "GET", path: domainPath(org, id), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// ReplaceDomainCertificate installs a renewed certificate and key.
func (c *Client) ReplaceDomainCertificate(ctx context.Context, org, id string, req DomainRequest) (*CustomDomain, error) {
	var out CustomDomain
	if err := c.do(ctx, request{method: "PUT", path: domainPath(org, id), body: req, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteDomain removes a custom domain.
func (c *Client) DeleteDomain(ctx context.Context, org, id string) error {
	return c.do(ctx, request{method: "DELETE", path: domainPath(org, id)})
}
