package sigv4

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

const upperHex = "0123456789ABCDEF"

// unreserved marks the RFC 3986 unreserved characters, the only bytes SigV4
// leaves unencoded: A-Z a-z 0-9 - . _ ~
var unreserved = func() (t [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['-'], t['.'], t['_'], t['~'] = true, true, true, true
	return t
}()

func appendEncodedByte(dst []byte, c byte) []byte {
	if unreserved[c] {
		return append(dst, c)
	}
	return append(dst, '%', upperHex[c>>4], upperHex[c&15])
}

// appendEncoded URI-encodes s as SigV4 does: every byte outside the
// unreserved set becomes %XX with upper-case hex, '%' included.
func appendEncoded(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		dst = appendEncodedByte(dst, s[i])
	}
	return dst
}

// appendCanonicalPath appends the strict canonical URI of p, the path exactly
// as it was sent (already percent-encoded once by the client): dot segments
// and empty segments (duplicate slashes) are removed, then every segment is
// URI-encoded once more — the AWS rule for every service except S3
// ("each path segment URI-encoded twice", counting the client's encoding).
//
// Normalisation follows the AWS SDKs (botocore, JS v3): "/a/b/.." is "/a"
// and a trailing slash survives only if the path ends with one.
func appendCanonicalPath(dst []byte, p string) []byte {
	if isCanonicalPath(p) {
		return append(dst, p...)
	}
	base := len(dst)
	for rest := p; ; {
		seg := rest
		i := strings.IndexByte(rest, '/')
		if i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
		}
		switch seg {
		case "", ".":
		case "..":
			if j := bytes.LastIndexByte(dst[base:], '/'); j >= 0 {
				dst = dst[:base+j]
			}
		default:
			dst = append(dst, '/')
			dst = appendEncoded(dst, seg)
		}
		if i < 0 {
			break
		}
	}
	if len(dst) == base || strings.HasSuffix(p, "/") {
		dst = append(dst, '/')
	}
	return dst
}

// isCanonicalPath reports whether p is its own canonical URI, as most paths
// are: it starts with '/', has only unreserved characters besides '/', and no
// empty (but a trailing one), "." or ".." segments.
func isCanonicalPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	seg := 1 // start of the current segment
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			if !unreserved[p[i]] {
				return false
			}
			continue
		}
		switch p[seg:i] {
		case ".", "..":
			return false
		case "":
			if i < len(p) {
				return false
			}
		}
		seg = i + 1
	}
	return true
}

// normalizePath is the normalisation half of appendCanonicalPath without the
// extra encoding; it exists for tests and fuzzing (it must be idempotent).
func normalizePath(p string) string {
	var b []byte
	base := 0
	for rest := p; ; {
		seg := rest
		i := strings.IndexByte(rest, '/')
		if i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
		}
		switch seg {
		case "", ".":
		case "..":
			if j := bytes.LastIndexByte(b[base:], '/'); j >= 0 {
				b = b[:base+j]
			}
		default:
			b = append(b, '/')
			b = append(b, seg...)
		}
		if i < 0 {
			break
		}
	}
	if len(b) == 0 || strings.HasSuffix(p, "/") {
		b = append(b, '/')
	}
	return string(b)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// appendQueryComponent decodes one query name or value as a server does
// (form decoding: '+' is a space, %XX is a byte) and appends its SigV4
// encoding (RFC 3986, space as %20) in one pass. A '%' that does not start a
// valid escape is taken literally (encoded as %25) rather than dropped, so
// every byte of the query stays bound by the signature.
func appendQueryComponent(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '+':
			dst = append(dst, "%20"...)
		case '%':
			if i+2 < len(s) {
				if hi, ok := unhex(s[i+1]); ok {
					if lo, ok := unhex(s[i+2]); ok {
						dst = appendEncodedByte(dst, hi<<4|lo)
						i += 2
						continue
					}
				}
			}
			dst = append(dst, "%25"...)
		default:
			dst = appendEncodedByte(dst, c)
		}
	}
	return dst
}

// qpair locates one encoded "name=value" pair inside a scratch buffer.
type qpair struct{ k0, k1, v1 int32 } // name is buf[k0:k1], value buf[k1+1:v1]

// isSignatureParam reports whether the raw query name is X-Amz-Signature
// (possibly percent-encoded), which a presigned canonical query omits.
func isSignatureParam(rawName string) bool {
	if rawName == "X-Amz-Signature" {
		return true
	}
	if strings.IndexByte(rawName, '%') < 0 && strings.IndexByte(rawName, '+') < 0 {
		return false
	}
	var b [48]byte
	return string(appendQueryComponent(b[:0], rawName)) == "X-Amz-Signature"
}

// appendCanonicalQuery appends the strict canonical query string for raw, the
// query exactly as sent: each name and value decoded and re-encoded per
// RFC 3986, pairs sorted by encoded name then encoded value, a name without
// '=' given an empty value, empty pairs dropped. With presigned set, the
// X-Amz-Signature parameter is left out. sc provides reusable buffers.
func appendCanonicalQuery(dst []byte, raw string, presigned bool, sc *scratch) []byte {
	if raw == "" {
		return dst
	}
	buf := sc.q[:0]
	pairs := sc.pairs[:0]
	for rest := raw; ; {
		pair := rest
		i := strings.IndexByte(rest, '&')
		if i >= 0 {
			pair, rest = rest[:i], rest[i+1:]
		}
		if pair != "" {
			name, value, _ := strings.Cut(pair, "=")
			if !presigned || !isSignatureParam(name) {
				k0 := int32(len(buf))
				buf = appendQueryComponent(buf, name)
				k1 := int32(len(buf))
				buf = append(buf, '=')
				buf = appendQueryComponent(buf, value)
				pairs = append(pairs, qpair{k0, k1, int32(len(buf))})
			}
		}
		if i < 0 {
			break
		}
	}
	slices.SortFunc(pairs, func(a, b qpair) int {
		if c := bytes.Compare(buf[a.k0:a.k1], buf[b.k0:b.k1]); c != 0 {
			return c
		}
		return bytes.Compare(buf[a.k1+1:a.v1], buf[b.k1+1:b.v1])
	})
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, buf[p.k0:p.v1]...)
	}
	sc.q, sc.pairs = buf, pairs
	return dst
}

// appendRawQuery appends the query exactly as sent (the form curl before 8.3
// signs), leaving out X-Amz-Signature when presigned.
func appendRawQuery(dst []byte, raw string, presigned bool) []byte {
	if !presigned {
		return append(dst, raw...)
	}
	first := true
	for rest := raw; ; {
		pair := rest
		i := strings.IndexByte(rest, '&')
		if i >= 0 {
			pair, rest = rest[:i], rest[i+1:]
		}
		name, _, _ := strings.Cut(pair, "=")
		if !isSignatureParam(name) {
			if !first {
				dst = append(dst, '&')
			}
			dst = append(dst, pair...)
			first = false
		}
		if i < 0 {
			break
		}
	}
	return dst
}

// appendHeaderValue appends one canonical header value: leading and trailing
// whitespace trimmed, runs of spaces collapsed to one (what the AWS SDKs do).
func appendHeaderValue(dst []byte, v string) []byte {
	v = strings.TrimSpace(v)
	if !strings.Contains(v, "  ") {
		return append(dst, v...)
	}
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		dst = append(dst, c)
	}
	return dst
}

// splitTarget splits a request-target as it appeared on the request line into
// its path and raw query. Absolute-form targets ("http://host/p?q") lose
// their scheme and authority.
func splitTarget(t string) (path, query string) {
	if t != "" && t[0] != '/' {
		if i := strings.Index(t, "://"); i >= 0 {
			t = t[i+3:]
			j := strings.IndexAny(t, "/?")
			if j < 0 {
				return "/", ""
			}
			t = t[j:]
		}
	}
	path, query, _ = strings.Cut(t, "?")
	if path == "" {
		path = "/"
	}
	return path, query
}

// requestTarget returns the path and query of r exactly as the client sent
// them: from the request line on a server (r.RequestURI), or as the Go client
// will send them on an outgoing request.
func requestTarget(r *http.Request) (path, query string) {
	if r.RequestURI != "" {
		return splitTarget(r.RequestURI)
	}
	if r.URL == nil {
		return "/", ""
	}
	return splitTarget(r.URL.RequestURI())
}

// canonicalHeaderKey writes the MIME-canonical form of a lower-case header
// name into buf ("x-amz-date" → "X-Amz-Date"), the form net/http keys
// r.Header by, without allocating.
func canonicalHeaderKey(buf []byte, name string) []byte {
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf = append(buf, c)
		upper = c == '-'
	}
	return buf
}

// headerValues returns the values of the lower-case header name on r, and
// whether the header is present; with scan, under any spelling of its name
// (a request built by hand may key it so), else only under its canonical
// one (VerifyOptions.CanonicalHeaders). Host and (on a server) Content-Length and
// Transfer-Encoding live outside r.Header and are reported from r's fields;
// special is set for those, with the value in one.
func headerValues(r *http.Request, name string, scan bool) (vals []string, one string, special, ok bool) {
	switch name {
	case "host":
		h := r.Host
		if h == "" && r.URL != nil {
			h = r.URL.Host
		}
		return nil, h, true, h != ""
	}
	var kb [64]byte
	if len(name) <= len(kb) {
		if v, found := r.Header[string(canonicalHeaderKey(kb[:0], name))]; found {
			return v, "", false, true
		}
	}
	if scan || len(name) > len(kb) {
		for k, v := range r.Header { // non-canonical keys (set by hand, or very long names)
			if strings.EqualFold(k, name) {
				return v, "", false, true
			}
		}
	}
	switch name {
	case "content-length":
		if r.ContentLength > 0 {
			return nil, strconv.FormatInt(r.ContentLength, 10), true, true
		}
	case "transfer-encoding":
		if len(r.TransferEncoding) > 0 {
			return nil, strings.Join(r.TransferEncoding, ","), true, true
		}
	}
	return nil, "", false, false
}

// signedValues keeps the values of the signed headers that Verify checks
// after the canonical headers are built, so it need not look them up again.
type signedValues struct {
	contentSHA256, nonce []string
}

// appendCanonicalHeaders appends "name:value\n" for each name in the
// semicolon-separated signedHeaders, in the order given. It reports the first
// missing header by name. With seen non-nil, it records the values of
// X-Amz-Content-Sha256 and X-Portico-Nonce there. scan is headerValues'.
func appendCanonicalHeaders(dst []byte, r *http.Request, signedHeaders string, seen *signedValues, scan bool) ([]byte, string) {
	for rest := signedHeaders; ; {
		name := rest
		i := strings.IndexByte(rest, ';')
		if i >= 0 {
			name, rest = rest[:i], rest[i+1:]
		}
		vals, one, special, ok := headerValues(r, name, scan)
		if !ok {
			return dst, name
		}
		if seen != nil {
			switch name {
			case "x-amz-content-sha256":
				seen.contentSHA256 = vals
			case "x-portico-nonce":
				seen.nonce = vals
			}
		}
		dst = append(dst, name...)
		dst = append(dst, ':')
		if special {
			dst = appendHeaderValue(dst, one)
		} else {
			for j, v := range vals {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = appendHeaderValue(dst, v)
			}
		}
		dst = append(dst, '\n')
		if i < 0 {
			break
		}
	}
	return dst, ""
}

// AppendCanonicalQuery appends the SigV4 canonical form of a raw query
// string (decoded and re-encoded per RFC 3986, pairs sorted by name then
// value). The backend signature uses the same rules, so a provider can
// canonicalise the query its backend receives exactly as the gateway did.
func AppendCanonicalQuery(dst []byte, rawQuery string) []byte {
	if rawQuery == "" {
		return dst
	}
	sc := getScratch() // its buffers sort the pairs without allocating
	defer putScratch(sc)
	return appendCanonicalQuery(dst, rawQuery, false, sc)
}
