package web

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/portico-dev/portico/portal/catalog"
	portalmarket "github.com/portico-dev/portico/portal/market"
	"github.com/portico-dev/portico/templates/components"
	"github.com/portico-dev/portico/templates/pages/market"
	"github.com/portico-dev/portico/tenants"
)

// registerMarket mounts the public market pages on g, the group with the
// CSRF protection and the signed-in user (if any).
func (w *Console) registerMarket(g *gin.RouterGroup) {
	g.GET("/market", w.showMarket)
	g.GET("/market/:org/:api", w.showMarketAPI)
	g.POST("/market/:org/:api/subscribe", w.requireUser, w.subscribe)
	g.GET("/o/:org", w.showProvider)
	g.GET("/o/:org/brand.css", w.serveBrandCSS)
}

// marketPageSize is how many cards a market page shows: four rows of
// three.
const marketPageSize = 12

// marketURL is the market search page for a query; the default sort is
// left out so links stay short.
func marketURL(q, category, sort, cursor string) string {
	v := url.Values{}
	if q != "" {
		v.Set("q", q)
	}
	if category != "" {
		v.Set("category", category)
	}
	if sort != "" && sort != "name" {
		v.Set("sort", sort)
	}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	if len(v) == 0 {
		return "/market"
	}
	return "/market?" + v.Encode()
}

// marketCursorError answers a page link whose cursor is not one the market
// gave out.
func marketCursorError() error {
	return tenants.Errorf(tenants.EMalformed, "This page link is not valid. Start again from the first page of the market.")
}

// showMarket searches the market: ?q= (name, summary, tags, provider),
// ?category=, ?sort=name|newest and the page ?cursor=.
func (w *Console) showMarket(c *gin.Context) {
	ctx := c.Request.Context()
	q := strings.TrimSpace(c.Query("q"))
	// The market reads at most 100 bytes of a query; cut here, at a
	// character boundary, so it never gets half a character.
	for len(q) > 100 {
		_, size := utf8.DecodeLastRuneInString(q)
		q = q[:len(q)-size]
	}
	category := strings.ToLower(strings.TrimSpace(c.Query("category")))
	sort := c.Query("sort")
	if sort != "newest" {
		sort = "name"
	}
	cursor := c.Query("cursor")
	l, err := w.Market.Search(ctx, portalmarket.Query{Q: q, Category: category, Sort: sort, Page: tenants.Page{Cursor: cursor, Limit: marketPageSize}})
	if err != nil {
		if tenants.ErrorCode(err) == tenants.EInvalid {
			err = marketCursorError()
		}
		w.fail(c, err)
		return
	}
	cats, err := w.Market.Categories(ctx)
	if err != nil {
		w.fail(c, err)
		return
	}
	p := market.SearchProps{Q: q, Category: category, Sort: sort, AllURL: marketURL(q, "", sort, "")}
	active := false
	for _, ct := range cats {
		p.Categories = append(p.Categories, market.CategoryChip{
			Name: ct.Name, Count: ct.Count, URL: marketURL(q, ct.Name, sort, ""), Active: ct.Name == category,
		})
		active = active || ct.Name == category
	}
	if category != "" && !active {
		// Show what is filtered even when the category has no API (left).
		p.Categories = append(p.Categories, market.CategoryChip{Name: category, URL: marketURL(q, category, sort, ""), Active: true})
	}
	for _, it := range l.Items {
		p.Results = append(p.Results, listingOf(it))
	}
	if cursor != "" {
		p.FirstURL = marketURL(q, category, sort, "")
	}
	if l.NextCursor != "" {
		p.NextURL = marketURL(q, category, sort, l.NextCursor)
	}
	p.Page = w.page(c, "", "market")
	w.render(c, http.StatusOK, market.Search(p))
}

func listingOf(l portalmarket.Listing) market.Listing {
	return market.Listing{
		OrgSlug: l.OrgSlug, OrgName: l.OrgName, Slug: l.Slug, Name: l.Name, Summary: l.Summary,
		Category: l.Category, Tags: l.Tags, Versions: l.Versions,
	}
}

// showMarketAPI shows a market API: ?version= picks the version (the
// newest published one by default); ?plan= marks the plan a visitor chose,
// and for a signed-in user opens the subscribe form, for the organisation
// ?partner= (a slug) when they may subscribe for several.
func (w *Console) showMarketAPI(c *gin.Context) {
	d, err := w.Market.API(c.Request.Context(), c.Param("org"), c.Param("api"))
	if err != nil {
		w.fail(c, err)
		return
	}
	p, err := w.marketAPIPage(c, d, c.Query("version"), c.Query("plan"))
	if err != nil {
		w.fail(c, err)
		return
	}
	if p.Chosen != "" && p.Page.User != nil {
		if p.Subscribe, err = w.subscribeForm(c, d, p, c.Query("partner")); err != nil {
			w.fail(c, err)
			return
		}
	}
	w.render(c, http.StatusOK, market.API(p))
}

// marketAPIPage builds a market API's page for a version ("" for the
// default one) and a chosen plan ("" for none).
func (w *Console) marketAPIPage(c *gin.Context, d portalmarket.Detail, explicit, chosen string) (market.APIProps, error) {
	ctx := c.Request.Context()
	cur := defaultVersion(d.Versions)
	if explicit != "" {
		cur = -1
		for i, v := range d.Versions {
			if v.Version == explicit {
				cur = i
			}
		}
		if cur < 0 {
			return market.APIProps{}, tenants.Errorf(tenants.ENotFound, "No version %s.", explicit)
		}
	}
	base := market.APIPath(d.Org.Slug, d.API.Slug)
	p := market.APIProps{
		Provider: market.APIProvider{Slug: d.Org.Slug, Name: d.Org.Name, BrandCSS: brandCSSURL(d.Org)},
		Slug:     d.API.Slug, Name: d.API.Name, Summary: d.API.Summary, Description: d.API.Description,
		Category: d.API.Category, Tags: d.API.Tags, ContactURL: d.API.ContactURL, TermsURL: d.API.TermsURL,
	}
	var err error
	p.Provider.Linked, err = w.providerVisible(ctx, c, d.Org.Slug)
	if err != nil {
		return market.APIProps{}, err
	}
	for i, v := range d.Versions {
		p.Versions = append(p.Versions, market.VersionTab{
			Version: v.Version, State: string(v.State), URL: components.WithQuery(base, "version", v.Version), Current: i == cur,
		})
	}
	v := d.Versions[cur]
	p.Version = versionDoc(d, v)
	if v.State == catalog.Deprecated {
		for i := len(d.Versions) - 1; i > cur; i-- {
			if d.Versions[i].State == catalog.Published {
				p.Latest = p.Versions[i]
				break
			}
		}
	}
	_, signedIn := c.Get(ctxUser)
	for _, pl := range d.Plans {
		t := planTerms(pl)
		if signedIn {
			// Signed in: the same page opens the subscribe form; the
			// version shown stays.
			u := components.WithQuery(base, "plan", pl.Slug)
			if explicit != "" {
				u = components.WithQuery(u, "version", explicit)
			}
			t.SubscribeURL = u + "#plans"
		} else {
			t.SubscribeURL = "/signup?next=" + base + "%3Fplan=" + url.QueryEscape(pl.Slug)
		}
		p.Plans = append(p.Plans, t)
		if pl.Slug == chosen {
			p.Chosen = chosen
		}
	}
	p.Page = w.page(c, d.API.Name, "market")
	return p, nil
}

// defaultVersion is the version an API page shows without ?version=: the
// newest published one, else the newest.
func defaultVersion(vs []portalmarket.VersionDetail) int {
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].State == catalog.Published {
			return i
		}
	}
	return len(vs) - 1
}

// anchorRE is what an operation id must look like to serve as an anchor.
var anchorRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)

func versionDoc(d portalmarket.Detail, v portalmarket.VersionDetail) market.VersionDoc {
	doc := market.VersionDoc{Version: v.Version, State: string(v.State), Public: v.Public}
	if v.SunsetAt != nil {
		doc.Sunset = formatDate(*v.SunsetAt)
	}
	if v.HasSpec {
		doc.SpecURL = components.Path("api", "v1", "market", "apis", d.Org.Slug, d.API.Slug, "versions", v.Version, "openapi")
	}
	seen := map[string]bool{}
	for i, o := range v.Operations {
		anchor := "op-" + strconv.Itoa(i+1)
		if anchorRE.MatchString(o.OperationID) && !seen["op-"+o.OperationID] {
			anchor = "op-" + o.OperationID
		}
		seen[anchor] = true
		op := market.Operation{Anchor: anchor, Method: o.Method, Path: o.Path, Summary: o.Summary}
		for _, pa := range o.Parameters {
			op.Parameters = append(op.Parameters, market.Parameter{Name: pa.Name, In: pa.In, Type: pa.Type, Required: pa.Required, Description: pa.Description})
		}
		doc.Operations = append(doc.Operations, op)
	}
	return doc
}

// providerVisible reports whether the organisation's provider page may be
// shown to this request: it is public once the organisation has an API in
// the market, and its members may always see it. An organisation that only
// consumes APIs keeps even its name to itself.
func (w *Console) providerVisible(ctx context.Context, c *gin.Context, slug string) (bool, error) {
	l, err := w.Market.Search(ctx, portalmarket.Query{Org: slug, Page: tenants.Page{Limit: 1}})
	if err != nil {
		return false, err
	}
	if len(l.Items) > 0 {
		return true, nil
	}
	return w.isMember(ctx, c, slug)
}

// isMember reports whether the signed-in user, if any, belongs to the
// organisation.
func (w *Console) isMember(ctx context.Context, c *gin.Context, slug string) (bool, error) {
	v, ok := c.Get(ctxUser)
	if !ok {
		return false, nil
	}
	_, _, err := w.Tenants.OrganizationForMember(ctx, v.(tenants.User).ID, slug)
	switch tenants.ErrorCode(err) {
	case "":
		return true, nil
	case tenants.ENotFound, tenants.EForbidden:
		return false, nil
	}
	return false, err
}

// showProvider shows an organisation's public page and its market APIs.
func (w *Console) showProvider(c *gin.Context) {
	ctx := c.Request.Context()
	org, err := w.Tenants.OrganizationBySlug(ctx, c.Param("org"))
	if err != nil {
		w.fail(c, err)
		return
	}
	cursor := c.Query("cursor")
	l, err := w.Market.Search(ctx, portalmarket.Query{Org: org.Slug, Sort: "name", Page: tenants.Page{Cursor: cursor, Limit: marketPageSize}})
	if err != nil {
		if tenants.ErrorCode(err) == tenants.EInvalid {
			err = marketCursorError()
		}
		w.fail(c, err)
		return
	}
	public := len(l.Items) > 0
	if !public && cursor != "" {
		if public, err = w.providerVisible(ctx, c, org.Slug); err != nil {
			w.fail(c, err)
			return
		}
	}
	preview := false
	if !public {
		member, err := w.isMember(ctx, c, org.Slug)
		if err != nil {
			w.fail(c, err)
			return
		}
		if !member {
			w.NotFound(c)
			return
		}
		preview = true
	}
	p := market.ProviderProps{
		Slug: org.Slug, Name: org.Name, Description: org.Description, WebsiteURL: org.WebsiteURL, LogoURL: org.LogoURL,
		Initial: components.Initial(org.Name, org.Slug), BrandCSS: brandCSSURL(org), Preview: preview,
	}
	for _, it := range l.Items {
		p.APIs = append(p.APIs, listingOf(it))
	}
	base := market.ProviderPath(org.Slug)
	if cursor != "" {
		p.FirstURL = base
	}
	if l.NextCursor != "" {
		p.NextURL = components.WithQuery(base, "cursor", l.NextCursor)
	}
	p.Page = w.page(c, org.Name, "")
	w.render(c, http.StatusOK, market.Provider(p))
}

// brandColorRE is a brand colour safe to write into a stylesheet. The
// tenants service validates colours already; this keeps the stylesheet
// safe whatever the database holds.
var brandColorRE = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// brandCSSURL links an organisation's brand stylesheet, or is "" when it
// has no (valid) brand colour. The colour is in the query, so a changed
// colour is a new URL and the short cache never shows the old one.
func brandCSSURL(o tenants.Organization) string {
	c := strings.ToLower(o.BrandColor)
	if !brandColorRE.MatchString(c) {
		return ""
	}
	return components.Path("o", o.Slug, "brand.css") + "?v=" + c[1:]
}

// serveBrandCSS serves the stylesheet that gives an organisation's public
// pages its brand colour: the Content-Security-Policy forbids inline
// styles, so the colour comes from this same-origin file as custom
// properties (--brand, and --brand-ink for text on it).
func (w *Console) serveBrandCSS(c *gin.Context) {
	ctx := c.Request.Context()
	org, err := w.Tenants.OrganizationBySlug(ctx, c.Param("org"))
	if err != nil {
		w.fail(c, err)
		return
	}
	visible, err := w.providerVisible(ctx, c, org.Slug)
	if err != nil {
		w.fail(c, err)
		return
	}
	if !visible {
		w.NotFound(c)
		return
	}
	body := "/* " + org.Slug + " has no brand colour. */\n"
	if color := strings.ToLower(org.BrandColor); brandColorRE.MatchString(color) {
		body = fmt.Sprintf(".org-brand {\n  --brand: %s;\n  --brand-ink: %s;\n}\n", color, inkOn(color))
	}
	// private: the CSRF middleware may set a cookie on this response, which
	// a shared cache must never hand to someone else.
	c.Header("Cache-Control", "private, max-age=300")
	c.Data(http.StatusOK, "text/css; charset=utf-8", []byte(body))
}

// inkOn picks the text colour with the better contrast on a background
// colour "#rrggbb": near-white or near-black.
func inkOn(color string) string {
	const light, dark = "#ffffff", "#14171c"
	bg := luminance(color)
	onLight := (luminance(light) + 0.05) / (bg + 0.05)
	onDark := (bg + 0.05) / (luminance(dark) + 0.05)
	if onLight >= onDark {
		return light
	}
	return dark
}

// luminance is the WCAG relative luminance of "#rrggbb".
func luminance(color string) float64 {
	ch := func(i int) float64 {
		n, _ := strconv.ParseUint(color[1+2*i:3+2*i], 16, 8)
		v := float64(n) / 255
		if v <= 0.04045 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(0) + 0.7152*ch(1) + 0.0722*ch(2)
}
