package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/pressly/goose/v3"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// Dialect names the SQL dialect of an open database.
type Dialect string

// The dialects Portico runs on.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Config says which database to open.
type Config struct {
	// URL is a postgres:// URL. Empty means the embedded SQLite database.
	URL string
	// SQLitePath is the SQLite file used when URL is empty.
	SQLitePath string
	// MaxOpenConns caps the PostgreSQL pool (0 = 20).
	MaxOpenConns int
}

// DB is an open database together with its dialect.
type DB struct {
	*gorm.DB
	Dialect Dialect
}

// Open opens the configured database. It does not migrate.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	gcfg := &gorm.Config{
		TranslateError: true,
		Logger:         logger.Discard,
		NowFunc:        func() time.Time { return time.Now().UTC() },
	}
	if cfg.URL != "" {
		if !strings.HasPrefix(cfg.URL, "postgres://") && !strings.HasPrefix(cfg.URL, "postgresql://") {
			return nil, errors.New("open database: PORTICO_DATABASE_URL must be a postgres:// URL")
		}
		g, err := gorm.Open(postgres.Open(cfg.URL), gcfg)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		sqlDB, err := g.DB()
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		n := cfg.MaxOpenConns
		if n <= 0 {
			n = 20
		}
		sqlDB.SetMaxOpenConns(n)
		sqlDB.SetMaxIdleConns(n)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
		if err := sqlDB.PingContext(ctx); err != nil {
			return nil, fmt.Errorf("connect postgres: %w", err)
		}
		return &DB{DB: g, Dialect: Postgres}, nil
	}
	if cfg.SQLitePath == "" {
		return nil, errors.New("open database: no SQLite path")
	}
	if err := os.MkdirAll(filepath.Dir(cfg.SQLitePath), 0o700); err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	// WAL lets readers run beside the one writer; IMMEDIATE transactions take
	// the write lock up front so concurrent writers queue on busy_timeout
	// instead of failing with SQLITE_BUSY half-way through. (No _time_format:
	// glebarez/go-sqlite ignores _txlock when it is present, and its default
	// already writes SQLite's own timestamp format.)
	dsn := "file:" + cfg.SQLitePath +
		"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=synchronous(NORMAL)&_txlock=immediate"
	g, err := gorm.Open(sqlite.Open(dsn), gcfg)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	sqlDB.SetMaxOpenConns(8)
	if err := sqlDB.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	return &DB{DB: g, Dialect: SQLite}, nil
}

// Up applies every pending migration and logs what it applied.
func Up(ctx context.Context, db *DB, log *slog.Logger) error {
	p, err := provider(db)
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	for _, r := range results {
		log.Info("migration applied", "version", r.Source.Version, "file", filepath.Base(r.Source.Path), "duration", r.Duration)
	}
	return nil
}

// Version reports the schema version currently applied.
func Version(ctx context.Context, db *DB) (int64, error) {
	p, err := provider(db)
	if err != nil {
		return 0, err
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// Close closes the underlying connection pool.
func (db *DB) Close() error {
	sqlDB, err := db.DB.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	sqlDB, err := db.DB.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

func provider(db *DB) (*goose.Provider, error) {
	sub, err := fs.Sub(files, string(db.Dialect))
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var sqlDB *sql.DB
	if sqlDB, err = db.DB.DB(); err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	dialect := goose.DialectSQLite3
	if db.Dialect == Postgres {
		dialect = goose.DialectPostgres
	}
	p, err := goose.NewProvider(dialect, sqlDB, sub)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}
