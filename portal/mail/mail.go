// Package mail delivers the console's emails: through SMTP when
// PORTICO_SMTP_URL is set, otherwise into the development outbox — a table
// the server operator reads in the console — with a log line naming the
// recipient and subject (never the body: it carries one-time links).
package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"
	"gorm.io/gorm"

	"github.com/portico-dev/portico/tenants"
)

// OutboxEmail is one email kept in the development outbox.
type OutboxEmail struct {
	ID        string
	ToAddr    string
	Subject   string
	Body      string
	CreatedAt time.Time
}

// TableName implements gorm's Tabler.
func (OutboxEmail) TableName() string { return "outbox_emails" }

// Outbox stores emails instead of sending them.
type Outbox struct {
	db  *gorm.DB
	log *slog.Logger
	ids func() string
}

// NewOutbox returns an Outbox writing to db.
func NewOutbox(db *gorm.DB, log *slog.Logger, ids func() string) *Outbox {
	return &Outbox{db: db, log: log, ids: ids}
}

// Send implements tenants.Mailer.
func (o *Outbox) Send(ctx context.Context, m tenants.Email) error {
	row := OutboxEmail{ID: o.ids(), ToAddr: m.To, Subject: m.Subject, Body: m.Text, CreatedAt: time.Now().UTC()}
	if err := o.db.WithContext(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	o.log.InfoContext(ctx, "email written to the development outbox (no PORTICO_SMTP_URL)", "to", m.To, "subject", m.Subject)
	return nil
}

// List returns outbox emails newest first, after the cursor id.
func (o *Outbox) List(ctx context.Context, afterID string, limit int) ([]OutboxEmail, error) {
	q := o.db.WithContext(ctx).Order("id DESC").Limit(limit)
	if afterID != "" {
		q = q.Where("id < ?", afterID)
	}
	var rows []OutboxEmail
	if err := q.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return rows, nil
}

// SMTP sends through an SMTP server.
type SMTP struct {
	host, user, pass, from string
	port                   int
	implicitTLS            bool
	log                    *slog.Logger
}

// ParseSMTPURL reads smtp://user:pass@host:587?from=portico@example.com
// (STARTTLS required when the server offers it) or smtps://…:465 (implicit
// TLS).
func ParseSMTPURL(raw string, log *slog.Logger) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// A *url.Error repeats the URL, password included; keep the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("PORTICO_SMTP_URL: %w", err)
	}
	s := &SMTP{host: u.Hostname(), log: log, from: u.Query().Get("from")}
	switch u.Scheme {
	case "smtp":
		s.port = 587
	case "smtps":
		s.port, s.implicitTLS = 465, true
	default:
		return nil, errors.New("PORTICO_SMTP_URL: scheme must be smtp or smtps")
	}
	if p := u.Port(); p != "" {
		if s.port, err = strconv.Atoi(p); err != nil || s.port < 1 || s.port > 65535 {
			return nil, fmt.Errorf("PORTICO_SMTP_URL: port %q is not a number from 1 to 65535", p)
		}
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	if s.host == "" {
		return nil, errors.New("PORTICO_SMTP_URL: missing host")
	}
	if s.from == "" {
		s.from = "portico@" + s.host
	}
	return s, nil
}

// Send implements tenants.Mailer.
func (s *SMTP) Send(ctx context.Context, m tenants.Email) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("smtp from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("smtp to: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	opts := []gomail.Option{gomail.WithPort(s.port), gomail.WithTimeout(15 * time.Second)}
	if s.implicitTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.user != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(s.user), gomail.WithPassword(s.pass))
	}
	c, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp send: %w", err)
	}
	s.log.InfoContext(ctx, "email sent", "to", m.To, "subject", m.Subject)
	return nil
}
