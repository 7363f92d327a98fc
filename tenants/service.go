package tenants

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/portico-dev/portico/tenants/keyring"
)

// Email is one message to send.
type Email struct {
	To      string
	Subject string
	Text    string
}

// Mailer delivers emails. Sending happens after the change that caused it
// has committed, so a failed send never rolls a change back.
type Mailer interface {
	Send(ctx context.Context, m Email) error
}

// Options configure a Service.
type Options struct {
	// BaseURL is the console's external URL, used in links sent by email.
	BaseURL string
	// Mailer sends invitations, verification and reset emails.
	Mailer Mailer
	// Logger receives operational logs; never secrets.
	Logger *slog.Logger
	// Now returns the current time; tests override it.
	Now func() time.Time
	// PasswordParams tunes argon2id; zero means the production defaults.
	PasswordParams *PasswordParams
	// Keyring seals AK/SK secret keys at rest. Without it, creating keys and
	// reading key material fail.
	Keyring *keyring.Keyring
	// OnChange, when set, is called after a committed change that alters
	// what the gateway must know: an app key created or revoked, an app
	// deleted. The gateway's configuration is rebuilt from it.
	OnChange func(ctx context.Context)
}

// Service implements accounts, organisations and their members.
type Service struct {
	db       *gorm.DB
	baseURL  string
	mailer   Mailer
	log      *slog.Logger
	now      func() time.Time
	pw       PasswordParams
	dummy    string // a hash to verify against when the email is unknown
	kr       *keyring.Keyring
	onChange func(ctx context.Context)
}

// NewService returns a Service over db.
func NewService(db *gorm.DB, opts Options) *Service {
	s := &Service{db: db, baseURL: strings.TrimRight(opts.BaseURL, "/"), mailer: opts.Mailer, log: opts.Logger, now: opts.Now, pw: DefaultPasswordParams, kr: opts.Keyring, onChange: opts.OnChange}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = func() time.Time { return time.Now().UTC() }
	}
	if opts.PasswordParams != nil {
		s.pw = *opts.PasswordParams
	}
	h, err := hashPassword("portico-timing-equaliser", s.pw)
	if err != nil {
		panic(fmt.Sprintf("argon2id: %v", err))
	}
	s.dummy = h
	return s
}

// changed reports a committed change the gateway must see.
func (s *Service) changed(ctx context.Context) {
	if s.onChange != nil {
		s.onChange(ctx)
	}
}

// Now returns the service's current time (UTC).
func (s *Service) Now() time.Time { return s.now() }

// newID returns a time-ordered unique id (UUIDv7).
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// randomToken returns a URL-safe random token with a readable prefix.
func randomToken(prefix string, nbytes int) string {
	b := make([]byte, nbytes)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// hashToken returns the hex SHA-256 of a high-entropy token. Tokens are
// random, so a fast hash is enough: there is nothing to brute-force.
func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

func (s *Service) send(ctx context.Context, m Email) {
	if s.mailer == nil {
		return
	}
	if err := s.mailer.Send(ctx, m); err != nil {
		s.log.ErrorContext(ctx, "send email failed", "subject", m.Subject, "err", err)
	}
}

// dbErr maps storage errors to application errors: duplicates become
// conflicts naming what is taken, a missing row becomes not found.
func dbErr(op string, err error, conflict *Error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrDuplicatedKey) && conflict != nil:
		return conflict
	case errors.Is(err, gorm.ErrRecordNotFound):
		return Errorf(ENotFound, "Not found.")
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}

// Page asks for one page of a list: items after the cursor, at most Limit.
type Page struct {
	Cursor string
	Limit  int
}

// limit returns the page size clamped to 1..100, default 20.
func (p Page) limit() int {
	switch {
	case p.Limit <= 0:
		return 20
	case p.Limit > 100:
		return 100
	default:
		return p.Limit
	}
}

// after decodes the cursor into the id to continue after.
func (p Page) after() (string, error) {
	if p.Cursor == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(p.Cursor)
	if err != nil || len(b) == 0 || len(b) > 64 {
		return "", FieldError("cursor", "The cursor is not valid; use next_cursor from a previous page.")
	}
	return string(b), nil
}

// EncodeCursor returns the opaque cursor that continues after key.
func EncodeCursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

// List is one page of results and the cursor of the next page ("" at the end).
type List[T any] struct {
	Items      []T
	NextCursor string
}

// paginate trims rows fetched with limit+1 to one page and computes the next
// cursor from the last item's key.
func paginate[T any](rows []T, limit int, key func(T) string) List[T] {
	if len(rows) > limit {
		rows = rows[:limit]
		return List[T]{Items: rows, NextCursor: EncodeCursor(key(rows[len(rows)-1]))}
	}
	return List[T]{Items: rows}
}

// DecodeCursor returns the key an opaque cursor continues after.
func DecodeCursor(cursor string) (string, error) { return Page{Cursor: cursor}.after() }

// Size is the page size asked for, clamped to 1..100 (default 20).
func (p Page) Size() int { return p.limit() }

// Paginate trims rows fetched with Size()+1 to one page and computes the
// next cursor from the last item's key. Other services' lists use it so
// every list pages the same way.
func Paginate[T any](rows []T, limit int, key func(T) string) List[T] {
	return paginate(rows, limit, key)
}
