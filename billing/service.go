package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/portico-dev/portico/tenants"
)

// VersionLister tells billing which versions an API has, so a plan can only
// grant versions that exist. The catalog implements it.
type VersionLister interface {
	// VersionNames returns the names ("v1", "v2") of the API's versions that
	// a plan may grant. An API of another organisation has none: return an
	// empty list or a tenants ENotFound error.
	VersionNames(ctx context.Context, orgID, apiID string) ([]string, error)
}

// Options configure a Service.
type Options struct {
	// Versions checks the versions a plan grants against the catalog.
	// Required.
	Versions VersionLister
	// Now returns the current time; tests override it.
	Now func() time.Time
	// Logger receives operational logs.
	Logger *slog.Logger
	// Mailer emails organisations' owners and admins about subscription
	// requests and the provider's decisions. Nil sends nothing.
	Mailer tenants.Mailer
	// BaseURL is the console's external URL, for links in those emails.
	BaseURL string
	// OnChange, when set, is called after a committed change to
	// subscriptions the gateway enforces (created, approved, suspended,
	// resumed, ended, moved to another plan, version or period), so the
	// gateway's configuration is rebuilt.
	OnChange func(ctx context.Context)
}

// Service manages plans and subscriptions.
type Service struct {
	db       *gorm.DB
	versions VersionLister
	now      func() time.Time
	log      *slog.Logger
	mailer   tenants.Mailer
	baseURL  string
	onChange func(ctx context.Context)
}

// NewService returns a Service over db. It panics when opts.Versions is nil:
// without it a plan could grant versions that do not exist.
func NewService(db *gorm.DB, opts Options) *Service {
	if opts.Versions == nil {
		panic("billing: Options.Versions is required")
	}
	s := &Service{db: db, versions: opts.Versions, now: opts.Now, log: opts.Logger, mailer: opts.Mailer,
		baseURL: strings.TrimRight(opts.BaseURL, "/"), onChange: opts.OnChange}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// changed reports a committed change the gateway must see.
func (s *Service) changed(ctx context.Context) {
	if s.onChange != nil {
		s.onChange(ctx)
	}
}

// timestamp returns the current time as the database keeps it (UTC,
// microseconds), so what a method returns equals what a later read returns.
func (s *Service) timestamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// newID returns a time-ordered unique id (UUIDv7), as tenants does.
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// notFound is the one answer for a missing row and for a row of another
// organisation or API, so ids cannot be probed across tenants.
func notFound(what string) error { return tenants.Errorf(tenants.ENotFound, "%s not found.", what) }

// dbErr maps storage errors: duplicates become the given conflict, a missing
// row becomes not found, anything else is wrapped with the operation.
func dbErr(op string, err error, conflict error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrDuplicatedKey) && conflict != nil:
		return conflict
	case errors.Is(err, gorm.ErrRecordNotFound):
		return notFound(what)
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}

// pageLimit clamps a page size to 1..100, default 20, as tenants does.
func pageLimit(p tenants.Page) int {
	switch {
	case p.Limit <= 0:
		return 20
	case p.Limit > 100:
		return 100
	default:
		return p.Limit
	}
}

// paginate trims rows fetched with limit+1 to one page and sets the cursor
// of the next page from the last item's key.
func paginate[T any](rows []T, limit int, key func(T) string) tenants.List[T] {
	if len(rows) > limit {
		rows = rows[:limit]
		return tenants.List[T]{Items: rows, NextCursor: tenants.EncodeCursor(key(rows[len(rows)-1]))}
	}
	return tenants.List[T]{Items: rows}
}
