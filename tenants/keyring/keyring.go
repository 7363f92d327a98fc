// Package keyring holds the master key that protects secrets at rest. It
// seals values with AES-256-GCM (AK/SK secret keys, backend signing keys,
// TLS private keys) and derives independent sub-keys for other purposes
// (session signing, CSRF, the gateway's token signing key) with HKDF, so one
// configured key covers everything.
//
// Rotation: a Keyring holds the current master key and any number of
// previous ones. It seals and derives with the current key only; it opens
// values sealed under any of them, and DeriveAll gives the sub-keys of all
// of them so that what was signed before the rotation (sessions, access
// tokens) still verifies. Reseal moves a value sealed under a previous key
// to the current one; `portico reseal` does that for every sealed column,
// after which the previous keys can be dropped.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the master key length in bytes.
const KeySize = 32

// Keyring seals and opens secrets under the master key.
type Keyring struct {
	keys []masterKey // the current key first, then previous ones
}

type masterKey struct {
	master [KeySize]byte
	aead   cipher.AEAD
}

// New returns a Keyring for a 32-byte master key and, while a rotation is
// under way, the master keys it replaces (values sealed under them still
// open; see the package documentation).
func New(master []byte, previous ...[]byte) (*Keyring, error) {
	k := &Keyring{}
	for i, m := range append([][]byte{master}, previous...) {
		if len(m) != KeySize {
			if i == 0 {
				return nil, fmt.Errorf("keyring: master key must be %d bytes, got %d", KeySize, len(m))
			}
			return nil, fmt.Errorf("keyring: previous master key %d must be %d bytes, got %d", i, KeySize, len(m))
		}
		for j, other := range k.keys {
			if subtle.ConstantTimeCompare(m, other.master[:]) == 1 {
				if j == 0 {
					return nil, errors.New("keyring: a previous master key is the current one")
				}
				return nil, errors.New("keyring: a previous master key is listed twice")
			}
		}
		mk := masterKey{}
		copy(mk.master[:], m)
		block, err := aes.NewCipher(mk.subkey("portico seal v1"))
		if err != nil {
			return nil, fmt.Errorf("keyring: %w", err)
		}
		if mk.aead, err = cipher.NewGCM(block); err != nil {
			return nil, fmt.Errorf("keyring: %w", err)
		}
		k.keys = append(k.keys, mk)
	}
	return k, nil
}

// Previous reports how many previous master keys the keyring holds.
func (k *Keyring) Previous() int { return len(k.keys) - 1 }

// ParseList decodes a comma-separated list of master keys (each as Parse
// takes it); blank entries are skipped.
func ParseList(s string) ([][]byte, error) {
	var keys [][]byte
	for i, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, err := Parse(part)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// Parse decodes a master key given as 64 hex characters or as standard or
// URL-safe base64 of 32 bytes.
func Parse(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == KeySize {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, errors.New("master key must be 32 bytes, written as 64 hex characters or base64")
}

// LoadOrCreateFile reads the master key from path, or — when the file does
// not exist — generates one and writes it with 0600 permissions. created
// reports whether a new key was written.
func LoadOrCreateFile(path string) (key []byte, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		key, err := Parse(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("read %s: %w", path, err)
		}
		return key, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("read master key: %w", err)
	}
	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, fmt.Errorf("generate master key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("write master key: %w", err)
	}
	// Write the whole key to a temporary file (CreateTemp uses 0600), then
	// hard-link it into place: the link appears atomically and fails when
	// path exists, so two processes starting at once never both write a key
	// and neither ever reads a half-written file.
	f, err := os.CreateTemp(filepath.Dir(path), ".master-key-*")
	if err != nil {
		return nil, false, fmt.Errorf("write master key: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("write master key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("write master key: %w", err)
	}
	if err := os.Link(f.Name(), path); errors.Is(err, os.ErrExist) {
		return LoadOrCreateFile(path)
	} else if err != nil {
		return nil, false, fmt.Errorf("write master key: %w", err)
	}
	return key, true, nil
}

func (mk *masterKey) subkey(purpose string) []byte {
	b, err := hkdf.Key(sha256.New, mk.master[:], nil, purpose, 32)
	if err != nil {
		panic(fmt.Sprintf("hkdf: %v", err)) // only fails for absurd lengths
	}
	return b
}

// Derive returns a 32-byte key for purpose, independent of every other
// purpose's key, from the current master key: the key to sign with.
func (k *Keyring) Derive(purpose string) []byte { return k.keys[0].derive(purpose) }

// DeriveAll returns purpose's key under every master key the keyring
// holds, the current one's first: the keys to verify with, so that what
// was signed before a rotation still verifies.
func (k *Keyring) DeriveAll(purpose string) [][]byte {
	out := make([][]byte, len(k.keys))
	for i := range k.keys {
		out[i] = k.keys[i].derive(purpose)
	}
	return out
}

func (mk *masterKey) derive(purpose string) []byte { return mk.subkey("portico derive v1: " + purpose) }

// Seal encrypts plaintext under the current master key, binding it to
// context (for example the row id), so a ciphertext copied to another row
// does not open.
func (k *Keyring) Seal(plaintext []byte, context string) string {
	aead := k.keys[0].aead
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	out := aead.Seal(nonce, nonce, plaintext, []byte(context))
	return "v1:" + base64.RawStdEncoding.EncodeToString(out)
}

// Open decrypts a value from Seal with the same context, sealed under the
// current or a previous master key.
func (k *Keyring) Open(sealed, context string) ([]byte, error) {
	pt, _, err := k.open(sealed, context)
	return pt, err
}

// Reseal returns sealed as sealed under the current master key: itself
// when it already is (changed false), else opened and sealed again.
func (k *Keyring) Reseal(sealed, context string) (resealed string, changed bool, err error) {
	pt, i, err := k.open(sealed, context)
	if err != nil {
		return "", false, err
	}
	if i == 0 {
		return sealed, false, nil
	}
	return k.Seal(pt, context), true, nil
}

// open returns the plaintext and the index of the key that opened it.
func (k *Keyring) open(sealed, context string) ([]byte, int, error) {
	rest, ok := strings.CutPrefix(sealed, "v1:")
	if !ok {
		return nil, 0, errors.New("keyring: unknown sealed format")
	}
	b, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil || len(b) < k.keys[0].aead.NonceSize()+k.keys[0].aead.Overhead() {
		return nil, 0, errors.New("keyring: malformed sealed value")
	}
	// The format names no key: GCM's tag tells which one sealed it (a
	// wrong key fails the tag, which costs about as much as opening).
	for i := range k.keys {
		aead := k.keys[i].aead
		n := aead.NonceSize()
		if pt, err := aead.Open(nil, b[:n], b[n:], []byte(context)); err == nil {
			return pt, i, nil
		}
	}
	if len(k.keys) > 1 {
		return nil, 0, errors.New("keyring: cannot open sealed value (none of the master keys, or wrong context)")
	}
	return nil, 0, errors.New("keyring: cannot open sealed value (wrong master key or context)")
}

// Column is a database column of sealed values: each row of Table has its
// value in Sealed, sealed with the context ContextPrefix followed by the
// row's ContextFrom column, and is named by its Key column. The packages
// that own sealed values list theirs, so that `portico reseal` can move
// every one of them to the current master key.
type Column struct {
	Table, Key, Sealed, ContextFrom, ContextPrefix string
}

// Context returns the context a row's value is sealed with, given the row's
// ContextFrom value.
func (c Column) Context(from string) string { return c.ContextPrefix + from }
