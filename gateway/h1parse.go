package gateway

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

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
// to that), made with the request's context, which it returns too. It
// returns nil for anything else: a body (Content-Length,
// Transfer-Encoding), Trailer, Pragma, Upgrade, a Connection field other
// than keep-alive, HTTP/1.0, other target forms, obs-fold, bare LF line
// ends, a value with bytes other than visible ASCII, space and tab, or not
// exactly one valid Host. The server then parses it with ReadRequest and
// checks it as before.
//
// What it saves is ReadRequest's allocations per field: every value is a
// piece of one string holding the header, the values share one backing
// array, and a header name this connection sent before comes from its
// cache. A request it takes needs none of checkRequest's checks: its
// version is 1.1, its one Host is valid, and its names and values use
// only bytes those checks accept.
func (c *h1sConn) parseSimpleRequest(hdr []byte) (*http.Request, *reqCtx) {
	// The request line: METHOD SP origin-form SP HTTP/1.1 CRLF.
	eol := bytes.IndexByte(hdr, '\n')
	if eol < 1 || hdr[eol-1] != '\r' {
		return nil, nil
	}
	line := hdr[:eol-1]
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || !isToken(line[:sp]) {
		return nil, nil
	}
	rest := line[sp+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 || rest[0] != '/' || string(rest[sp2+1:]) != "HTTP/1.1" || !isVisible(rest[:sp2]) {
		return nil, nil
	}
	methodEnd, targetStart, targetEnd := sp, sp+1, sp+1+sp2

	var fields headerFields
	hostAt := -1
	ok := fields.scan(hdr, eol+1, func(name, value []byte) bool {
		switch {
		case equalFold(name, "Host"):
			if hostAt >= 0 || !httpguts.ValidHostHeader(string(value)) {
				return false
			}
			hostAt = fields.n
		case equalFold(name, "Connection"):
			return equalFold(value, "keep-alive")
		case equalFold(name, "Content-Length"), equalFold(name, "Transfer-Encoding"),
			equalFold(name, "Trailer"), equalFold(name, "Pragma"), equalFold(name, "Upgrade"):
			return false
		}
		return true
	})
	if !ok || hostAt < 0 {
		return nil, nil
	}
	s := string(hdr) // the one copy: method, target and values are pieces of it
	u, err := url.ParseRequestURI(s[targetStart:targetEnd])
	if err != nil {
		return nil, nil
	}
	var hop hopFields
	h := fields.header(hdr, s, &c.keys, hostAt, &hop) // as ReadRequest: Host is the request's, not the map's
	r := http.Request{
		Method:     s[:methodEnd],
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Body:       http.NoBody,
		Host:       s[fields.at[hostAt].vStart:fields.at[hostAt].vEnd],
		RequestURI: s[targetStart:targetEnd],
	}
	// r stays on the stack: the one Request allocated is WithContext's,
	// made with the request's context.
	ctx := newReqCtx(c.ctx)
	if hop&hopOther == 0 {
		ctx.header, ctx.keepAlive = h, hop&hopKeepAlive != 0
	}
	return r.WithContext(ctx), ctx
}

// headerKeys caches the canonical forms of the header names one
// connection sent, by the bytes it sent them as, so that a name seen
// before costs no allocation.
type headerKeys map[string]string

// key is the canonical form of the header name raw.
func (ks *headerKeys) key(raw []byte) string {
	// Common names first, from one table every connection shares: it
	// stays in the CPU's caches, where a connection's own map, touched
	// once per request among a hundred others, often is not.
	if k, ok := commonKeys.lookup(raw); ok {
		return k
	}
	if k, ok := (*ks)[string(raw)]; ok {
		return k
	}
	key := textproto.CanonicalMIMEHeaderKey(string(raw))
	if *ks == nil {
		*ks = make(headerKeys, 16)
	}
	if len(*ks) < maxKeyCache {
		if string(raw) == key {
			(*ks)[key] = key
		} else {
			(*ks)[string(raw)] = key
		}
	}
	return key
}

// commonKeys knows the usual spellings of common request and response
// header names (canonical and lower case) and their canonical forms.
// Read-only after init.
var commonKeys = func() *commonTable {
	names := []string{
		// Requests.
		"Host", "User-Agent", "Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cookie",
		"Content-Type", "Content-Length", "Content-Encoding", "Connection", "Keep-Alive", "Expect", "Te", "Origin", "Referer",
		"Cache-Control", "If-None-Match", "If-Modified-Since", "Range", "Traceparent", "Tracestate",
		"X-Amz-Date", "X-Amz-Content-Sha256", "X-Amz-Security-Token", "X-Portico-Nonce", "X-Portico-Stage", "X-Portico-App-Code",
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip", "X-Request-Id",
		// Responses.
		"Date", "Server", "Etag", "Last-Modified", "Expires", "Vary", "Location", "Set-Cookie", "X-Content-Type-Options",
		"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Expose-Headers",
	}
	t := &commonTable{}
	for _, n := range names {
		k := textproto.CanonicalMIMEHeaderKey(n)
		t.add(k, k)
		t.add(strings.ToLower(k), k)
	}
	return t
}()

// commonTable maps spellings to canonical names by open addressing over a
// fixed array, its slot chosen from the spelling's length and its first
// and last letters (case folded, so a name's two spellings sit side by
// side): a lookup is one or two slots and one comparison, where a map
// hashed every name and reached its key through control words and groups
// that, touched a few times per request among everything else, were
// seldom in the CPU's caches.
type commonTable struct {
	slots [commonSlots]struct{ raw, key string }
}

// commonSlots keeps the table at most half full.
const commonSlots = 256

func commonSlot(raw string) int {
	n := len(raw)
	return (n*37 + int(raw[0]|0x20)*11 + int(raw[n-1]|0x20)) & (commonSlots - 1)
}

// add records raw as a spelling of key; raw is not already in t.
func (t *commonTable) add(raw, key string) {
	i := commonSlot(raw)
	for t.slots[i].key != "" {
		i = (i + 1) & (commonSlots - 1)
	}
	t.slots[i].raw, t.slots[i].key = raw, key
}

// lookup returns the canonical name raw spells, if t knows the spelling.
func (t *commonTable) lookup(raw []byte) (string, bool) {
	if len(raw) == 0 {
		return "", false
	}
	for i := commonSlot(string(raw)); ; i = (i + 1) & (commonSlots - 1) {
		e := &t.slots[i]
		if e.key == "" {
			return "", false
		}
		if e.raw == string(raw) {
			return e.key, true
		}
	}
}

// headerFields locates the fields of a message head, checked, before
// anything is allocated for them.
type headerFields struct {
	at [maxSimpleFields]struct{ name, colon, vStart, vEnd int }
	n  int
}

// scan reads the field lines of hdr from i through the empty line that
// must end hdr. It takes only plain fields — a token name right before
// the colon, a value of visible ASCII, spaces and tabs, CRLF line ends, no
// obs-fold — at most maxSimpleFields of them, and each one special (given
// its name and value with the spaces around it trimmed, as textproto
// trims them) accepts; false when anything else comes.
func (f *headerFields) scan(hdr []byte, i int, special func(name, value []byte) bool) bool {
	for {
		end := bytes.IndexByte(hdr[i:], '\n')
		if end < 1 || hdr[i+end-1] != '\r' {
			return false
		}
		end += i - 1 // the CR
		if end == i {
			return i+2 == len(hdr) // the empty line
		}
		if f.n == maxSimpleFields {
			return false
		}
		colon := bytes.IndexByte(hdr[i:end], ':')
		if colon <= 0 || !isToken(hdr[i:i+colon]) {
			return false // obs-fold starts with a space, which is no token byte
		}
		vs, ve := i+colon+1, end
		for vs < ve && (hdr[vs] == ' ' || hdr[vs] == '\t') {
			vs++
		}
		for ve > vs && (hdr[ve-1] == ' ' || hdr[ve-1] == '\t') {
			ve--
		}
		if !isFieldValue(hdr[vs:ve]) || !special(hdr[i:i+colon], hdr[vs:ve]) {
			return false
		}
		f.at[f.n] = struct{ name, colon, vStart, vEnd int }{i, i + colon, vs, ve}
		f.n++
		i = end + 2
	}
}

// header builds the header map of the fields scanned, leaving out field
// skip (-1 for none): s is hdr as a string, and the values are
// pieces of it sharing one backing array, as textproto's are. hop, when
// not nil, learns which of the fields a reverse proxy strips before its
// Rewrite it saw (a request's question; an answer's fields are not asked).
func (f *headerFields) header(hdr []byte, s string, keys *headerKeys, skip int, hop *hopFields) http.Header {
	h := make(http.Header, f.n)
	vals := make([]string, f.n)
	for k := range f.n {
		if k == skip {
			continue
		}
		fl := f.at[k]
		key := keys.key(hdr[fl.name:fl.colon])
		if hop != nil {
			*hop |= proxyStrips(key)
		}
		v := s[fl.vStart:fl.vEnd]
		if vv, ok := h[key]; ok {
			h[key] = append(vv, v)
			continue
		}
		vals[k] = v
		h[key] = vals[k : k+1 : k+1]
	}
	return h
}

// hopFields classes the request fields httputil.ReverseProxy removes from
// its outbound request before it calls Rewrite.
type hopFields uint8

const (
	// hopKeepAlive: Connection or Keep-Alive. The simple parser takes a
	// Connection field only when it says keep-alive, so the proxy's
	// removing them and the fields they name is removing these two.
	hopKeepAlive hopFields = 1 << iota
	// hopOther: any other hop-by-hop field (RFC 9110 7.6.1, and those
	// older proxies strip: the proxy's list), Te (whose "trailers" the
	// proxy passes on) or Forwarded.
	hopOther
)

// proxyStrips classes the canonical field name key (TestProxyStrips
// holds it to what httputil.ReverseProxy does).
func proxyStrips(key string) hopFields {
	switch key {
	case "Connection", "Keep-Alive":
		return hopKeepAlive
	case "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer",
		"Transfer-Encoding", "Upgrade", "Forwarded":
		return hopOther
	}
	return 0
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
// tabs: a subset of what a field value may hold (no obs-text). Eight bytes
// at a time: a word with no byte below ' ' and none above '~' passes
// whole; one with such a byte (a tab, or a reason to refuse) is looked at
// byte by byte. A signed request's Authorization value alone is some 200
// bytes.
func isFieldValue(b []byte) bool {
	for ; len(b) >= 8; b = b[8:] {
		if w := binary.LittleEndian.Uint64(b); !plainWord(w) && !fieldBytes(b[:8]) {
			return false
		}
	}
	return fieldBytes(b)
}

// plainWord reports whether every byte of w is in ' '..'~' (Bit Twiddling
// Hacks' hasmore and hasless, exact for the word as a whole; hasless's
// "&^ w" is left out: a byte with its high bit set is above '~' anyway).
func plainWord(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	above := ((w + ones*(127-'~')) | w) & highs // a byte > 0x7e
	below := (w - ones*' ') & highs             // else, a byte < 0x20
	return below|above == 0
}

func fieldBytes(b []byte) bool {
	for _, ch := range b {
		if (ch < ' ' && ch != '\t') || ch >= 0x7f {
			return false
		}
	}
	return true
}

// equalFold reports whether b equals s ignoring case. The parsers call
// it only on names and values already checked to be ASCII, where
// bytes.EqualFold's Unicode folding cannot match anything else.
func equalFold(b []byte, s string) bool { return bytes.EqualFold(b, []byte(s)) }

// parseSimpleResponse parses the most common answer — HTTP/1.1, a final
// status whose body one Content-Length frames, plain fields — from head,
// its complete head through the empty line, into the *http.Response that
// http.ReadResponse returns for the same bytes (FuzzSimpleResponse holds
// it to that); the body reads the next Content-Length bytes of the
// connection's reader. ok is false for anything else: the answer to HEAD,
// 1xx, 204, 304 and statuses past 599, no Content-Length or more than one,
// Transfer-Encoding, Trailer, Pragma, a Connection field other than
// keep-alive, HTTP/1.0, and fields that are not plain (as for requests).
// The transport then reads it with ReadResponse, as before.
func (c *h1Conn) parseSimpleResponse(head []byte, req *http.Request) (*http.Response, bool) {
	if req.Method == http.MethodHead {
		return nil, false
	}
	// The status line: HTTP/1.1 SP 3DIGIT [SP reason] CRLF.
	eol := bytes.IndexByte(head, '\n')
	if eol < 13 || head[eol-1] != '\r' || string(head[:9]) != "HTTP/1.1 " {
		return nil, false
	}
	line := head[:eol-1]
	code := 0
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return nil, false
		}
		code = code*10 + int(d-'0')
	}
	if code < 200 || code > 599 || code == http.StatusNoContent || code == http.StatusNotModified ||
		(len(line) > 12 && (line[12] != ' ' || !isFieldValue(line[13:]))) {
		return nil, false
	}
	var fields headerFields
	length := int64(-1)
	ok := fields.scan(head, eol+1, func(name, value []byte) bool {
		switch {
		case equalFold(name, "Content-Length"):
			if length >= 0 || len(value) == 0 || len(value) > 18 {
				return false
			}
			length = 0
			for _, d := range value {
				if d < '0' || d > '9' {
					return false
				}
				length = length*10 + int64(d-'0')
			}
		case equalFold(name, "Connection"):
			return equalFold(value, "keep-alive")
		case equalFold(name, "Transfer-Encoding"), equalFold(name, "Trailer"), equalFold(name, "Pragma"):
			return false
		}
		return true
	})
	if !ok || length < 0 {
		return nil, false
	}
	s := string(head) // the one copy: the status and the values are pieces of it
	res := &http.Response{
		Status:        s[9 : eol-1],
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        fields.header(head, s, &c.keys, -1, nil),
		Body:          http.NoBody,
		ContentLength: length,
		Request:       req,
	}
	if length > 0 {
		res.Body = &lengthBody{r: c.br, n: length}
	}
	return res, true
}

// lengthBody reads a body of n bytes, as net/http's body does for one that
// Content-Length frames: io.EOF with the last bytes, io.ErrUnexpectedEOF if
// the connection ends before them.
type lengthBody struct {
	r io.Reader
	n int64
}

func (b *lengthBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	switch {
	case err == io.EOF && b.n > 0:
		err = io.ErrUnexpectedEOF
	case err == nil && b.n == 0:
		err = io.EOF
	}
	return n, err
}

// Close does nothing: h1Body, which wraps it, owns the connection.
func (b *lengthBody) Close() error { return nil }
