package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/portal/domains"
	"github.com/portico-dev/portico/tenants"
)

func (a *API) registerDomains(org *gin.RouterGroup) {
	w := a.requireRole(tenants.Role.CanManageCatalog, "Only owners, admins and developers can change custom domains.")
	org.GET("/domains", a.listDomains)
	org.POST("/domains", w, a.addDomain)
	org.GET("/domains/:id", a.showDomain)
	org.PUT("/domains/:id", w, a.replaceDomainCertificate)
	org.DELETE("/domains/:id", w, a.deleteDomain)
}

type certificateView struct {
	Subject     string    `json:"subject"`
	DNSNames    []string  `json:"dns_names"`
	Issuer      string    `json:"issuer"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	Fingerprint string    `json:"fingerprint"`
}

// domainView never carries key material; status is valid, expiring or
// expired.
type domainView struct {
	ID          string          `json:"id"`
	Hostname    string          `json:"hostname"`
	Status      string          `json:"status"`
	Certificate certificateView `json:"certificate"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

func viewDomain(d domains.Domain) domainView {
	c := d.Certificate
	names := c.DNSNames
	if names == nil {
		names = []string{}
	}
	return domainView{ID: d.ID, Hostname: d.Hostname, Status: c.Status(time.Now()),
		Certificate: certificateView{Subject: c.Subject, DNSNames: names, Issuer: c.Issuer, NotBefore: c.NotBefore, NotAfter: c.NotAfter, Fingerprint: c.Fingerprint},
		CreatedAt:   d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

// domainRequest adds a domain (hostname, certificate, private_key) or
// replaces its certificate (certificate, private_key).
type domainRequest struct {
	Hostname    *string `json:"hostname"`
	Certificate string  `json:"certificate"`
	PrivateKey  string  `json:"private_key"`
}

// listDomains lists the organisation's custom domains by host name.
func (a *API) listDomains(c *gin.Context) {
	p, err := page(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	l, err := a.Domains.List(c.Request.Context(), currentOrg(c).ID, p)
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, listOf(l, viewDomain))
}

// addDomain adds a custom domain with its certificate.
func (a *API) addDomain(c *gin.Context) {
	var req domainRequest
	if err := decode(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	d, err := a.Domains.Add(c.Request.Context(), currentOrg(c).ID, a.actor(c), domains.Input{Hostname: str(req.Hostname), CertificatePEM: req.Certificate, PrivateKeyPEM: req.PrivateKey})
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusCreated, viewDomain(d))
}

// showDomain returns one custom domain.
func (a *API) showDomain(c *gin.Context) {
	d, err := a.Domains.Get(c.Request.Context(), currentOrg(c).ID, c.Param("id"))
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, viewDomain(d))
}

// replaceDomainCertificate installs a renewed certificate; the host name
// cannot change.
func (a *API) replaceDomainCertificate(c *gin.Context) {
	var req domainRequest
	if err := decode(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	ctx, org := c.Request.Context(), currentOrg(c)
	if req.Hostname != nil {
		cur, err := a.Domains.Get(ctx, org.ID, c.Param("id"))
		if err != nil {
			a.fail(c, err)
			return
		}
		if *req.Hostname != cur.Hostname {
			a.fail(c, tenants.FieldError("hostname", "A custom domain's host name cannot change; add the new host name and delete this one."))
			return
		}
	}
	d, err := a.Domains.ReplaceCertificate(ctx, org.ID, c.Param("id"), a.actor(c), domains.Input{CertificatePEM: req.Certificate, PrivateKeyPEM: req.PrivateKey})
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, viewDomain(d))
}

// deleteDomain removes a custom domain.
func (a *API) deleteDomain(c *gin.Context) {
	if err := a.Domains.Delete(c.Request.Context(), currentOrg(c).ID, c.Param("id"), a.actor(c)); err != nil {
		a.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
