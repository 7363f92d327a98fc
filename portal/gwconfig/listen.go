package gwconfig

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// How the LISTEN connection behaves.
const (
	listenIdle       = 30 * time.Second // quiet this long, the connection is pinged
	listenMinBackoff = 250 * time.Millisecond
	listenMaxBackoff = 10 * time.Second
)

// Listen keeps a dedicated PostgreSQL connection (dsn, the database URL)
// listening on Channel until ctx ends, and asks for a version check on every
// announcement of this schema. A lost connection is logged and re-opened
// with backoff; after each (re)connect the version is checked, since
// announcements made while it was down are gone. While it is down the
// periodic version check keeps changes flowing.
func (r *Reloader) Listen(ctx context.Context, dsn string) {
	backoff := listenMinBackoff
	var lostAt time.Time
	for ctx.Err() == nil {
		err := r.listen(ctx, dsn, func() {
			backoff = listenMinBackoff
			r.m.listening.Set(1)
			if r.Logger == nil {
				return
			}
			if lostAt.IsZero() {
				r.Logger.Info("gateway configuration: listening for changes", "channel", Channel)
			} else {
				r.Logger.Info("gateway configuration: change notifications restored", "channel", Channel, "down_for", time.Since(lostAt).Round(time.Millisecond))
				lostAt = time.Time{}
			}
		})
		r.m.listening.Set(0)
		if ctx.Err() != nil {
			return
		}
		if lostAt.IsZero() {
			lostAt = time.Now()
			if r.Logger != nil {
				r.Logger.Warn("gateway configuration: change notifications lost; reconnecting, the version check keeps changes flowing meanwhile", "err", err)
			}
		} else if r.Logger != nil {
			r.Logger.Debug("gateway configuration: reconnect failed", "err", err, "retry_in", backoff)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, listenMaxBackoff)
	}
}

// listen runs one LISTEN connection until it fails or ctx ends; up is
// called once it listens.
func (r *Reloader) listen(ctx context.Context, dsn string, up func()) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("parse database URL: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	// An idle wait that times out only sets a deadline on the socket; the
	// default would also send the server a cancel request every time.
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var schema string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return fmt.Errorf("current schema: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	up()
	r.Check()
	for {
		wctx, cancel := context.WithTimeout(ctx, listenIdle)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err):
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("ping: %w", err)
			}
			continue
		case err != nil:
			return err
		}
		s, v, ok := parsePayload(n.Payload)
		if !ok || s != schema {
			continue // another schema's Portico, or not ours
		}
		r.m.notifications.Inc()
		if v != r.served.Load() {
			r.Check()
		}
	}
}
