// Package testdb gives tests a freshly migrated database: a SQLite file in a
// temporary directory, and — when PORTICO_TEST_DATABASE_URL is set — a
// PostgreSQL schema of its own, so test packages running in parallel never see
// each other's rows. Under PORTICO_TEST_STRICT=1 a missing PostgreSQL is a
// failure, never a skip.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/portico-dev/portico/migrations"
)

// Dialects lists the databases a store test should run on: SQLite always,
// PostgreSQL when PORTICO_TEST_DATABASE_URL is set.
func Dialects(t testing.TB) []migrations.Dialect {
	t.Helper()
	ds := []migrations.Dialect{migrations.SQLite}
	if os.Getenv("PORTICO_TEST_DATABASE_URL") != "" {
		ds = append(ds, migrations.Postgres)
	} else if os.Getenv("PORTICO_TEST_STRICT") == "1" {
		t.Fatal("PORTICO_TEST_STRICT=1 but PORTICO_TEST_DATABASE_URL is not set")
	}
	return ds
}

// Open returns a migrated database of the given dialect that is dropped when
// the test ends.
func Open(t testing.TB, d migrations.Dialect) *migrations.DB {
	t.Helper()
	ctx := context.Background()
	var cfg migrations.Config
	switch d {
	case migrations.SQLite:
		cfg.SQLitePath = filepath.Join(t.TempDir(), "portico.db")
	case migrations.Postgres:
		base := os.Getenv("PORTICO_TEST_DATABASE_URL")
		if base == "" {
			t.Fatal("PORTICO_TEST_DATABASE_URL is not set")
		}
		schema := "t_" + randomHex(8)
		admin, err := migrations.Open(ctx, migrations.Config{URL: base, MaxOpenConns: 1})
		if err != nil {
			t.Fatalf("connect postgres: %v", err)
		}
		if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
			t.Fatalf("create schema: %v", err)
		}
		t.Cleanup(func() {
			admin.Exec("DROP SCHEMA " + schema + " CASCADE")
			admin.Close()
		})
		u, err := url.Parse(base)
		if err != nil {
			t.Fatalf("parse PORTICO_TEST_DATABASE_URL: %v", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		cfg.URL = u.String()
		cfg.MaxOpenConns = 10
	default:
		t.Fatalf("unknown dialect %q", d)
	}
	db, err := migrations.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open %s: %v", d, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := migrations.Up(ctx, db, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatalf("migrate %s: %v", d, err)
	}
	return db
}

// Each runs fn as a subtest once per dialect from Dialects.
func Each(t *testing.T, fn func(t *testing.T, db *migrations.DB)) {
	t.Helper()
	for _, d := range Dialects(t) {
		t.Run(string(d), func(t *testing.T) { fn(t, Open(t, d)) })
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return hex.EncodeToString(b)
}
