package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/portico-dev/portico/tenants"
	"github.com/portico-dev/portico/tenants/keyring"
)

// Options configure a Service.
type Options struct {
	// Keyring seals backend signing secrets.
	Keyring *keyring.Keyring
	// Guard checks upstream URLs (SSRF).
	Guard UpstreamGuard
	// Now returns the current time; tests override it.
	Now func() time.Time
	// Logger receives operational logs.
	Logger *slog.Logger
	// OnChange, when set, is called after a change that alters what the
	// gateway serves (deployment, rollback, lifecycle change, key rotation),
	// so the gateway's configuration can be recompiled.
	OnChange func(ctx context.Context)
}

// Service manages the catalog. Every method takes the owning organisation's
// id and filters by it; permission checks (which role may do what) are the
// caller's, from the member's role.
type Service struct {
	db        *gorm.DB
	kr        *keyring.Keyring
	guard     UpstreamGuard
	now       func() time.Time
	log       *slog.Logger
	onChange  func(ctx context.Context)
	onOffline func(ctx context.Context, orgID, apiID, version string, a tenants.Actor) error
}

// NewService returns a catalog Service over db.
func NewService(db *gorm.DB, opts Options) *Service {
	s := &Service{db: db, kr: opts.Keyring, guard: opts.Guard, now: opts.Now, log: opts.Logger, onChange: opts.OnChange}
	if s.now == nil {
		s.now = func() time.Time { return time.Now().UTC() }
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// SetOnOffline sets what runs after a version goes offline: billing ends
// (or moves) the subscriptions made through it, whichever way the version
// was taken offline. A failure is returned from TakeOffline; the version
// stays offline. It is a setter because billing is built on the catalog.
func (s *Service) SetOnOffline(fn func(ctx context.Context, orgID, apiID, version string, a tenants.Actor) error) {
	s.onOffline = fn
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func (s *Service) changed(ctx context.Context) {
	if s.onChange != nil {
		s.onChange(ctx)
	}
}

func notFound(what string) error { return tenants.Errorf(tenants.ENotFound, "No such %s.", what) }

func dbErr(op string, err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return notFound(what)
	}
	return fmt.Errorf("%s: %w", op, err)
}

var slugRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`)

func validSlug(s string) bool { return len(s) >= 2 && len(s) <= 40 && slugRE.MatchString(s) }

var versionRE = regexp.MustCompile(`^v[0-9]+(?:\.[0-9]+){0,2}(?:-[a-z0-9]+)?$`)

// APIInput is what a provider gives to create an API.
type APIInput struct {
	Slug, Name, Summary, Description, Category string
	Tags                                       []string
	LogoURL, ContactURL, TermsURL              string
	Visibility                                 Visibility
}

// APIPatch changes some of an API's fields; nil leaves a field alone.
type APIPatch struct {
	Name, Summary, Description, Category *string
	Tags                                 *[]string
	LogoURL, ContactURL, TermsURL        *string
	Visibility                           *Visibility
}

func validateAPI(v tenants.Validation, a *API) {
	a.Name = strings.TrimSpace(a.Name)
	a.Summary = strings.TrimSpace(a.Summary)
	a.Category = strings.ToLower(strings.TrimSpace(a.Category))
	if n := utf8.RuneCountInString(a.Name); n == 0 || n > 100 {
		v.Add("name", "Enter a name of 1 to 100 characters.")
	}
	if utf8.RuneCountInString(a.Summary) > 280 {
		v.Add("summary", "Keep the summary to 280 characters.")
	}
	if len(a.Description) > 100_000 {
		v.Add("description", "Keep the description under 100,000 characters.")
	}
	if len(a.Category) > 40 || (a.Category != "" && !slugRE.MatchString(a.Category)) {
		v.Add("category", "Use a short category of lower-case letters, digits and dashes, like \"weather\".")
	}
	if len(a.Tags) > 20 {
		v.Add("tags", "Use at most 20 tags.")
	}
	seen := map[string]bool{}
	tags := StringList{}
	for _, t := range a.Tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" || seen[t] {
			continue
		}
		if len(t) > 30 || !slugRE.MatchString(t) {
			v.Add("tags", "Tags are short words of lower-case letters, digits and dashes.")
			continue
		}
		seen[t] = true
		tags = append(tags, t)
	}
	a.Tags = tags
	switch a.Visibility {
	case Public, Unlisted, Private:
	case "":
		a.Visibility = Private
	default:
		v.Add("visibility", "Choose public, unlisted or private.")
	}
	for field, u := range map[string]*string{"logo_url": &a.LogoURL, "contact_url": &a.ContactURL, "terms_url": &a.TermsURL} {
		*u = strings.TrimSpace(*u)
		if *u == "" {
			continue
		}
		pu, err := url.Parse(*u)
		ok := err == nil && pu.Host != "" && (pu.Scheme == "https" || pu.Scheme == "http" || (field == "contact_url" && pu.Scheme == "mailto"))
		if field == "contact_url" && err == nil && pu.Scheme == "mailto" {
			ok = pu.Opaque != ""
		}
		if !ok || len(*u) > 500 {
			v.Add(field, "Use a full http(s) URL"+map[bool]string{true: " or a mailto: address", false: ""}[field == "contact_url"]+".")
		} else if field == "logo_url" && pu.Scheme != "https" {
			v.Add(field, "Use an https URL for the logo: pages only load images over https.")
		}
	}
}

// CreateAPI creates an API in the organisation.
func (s *Service) CreateAPI(ctx context.Context, orgID string, a tenants.Actor, in APIInput) (API, error) {
	now := s.now()
	api := API{ID: newID(), OrgID: orgID, Slug: strings.ToLower(strings.TrimSpace(in.Slug)), Name: in.Name, Summary: in.Summary,
		Description: in.Description, Category: in.Category, Tags: in.Tags, LogoURL: in.LogoURL, Visibility: in.Visibility,
		ContactURL: in.ContactURL, TermsURL: in.TermsURL, CreatedAt: now, UpdatedAt: now}
	v := tenants.Validation{}
	if !validSlug(api.Slug) {
		v.Add("slug", "Use 2 to 40 lower-case letters, digits and dashes, starting and ending with a letter or digit.")
	}
	validateAPI(v, &api)
	if err := v.Err(); err != nil {
		return API{}, err
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&api).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return tenants.ConflictError("slug", "An API with the slug \""+api.Slug+"\" already exists in this organisation.")
			}
			return fmt.Errorf("create api: %w", err)
		}
		return tenants.WriteAudit(tx, now, a, orgID, "api.create", "api", api.ID, map[string]any{"slug": api.Slug, "visibility": api.Visibility})
	})
	return api, err
}

// UpdateAPI changes an API's metadata.
func (s *Service) UpdateAPI(ctx context.Context, orgID, slug string, a tenants.Actor, p APIPatch) (API, error) {
	var api API
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("org_id = ? AND slug = ?", orgID, slug).Take(&api).Error; err != nil {
			return dbErr("update api", err, "API")
		}
		set := func(dst *string, src *string) {
			if src != nil {
				*dst = *src
			}
		}
		set(&api.Name, p.Name)
		set(&api.Summary, p.Summary)
		set(&api.Description, p.Description)
		set(&api.Category, p.Category)
		set(&api.LogoURL, p.LogoURL)
		set(&api.ContactURL, p.ContactURL)
		set(&api.TermsURL, p.TermsURL)
		if p.Tags != nil {
			api.Tags = *p.Tags
		}
		if p.Visibility != nil {
			api.Visibility = *p.Visibility
			if api.Visibility == "" {
				api.Visibility = "invalid"
			}
		}
		v := tenants.Validation{}
		validateAPI(v, &api)
		if err := v.Err(); err != nil {
			return err
		}
		api.UpdatedAt = s.now()
		if err := tx.Model(&API{}).Where("id = ? AND org_id = ?", api.ID, orgID).Select("*").Omit("id", "org_id", "slug", "created_at").Updates(&api).Error; err != nil {
			return fmt.Errorf("update api: %w", err)
		}
		return tenants.WriteAudit(tx, api.UpdatedAt, a, orgID, "api.update", "api", api.ID, map[string]any{"slug": api.Slug})
	})
	if err == nil {
		s.changed(ctx)
	}
	return api, err
}

// API returns an API of the organisation by slug.
func (s *Service) API(ctx context.Context, orgID, slug string) (API, error) {
	var api API
	err := s.db.WithContext(ctx).Where("org_id = ? AND slug = ?", orgID, strings.ToLower(slug)).Take(&api).Error
	return api, dbErr("get api", err, "API")
}

// ListAPIs lists the organisation's APIs by slug.
func (s *Service) ListAPIs(ctx context.Context, orgID string, p tenants.Page) (tenants.List[API], error) {
	after, err := tenants.DecodeCursor(p.Cursor)
	if err != nil {
		return tenants.List[API]{}, err
	}
	limit := p.Size()
	q := s.db.WithContext(ctx).Where("org_id = ?", orgID)
	if after != "" {
		q = q.Where("slug > ?", after)
	}
	var rows []API
	if err := q.Order("slug").Limit(limit + 1).Find(&rows).Error; err != nil {
		return tenants.List[API]{}, fmt.Errorf("list apis: %w", err)
	}
	return tenants.Paginate(rows, limit, func(a API) string { return a.Slug }), nil
}
