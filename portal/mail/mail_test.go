package mail

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/tenants"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestParseSMTPURL(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    SMTP // log is not compared
		wantErr string
	}{
		{
			name: "smtp default port", raw: "smtp://mail.example.com",
			want: SMTP{host: "mail.example.com", port: 587, from: "portico@mail.example.com"},
		},
		{
			name: "smtps default port", raw: "smtps://mail.example.com",
			want: SMTP{host: "mail.example.com", port: 465, implicitTLS: true, from: "portico@mail.example.com"},
		},
		{
			name: "smtp explicit port", raw: "smtp://mail.example.com:2525",
			want: SMTP{host: "mail.example.com", port: 2525, from: "portico@mail.example.com"},
		},
		{
			name: "smtps explicit port", raw: "smtps://mail.example.com:1465",
			want: SMTP{host: "mail.example.com", port: 1465, implicitTLS: true, from: "portico@mail.example.com"},
		},
		{
			name: "upper-case scheme", raw: "SMTP://mail.example.com",
			want: SMTP{host: "mail.example.com", port: 587, from: "portico@mail.example.com"},
		},
		{
			name: "user and password", raw: "smtp://alice:s3cret@mail.example.com:587",
			want: SMTP{host: "mail.example.com", port: 587, user: "alice", pass: "s3cret", from: "portico@mail.example.com"},
		},
		{
			name: "escaped password", raw: "smtp://alice%40example.com:p%40ss%3Aw%2Frd@mail.example.com",
			want: SMTP{host: "mail.example.com", port: 587, user: "alice@example.com", pass: "p@ss:w/rd", from: "portico@mail.example.com"},
		},
		{
			name: "user without password", raw: "smtp://apikey@mail.example.com",
			want: SMTP{host: "mail.example.com", port: 587, user: "apikey", from: "portico@mail.example.com"},
		},
		{
			name: "from parameter", raw: "smtps://u:p@mail.example.com?from=noreply%40portico.example",
			want: SMTP{host: "mail.example.com", port: 465, implicitTLS: true, user: "u", pass: "p", from: "noreply@portico.example"},
		},
		{
			name: "from with display name", raw: "smtp://mail.example.com?from=Portico+%3Cnoreply%40portico.example%3E",
			want: SMTP{host: "mail.example.com", port: 587, from: "Portico <noreply@portico.example>"},
		},
		{
			name: "ipv6 host", raw: "smtp://[::1]:25",
			want: SMTP{host: "::1", port: 25, from: "portico@::1"},
		},
		{name: "bad scheme", raw: "http://mail.example.com", wantErr: "scheme must be smtp or smtps"},
		{name: "no scheme", raw: "mail.example.com:587", wantErr: "PORTICO_SMTP_URL"},
		{name: "empty", raw: "", wantErr: "scheme must be smtp or smtps"},
		{name: "missing host", raw: "smtp://", wantErr: "missing host"},
		{name: "missing host with port", raw: "smtp://:587", wantErr: "missing host"},
		{name: "missing host with user", raw: "smtp://u:p@", wantErr: "missing host"},
		{name: "non-numeric port", raw: "smtp://mail.example.com:abc", wantErr: "port"},
		{name: "port zero", raw: "smtp://mail.example.com:0", wantErr: "port"},
		{name: "port too large", raw: "smtp://mail.example.com:70000", wantErr: "port"},
		{name: "control character", raw: "smtp://mail.example.com/\x7f", wantErr: "PORTICO_SMTP_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSMTPURL(tt.raw, discardLogger())
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseSMTPURL(%q) = %+v, want error containing %q", tt.raw, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSMTPURL(%q): %v", tt.raw, err)
			}
			if got.log == nil {
				t.Error("logger not kept")
			}
			got.log = nil
			if *got != tt.want {
				t.Errorf("ParseSMTPURL(%q) =\n %+v\nwant\n %+v", tt.raw, *got, tt.want)
			}
		})
	}
}

func TestParseSMTPURLErrorsHidePassword(t *testing.T) {
	// The error ends up in startup logs; it must not carry the password.
	for _, raw := range []string{
		"smtp://alice:hunter2-secret@mail.example.com:abc",
		"smtp://alice:hunter2-secret@mail.example.com:70000",
		"ftp://alice:hunter2-secret@mail.example.com",
		"smtp://alice:hunter2-secret@mail.example.com/\x7f",
		"smtp://alice:hunter2-secret@",
	} {
		_, err := ParseSMTPURL(raw, discardLogger())
		if err == nil {
			t.Fatalf("ParseSMTPURL(%q) succeeded, want error", raw)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error for %q leaks the password: %v", raw, err)
		}
	}
}

// counterIDs returns increasing, fixed-width ids so ordering by id is
// ordering by send.
func counterIDs() func() string {
	var mu sync.Mutex
	n := 0
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		n++
		return fmt.Sprintf("id-%06d", n)
	}
}

func TestOutbox(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		ctx := context.Background()
		var logBuf bytes.Buffer
		o := NewOutbox(db.DB, slog.New(slog.NewTextHandler(&logBuf, nil)), counterIDs())

		before := time.Now().UTC().Add(-time.Second)
		const n = 5
		for i := 1; i <= n; i++ {
			err := o.Send(ctx, tenants.Email{
				To:      fmt.Sprintf("user%d@example.com", i),
				Subject: fmt.Sprintf("Subject %d", i),
				Text:    fmt.Sprintf("Body %d: https://portico.example/reset?token=one-time-%d", i, i),
			})
			if err != nil {
				t.Fatalf("Send %d: %v", i, err)
			}
		}
		after := time.Now().UTC().Add(time.Second)

		if strings.Contains(logBuf.String(), "one-time-") {
			t.Errorf("outbox log carries the body: %s", logBuf.String())
		}
		if !strings.Contains(logBuf.String(), "user3@example.com") || !strings.Contains(logBuf.String(), "Subject 3") {
			t.Errorf("outbox log lacks recipient or subject: %s", logBuf.String())
		}

		t.Run("stored row", func(t *testing.T) {
			rows, err := o.List(ctx, "", 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 {
				t.Fatalf("List(limit 1) returned %d rows", len(rows))
			}
			r := rows[0]
			if r.ID != "id-000005" || r.ToAddr != "user5@example.com" || r.Subject != "Subject 5" ||
				r.Body != "Body 5: https://portico.example/reset?token=one-time-5" {
				t.Errorf("newest row = %+v", r)
			}
			if r.CreatedAt.Before(before) || r.CreatedAt.After(after) {
				t.Errorf("CreatedAt = %v, want between %v and %v", r.CreatedAt, before, after)
			}
		})

		t.Run("pages newest first", func(t *testing.T) {
			pages := []struct {
				after string
				limit int
				want  []string
			}{
				{after: "", limit: 2, want: []string{"id-000005", "id-000004"}},
				{after: "id-000004", limit: 2, want: []string{"id-000003", "id-000002"}},
				{after: "id-000002", limit: 2, want: []string{"id-000001"}},
				{after: "id-000001", limit: 2, want: nil},
				{after: "", limit: 100, want: []string{"id-000005", "id-000004", "id-000003", "id-000002", "id-000001"}},
			}
			for _, p := range pages {
				rows, err := o.List(ctx, p.after, p.limit)
				if err != nil {
					t.Fatalf("List(%q, %d): %v", p.after, p.limit, err)
				}
				var ids []string
				for _, r := range rows {
					ids = append(ids, r.ID)
				}
				if fmt.Sprint(ids) != fmt.Sprint(p.want) {
					t.Errorf("List(%q, %d) = %v, want %v", p.after, p.limit, ids, p.want)
				}
			}
		})

		t.Run("duplicate id fails", func(t *testing.T) {
			dup := NewOutbox(db.DB, discardLogger(), func() string { return "id-000001" })
			if err := dup.Send(ctx, tenants.Email{To: "x@example.com", Subject: "s", Text: "b"}); err == nil {
				t.Fatal("Send with a duplicate id succeeded")
			}
		})
	})
}

// smtpMessage is one message the test server accepted.
type smtpMessage struct {
	from string
	to   []string
	data []byte
}

// smtpBackend collects messages; with user set it offers CRAM-MD5 and
// refuses mail from unauthenticated sessions.
type smtpBackend struct {
	user, pass string
	rejectRcpt string

	mu       sync.Mutex
	messages []smtpMessage
	authed   []string
}

func (b *smtpBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{b: b}, nil }

func (b *smtpBackend) received() []smtpMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]smtpMessage(nil), b.messages...)
}

type smtpSession struct {
	b      *smtpBackend
	authed bool
	msg    smtpMessage
}

func (s *smtpSession) AuthMechanisms() []string {
	if s.b.user == "" {
		return nil
	}
	return []string{"CRAM-MD5"}
}

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	if mech != "CRAM-MD5" || s.b.user == "" {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return &cramMD5Server{user: s.b.user, pass: s.b.pass, ok: func(u string) {
		s.authed = true
		s.b.mu.Lock()
		s.b.authed = append(s.b.authed, u)
		s.b.mu.Unlock()
	}}, nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.user != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.msg = smtpMessage{from: from}
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if to == s.b.rejectRcpt {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
	}
	s.msg.to = append(s.msg.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.data = data
	s.b.mu.Lock()
	s.b.messages = append(s.b.messages, s.msg)
	s.b.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        { s.msg = smtpMessage{} }
func (s *smtpSession) Logout() error { return nil }

// cramMD5Server is the server side of RFC 2195, which go-sasl lacks. It is
// the mechanism go-mail picks on an unencrypted connection.
type cramMD5Server struct {
	user, pass string
	challenge  []byte
	ok         func(user string)
}

func (c *cramMD5Server) Next(response []byte) ([]byte, bool, error) {
	if c.challenge == nil {
		c.challenge = fmt.Appendf(nil, "<%d.test@127.0.0.1>", time.Now().UnixNano())
		return c.challenge, false, nil
	}
	user, digest, _ := strings.Cut(string(response), " ")
	mac := hmac.New(md5.New, []byte(c.pass))
	mac.Write(c.challenge)
	want := hex.EncodeToString(mac.Sum(nil))
	if user != c.user || !hmac.Equal([]byte(digest), []byte(want)) {
		return nil, false, smtp.ErrAuthFailed
	}
	c.ok(user)
	return nil, true, nil
}

// startSMTP runs an SMTP server for be on 127.0.0.1 and returns its port.
func startSMTP(t *testing.T, be *smtpBackend) int {
	t.Helper()
	srv := smtp.NewServer(be)
	srv.Domain = "127.0.0.1"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = testLogger{t}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		ln.Close() // Close misses a listener Serve has not registered yet
		<-done
	})
	return ln.Addr().(*net.TCPAddr).Port
}

type testLogger struct{ t *testing.T }

func (l testLogger) Printf(format string, v ...any) { l.t.Logf("smtp server: "+format, v...) }
func (l testLogger) Println(v ...any)               { l.t.Log(append([]any{"smtp server:"}, v...)...) }

// parsed decodes a received message's subject and text body.
func parsed(t *testing.T, data []byte) (hdr netmail.Header, subject, body string) {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("received message does not parse: %v\n%s", err, data)
	}
	subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode subject %q: %v", m.Header.Get("Subject"), err)
	}
	var r io.Reader = m.Body
	switch strings.ToLower(m.Header.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		r = quotedprintable.NewReader(m.Body)
	case "", "7bit", "8bit":
	default:
		t.Fatalf("unexpected Content-Transfer-Encoding %q", m.Header.Get("Content-Transfer-Encoding"))
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return m.Header, subject, strings.ReplaceAll(string(b), "\r\n", "\n")
}

func TestSMTPSend(t *testing.T) {
	longLink := "https://portico.example/invitations/accept?token=" + strings.Repeat("Ab3=", 30)
	tests := []struct {
		name     string
		user     string
		pass     string
		urlAuth  string // user info placed in the URL
		from     string // from= parameter
		wantFrom string
		email    tenants.Email
	}{
		{
			name:     "no credentials, default from",
			wantFrom: "portico@127.0.0.1",
			email:    tenants.Email{To: "alice@example.com", Subject: "Verify your email", Text: "Hello Alice,\n\nOpen " + longLink + "\n"},
		},
		{
			name:     "no credentials, from parameter, non-ascii subject",
			from:     "noreply@portico.example",
			wantFrom: "noreply@portico.example",
			email:    tenants.Email{To: "bob@example.org", Subject: "Willkommen bei Portico – bestätigen", Text: "Grüße, Bob.\nZeile zwei.\n"},
		},
		{
			name:     "cram-md5 credentials from the url",
			user:     "mailer",
			pass:     "p@ss word",
			urlAuth:  "mailer:p%40ss%20word@",
			from:     "noreply@portico.example",
			wantFrom: "noreply@portico.example",
			email:    tenants.Email{To: "carol@example.net", Subject: "Reset your password", Text: "Reset: " + longLink},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := &smtpBackend{user: tt.user, pass: tt.pass}
			port := startSMTP(t, be)
			raw := fmt.Sprintf("smtp://%s127.0.0.1:%d", tt.urlAuth, port)
			if tt.from != "" {
				raw += "?from=" + tt.from
			}
			var logBuf bytes.Buffer
			s, err := ParseSMTPURL(raw, slog.New(slog.NewTextHandler(&logBuf, nil)))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := s.Send(ctx, tt.email); err != nil {
				t.Fatalf("Send: %v", err)
			}

			msgs := be.received()
			if len(msgs) != 1 {
				t.Fatalf("server received %d messages, want 1", len(msgs))
			}
			m := msgs[0]
			if m.from != tt.wantFrom {
				t.Errorf("MAIL FROM = %q, want %q", m.from, tt.wantFrom)
			}
			if len(m.to) != 1 || m.to[0] != tt.email.To {
				t.Errorf("RCPT TO = %v, want [%s]", m.to, tt.email.To)
			}
			hdr, subject, body := parsed(t, m.data)
			if subject != tt.email.Subject {
				t.Errorf("Subject = %q, want %q", subject, tt.email.Subject)
			}
			if strings.TrimRight(body, "\n") != strings.TrimRight(tt.email.Text, "\n") {
				t.Errorf("body = %q, want %q", body, tt.email.Text)
			}
			if to, err := hdr.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != tt.email.To {
				t.Errorf("To header = %q (%v)", hdr.Get("To"), err)
			}
			if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type = %q, want text/plain", ct)
			}
			if tt.user != "" {
				be.mu.Lock()
				authed := append([]string(nil), be.authed...)
				be.mu.Unlock()
				if len(authed) != 1 || authed[0] != tt.user {
					t.Errorf("authenticated as %v, want [%s]", authed, tt.user)
				}
			}
			if strings.Contains(logBuf.String(), "token=") {
				t.Errorf("send log carries the body: %s", logBuf.String())
			}
			if !strings.Contains(logBuf.String(), tt.email.To) {
				t.Errorf("send log does not name the recipient: %s", logBuf.String())
			}
		})
	}
}

func TestSMTPSendFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T) string // returns the SMTP URL
		email tenants.Email
	}{
		{
			name: "recipient rejected",
			setup: func(t *testing.T) string {
				return fmt.Sprintf("smtp://127.0.0.1:%d", startSMTP(t, &smtpBackend{rejectRcpt: "nobody@example.com"}))
			},
			email: tenants.Email{To: "nobody@example.com", Subject: "s", Text: "b"},
		},
		{
			name: "wrong password",
			setup: func(t *testing.T) string {
				return fmt.Sprintf("smtp://mailer:wrong@127.0.0.1:%d", startSMTP(t, &smtpBackend{user: "mailer", pass: "right"}))
			},
			email: tenants.Email{To: "a@example.com", Subject: "s", Text: "b"},
		},
		{
			name: "server requires auth, none configured",
			setup: func(t *testing.T) string {
				return fmt.Sprintf("smtp://127.0.0.1:%d", startSMTP(t, &smtpBackend{user: "mailer", pass: "right"}))
			},
			email: tenants.Email{To: "a@example.com", Subject: "s", Text: "b"},
		},
		{
			name: "nothing listening",
			setup: func(t *testing.T) string {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				port := ln.Addr().(*net.TCPAddr).Port
				ln.Close()
				return fmt.Sprintf("smtp://127.0.0.1:%d", port)
			},
			email: tenants.Email{To: "a@example.com", Subject: "s", Text: "b"},
		},
		{
			name: "invalid recipient address",
			setup: func(t *testing.T) string {
				return fmt.Sprintf("smtp://127.0.0.1:%d", startSMTP(t, &smtpBackend{}))
			},
			email: tenants.Email{To: "not an address", Subject: "s", Text: "b"},
		},
		{
			name: "invalid from parameter",
			setup: func(t *testing.T) string {
				return fmt.Sprintf("smtp://127.0.0.1:%d?from=nope", startSMTP(t, &smtpBackend{}))
			},
			email: tenants.Email{To: "a@example.com", Subject: "s", Text: "b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSMTPURL(tt.setup(t), discardLogger())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := s.Send(ctx, tt.email); err == nil {
				t.Fatal("Send succeeded, want error")
			}
		})
	}

	t.Run("cancelled context", func(t *testing.T) {
		be := &smtpBackend{}
		s, err := ParseSMTPURL(fmt.Sprintf("smtp://127.0.0.1:%d", startSMTP(t, be)), discardLogger())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err = s.Send(ctx, tenants.Email{To: "a@example.com", Subject: "s", Text: "b"})
		if err == nil {
			t.Fatal("Send with a cancelled context succeeded")
		}
		if n := len(be.received()); n != 0 {
			t.Fatalf("server received %d messages after a cancelled send", n)
		}
	})
}
