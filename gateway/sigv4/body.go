package sigv4

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
)

const (
	// EmptySHA256 is the hex SHA-256 of an empty body.
	EmptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	// UnsignedPayload in a signed X-Amz-Content-Sha256 header tells the
	// server that the body is not covered by the signature, as AWS allows.
	UnsignedPayload = "UNSIGNED-PAYLOAD"
)

// HashBody reads r.Body (at most max bytes), returns its hex SHA-256 and
// replaces r.Body (and r.GetBody) with a reader over the same bytes, so the
// body can still be read or forwarded. A nil or empty body hashes to
// EmptySHA256 without reading.
//
// It buffers the whole body, so it suits small bodies (management API JSON,
// routes with a low maximum body size). A body larger than max yields a 413
// *Error of type body-too-large. To verify large bodies without buffering
// them, have clients sign X-Amz-Content-Sha256 (Portico's Signer does with
// SignContentSHA256): Verify then checks the signature before the body is
// read and hashes the body while it streams (see Verify).
func HashBody(r *http.Request, max int64) (string, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return EmptySHA256, nil
	}
	if r.ContentLength > max {
		return "", newError(TypeBodyTooLarge, "The request body ("+itoa(r.ContentLength)+" bytes) exceeds the "+itoa(max)+"-byte limit for a signed body.")
	}
	capacity := int64(512)
	if r.ContentLength > 0 {
		capacity = r.ContentLength + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, min(capacity, max+1)))
	_, err := io.Copy(buf, io.LimitReader(r.Body, max+1))
	data := buf.Bytes()
	if err != nil {
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(data), r.Body))
		return "", fmt.Errorf("sigv4: read body: %w", err)
	}
	if int64(len(data)) > max {
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(data), r.Body))
		return "", newError(TypeBodyTooLarge, "The request body exceeds the "+itoa(max)+"-byte limit for a signed body.")
	}
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(data))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// isHexSHA256 reports whether s is a lower-case hex SHA-256 digest.
func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func bodyMismatch() *Error {
	return newError(TypeSignatureMismatch, "The request body does not match the signed X-Amz-Content-Sha256 digest.")
}

// verifyingBody hashes a body while it is read and, at the end, returns a
// signature-mismatch *Error instead of io.EOF when the digest differs from
// the signed one. A consumer that forwards the body (a reverse proxy) thus
// aborts the upstream request rather than completing it with a forged body.
type verifyingBody struct {
	rc   io.ReadCloser
	h    hash.Hash
	want [sha256.Size]byte
	err  error
}

func newVerifyingBody(rc io.ReadCloser, wantHex string) *verifyingBody {
	b := &verifyingBody{rc: rc, h: sha256.New()}
	hex.Decode(b.want[:], []byte(wantHex))
	return b
}

func (b *verifyingBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.rc.Read(p)
	b.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		var got [sha256.Size]byte
		if !bytes.Equal(b.h.Sum(got[:0]), b.want[:]) {
			err = bodyMismatch()
		}
		b.err = err
	}
	return n, err
}

func (b *verifyingBody) Close() error { return b.rc.Close() }
