// Package keyring holds the master key that protects secrets at rest. It
// seals values with AES-256-GCM (AK/SK secret keys, TLS private keys) and
// derives independent sub-keys for other purposes (session signing, CSRF)
// with HKDF, so one configured key covers everything and rotating it is one
// operation.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
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
	master [KeySize]byte
	aead   cipher.AEAD
}

// New returns a Keyring for a 32-byte master key.
func New(master []byte) (*Keyring, error) {
	if len(master) != KeySize {
		return nil, fmt.Errorf("keyring: master key must be %d bytes, got %d", KeySize, len(master))
	}
	k := &Keyring{}
	copy(k.master[:], master)
	block, err := aes.NewCipher(k.subkey("portico seal v1"))
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if k.aead, err = cipher.NewGCM(block); err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return k, nil
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

func (k *Keyring) subkey(purpose string) []byte {
	b, err := hkdf.Key(sha256.New, k.master[:], nil, purpose, 32)
	if err != nil {
		panic(fmt.Sprintf("hkdf: %v", err)) // only fails for absurd lengths
	}
	return b
}

// Derive returns a 32-byte key for purpose, independent of every other
// purpose's key.
func (k *Keyring) Derive(purpose string) []byte { return k.subkey("portico derive v1: " + purpose) }

// Seal encrypts plaintext, binding it to context (for example the row id),
// so a ciphertext copied to another row does not open.
func (k *Keyring) Seal(plaintext []byte, context string) string {
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	out := k.aead.Seal(nonce, nonce, plaintext, []byte(context))
	return "v1:" + base64.RawStdEncoding.EncodeToString(out)
}

// Open decrypts a value from Seal with the same context.
func (k *Keyring) Open(sealed, context string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, "v1:")
	if !ok {
		return nil, errors.New("keyring: unknown sealed format")
	}
	b, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil || len(b) < k.aead.NonceSize()+k.aead.Overhead() {
		return nil, errors.New("keyring: malformed sealed value")
	}
	n := k.aead.NonceSize()
	pt, err := k.aead.Open(nil, b[:n], b[n:], []byte(context))
	if err != nil {
		return nil, errors.New("keyring: cannot open sealed value (wrong master key or context)")
	}
	return pt, nil
}
