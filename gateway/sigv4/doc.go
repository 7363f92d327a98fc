// Package sigv4 verifies and creates AWS Signature Version 4
// (AWS4-HMAC-SHA256) request signatures, the one scheme Portico speaks for
// partners calling APIs through the gateway (PK… access keys) and for the
// management API (PU… access keys). ../shared/docs/signing.md is the contract;
// this package implements it byte for byte, so curl --aws-sigv4, Postman's
// "AWS Signature" auth and the AWS SDKs' standalone signers work unchanged.
//
// It is part of the data plane: it imports the standard library and go-redis
// only, never gin, gorm or a control-plane package. Callers hand it their
// keys through KeyStore, which they implement over an in-memory snapshot.
//
// # Verifying
//
//	v, err := sigv4.New(sigv4.Config{Region: cfg.Region, Keys: snapshot, Nonces: sigv4.NewRedisNonces(rdb, "")})
//	cred, err := v.Verify(ctx, r, "", sigv4.VerifyOptions{RequireNonce: route.RequireNonce})
//	var perr *sigv4.Error
//	if errors.As(err, &perr) { /* render perr as problem+json with perr.Status */ }
//
// Verify runs the checks of signing.md in order: presence and syntax (401
// missing-signature, 400 malformed-authorization naming the part), access
// key (403 invalid-access-key), credential scope (403 invalid-scope with the
// expected scope), time (403 request-expired with the server time), signed
// headers (400 malformed-authorization), signature (403 signature-mismatch
// carrying the server's canonical request and string to sign) and nonce (403
// replayed-nonce or nonce-required, or 429 nonce-capacity when the access key,
// or its Credential.NonceShare of keys, already holds its share of unexpired
// nonces).
//
// # Bodies
//
// The canonical request ends with the body's SHA-256, so the body must be
// known before the signature can be checked. Three ways, by cost:
//
//   - The client signs X-Amz-Content-Sha256 (Signer.SignContentSHA256, the
//     AWS S3 convention). Verify uses the signed digest, does not read the
//     body, and wraps r.Body so that reading it to the end fails with a
//     signature-mismatch *Error if the streamed body differs. Nothing is
//     buffered; a proxy forwarding the body aborts the upstream request on
//     that error.
//   - The caller reads the body bounded by the route's maximum size, hashes
//     it and passes the digest as payloadHash.
//   - payloadHash "" without a signed digest: Verify calls HashBody, which
//     buffers at most Config.MaxBodyBytes and makes r.Body re-readable.
//
// # Canonical form and the raw retry
//
// The strict canonical request is SigV4's for non-S3 services: the path as
// sent, with dot segments and duplicate slashes removed, each segment
// URI-encoded once more ("encoded twice"); the query decoded and re-encoded
// per RFC 3986 and sorted by name then value; header values trimmed with runs
// of spaces collapsed, repeated headers joined by commas. When that fails,
// Verify tries once more with the path and query exactly as sent, which is
// what curl signs before 8.3 (raw query) and before 8.14 (once-encoded path).
// That retry is not made for paths containing "%25", which a strict signature
// of a different path could otherwise be replayed against.
//
// # Choices where signing.md leaves room
//
//   - Missing X-Amz-Date, host or x-amz-date not signed, a signed header
//     absent from the request, or X-Portico-Nonce present but not signed are
//     400 malformed-authorization (AWS answers these with its 400
//     IncompleteSignature), naming X-Amz-Date or SignedHeaders.
//   - A credential scope with the wrong date, region, service or terminator
//     is 403 invalid-scope; only a Credential without five '/'-separated
//     parts is malformed. X-Amz-Expires outside 1..604800 (or the configured
//     maximum) is 400 malformed-authorization.
//   - Presigned URLs are refused before X-Amz-Date − MaxSkew as well as after
//     X-Amz-Date + X-Amz-Expires.
//   - A presigned URL whose X-Amz- parameter names are percent-encoded
//     (X%2DAmz-Signature) is 400 malformed-authorization: no signer encodes
//     them, and a proxy that strips the presigned parameters before
//     forwarding looks for them as sent.
//   - In the strict query, '+' is a space (form decoding, as net/url and the
//     AWS SDKs read it), and a '%' not followed by two hex digits is a
//     literal '%': no byte of the query escapes the signature.
//   - Dot segments are the literal "." and ".."; "/a/b/.." normalises to "/a"
//     (botocore, AWS JS SDK v3).
//   - A nonce is 1 to 128 visible ASCII characters, remembered until the
//     request could no longer pass the time check (X-Amz-Date plus MaxSkew,
//     or plus X-Amz-Expires when presigned), and one second more.
//   - VerifyOptions.RequireNonce adds to Config.RequireNonce; it cannot lift it.
//   - Other Authorization schemes (Bearer, Basic) are 401 missing-signature,
//     so a caller can try other authenticators first.
//
// # Known limits
//
//   - curl 8.3 to 8.13 signs the canonical query with the once-encoded path.
//     If the path holds percent-escapes and the query is not already in
//     canonical order, neither the strict nor the raw form matches (the
//     contract allows one retry). curl 8.14 and later, and earlier versions,
//     are fine.
//   - The raw retry is not tried for paths containing %25, so a client that
//     signs the once-encoded path (curl before 8.14) cannot use a literal '%'
//     in a path segment.
//   - aws-sdk-go-v2 does not normalise paths: its signatures for paths with
//     dot segments or duplicate slashes verify only through the raw retry,
//     that is, when the path has no percent-escapes.
//
// # Signing
//
// Signer implements the same canonicalisation for Portico's Go client, CLI and
// SDK templates; tests cross-check it and Verify against aws-sdk-go-v2.
package sigv4
