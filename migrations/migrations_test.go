package migrations_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"gorm.io/gorm"

	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
)

// TestSQLiteWritersQueue checks that transactions which read and then write
// do not fail with "database is locked" when they run at once: the DSN must
// make every transaction IMMEDIATE.
func TestSQLiteWritersQueue(t *testing.T) {
	db, err := migrations.Open(context.Background(), migrations.Config{SQLitePath: filepath.Join(t.TempDir(), "p.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Exec("CREATE TABLE counter (n INTEGER NOT NULL)").Error; err != nil {
		t.Fatal(err)
	}
	db.Exec("INSERT INTO counter (n) VALUES (0)")
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- db.Transaction(func(tx *gorm.DB) error {
				var n int
				if err := tx.Raw("SELECT n FROM counter").Scan(&n).Error; err != nil {
					return err
				}
				return tx.Exec("UPDATE counter SET n = ?", n+1).Error
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent read-then-write transaction failed: %v", err)
		}
	}
	var n int
	db.Raw("SELECT n FROM counter").Scan(&n)
	if n != 40 {
		t.Fatalf("counter = %d, want 40 (lost updates)", n)
	}
}

// TestMigrationsApplyOnBothDialects applies every migration and checks the
// version is the newest file's.
func TestMigrationsApplyOnBothDialects(t *testing.T) {
	for _, d := range testdb.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			db := testdb.Open(t, d)
			v, err := migrations.Version(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			if v < 4 {
				t.Fatalf("schema version %d", v)
			}
			if err := db.Exec("SELECT id, slug, brand_color FROM organizations").Error; err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
				t.Fatal(err)
			}
		})
	}
}
