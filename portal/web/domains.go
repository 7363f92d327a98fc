package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/portal/domains"
	"github.com/portico-dev/portico/templates/components"
	domainpages "github.com/portico-dev/portico/templates/pages/domains"
	"github.com/portico-dev/portico/tenants"
)

// registerDomains mounts the custom domains pages on o: every member reads
// them; whoever manages the catalog adds, replaces and deletes.
func (w *Console) registerDomains(o *gin.RouterGroup) {
	if w.Domains == nil {
		return
	}
	cw := w.requireDomainWriter
	o.GET("/domains", w.showDomains)
	o.POST("/domains", cw, w.addDomain)
	o.GET("/domains/:id", w.showDomain)
	o.POST("/domains/:id/certificate", cw, w.replaceDomainCertificate)
	o.GET("/domains/:id/delete", cw, w.showDeleteDomain)
	o.POST("/domains/:id/delete", cw, w.deleteDomain)
}

func (w *Console) requireDomainWriter(c *gin.Context) {
	if !currentRole(c).CanManageCatalog() {
		w.fail(c, tenants.Errorf(tenants.EForbidden, "Only owners, admins and developers can change custom domains."))
		return
	}
	c.Next()
}

func domainsURL(c *gin.Context, segments ...string) string {
	return components.Path(append([]string{"orgs", currentOrg(c).Slug, "domains"}, segments...)...)
}

// domainsPage loads the list; the add form starts empty unless f is given.
func (w *Console) domainsPage(c *gin.Context, f domainpages.Form) (domainpages.ListProps, error) {
	l, err := w.Domains.List(c.Request.Context(), currentOrg(c).ID, pageParam(c))
	if err != nil {
		return domainpages.ListProps{}, err
	}
	now := time.Now()
	p := domainpages.ListProps{CanManage: currentRole(c).CanManageCatalog(), GatewayDomain: w.Domains.GatewayDomain(), Form: f}
	for _, d := range l.Items {
		p.Domains = append(p.Domains, domainpages.Row{ID: d.ID, Hostname: d.Hostname, Status: d.Certificate.Status(now),
			Expires: formatTime(d.Certificate.NotAfter), Issuer: d.Certificate.Issuer})
	}
	p.FirstURL, p.NextURL = pageURLs(c, l.NextCursor)
	p.Page = w.page(c, "Custom domains", "domains")
	return p, nil
}

// showDomains lists the organisation's custom domains.
func (w *Console) showDomains(c *gin.Context) {
	p, err := w.domainsPage(c, domainpages.Form{})
	if err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, http.StatusOK, domainpages.List(p))
}

// addDomain adds a domain; on bad input the list re-renders with the
// errors and the typed host name and chain (never the key).
func (w *Console) addDomain(c *gin.Context) {
	f := domainpages.Form{Hostname: c.PostForm("hostname"), Certificate: c.PostForm("certificate")}
	d, err := w.Domains.Add(c.Request.Context(), currentOrg(c).ID, w.actor(c), domains.Input{Hostname: f.Hostname, CertificatePEM: f.Certificate, PrivateKeyPEM: c.PostForm("private_key")})
	if err != nil {
		if !isFormError(err) {
			w.fail(c, err)
			return
		}
		p, lerr := w.domainsPage(c, f)
		if lerr != nil {
			w.fail(c, lerr)
			return
		}
		p.Message, p.Errors = formErrors(err, nil)
		w.render(c, httpStatusForForm(err), domainpages.List(p))
		return
	}
	setFlash(c, "success", d.Hostname+" added. The gateway answers for it with its certificate within seconds.")
	redirect(c, domainsURL(c, d.ID))
}

func (w *Console) domainPage(c *gin.Context, id string) (domainpages.DetailProps, error) {
	d, err := w.Domains.Get(c.Request.Context(), currentOrg(c).ID, id)
	if err != nil {
		return domainpages.DetailProps{}, err
	}
	ci := d.Certificate
	names := strings.Join(ci.DNSNames, ", ")
	if names == "" {
		names = "none"
	}
	p := domainpages.DetailProps{ID: d.ID, Hostname: d.Hostname, Status: ci.Status(time.Now()), Subject: ci.Subject, DNSNames: names,
		Issuer: ci.Issuer, NotBefore: formatTime(ci.NotBefore), NotAfter: formatTime(ci.NotAfter), Fingerprint: ci.Fingerprint,
		Added: formatTime(d.CreatedAt), Updated: formatTime(d.UpdatedAt), CanManage: currentRole(c).CanManageCatalog()}
	p.Page = w.page(c, d.Hostname+" · Custom domains", "domains")
	return p, nil
}

// showDomain shows a domain's certificate and the replace form.
func (w *Console) showDomain(c *gin.Context) {
	p, err := w.domainPage(c, c.Param("id"))
	if err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, http.StatusOK, domainpages.Detail(p))
}

// replaceDomainCertificate installs a renewed certificate.
func (w *Console) replaceDomainCertificate(c *gin.Context) {
	chain := c.PostForm("certificate")
	d, err := w.Domains.ReplaceCertificate(c.Request.Context(), currentOrg(c).ID, c.Param("id"), w.actor(c), domains.Input{CertificatePEM: chain, PrivateKeyPEM: c.PostForm("private_key")})
	if err != nil {
		if !isFormError(err) {
			w.fail(c, err)
			return
		}
		p, lerr := w.domainPage(c, c.Param("id"))
		if lerr != nil {
			w.fail(c, lerr)
			return
		}
		p.Form.Certificate = chain
		p.Message, p.Errors = formErrors(err, nil)
		w.render(c, httpStatusForForm(err), domainpages.Detail(p))
		return
	}
	setFlash(c, "success", "Certificate for "+d.Hostname+" replaced; it now expires "+formatTime(d.Certificate.NotAfter)+".")
	redirect(c, domainsURL(c, d.ID))
}

// showDeleteDomain asks for confirmation.
func (w *Console) showDeleteDomain(c *gin.Context) {
	d, err := w.Domains.Get(c.Request.Context(), currentOrg(c).ID, c.Param("id"))
	if err != nil {
		w.fail(c, err)
		return
	}
	w.render(c, http.StatusOK, domainpages.Delete(domainpages.DeleteProps{Page: w.page(c, "Delete "+d.Hostname, "domains"), ID: d.ID, Hostname: d.Hostname}))
}

// deleteDomain deletes a domain and returns to the list.
func (w *Console) deleteDomain(c *gin.Context) {
	ctx, org := c.Request.Context(), currentOrg(c)
	d, err := w.Domains.Get(ctx, org.ID, c.Param("id"))
	if err != nil {
		w.fail(c, err)
		return
	}
	if err := w.Domains.Delete(ctx, org.ID, d.ID, w.actor(c)); err != nil {
		w.fail(c, err)
		return
	}
	setFlash(c, "success", d.Hostname+" deleted.")
	redirect(c, domainsURL(c))
}
