package tenants

import (
	"context"
	"crypto/rand"
	"regexp"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/tenants/keyring"
)

func TestKeyGenerators(t *testing.T) {
	const n = 5000
	cases := []struct {
		name string
		gen  func() string
		re   *regexp.Regexp
	}{
		// The documented alphabets: the signing spec's shape, and base32 in
		// particular for access key ids.
		{"app access key id", func() string { return newAccessKeyID(AppKeyPrefix) }, regexp.MustCompile(`^PK[A-Z2-7]{18}$`)},
		{"user access key id", func() string { return newAccessKeyID(UserKeyPrefix) }, regexp.MustCompile(`^PU[A-Z2-7]{18}$`)},
		{"secret key", newSecretKey, regexp.MustCompile(`^[A-Za-z0-9/+]{40}$`)},
	}
	spec := regexp.MustCompile(`^P[KU][A-Z0-9]{18}$`)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seen := make(map[string]bool, n)
			used := map[rune]bool{}
			for range n {
				v := tc.gen()
				if !tc.re.MatchString(v) {
					t.Fatalf("%q does not match %s", v, tc.re)
				}
				if tc.name != "secret key" && (!spec.MatchString(v) || !validAccessKeyID(v)) {
					t.Fatalf("%q is not a valid access key id", v)
				}
				if seen[v] {
					t.Fatalf("duplicate %q after %d values", v, len(seen))
				}
				seen[v] = true
				for _, r := range v {
					used[r] = true
				}
			}
			// Every character of the alphabet shows up: nothing is cut off
			// by the rejection bound.
			alphabet := secretKeyAlphabet
			if tc.name != "secret key" {
				alphabet = accessKeyAlphabet
			}
			for _, r := range alphabet {
				if !used[r] {
					t.Errorf("character %q never generated", r)
				}
			}
		})
	}
}

func TestRandomStringAlphabetNotPowerOfTwo(t *testing.T) {
	// 36 characters: bytes 252..255 must be rejected. Plain modulo would
	// draw the first four characters with probability 8/256 instead of
	// 7/256, about 11,250 times in 360,000 draws instead of 10,000.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	const n = 360000
	counts := map[rune]int{}
	s := randomString(alphabet, n)
	if len(s) != n {
		t.Fatalf("length %d", len(s))
	}
	for _, r := range s {
		if !strings.ContainsRune(alphabet, r) {
			t.Fatalf("character %q outside the alphabet", r)
		}
		counts[r]++
	}
	// Unbiased, each count is 10,000 with a standard deviation near 98, so
	// ±500 is five deviations: a false alarm is about one run in 50,000,
	// while modulo bias lands 12 deviations out.
	for _, r := range alphabet {
		if c := counts[r]; c < 9500 || c > 10500 {
			t.Errorf("character %q drawn %d times of %d, want about 10000", r, c, n)
		}
	}
}

func TestValidAccessKeyID(t *testing.T) {
	for s, want := range map[string]bool{
		"PKABCDEFGHIJKLMNOPQR":  true,
		"PUABCDEFGHIJKLMNOP23":  true,
		"PXABCDEFGHIJKLMNOPQR":  false,
		"PKABCDEFGHIJKLMNOPQ":   false,
		"PKABCDEFGHIJKLMNOPQRS": false,
		"PKabcdefghijklmnopqr":  false,
		"PKABCDEFGHIJKLMNOPQ1":  false,
		"":                      false,
	} {
		if got := validAccessKeyID(s); got != want {
			t.Errorf("validAccessKeyID(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestInsertKeyRetriesCollision forces the generator to repeat an existing
// access key id: the unique index rejects it, the insert rolls back to its
// savepoint (PostgreSQL would otherwise abort the whole transaction) and the
// next id is used.
func TestInsertKeyRetriesCollision(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		ctx := context.Background()
		master := make([]byte, keyring.KeySize)
		rand.Read(master)
		kr, err := keyring.New(master)
		if err != nil {
			t.Fatal(err)
		}
		pp := FastPasswordParams
		s := NewService(db.DB, Options{PasswordParams: &pp, Keyring: kr})
		res, err := s.SignUp(ctx, SignUpInput{Name: "A", Email: "a@example.com", Password: "0123456789ab", OrgName: "A", OrgSlug: "alpha"}, "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		a := Actor{UserID: res.User.ID, Email: res.User.Email}
		app, err := s.CreateApp(ctx, res.Org.ID, a, AppInput{Name: "App"})
		if err != nil {
			t.Fatal(err)
		}
		first, err := s.CreateAppKey(ctx, res.Org.ID, app.ID, a, KeyInput{Name: "one"})
		if err != nil {
			t.Fatal(err)
		}
		fresh := newAccessKeyID(AppKeyPrefix)
		ids := []string{first.AccessKey, first.AccessKey, fresh}
		calls := 0
		gen := func() string { calls++; return ids[calls-1] }
		now := s.now()
		row := accessKeyRow{ID: newID(), Kind: KindApp, OrgID: &res.Org.ID, AppID: &app.ID, Name: "two", Status: KeyActive, CreatedAt: now}
		err = db.Transaction(func(tx *gorm.DB) error {
			if err := s.insertKey(tx, &row, "secret", gen); err != nil {
				return err
			}
			// The transaction is still usable after the failed inserts.
			return s.audit(tx, a, res.Org.ID, "app_key.create", "app_key", row.ID, nil)
		})
		if err != nil {
			t.Fatalf("insert after collisions: %v", err)
		}
		if calls != 3 || row.AccessKey != fresh {
			t.Fatalf("calls %d, access key %q, want 3 and %q", calls, row.AccessKey, fresh)
		}
		var n int64
		db.Table("access_keys").Where("access_key = ?", fresh).Count(&n)
		if n != 1 {
			t.Fatalf("%d rows with the fresh id", n)
		}
		// A generator that never stops colliding gives up with an error.
		row2 := accessKeyRow{ID: newID(), Kind: KindApp, OrgID: &res.Org.ID, AppID: &app.ID, Name: "three", Status: KeyActive, CreatedAt: now}
		err = db.Transaction(func(tx *gorm.DB) error {
			return s.insertKey(tx, &row2, "secret", func() string { return fresh })
		})
		if err == nil {
			t.Fatal("endless collisions accepted")
		}
	})
}
