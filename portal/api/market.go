package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/portal/market"
	"github.com/portico-dev/portico/tenants"
)

func (a *API) registerMarket(g *gin.RouterGroup) {
	g.GET("/market/apis", a.searchMarket)
	g.GET("/market/categories", a.listMarketCategories)
	g.GET("/market/apis/:org/:api", a.showMarketAPI)
	g.GET("/market/apis/:org/:api/versions/:version/openapi", a.showMarketSpec)
}

type marketOrgView struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

type marketListingView struct {
	Org       marketOrgView `json:"org"`
	Slug      string        `json:"slug"`
	Name      string        `json:"name"`
	Summary   string        `json:"summary"`
	Category  string        `json:"category"`
	Tags      []string      `json:"tags"`
	LogoURL   string        `json:"logo_url"`
	Versions  []string      `json:"versions"`
	CreatedAt time.Time     `json:"created_at"`
}

func viewListing(l market.Listing) marketListingView {
	v := marketListingView{Org: marketOrgView{Slug: l.OrgSlug, Name: l.OrgName}, Slug: l.Slug, Name: l.Name, Summary: l.Summary,
		Category: l.Category, Tags: l.Tags, LogoURL: l.LogoURL, Versions: l.Versions, CreatedAt: l.CreatedAt}
	if v.Versions == nil {
		v.Versions = []string{}
	}
	return v
}

// searchMarket lists public, published APIs of all organisations; no
// authentication.
func (a *API) searchMarket(c *gin.Context) {
	p, err := page(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	l, err := a.Market.Search(c.Request.Context(), market.Query{Q: c.Query("q"), Category: c.Query("category"), Org: c.Query("org"), Sort: c.Query("sort"), Page: p})
	if err != nil {
		a.fail(c, err)
		return
	}
	a.ok(c, http.StatusOK, listOf(l, viewListing))
}

// listMarketCategories lists categories with their API counts.
func (a *API) listMarketCategories(c *gin.Context) {
	cs, err := a.Market.Categories(c.Request.Context())
	if err != nil {
		a.fail(c, err)
		return
	}
	if cs == nil {
		cs = []market.Category{}
	}
	a.ok(c, http.StatusOK, listBody[market.Category]{Items: cs})
}

type marketVersionView struct {
	Version    string          `json:"version"`
	State      catalog.State   `json:"state"`
	SunsetAt   *time.Time      `json:"sunset_at"`
	HasOpenAPI bool            `json:"has_openapi"`
	Public     bool            `json:"public"`
	Operations []operationDocs `json:"operations"`
}

type operationDocs struct {
	OperationID string              `json:"operation_id"`
	Method      string              `json:"method"`
	Path        string              `json:"path"`
	Summary     string              `json:"summary"`
	Parameters  []catalog.Parameter `json:"parameters"`
}

// showMarketAPI returns one market API: description, live versions with
// their operations, and published plans.
func (a *API) showMarketAPI(c *gin.Context) {
	d, err := a.Market.API(c.Request.Context(), c.Param("org"), c.Param("api"))
	if err != nil {
		a.fail(c, err)
		return
	}
	vs := make([]marketVersionView, len(d.Versions))
	for i, v := range d.Versions {
		vs[i] = marketVersionView{Version: v.Version, State: v.State, SunsetAt: v.SunsetAt, HasOpenAPI: v.HasSpec, Public: v.Public, Operations: []operationDocs{}}
		for _, o := range v.Operations {
			ps := []catalog.Parameter(o.Parameters)
			if ps == nil {
				ps = []catalog.Parameter{}
			}
			vs[i].Operations = append(vs[i].Operations, operationDocs{OperationID: o.OperationID, Method: o.Method, Path: o.Path, Summary: o.Summary, Parameters: ps})
		}
	}
	plans := make([]billing.Plan, len(d.Plans))
	for i, p := range d.Plans {
		plans[i] = planView(p)
	}
	tags := []string(d.API.Tags)
	if tags == nil {
		tags = []string{}
	}
	a.ok(c, http.StatusOK, gin.H{
		"org":         gin.H{"slug": d.Org.Slug, "name": d.Org.Name, "description": d.Org.Description, "website_url": d.Org.WebsiteURL, "logo_url": d.Org.LogoURL, "brand_color": d.Org.BrandColor},
		"slug":        d.API.Slug,
		"name":        d.API.Name,
		"summary":     d.API.Summary,
		"description": d.API.Description,
		"category":    d.API.Category,
		"tags":        tags,
		"logo_url":    d.API.LogoURL,
		"contact_url": d.API.ContactURL,
		"terms_url":   d.API.TermsURL,
		"versions":    vs,
		"plans":       plans,
	})
}

// showMarketSpec serves a live version's OpenAPI document.
func (a *API) showMarketSpec(c *gin.Context) {
	doc, err := a.Market.Spec(c.Request.Context(), c.Param("org"), c.Param("api"), c.Param("version"))
	if err != nil {
		a.fail(c, err)
		return
	}
	if doc == "" {
		a.fail(c, tenants.Errorf(tenants.ENotFound, "No OpenAPI document."))
		return
	}
	c.Header("Cache-Control", "public, max-age=60")
	c.Data(http.StatusOK, "application/json; charset=utf-8", []byte(doc))
}
