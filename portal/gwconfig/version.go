package gwconfig

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/portico-dev/portico/migrations"
)

// Channel is the PostgreSQL NOTIFY channel Bump announces new versions on.
// Channels are database-wide, so the payload names the schema too:
// "<schema>:<version>"; a listener ignores other schemas' announcements.
const Channel = "portico_gateway_config"

// Bump increments the configuration version in the database and returns
// the new one. On PostgreSQL it also sends NOTIFY on Channel in the same
// transaction, so a listener that hears it reads the new version. Call it
// after (never before) the change it announces has committed: a node that
// reads the new version then also reads the change.
func Bump(ctx context.Context, db *migrations.DB) (uint64, error) {
	var v int64
	now := time.Now().UTC().Truncate(time.Microsecond)
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Raw("UPDATE gateway_config_version SET version = version + 1, changed_at = ? WHERE id = 1 RETURNING version", now).
			Scan(&v).Error; err != nil {
			return err
		}
		if v == 0 {
			return fmt.Errorf("no version row")
		}
		if db.Dialect != migrations.Postgres {
			return nil
		}
		return tx.Exec("SELECT pg_notify(?, current_schema() || ':' || ?)", Channel, strconv.FormatInt(v, 10)).Error
	})
	if err != nil {
		return 0, fmt.Errorf("bump gateway configuration version: %w", err)
	}
	return uint64(v), nil
}

// CurrentVersion returns the configuration version in the database and
// when it last changed. It is one primary-key read: cheap enough to poll
// every second from every node.
func CurrentVersion(ctx context.Context, db *migrations.DB) (uint64, time.Time, error) {
	var row struct {
		Version   int64
		ChangedAt time.Time
	}
	res := db.WithContext(ctx).Raw("SELECT version, changed_at FROM gateway_config_version WHERE id = 1").Scan(&row)
	if res.Error != nil {
		return 0, time.Time{}, fmt.Errorf("gateway configuration version: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return 0, time.Time{}, fmt.Errorf("gateway configuration version: no version row")
	}
	return uint64(row.Version), row.ChangedAt, nil
}

// parsePayload splits a notification's "<schema>:<version>".
func parsePayload(p string) (schema string, version uint64, ok bool) {
	i := strings.LastIndexByte(p, ':')
	if i < 0 {
		return "", 0, false
	}
	v, err := strconv.ParseUint(p[i+1:], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return p[:i], v, true
}

// Notifier is what the control plane calls after every change the gateway
// must see (the services' OnChange hooks): it bumps the version in the
// database — which, on PostgreSQL, notifies every listening node — and
// wakes the reloader of this process at once.
type Notifier struct {
	DB *migrations.DB
	// Local is this process's reloader; nil for a process that serves no
	// gateway.
	Local  *Reloader
	Logger *slog.Logger
}

// Changed announces a committed change. The change is already made, so
// Changed runs to completion even when ctx (a request's) is cancelled.
// After a bump the local reloader is asked to check the version, which
// coalesces with this process's own notification into one rebuild. A failed
// bump is logged and the local reloader rebuilds regardless; other nodes
// catch up at their next full rebuild.
func (n *Notifier) Changed(ctx context.Context) {
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, err := Bump(bctx, n.DB)
	if err != nil && n.Logger != nil {
		n.Logger.ErrorContext(ctx, "gateway configuration change not announced to other nodes; they pick it up at their next full rebuild", "err", err)
	}
	switch {
	case n.Local == nil:
	case err != nil:
		n.Local.Trigger(ctx)
	default:
		n.Local.Check()
	}
}
