package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/gateway/sigv4"
	"github.com/portico-dev/portico/migrations"
	"github.com/portico-dev/portico/migrations/testdb"
	"github.com/portico-dev/portico/tenants/keyring"
)

// TestMasterKeyRotation is the rotation README describes, end to end on
// the demo's data: the new master key with the old one as previous, then
// `portico reseal`, then the new key alone — and the partner's access key
// still signs calls the gateway accepts, because its secret (and the
// backend signing key's) moved to the new key.
func TestMasterKeyRotation(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	portal := ln.Addr().String() // the demo's echo backend lives there: keep it
	ln.Close()
	d, cancel, done := startDemo(t, map[string]string{"PORTICO_DATA_DIR": dir, "PORTICO_PORTAL_ADDR": portal})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	oldKey, err := os.ReadFile(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, keyring.KeySize)
	rand.Read(raw)
	newKey := hex.EncodeToString(raw)

	reseal := func(env map[string]string) (string, error) {
		env["PORTICO_DATA_DIR"] = dir
		var out, errOut syncBuffer
		err := run(context.Background(), []string{"reseal"}, func(k string) string { return env[k] }, &out, &errOut)
		return out.String(), err
	}
	// With the new key alone, nothing opens: reseal says which rows and
	// fails, changing nothing.
	out, err := reseal(map[string]string{"PORTICO_MASTER_KEY": newKey})
	if err == nil || !strings.Contains(err.Error(), "open under none") || !strings.Contains(out, "cannot open access_keys id=") {
		t.Fatalf("reseal without the previous key: %v\n%s", err, out)
	}
	// A malformed previous key is refused before anything is read.
	if _, err := reseal(map[string]string{"PORTICO_MASTER_KEY": newKey, "PORTICO_PREVIOUS_MASTER_KEYS": "nope"}); err == nil ||
		!strings.Contains(err.Error(), "PORTICO_PREVIOUS_MASTER_KEYS") {
		t.Fatalf("malformed previous key: %v", err)
	}

	out, err = reseal(map[string]string{"PORTICO_MASTER_KEY": newKey, "PORTICO_PREVIOUS_MASTER_KEYS": strings.TrimSpace(string(oldKey))})
	if err != nil {
		t.Fatalf("reseal: %v\n%s", err, out)
	}
	for _, want := range []string{
		"access_keys.secret_sealed: 1 values, 1 resealed",
		"backend_keys.secret_sealed: 1 values, 1 resealed",
		"custom_domains.key_sealed: 0 values, 0 resealed",
		"PORTICO_PREVIOUS_MASTER_KEYS can be dropped",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("reseal output lacks %q:\n%s", want, out)
		}
	}
	// Again: nothing left to move.
	out, err = reseal(map[string]string{"PORTICO_MASTER_KEY": newKey})
	if err != nil || !strings.Contains(out, "1 values, 0 resealed") || !strings.Contains(out, "every sealed value opens under the current master key") {
		t.Fatalf("second reseal, new key alone: %v\n%s", err, out)
	}

	// Serving with the new key alone: the partner's signed call passes
	// and reaches the backend signed.
	d, cancel, done = startDemo(t, map[string]string{"PORTICO_DATA_DIR": dir, "PORTICO_PORTAL_ADDR": portal, "PORTICO_MASTER_KEY": newKey})
	defer func() { cancel(); <-done }()
	req, _ := http.NewRequest("GET", d.API.BaseURL+"/hello", nil)
	if err := (&sigv4.Signer{Region: d.Region}).Sign(req, d.Partner.AccessKey, d.Partner.SecretKey, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("signed call after the rotation: %d", res.StatusCode)
	}
}

// TestResealBatches: reseal on both databases, over more rows than one
// batch holds: values under the previous key move, current ones stay as
// they are, and a value no key opens is reported, not changed. The real
// sealed columns' queries run too (their tables empty).
func TestResealBatches(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *migrations.DB) {
		ctx := context.Background()
		if err := db.Exec("CREATE TABLE reseal_scratch (id TEXT PRIMARY KEY, name TEXT NOT NULL, sealed TEXT NOT NULL)").Error; err != nil {
			t.Fatal(err)
		}
		col := keyring.Column{Table: "reseal_scratch", Key: "id", Sealed: "sealed", ContextFrom: "name", ContextPrefix: "scratch:"}
		key := func(b byte) []byte { k := make([]byte, keyring.KeySize); k[0] = b; return k }
		oldKR, _ := keyring.New(key(1))
		strangerKR, _ := keyring.New(key(9))
		kr, err := keyring.New(key(2), key(1))
		if err != nil {
			t.Fatal(err)
		}
		const n = resealProgressEvery + 37
		current := map[string]string{}
		for i := range n {
			id, name := fmt.Sprintf("r%04d", i), fmt.Sprintf("n%d", i)
			v := oldKR.Seal([]byte("secret-"+name), col.Context(name))
			switch {
			case i%10 == 0:
				v = kr.Seal([]byte("secret-"+name), col.Context(name))
				current[id] = v
			case i == 7:
				v = strangerKR.Seal([]byte("x"), col.Context(name))
			}
			if err := db.Exec("INSERT INTO reseal_scratch (id, name, sealed) VALUES (?, ?, ?)", id, name, v).Error; err != nil {
				t.Fatal(err)
			}
		}
		var reports []int
		counts, err := reseal(ctx, db.DB, kr, append([]keyring.Column{col}, sealedColumns...), func(c resealCount) { reports = append(reports, c.Values) })
		if err != nil {
			t.Fatal(err)
		}
		c := counts[0]
		if c.Values != n || c.Resealed != n-len(current)-1 || len(c.Failed) != 1 || c.Failed[0] != "r0007" {
			t.Fatalf("counts %+v (want %d values, %d resealed, r0007 failed)", c, n, n-len(current)-1)
		}
		if n >= resealProgressEvery && (len(reports) == 0 || reports[0] != resealProgressEvery) {
			t.Errorf("progress reports at %v rows, want one at %d", reports, resealProgressEvery)
		}
		for _, c := range counts[1:] {
			if c.Values != 0 {
				t.Fatalf("%s: %+v", c.Col.Table, c)
			}
		}
		newOnly, _ := keyring.New(key(2))
		var rows []struct{ ID, Name, Sealed string }
		db.Raw("SELECT id, name, sealed FROM reseal_scratch ORDER BY id").Scan(&rows)
		for _, r := range rows {
			pt, err := newOnly.Open(r.Sealed, col.Context(r.Name))
			switch {
			case r.ID == "r0007":
				if err == nil {
					t.Fatal("the stranger's value opens")
				}
			case err != nil || string(pt) != "secret-"+r.Name:
				t.Fatalf("%s after reseal: %q %v", r.ID, pt, err)
			case current[r.ID] != "" && current[r.ID] != r.Sealed:
				t.Fatalf("%s was already current but was rewritten", r.ID)
			}
		}
	})
}
