package client

import (
	"context"
	"encoding/json"
	"net/url"
	"time"
)

// MarketOrg is the provider behind a market listing; the API page also
// carries its public branding.
type MarketOrg struct {
	Slug        string `json:"slug"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	WebsiteURL  string `json:"website_url,omitempty"`
	LogoURL     string `json:"logo_url,omitempty"`
	BrandColor  string `json:"brand_color,omitempty"`
}

// MarketAPI is one API as the public market lists it.
type MarketAPI struct {
	Org      MarketOrg `json:"org"`
	Slug     string    `json:"slug"`
	Name     string    `json:"name"`
	Summary  string    `json:"summary"`
	Category string    `json:"category"`
	Tags     []string  `json:"tags"`
	LogoURL  string    `json:"logo_url"`
	// Versions names the versions on offer, like v1.
	Versions  []string  `json:"versions"`
	CreatedAt time.Time `json:"created_at"`
}

// MarketAPIDetail is an API's public page: its live versions with their
// operations, and the plans on sale.
type MarketAPIDetail struct {
	Org         MarketOrg       `json:"org"`
	Slug        string          `json:"slug"`
	Name        string          `json:"name"`
	Summary     string          `json:"summary"`
	Description string          `json:"description"`
	Category    string          `json:"category"`
	Tags        []string        `json:"tags"`
	LogoURL     string          `json:"logo_url"`
	ContactURL  string          `json:"contact_url"`
	TermsURL    string          `json:"terms_url"`
	Versions    []MarketVersion `json:"versions"`
	Plans       []Plan          `json:"plans"`
}

// MarketVersion is a live version on offer in the market.
type MarketVersion struct {
	Version string `json:"version"`
	// State is published or deprecated.
	State    VersionState `json:"state"`
	SunsetAt *time.Time   `json:"sunset_at"`
	// HasOpenAPI says MarketOpenAPI has a document for the version.
	HasOpenAPI bool        `json:"has_openapi"`
	Operations []Operation `json:"operations"`
}

// UnmarshalJSON accepts a version object or just its name.
func (v *MarketVersion) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err == nil {
		*v = MarketVersion{Version: name}
		return nil
	}
	type plain MarketVersion
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*v = MarketVersion(p)
	return nil
}

// MarketCategory is a market category and how many APIs it holds.
type MarketCategory struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// MarketQuery searches the market; empty fields are not sent.
type MarketQuery struct {
	// Q searches names, summaries, tags and providers.
	Q        string
	Category string
	// Org limits the results to one provider.
	Org string
	// Sort is "name" (the server's default) or "newest".
	Sort string
	ListOptions
}

// SearchMarket lists the public, published APIs of all organisations. It
// needs no authentication.
func (c *Client) SearchMarket(ctx context.Context, q MarketQuery) (*Page[MarketAPI], error) {
	v := url.Values{}
	for k, s := range map[string]string{"q": q.Q, "category": q.Category, "org": q.Org, "sort": q.Sort} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return listPage[MarketAPI](ctx, c, path("market", "apis"), v, q.ListOptions)
}

// SearchMarketAll is SearchMarket as a ListFunc, for All and Collect.
func (c *Client) SearchMarketAll(q MarketQuery) ListFunc[MarketAPI] {
	return func(ctx context.Context, o ListOptions) (*Page[MarketAPI], error) {
		q.ListOptions = o
		return c.SearchMarket(ctx, q)
	}
}

// MarketCategories lists the market's categories, largest first.
func (c *Client) MarketCategories(ctx context.Context) ([]MarketCategory, error) {
	return listAll[MarketCategory](ctx, c, path("market", "categories"), nil)
}

// MarketAPI returns an API's public market page.
func (c *Client) MarketAPI(ctx context.Context, org, api string) (*MarketAPIDetail, error) {
	var out MarketAPIDetail
	if err := c.do(ctx, request{method: "GET", path: path("market", "apis", org, api), out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// MarketOpenAPI returns the OpenAPI document of a live market version.
func (c *Client) MarketOpenAPI(ctx context.Context, org, api, version string) (json.RawMessage, error) {
	var out json.RawMessage
	if err := c.do(ctx, request{method: "GET", path: path("market", "apis", org, api, "versions", version, "openapi"), out: &out}); err != nil {
		return nil, err
	}
	return out, nil
}
