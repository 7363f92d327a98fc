// Package market is the public API marketplace: the published, public APIs
// of every organisation, searchable by name, summary and tags, filterable by
// category, each with its live versions, operations and plans, and one
// provider page per organisation. Nothing here needs a login, and nothing
// unpublished, unlisted or private ever shows.
package market

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/portico-dev/portico/billing"
	"github.com/portico-dev/portico/portal/catalog"
	"github.com/portico-dev/portico/tenants"
)

// Plans lists an API's published plans.
type Plans interface {
	PublishedPlans(ctx context.Context, apiID string) ([]billing.Plan, error)
}

// Service reads the market.
type Service struct {
	db    *gorm.DB
	plans Plans
}

// NewService returns a market Service.
func NewService(db *gorm.DB, plans Plans) *Service { return &Service{db: db, plans: plans} }

// Listing is an API as the market lists it.
type Listing struct {
	OrgSlug   string    `json:"-"`
	OrgName   string    `json:"-"`
	APIID     string    `json:"-"`
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	Summary   string    `json:"summary"`
	Category  string    `json:"category"`
	Tags      []string  `json:"tags"`
	LogoURL   string    `json:"logo_url"`
	Versions  []string  `json:"versions"`
	CreatedAt time.Time `json:"created_at"`
}

// Query asks for one page of the market.
type Query struct {
	Q        string
	Category string
	// Org limits the listing to one provider.
	Org string
	// Sort is "name" (default) or "newest".
	Sort string
	Page tenants.Page
}

type row struct {
	APIID     string
	OrgSlug   string
	OrgName   string
	Slug      string
	Name      string
	Summary   string
	Category  string
	Tags      string
	LogoURL   string
	CreatedAt tenants.DBTime
}

// listed is the condition for an API to be in the market: public, and at
// least one published or deprecated version live in production.
const listed = `a.visibility = 'public' AND EXISTS (
	SELECT 1 FROM api_versions v JOIN deployments d ON d.version_id = v.id AND d.environment = 'production'
	WHERE v.api_id = a.id AND v.state IN ('published','deprecated'))`

// Search lists market APIs. The cursor is an offset: the market is a
// browsing list, not a feed.
func (s *Service) Search(ctx context.Context, q Query) (tenants.List[Listing], error) {
	offset := 0
	if q.Page.Cursor != "" {
		k, err := tenants.DecodeCursor(q.Page.Cursor)
		n, cerr := strconv.Atoi(k)
		if err != nil || cerr != nil || n < 0 || n > 1_000_000 {
			return tenants.List[Listing]{}, tenants.FieldError("cursor", "The cursor is not valid; use next_cursor from a previous page.")
		}
		offset = n
	}
	limit := q.Page.Size()
	db := s.db.WithContext(ctx).Table("apis a").
		Select("a.id AS api_id, o.slug AS org_slug, o.name AS org_name, a.slug, a.name, a.summary, a.category, a.tags, a.logo_url, a.created_at").
		Joins("JOIN organizations o ON o.id = a.org_id").Where(listed)
	if t := strings.ToLower(strings.TrimSpace(q.Q)); t != "" {
		if r := []rune(t); len(r) > 100 {
			t = string(r[:100]) // cut on a character, not a byte
		}
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(t) + "%"
		db = db.Where(`(LOWER(a.name) LIKE ? ESCAPE '\' OR LOWER(a.summary) LIKE ? ESCAPE '\' OR LOWER(a.tags) LIKE ? ESCAPE '\' OR LOWER(o.name) LIKE ? ESCAPE '\')`, like, like, like, like)
	}
	if q.Category != "" {
		db = db.Where("a.category = ?", strings.ToLower(q.Category))
	}
	if q.Org != "" {
		db = db.Where("o.slug = ?", strings.ToLower(q.Org))
	}
	switch q.Sort {
	case "", "name":
		db = db.Order("LOWER(a.name), a.id")
	case "newest":
		db = db.Order("a.created_at DESC, a.id DESC")
	default:
		return tenants.List[Listing]{}, tenants.FieldError("sort", "Sort by name or newest.")
	}
	var rows []row
	if err := db.Offset(offset).Limit(limit + 1).Scan(&rows).Error; err != nil {
		return tenants.List[Listing]{}, fmt.Errorf("market search: %w", err)
	}
	out := tenants.List[Listing]{}
	if len(rows) > limit {
		rows = rows[:limit]
		out.NextCursor = tenants.EncodeCursor(strconv.Itoa(offset + limit))
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.APIID
	}
	versions, err := s.liveVersions(ctx, ids)
	if err != nil {
		return out, err
	}
	for _, r := range rows {
		l := Listing{OrgSlug: r.OrgSlug, OrgName: r.OrgName, APIID: r.APIID, Slug: r.Slug, Name: r.Name, Summary: r.Summary,
			Category: r.Category, LogoURL: r.LogoURL, Versions: versions[r.APIID], CreatedAt: r.CreatedAt.Time}
		json.Unmarshal([]byte(r.Tags), &l.Tags)
		if l.Tags == nil {
			l.Tags = []string{}
		}
		out.Items = append(out.Items, l)
	}
	return out, nil
}

// liveVersions maps API ids to their market versions, oldest first.
func (s *Service) liveVersions(ctx context.Context, apiIDs []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(apiIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		APIID   string
		Version string
	}
	err := s.db.WithContext(ctx).Table("api_versions v").Select("v.api_id, v.version").
		Joins("JOIN deployments d ON d.version_id = v.id AND d.environment = 'production'").
		Where("v.api_id IN ? AND v.state IN ('published','deprecated')", apiIDs).Order("v.created_at, v.id").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("market versions: %w", err)
	}
	for _, r := range rows {
		out[r.APIID] = append(out[r.APIID], r.Version)
	}
	return out, nil
}

// Category is a market category with how many APIs it holds.
type Category struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// Categories lists the categories of market APIs, largest first.
func (s *Service) Categories(ctx context.Context) ([]Category, error) {
	var cs []Category
	err := s.db.WithContext(ctx).Table("apis a").Select("a.category AS name, COUNT(*) AS count").
		Where(listed).Where("a.category <> ''").Group("a.category").Order("count DESC, name").Scan(&cs).Error
	if err != nil {
		return nil, fmt.Errorf("market categories: %w", err)
	}
	return cs, nil
}

// Detail is one market API with everything its page shows.
type Detail struct {
	Org      tenants.Organization
	API      catalog.API
	Versions []VersionDetail
	Plans    []billing.Plan
}

// VersionDetail is a live version: its state and the operations the
// gateway serves for it in production.
type VersionDetail struct {
	Version    string
	State      catalog.State
	SunsetAt   *time.Time
	Operations []catalog.Operation
	HasSpec    bool
	// Public versions are called without a key or subscription.
	Public bool
}

// API returns a market API's page. Unlisted APIs are reachable by link;
// private and unpublished ones are not found.
func (s *Service) API(ctx context.Context, orgSlug, apiSlug string) (Detail, error) {
	var d Detail
	notFound := tenants.Errorf(tenants.ENotFound, "No API %s/%s in the market.", orgSlug, apiSlug)
	if err := s.db.WithContext(ctx).Where("slug = ?", strings.ToLower(orgSlug)).Take(&d.Org).Error; err != nil {
		if err == gorm.ErrRecordNotFound {
			return d, notFound
		}
		return d, fmt.Errorf("market api: %w", err)
	}
	err := s.db.WithContext(ctx).Where("org_id = ? AND slug = ? AND visibility IN ('public','unlisted')", d.Org.ID, strings.ToLower(apiSlug)).Take(&d.API).Error
	if err == gorm.ErrRecordNotFound {
		return d, notFound
	}
	if err != nil {
		return d, fmt.Errorf("market api: %w", err)
	}
	var vs []catalog.Version
	if err := s.db.WithContext(ctx).Where("api_id = ? AND state IN ('published','deprecated')", d.API.ID).Order("created_at, id").Find(&vs).Error; err != nil {
		return d, fmt.Errorf("market api: %w", err)
	}
	for _, v := range vs {
		var snapJSON string
		err := s.db.WithContext(ctx).Table("revisions r").Select("r.snapshot").
			Joins("JOIN deployments d ON d.revision_id = r.id").
			Where("d.version_id = ? AND d.environment = 'production'", v.ID).Limit(1).Scan(&snapJSON).Error
		if err != nil {
			return d, fmt.Errorf("market api: %w", err)
		}
		if snapJSON == "" {
			continue // not live in production
		}
		var snap catalog.Snapshot
		if err := json.Unmarshal([]byte(snapJSON), &snap); err != nil {
			return d, fmt.Errorf("market api: snapshot: %w", err)
		}
		// Documentation comes from the draft's operations (summaries and
		// parameters), limited to what production serves.
		var ops []catalog.Operation
		if err := s.db.WithContext(ctx).Where("version_id = ?", v.ID).Order("position, id").Find(&ops).Error; err != nil {
			return d, fmt.Errorf("market api: %w", err)
		}
		served := map[string]bool{}
		for _, o := range snap.Operations {
			served[o.Method+" "+o.Path] = true
		}
		vd := VersionDetail{Version: v.Version, State: snap.State, SunsetAt: snap.SunsetAt, HasSpec: v.OpenAPI != "", Public: snap.Settings.Public}
		for _, o := range ops {
			if served[o.Method+" "+o.Path] {
				vd.Operations = append(vd.Operations, o)
			}
		}
		d.Versions = append(d.Versions, vd)
	}
	if len(d.Versions) == 0 {
		return d, notFound
	}
	if s.plans != nil {
		ps, err := s.plans.PublishedPlans(ctx, d.API.ID)
		if err != nil {
			return d, err
		}
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].PriceCents < ps[j].PriceCents })
		d.Plans = ps
	}
	return d, nil
}

// Spec returns the OpenAPI document of a market API's live version.
func (s *Service) Spec(ctx context.Context, orgSlug, apiSlug, version string) (string, error) {
	d, err := s.API(ctx, orgSlug, apiSlug)
	if err != nil {
		return "", err
	}
	for _, v := range d.Versions {
		if v.Version == version && v.HasSpec {
			var doc string
			err := s.db.WithContext(ctx).Table("api_versions").Where("api_id = ? AND version = ?", d.API.ID, version).Pluck("openapi", &doc).Error
			return doc, err
		}
	}
	return "", tenants.Errorf(tenants.ENotFound, "No OpenAPI document for %s/%s %s.", orgSlug, apiSlug, version)
}
