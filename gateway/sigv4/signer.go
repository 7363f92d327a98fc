package sigv4

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Signer signs outgoing requests exactly as Verifier checks them (the same
// canonicalisation code). Portico's Go client, porticoctl and the generated
// SDKs use it; any SigV4 client (AWS SDK signers, curl --aws-sigv4, Postman)
// produces signatures Verifier accepts as well.
//
// The zero value signs for region "local" and service "apigw".
type Signer struct {
	// Region of the credential scope; default "local".
	Region string
	// Service of the credential scope; default "apigw". Only tests and
	// other SigV4 services change it.
	Service string
	// SignContentSHA256 makes Sign set and sign X-Amz-Content-Sha256, so the
	// gateway can check the signature before reading the body and verify
	// the body while streaming it instead of buffering it.
	SignContentSHA256 bool
}

// unsignedHeaders are never signed: Authorization carries the signature;
// the others are commonly added, removed or rewritten between client and
// gateway (the first five are the AWS SDKs' list, the rest hop-by-hop).
var unsignedHeaders = []string{
	"authorization", "user-agent", "x-amzn-trace-id", "expect", "transfer-encoding",
	"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer", "upgrade",
}

func (s *Signer) scope() (region, service string) {
	region, service = s.Region, s.Service
	if region == "" {
		region = DefaultRegion
	}
	if service == "" {
		service = Service
	}
	return region, service
}

// Sign adds X-Amz-Date and Authorization (and X-Amz-Content-Sha256 with
// SignContentSHA256) to r, signing the method, path, query, host, the
// content length and every header already set on r (set X-Portico-Nonce
// before signing to use replay protection; see NewNonce).
//
// payloadHash is the hex SHA-256 of the body, UnsignedPayload, or "" to
// have Sign hash the body: through r.GetBody when set, else by reading r.Body
// and replacing it with an in-memory copy.
func (s *Signer) Sign(r *http.Request, accessKey, secret, payloadHash string, now time.Time) error {
	if err := checkSignArgs(accessKey, secret); err != nil {
		return err
	}
	payloadHash, err := clientPayloadHash(r, payloadHash)
	if err != nil {
		return err
	}
	region, service := s.scope()
	amzDate := now.UTC().Format(amzDateFormat)
	r.Header.Del(headerAuthorization)
	r.Header.Set(headerAmzDate, amzDate)
	if s.SignContentSHA256 {
		r.Header.Set(headerContentSHA256, payloadHash)
	}
	signed := signedHeaderList(r)
	scope := amzDate[:8] + "/" + region + "/" + service + "/aws4_request"
	path, query := requestTarget(r)
	in := canonInput{method: r.Method, path: path, query: query, signedHeaders: signed, payload: payloadHash}
	sig := signRequest(r, &in, amzDate, scope, newSigningKey("", []byte(secret), amzDate[:8], region, service))
	r.Header.Set(headerAuthorization, Algorithm+" Credential="+accessKey+"/"+scope+", SignedHeaders="+signed+", Signature="+sig)
	return nil
}

// Presign returns r's URL with a presigned query (X-Amz-Algorithm,
// -Credential, -Date, -Expires, -SignedHeaders, -Signature) valid for
// expires (1 s to 7 days). Headers set on r are signed and must accompany
// the URL. r is not modified. payloadHash is as for Sign; for a GET without
// body, "" gives the empty-body digest.
func (s *Signer) Presign(r *http.Request, accessKey, secret, payloadHash string, now time.Time, expires time.Duration) (string, error) {
	if err := checkSignArgs(accessKey, secret); err != nil {
		return "", err
	}
	if expires < time.Second || expires > MaxPresignExpiry || expires%time.Second != 0 {
		return "", fmt.Errorf("sigv4: presign expiry %v: must be whole seconds from 1s to %v", expires, MaxPresignExpiry)
	}
	r = r.Clone(r.Context())
	r.RequestURI = "" // sign the URL we build, even for a request received by a server
	payloadHash, err := clientPayloadHash(r, payloadHash)
	if err != nil {
		return "", err
	}
	if hasPresignParams(r.URL.RawQuery) || strings.Contains(r.URL.RawQuery, queryDate+"=") {
		return "", errors.New("sigv4: presign: the URL already carries X-Amz- signature parameters")
	}
	region, service := s.scope()
	amzDate := now.UTC().Format(amzDateFormat)
	scope := amzDate[:8] + "/" + region + "/" + service + "/aws4_request"
	signed := signedHeaderList(r)
	q := r.URL.RawQuery
	if q != "" {
		q += "&"
	}
	q += queryAlgorithm + "=" + Algorithm +
		"&" + queryCredential + "=" + string(appendEncoded(nil, accessKey+"/"+scope)) +
		"&" + queryDate + "=" + amzDate +
		"&" + queryExpires + "=" + itoa(int64(expires/time.Second)) +
		"&" + querySignedHeaders + "=" + string(appendEncoded(nil, signed))
	r.URL.RawQuery = q
	path, query := requestTarget(r)
	in := canonInput{method: r.Method, path: path, query: query, presigned: true, signedHeaders: signed, payload: payloadHash}
	sig := signRequest(r, &in, amzDate, scope, newSigningKey("", []byte(secret), amzDate[:8], region, service))
	r.URL.RawQuery += "&" + querySignature + "=" + sig
	return r.URL.String(), nil
}

func checkSignArgs(accessKey, secret string) error {
	if accessKey == "" || strings.ContainsAny(accessKey, "/ ,=") {
		return errors.New("sigv4: sign: access key id is empty or contains '/', ' ', ',' or '='")
	}
	if secret == "" {
		return errors.New("sigv4: sign: secret key is empty")
	}
	return nil
}

func signRequest(r *http.Request, in *canonInput, amzDate, scope string, sk *signingKey) string {
	sc := getScratch()
	defer putScratch(sc)
	var mac [sha256.Size]byte
	sc.cr, sc.sts, mac = signParts(sc.cr[:0], sc.sts[:0], r, in, amzDate, scope, sk, sc)
	return hex.EncodeToString(mac[:])
}

// signedHeaderList is host, content-length when the body length is known
// and positive (the Go client then sends it), and every header on r except
// unsignedHeaders, lower-cased, de-duplicated and sorted.
func signedHeaderList(r *http.Request) string {
	names := []string{"host"}
	if r.ContentLength > 0 {
		names = append(names, "content-length")
	}
	for k := range r.Header {
		n := strings.ToLower(k)
		if slices.Contains(unsignedHeaders, n) || slices.Contains(names, n) {
			continue
		}
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ";")
}

func clientPayloadHash(r *http.Request, given string) (string, error) {
	if given != "" {
		if given != UnsignedPayload && !isHexSHA256(given) {
			return "", errors.New("sigv4: sign: payloadHash must be empty, UNSIGNED-PAYLOAD or a lower-case hex SHA-256")
		}
		return given, nil
	}
	if r.Body == nil || r.Body == http.NoBody {
		return EmptySHA256, nil
	}
	var body io.ReadCloser
	if r.GetBody != nil {
		b, err := r.GetBody()
		if err != nil {
			return "", fmt.Errorf("sigv4: sign: get body: %w", err)
		}
		body = b
	} else {
		data, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return "", fmt.Errorf("sigv4: sign: read body: %w", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(data))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		body = io.NopCloser(bytes.NewReader(data))
	}
	defer body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, body); err != nil {
		return "", fmt.Errorf("sigv4: sign: hash body: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// NewNonce returns a random nonce for X-Portico-Nonce (22 URL-safe
// characters, 128 bits).
func NewNonce() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
