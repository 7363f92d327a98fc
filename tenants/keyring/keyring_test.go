package keyring

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// testKey returns a fixed, recognisable 32-byte master key.
func testKey(t testing.TB, seed byte) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	for i := range k {
		k[i] = seed + byte(i)
	}
	return k
}

func newKeyring(t testing.TB, master []byte) *Keyring {
	t.Helper()
	k, err := New(master)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return k
}

func TestParse(t *testing.T) {
	// Bytes chosen so the standard and URL-safe base64 alphabets differ
	// (0xfb 0xff encode to "+/" vs "-_").
	key := bytes.Repeat([]byte{0xfb, 0xff, 0xbf, 0x3e}, KeySize/4)
	short := key[:KeySize-1]
	long := append(append([]byte{}, key...), 0x01)

	tests := []struct {
		name    string
		in      string
		want    []byte
		wantErr bool
	}{
		{name: "hex lower", in: hex.EncodeToString(key), want: key},
		{name: "hex upper", in: strings.ToUpper(hex.EncodeToString(key)), want: key},
		{name: "hex with surrounding whitespace", in: "  \n" + hex.EncodeToString(key) + "\n\t", want: key},
		{name: "base64 std padded", in: base64.StdEncoding.EncodeToString(key), want: key},
		{name: "base64 std raw", in: base64.RawStdEncoding.EncodeToString(key), want: key},
		{name: "base64 url padded", in: base64.URLEncoding.EncodeToString(key), want: key},
		{name: "base64 url raw", in: base64.RawURLEncoding.EncodeToString(key), want: key},
		{name: "base64 with trailing newline", in: base64.StdEncoding.EncodeToString(key) + "\n", want: key},
		{name: "empty", in: "", wantErr: true},
		{name: "whitespace only", in: " \n ", wantErr: true},
		{name: "hex 31 bytes", in: hex.EncodeToString(short), wantErr: true},
		{name: "hex 33 bytes", in: hex.EncodeToString(long), wantErr: true},
		{name: "hex odd length", in: hex.EncodeToString(key)[1:], wantErr: true},
		{name: "hex with bad char", in: "zz" + hex.EncodeToString(key)[2:], wantErr: true},
		{name: "base64 31 bytes", in: base64.StdEncoding.EncodeToString(short), wantErr: true},
		{name: "base64 33 bytes", in: base64.StdEncoding.EncodeToString(long), wantErr: true},
		{name: "raw url 31 bytes", in: base64.RawURLEncoding.EncodeToString(short), wantErr: true},
		{name: "garbage", in: "correct horse battery staple", wantErr: true},
		{name: "inner space", in: hex.EncodeToString(key)[:32] + " " + hex.EncodeToString(key)[32:], wantErr: true},
		{name: "mixed alphabets", in: strings.Replace(base64.StdEncoding.EncodeToString(key), "+", "-", 1), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Parse(%q) = %x, want error", tt.in, got)
				}
				if got != nil {
					t.Errorf("Parse(%q) returned key %x alongside error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("Parse(%q) = %x, want %x", tt.in, got, tt.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		wantErr bool
	}{
		{name: "nil", size: -1, wantErr: true},
		{name: "empty", size: 0, wantErr: true},
		{name: "16 bytes (AES-128 size)", size: 16, wantErr: true},
		{name: "31 bytes", size: 31, wantErr: true},
		{name: "32 bytes", size: 32},
		{name: "33 bytes", size: 33, wantErr: true},
		{name: "64 bytes", size: 64, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var master []byte
			if tt.size >= 0 {
				master = make([]byte, tt.size)
			}
			k, err := New(master)
			if tt.wantErr {
				if err == nil || k != nil {
					t.Fatalf("New(%d bytes) = %v, %v; want nil, error", tt.size, k, err)
				}
				return
			}
			if err != nil || k == nil {
				t.Fatalf("New(%d bytes) = %v, %v; want keyring", tt.size, k, err)
			}
		})
	}
}

func TestNewCopiesMaster(t *testing.T) {
	master := testKey(t, 1)
	k := newKeyring(t, master)
	sealed := k.Seal([]byte("secret"), "ctx")
	derived := k.Derive("purpose")
	for i := range master {
		master[i] = 0 // the caller wipes its copy
	}
	if pt, err := k.Open(sealed, "ctx"); err != nil || string(pt) != "secret" {
		t.Fatalf("Open after caller wiped master = %q, %v", pt, err)
	}
	if !bytes.Equal(k.Derive("purpose"), derived) {
		t.Fatal("Derive changed after caller wiped master")
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	k := newKeyring(t, testKey(t, 1))
	tests := []struct {
		name      string
		plaintext []byte
		context   string
	}{
		{name: "empty plaintext", plaintext: []byte{}, context: "row-1"},
		{name: "short text", plaintext: []byte("sk_live_abc123"), context: "keys/01HZX"},
		{name: "binary", plaintext: []byte{0, 1, 2, 0xff, 0xfe, 0}, context: "bin"},
		{name: "empty context", plaintext: []byte("no context"), context: ""},
		{name: "large", plaintext: bytes.Repeat([]byte("pem "), 16<<10), context: "tls/example.com"},
		{name: "unicode context", plaintext: []byte("x"), context: "org/Zürich/☃"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed := k.Seal(tt.plaintext, tt.context)
			if !strings.HasPrefix(sealed, "v1:") {
				t.Fatalf("sealed value %q lacks the v1: prefix", sealed)
			}
			if len(tt.plaintext) >= 8 && strings.Contains(sealed, string(tt.plaintext)) {
				t.Fatal("sealed value contains the plaintext")
			}
			got, err := k.Open(sealed, tt.context)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Fatalf("Open = %q, want %q", got, tt.plaintext)
			}
			// A second keyring built from the same master opens it too:
			// nothing but the master key is needed.
			again := newKeyring(t, testKey(t, 1))
			if got, err := again.Open(sealed, tt.context); err != nil || !bytes.Equal(got, tt.plaintext) {
				t.Fatalf("Open with a fresh keyring on the same master = %q, %v", got, err)
			}
		})
	}
}

func TestSealIsRandomised(t *testing.T) {
	k := newKeyring(t, testKey(t, 1))
	a, b := k.Seal([]byte("same"), "ctx"), k.Seal([]byte("same"), "ctx")
	if a == b {
		t.Fatalf("two seals of the same plaintext are identical (%q): nonce reuse", a)
	}
}

func TestOpenRejects(t *testing.T) {
	k := newKeyring(t, testKey(t, 1))
	other := newKeyring(t, testKey(t, 2))
	const ctx = "keys/42"
	sealed := k.Seal([]byte("the secret"), ctx)
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:"))
	if err != nil {
		t.Fatal(err)
	}
	reencode := func(b []byte) string { return "v1:" + base64.RawStdEncoding.EncodeToString(b) }
	flip := func(i int) string {
		b := append([]byte{}, raw...)
		b[i] ^= 0x01
		return reencode(b)
	}

	tests := []struct {
		name    string
		keyring *Keyring
		sealed  string
		context string
	}{
		{name: "other context", keyring: k, sealed: sealed, context: "keys/43"},
		{name: "context prefix", keyring: k, sealed: sealed, context: "keys/4"},
		{name: "empty context", keyring: k, sealed: sealed, context: ""},
		{name: "wrong master key", keyring: other, sealed: sealed, context: ctx},
		{name: "flipped nonce byte", keyring: k, sealed: flip(0), context: ctx},
		{name: "flipped ciphertext byte", keyring: k, sealed: flip(12), context: ctx},
		{name: "flipped last tag byte", keyring: k, sealed: flip(len(raw) - 1), context: ctx},
		{name: "truncated by one byte", keyring: k, sealed: reencode(raw[:len(raw)-1]), context: ctx},
		{name: "extra byte appended", keyring: k, sealed: reencode(append(append([]byte{}, raw...), 0)), context: ctx},
		{name: "shorter than nonce and tag", keyring: k, sealed: reencode(raw[:27]), context: ctx},
		{name: "empty body", keyring: k, sealed: "v1:", context: ctx},
		{name: "no prefix", keyring: k, sealed: strings.TrimPrefix(sealed, "v1:"), context: ctx},
		{name: "unknown version", keyring: k, sealed: "v2:" + strings.TrimPrefix(sealed, "v1:"), context: ctx},
		{name: "padded base64", keyring: k, sealed: "v1:" + base64.StdEncoding.EncodeToString(raw) + "==", context: ctx},
		{name: "not base64", keyring: k, sealed: "v1:!!!not base64!!!", context: ctx},
		{name: "empty string", keyring: k, sealed: "", context: ctx},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.keyring.Open(tt.sealed, tt.context)
			if err == nil {
				t.Fatalf("Open(%q, %q) = %q, want error", tt.sealed, tt.context, got)
			}
			if got != nil {
				t.Errorf("Open returned plaintext %q alongside error", got)
			}
			if strings.Contains(err.Error(), "the secret") {
				t.Errorf("error %q leaks the plaintext", err)
			}
		})
	}
	// The untouched value still opens: the failures above are the
	// tampering, not a broken fixture.
	if got, err := k.Open(sealed, ctx); err != nil || string(got) != "the secret" {
		t.Fatalf("control Open = %q, %v", got, err)
	}
}

func TestDerive(t *testing.T) {
	k := newKeyring(t, testKey(t, 1))
	purposes := []string{"session", "csrf", "Session", "session ", "", "webhook signing"}
	seen := map[string]string{}
	for _, p := range purposes {
		d := k.Derive(p)
		if len(d) != 32 {
			t.Fatalf("Derive(%q) has %d bytes, want 32", p, len(d))
		}
		if !bytes.Equal(d, k.Derive(p)) {
			t.Errorf("Derive(%q) is not deterministic", p)
		}
		if prev, dup := seen[string(d)]; dup {
			t.Errorf("Derive(%q) == Derive(%q)", p, prev)
		}
		seen[string(d)] = p
		if bytes.Equal(d, testKey(t, 1)) {
			t.Errorf("Derive(%q) returned the master key", p)
		}
	}

	t.Run("same purpose on same master in another keyring", func(t *testing.T) {
		if !bytes.Equal(k.Derive("session"), newKeyring(t, testKey(t, 1)).Derive("session")) {
			t.Fatal("Derive differs between keyrings with the same master key")
		}
	})
	t.Run("same purpose on another master", func(t *testing.T) {
		if bytes.Equal(k.Derive("session"), newKeyring(t, testKey(t, 2)).Derive("session")) {
			t.Fatal("Derive is the same under different master keys")
		}
	})
	t.Run("derived key is not the seal key", func(t *testing.T) {
		// The seal key uses its own HKDF info; no purpose passed to Derive
		// may collide with it.
		if bytes.Equal(k.Derive("portico seal v1"), k.keys[0].subkey("portico seal v1")) {
			t.Fatal("Derive can reproduce the seal key")
		}
	})
	t.Run("returned slice is a copy", func(t *testing.T) {
		d := k.Derive("session")
		want := append([]byte{}, d...)
		d[0] ^= 0xff
		if !bytes.Equal(k.Derive("session"), want) {
			t.Fatal("mutating a derived key changed later derivations")
		}
	})
}

func TestLoadOrCreateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "master.key")

	key, created, err := LoadOrCreateFile(path)
	if err != nil {
		t.Fatalf("first LoadOrCreateFile: %v", err)
	}
	if !created {
		t.Error("first call: created = false, want true")
	}
	if len(key) != KeySize {
		t.Fatalf("key has %d bytes, want %d", len(key), KeySize)
	}
	if bytes.Equal(key, make([]byte, KeySize)) {
		t.Fatal("generated key is all zeros")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode = %v, want 0600", perm)
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if perm := di.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("key directory mode = %v, want no group/other access", perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fromFile, err := Parse(string(b)); err != nil || !bytes.Equal(fromFile, key) {
		t.Fatalf("file content %q does not parse to the returned key (%v)", b, err)
	}

	again, created, err := LoadOrCreateFile(path)
	if err != nil {
		t.Fatalf("second LoadOrCreateFile: %v", err)
	}
	if created {
		t.Error("second call: created = true, want false")
	}
	if !bytes.Equal(again, key) {
		t.Fatalf("second call returned %x, want %x", again, key)
	}
	b2, _ := os.ReadFile(path)
	if !bytes.Equal(b, b2) {
		t.Fatal("second call rewrote the key file")
	}
}

func TestLoadOrCreateFileExisting(t *testing.T) {
	key := testKey(t, 7)
	tests := []struct {
		name    string
		content string
		want    []byte
		wantErr bool
	}{
		{name: "hex written by an operator", content: hex.EncodeToString(key) + "\n", want: key},
		{name: "base64 written by an operator", content: base64.StdEncoding.EncodeToString(key), want: key},
		{name: "garbage", content: "not a key\n", wantErr: true},
		{name: "empty file", content: "", wantErr: true},
		{name: "short key", content: hex.EncodeToString(key[:16]), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "master.key")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, created, err := LoadOrCreateFile(path)
			if created {
				t.Error("created = true for an existing file")
			}
			if tt.wantErr {
				if err == nil {
					t.Fatalf("LoadOrCreateFile = %x, want error", got)
				}
				// A bad file is an error, never silently replaced.
				if b, _ := os.ReadFile(path); string(b) != tt.content {
					t.Fatalf("bad key file was overwritten with %q", b)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadOrCreateFile: %v", err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("LoadOrCreateFile = %x, want %x", got, tt.want)
			}
		})
	}
}

func TestLoadOrCreateFileUnreadable(t *testing.T) {
	// A directory where the file should be: reading fails with something
	// other than "not exist", which must be reported, not papered over
	// with a new key.
	path := t.TempDir()
	if _, _, err := LoadOrCreateFile(path); err == nil {
		t.Fatal("LoadOrCreateFile on a directory succeeded")
	}
}

func TestLoadOrCreateFileConcurrent(t *testing.T) {
	for round := range 20 {
		path := filepath.Join(t.TempDir(), "master.key")
		const n = 16
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			keys    = make([][]byte, n)
			created = make([]bool, n)
			errs    = make([]error, n)
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				keys[i], created[i], errs[i] = LoadOrCreateFile(path)
			}()
		}
		close(start)
		wg.Wait()

		creators := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d goroutine %d: %v", round, i, errs[i])
			}
			if created[i] {
				creators++
			}
			if !bytes.Equal(keys[i], keys[0]) {
				t.Fatalf("round %d: goroutine %d got %x, goroutine 0 got %x", round, i, keys[i], keys[0])
			}
		}
		if creators != 1 {
			t.Fatalf("round %d: %d goroutines report creating the key, want exactly 1", round, creators)
		}
		entries, err := os.ReadDir(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Name() != "master.key" {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Fatalf("round %d: directory holds %v, want only master.key", round, names)
		}
		onDisk, _, err := LoadOrCreateFile(path)
		if err != nil || !bytes.Equal(onDisk, keys[0]) {
			t.Fatalf("round %d: key on disk %x (%v) differs from the one handed out %x", round, onDisk, err, keys[0])
		}
	}
}

func FuzzOpen(f *testing.F) {
	k := newKeyring(f, testKey(f, 1))
	valid := k.Seal([]byte("seed"), "ctx")
	f.Add(valid, "ctx")
	f.Add(valid, "other")
	f.Add("v1:", "")
	f.Add("v1:AAAA", "ctx")
	f.Add("v1:"+strings.Repeat("A", 38), "ctx")
	f.Add("", "")
	f.Add("v2:xyz", "ctx")
	f.Add("v1:====", "ctx")
	f.Fuzz(func(t *testing.T, sealed, context string) {
		pt, err := k.Open(sealed, context)
		if err != nil {
			if pt != nil {
				t.Fatalf("Open returned plaintext with error %v", err)
			}
			return
		}
		// Anything that opens must be authentic: the only values sealed
		// under this key are seals of "seed" in context "ctx" (each fuzz
		// worker seals its own, with its own nonce, so compare contents).
		if context != "ctx" || string(pt) != "seed" {
			t.Fatalf("Open accepted a forged value %q (context %q) = %q", sealed, context, pt)
		}
	})
}

// A rotation: values sealed under the old key open under a keyring with
// the new key and the old one, Reseal moves them to the new key (after
// which the old one is not needed), and new values go under the new key.
func TestRotation(t *testing.T) {
	oldKey, newKey, other := testKey(t, 1), testKey(t, 2), testKey(t, 3)
	before := newKeyring(t, oldKey)
	sealedOld := before.Seal([]byte("secret-1"), "ctx:1")

	during, err := New(newKey, other, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if during.Previous() != 2 {
		t.Fatalf("Previous %d", during.Previous())
	}
	if pt, err := during.Open(sealedOld, "ctx:1"); err != nil || string(pt) != "secret-1" {
		t.Fatalf("old value under the rotating keyring: %q %v", pt, err)
	}
	if _, err := during.Open(sealedOld, "ctx:2"); err == nil {
		t.Fatal("opened with another context")
	}
	fresh := during.Seal([]byte("secret-2"), "ctx:2")
	if _, err := before.Open(fresh, "ctx:2"); err == nil {
		t.Fatal("a new value was sealed under the previous key")
	}

	resealed, changed, err := during.Reseal(sealedOld, "ctx:1")
	if err != nil || !changed || resealed == sealedOld {
		t.Fatalf("Reseal of an old value: changed %v, err %v", changed, err)
	}
	same, changed, err := during.Reseal(fresh, "ctx:2")
	if err != nil || changed || same != fresh {
		t.Fatalf("Reseal of a current value: changed %v, err %v", changed, err)
	}
	if _, _, err := during.Reseal(sealedOld, "ctx:9"); err == nil {
		t.Fatal("Reseal with a wrong context succeeded")
	}

	after := newKeyring(t, newKey)
	for _, c := range []struct{ sealed, ctx, want string }{{resealed, "ctx:1", "secret-1"}, {fresh, "ctx:2", "secret-2"}} {
		if pt, err := after.Open(c.sealed, c.ctx); err != nil || string(pt) != c.want {
			t.Fatalf("after the rotation: %q %v", pt, err)
		}
	}
	if _, err := after.Open(sealedOld, "ctx:1"); err == nil {
		t.Fatal("a value never resealed opened without its key")
	}

	// Derived keys: sign with the current one, verify with all.
	all := during.DeriveAll("session")
	if len(all) != 3 || !bytes.Equal(all[0], during.Derive("session")) || !bytes.Equal(all[0], after.Derive("session")) ||
		!bytes.Equal(all[2], before.Derive("session")) {
		t.Fatal("DeriveAll: not the current key's first, then the previous keys' in order")
	}

	// Mistakes in the list are refused.
	if _, err := New(newKey, newKey); err == nil || !strings.Contains(err.Error(), "is the current one") {
		t.Fatalf("previous = current: %v", err)
	}
	if _, err := New(newKey, oldKey, oldKey); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("previous twice: %v", err)
	}
	if _, err := New(newKey, oldKey[:5]); err == nil || !strings.Contains(err.Error(), "previous master key 1") {
		t.Fatalf("short previous key: %v", err)
	}
}

func TestParseList(t *testing.T) {
	a, b := testKey(t, 1), testKey(t, 2)
	got, err := ParseList(" " + hex.EncodeToString(a) + " ,," + base64.StdEncoding.EncodeToString(b) + ",")
	if err != nil || len(got) != 2 || !bytes.Equal(got[0], a) || !bytes.Equal(got[1], b) {
		t.Fatalf("ParseList: %d keys, %v", len(got), err)
	}
	if got, err := ParseList(""); err != nil || len(got) != 0 {
		t.Fatalf("empty list: %v %v", got, err)
	}
	if _, err := ParseList(hex.EncodeToString(a) + ",nope"); err == nil || !strings.Contains(err.Error(), "key 2") {
		t.Fatalf("bad entry: %v", err)
	}
}
