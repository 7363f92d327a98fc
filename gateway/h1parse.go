package gateway

import (
	"bytes"
	"net/http"
	"net/textproto"
	"net/url"

	"golang.org/x/net/http/httpguts"
)

// maxSimpleFields bounds the header fields parseSimpleRequest takes; a
// longer header goes to http.ReadRequest.
const maxSimpleFields = 40

// maxKeyCache bounds the header names a connection remembers.
const maxKeyCache = 64

// parseSimpleRequest parses the most common request — HTTP/1.1, an
// origin-form target, no body, every field plainly written — from hdr, its
// complete header through the empty line, into the *http.Request that
// http.ReadRequest returns for the same bytes (FuzzSimpleRequest holds it
// to that). ok is false for anything else: a body (Content-Length,
// Transfer-Encoding), Trailer, Pragma, Upgrade, a Connection field other
// than keep-alive, HTTP/1.0, other target forms, obs-fold, bare LF line
// ends, bytes outside visible ASCII, space and tab in values, or not
// exactly one valid Host. The server then parses it with ReadRequest and
// checks it as before.
//
// What it saves is ReadRequest's allocations per field: every value is a
// piece of one string holding the header, the values share one backing
// array, and a header name this connection sent before comes from its
// cache. A request it takes needs none of checkRequest's checks: its
// version is 1.1, its one Host is valid, and its names and values use
// only bytes those checks accept.
func (c *h1sConn) parseSimpleRequest(hdr []byte) (*http.Request, bool) {
	// The request line: METHOD SP origin-form SP HTTP/1.1 CRLF.
	eol := bytes.IndexByte(hdr, '\n')
	if eol < 1 || hdr[eol-1] != '\r' {
		return nil, false
	}
	line := hdr[:eol-1]
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || !isToken(line[:sp]) {
		return nil, false
	}
	rest := line[sp+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 || rest[0] != '/' || string(rest[sp2+1:]) != "HTTP/1.1" || !isVisible(rest[:sp2]) {
		return nil, false
	}
	methodEnd, targetStart, targetEnd := sp, sp+1, sp+1+sp2

	// The fields, checked and located before anything is allocated.
	var fields [maxSimpleFields]struct{ name, vStart, vEnd int }
	n, hostAt := 0, -1
	for i := eol + 1; ; {
		end := bytes.IndexByte(hdr[i:], '\n')
		if end < 1 || hdr[i+end-1] != '\r' {
			return nil, false
		}
		end += i - 1 // the CR
		if end == i {
			if i+2 != len(hdr) {
				return nil, false
			}
			break // the empty line
		}
		if n == maxSimpleFields {
			return nil, false
		}
		colon := bytes.IndexByte(hdr[i:end], ':')
		if colon <= 0 || !isToken(hdr[i:i+colon]) {
			return nil, false // obs-fold starts with a space, which is no token byte
		}
		name := hdr[i : i+colon]
		vs, ve := i+colon+1, end
		for vs < ve && (hdr[vs] == ' ' || hdr[vs] == '\t') {
			vs++
		}
		for ve > vs && (hdr[ve-1] == ' ' || hdr[ve-1] == '\t') {
			ve--
		}
		if !isFieldValue(hdr[vs:ve]) {
			return nil, false
		}
		switch {
		case asciiEqualFold(name, "Host"):
			if hostAt >= 0 || !httpguts.ValidHostHeader(string(hdr[vs:ve])) {
				return nil, false
			}
			hostAt = n
		case asciiEqualFold(name, "Connection"):
			if !asciiEqualFold(hdr[vs:ve], "keep-alive") {
				return nil, false
			}
		case asciiEqualFold(name, "Content-Length"), asciiEqualFold(name, "Transfer-Encoding"),
			asciiEqualFold(name, "Trailer"), asciiEqualFold(name, "Pragma"), asciiEqualFold(name, "Upgrade"):
			return nil, false
		}
		fields[n] = struct{ name, vStart, vEnd int }{i, vs, ve}
		n++
		i = end + 2
	}
	if hostAt < 0 {
		return nil, false
	}
	s := string(hdr) // the one copy: method, target and values are pieces of it
	u, err := url.ParseRequestURI(s[targetStart:targetEnd])
	if err != nil {
		return nil, false
	}
	h := make(http.Header, n-1)
	vals := make([]string, n)
	for k := range n {
		if k == hostAt {
			continue // as ReadRequest: Host is the request's, not the map's
		}
		f := fields[k]
		colon := bytes.IndexByte(hdr[f.name:f.vStart], ':')
		key := c.headerKey(hdr[f.name : f.name+colon])
		v := s[f.vStart:f.vEnd]
		if vv, ok := h[key]; ok {
			h[key] = append(vv, v)
			continue
		}
		vals[k] = v
		h[key] = vals[k : k+1 : k+1]
	}
	req := &http.Request{
		Method:     s[:methodEnd],
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Body:       http.NoBody,
		Host:       s[fields[hostAt].vStart:fields[hostAt].vEnd],
		RequestURI: s[targetStart:targetEnd],
	}
	return req, true
}

// headerKey is the canonical form of a header name as sent: from the
// connection's cache when it sent the same bytes before.
func (c *h1sConn) headerKey(raw []byte) string {
	if k, ok := c.keys[string(raw)]; ok {
		return k
	}
	key := textproto.CanonicalMIMEHeaderKey(string(raw))
	if c.keys == nil {
		c.keys = make(map[string]string, 16)
	}
	if len(c.keys) < maxKeyCache {
		if string(raw) == key {
			c.keys[key] = key
		} else {
			c.keys[string(raw)] = key
		}
	}
	return key
}

// isToken reports whether b is a non-empty RFC 9110 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, ch := range b {
		if !httpguts.IsTokenRune(rune(ch)) {
			return false
		}
	}
	return true
}

// isVisible reports whether b holds only visible ASCII (no space).
func isVisible(b []byte) bool {
	for _, ch := range b {
		if ch <= ' ' || ch >= 0x7f {
			return false
		}
	}
	return true
}

// isFieldValue reports whether b holds only visible ASCII, spaces and
// tabs: a subset of what a field value may hold (no obs-text).
func isFieldValue(b []byte) bool {
	for _, ch := range b {
		if (ch < ' ' && ch != '\t') || ch >= 0x7f {
			return false
		}
	}
	return true
}

// asciiEqualFold reports whether b equals s ignoring ASCII case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
