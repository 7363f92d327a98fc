package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/portico-dev/portico/gateway/sigv4"
)

// WithAccessKey authenticates every request with an AK/SK key pair instead
// of a bearer token: each request is signed with AWS Signature Version 4
// (AWS4-HMAC-SHA256) for the credential scope <date>/<region>/apigw/aws4_request,
// as ../shared/docs/signing.md defines it. accessKey is a user key (PU…) for
// the management API; region is the deployment's region (PORTICO_REGION on
// the server; "" means "local").
//
// The signed headers are host, x-amz-date, x-amz-content-sha256 (the hex
// SHA-256 of the body, which the request also carries) and content-type
// when the request has one. The signature is computed by gateway/sigv4's
// Signer, the code the server verifies with.
//
// A request that already carries an Authorization header, such as
// CreateToken's HTTP Basic, is sent as it is. Of WithToken and
// WithAccessKey, the one given last wins.
func WithAccessKey(accessKey, secretKey, region string) Option {
	return WithRoundTripper(func(next http.RoundTripper) http.RoundTripper {
		return &sigv4Transport{
			next:      next,
			signer:    &sigv4.Signer{Region: region, SignContentSHA256: true},
			accessKey: accessKey,
			secretKey: secretKey,
			now:       time.Now,
		}
	})
}

type sigv4Transport struct {
	next                 http.RoundTripper
	signer               *sigv4.Signer
	accessKey, secretKey string
	now                  func() time.Time
}

// extraSignedHeaders are the request headers signed besides host and the
// x-amz-* headers the signer adds.
var extraSignedHeaders = []string{"Content-Type"}

// RoundTrip signs a copy of req and sends it.
func (t *sigv4Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") != "" {
		return t.next.RoundTrip(req)
	}
	// A RoundTripper must not modify the request it was given.
	r := req.Clone(req.Context())
	sum, err := payloadSHA256(r)
	if err != nil {
		closeBody(req)
		return nil, fmt.Errorf("sign request: %w", err)
	}
	// The Signer signs every header it finds on the request (and the
	// content length). Portico's clients sign a fixed set, which no proxy
	// or transport on the way is likely to touch, so the Signer is handed
	// a view of the request that carries only those headers.
	view := &http.Request{Method: r.Method, URL: r.URL, Host: r.Host, Header: http.Header{}}
	for _, h := range extraSignedHeaders {
		if v := r.Header.Values(h); len(v) > 0 {
			view.Header[h] = v
		}
	}
	if err := t.signer.Sign(view, t.accessKey, t.secretKey, sum, t.now()); err != nil {
		closeBody(req)
		return nil, fmt.Errorf("sign request: %w", err)
	}
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Content-Sha256"} {
		r.Header.Set(h, view.Header.Get(h))
	}
	return t.next.RoundTrip(r)
}

// payloadSHA256 returns the hex SHA-256 of r's body, reading it through
// r.GetBody (the client's requests always have it). A body that cannot be
// re-read is buffered and replaced on r.
func payloadSHA256(r *http.Request) (string, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return sigv4.EmptySHA256, nil
	}
	var body io.ReadCloser
	if r.GetBody != nil {
		b, err := r.GetBody()
		if err != nil {
			return "", fmt.Errorf("read body: %w", err)
		}
		body = b
	} else {
		data, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return "", fmt.Errorf("read body: %w", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(data))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		body = io.NopCloser(bytes.NewReader(data))
	}
	defer body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, body); err != nil {
		return "", fmt.Errorf("hash body: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// closeBody closes the body of a request that will not be sent, as
// RoundTrip must.
func closeBody(r *http.Request) {
	if r.Body != nil {
		r.Body.Close()
	}
}
