package tenants

import (
	"database/sql/driver"
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

func lockingUpdate() clause.Expression { return clause.Locking{Strength: "UPDATE"} }

// DBTime scans a timestamp from a raw SELECT on both dialects: pgx gives
// time.Time, SQLite may give a string when the column has no declared type
// (as with expressions and aliases).
type DBTime struct{ time.Time }

// Scan implements sql.Scanner.
func (t *DBTime) Scan(v any) error {
	switch x := v.(type) {
	case time.Time:
		t.Time = x
	case string:
		return t.parse(x)
	case []byte:
		return t.parse(string(x))
	case nil:
		t.Time = time.Time{}
	default:
		return fmt.Errorf("scan time: unexpected %T", v)
	}
	return nil
}

func (t *DBTime) parse(s string) error {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05"} {
		if p, err := time.Parse(layout, s); err == nil {
			t.Time = p
			return nil
		}
	}
	return fmt.Errorf("scan time: unrecognised %q", s)
}

// Value implements driver.Valuer.
func (t DBTime) Value() (driver.Value, error) { return t.Time, nil }

// Interner keeps one copy of each distinct string it is given. Reading
// hundreds of thousands of rows, a driver returns a fresh copy of every id
// in every row; the same few organisation, app, API and plan ids then fill
// memory many times over in a result the gateway holds while it rebuilds.
type Interner map[string]string

// Intern returns the one copy of v.
func (in Interner) Intern(v string) string {
	if s, ok := in[v]; ok {
		return s
	}
	in[v] = v
	return v
}
