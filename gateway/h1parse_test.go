package gateway

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/textproto"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// simpleRequests are requests parseSimpleRequest must take.
var simpleRequests = []string{
	"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
	"GET /bench/api-1/v1/items/17?x=1&y=%20z HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/apigw/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=0123abcd\r\nX-Amz-Date: 20261127T080000Z\r\nx-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\r\n\r\n",
	"DELETE /pets/%E2%82%AC/a%2Fb HTTP/1.1\r\nhost: [::1]:9000\r\nAccept: */*\r\nAccept: text/plain\r\nUser-Agent: curl/8.5.0\r\n\r\n",
	"HEAD //double//slash#frag HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Spaces: \t padded value\t \r\nConnection: Keep-Alive\r\n\r\n",
	"OPTIONS /x HTTP/1.1\r\nHOST: b.example\r\nx-custom_name.v2: 1\r\nA: b\r\nCookie: a=1; b=2\r\nExpect: 100-continue\r\n\r\n",
}

// notSimple are requests it must leave to http.ReadRequest.
var notSimple = map[string]string{
	"a body":               "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n",
	"chunked":              "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
	"trailer":              "GET /x HTTP/1.1\r\nHost: a\r\nTrailer: X\r\n\r\n",
	"pragma":               "GET /x HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n",
	"upgrade":              "GET /x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
	"connection close":     "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
	"HTTP/1.0":             "GET /x HTTP/1.0\r\nHost: a\r\n\r\n",
	"HTTP/2 preface":       "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	"absolute form":        "GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n",
	"authority form":       "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
	"asterisk":             "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	"no host":              "GET /x HTTP/1.1\r\nAccept: */*\r\n\r\n",
	"two hosts":            "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"bad host":             "GET /x HTTP/1.1\r\nHost: a b\r\n\r\n",
	"obs-fold":             "GET /x HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n",
	"bare LF":              "GET /x HTTP/1.1\nHost: a\n\n",
	"bare LF in a field":   "GET /x HTTP/1.1\r\nHost: a\nX: y\r\n\r\n",
	"space before colon":   "GET /x HTTP/1.1\r\nHost : a\r\n\r\n",
	"obs-text":             "GET /x HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9\r\n\r\n",
	"control byte":         "GET /x HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n",
	"non-token method":     "G(T /x HTTP/1.1\r\nHost: a\r\n\r\n",
	"space in target":      "GET /x y HTTP/1.1\r\nHost: a\r\n\r\n",
	"lower-case version":   "GET /x http/1.1\r\nHost: a\r\n\r\n",
	"too many fields":      "GET /x HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X-F: 1\r\n", maxSimpleFields) + "\r\n",
	"bytes after the head": "GET /x HTTP/1.1\r\nHost: a\r\n\r\nGET",
}

func TestSimpleRequestMatchesReadRequest(t *testing.T) {
	c := &h1sConn{}
	for round := range 2 { // the second round with the names cached
		for _, raw := range simpleRequests {
			req, ctx := c.parseSimpleRequest([]byte(raw))
			if req == nil {
				t.Fatalf("round %d: not taken: %q", round, raw)
			}
			if req.Context() != ctx {
				t.Fatalf("round %d: the request does not carry the context returned with it", round)
			}
			if msg := sameRequest(raw, req); msg != "" {
				t.Fatalf("round %d: %q: %s", round, raw, msg)
			}
		}
	}
}

func TestSimpleRequestDeclines(t *testing.T) {
	for name, raw := range notSimple {
		t.Run(name, func(t *testing.T) {
			if req, ctx := (&h1sConn{}).parseSimpleRequest([]byte(raw)); req != nil || ctx != nil {
				t.Fatalf("taken: %q", raw)
			}
		})
	}
}

// TestServerSimpleRequests: requests the fast path takes and requests it
// leaves, interleaved on one connection, are all answered as they were.
func TestServerSimpleRequests(t *testing.T) {
	lean := h1dServeLean(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen", strings.Join([]string{r.Method, r.URL.RequestURI(), r.Host, r.Header.Get("X-Amz-Date"), strings.Join(r.Header.Values("Accept"), ",")}, "|"))
	}), h1dLimits, nil)
	reqs := []string{simpleRequests[1], "GET /x HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n", simpleRequests[2], simpleRequests[1]}
	want := []string{
		"GET|/bench/api-1/v1/items/17?x=1&y=%20z|127.0.0.1:8080|20261127T080000Z|",
		"GET|/x|a||",
		"DELETE|/pets/%E2%82%AC/a%2Fb|[::1]:9000||*/*,text/plain",
		"GET|/bench/api-1/v1/items/17?x=1&y=%20z|127.0.0.1:8080|20261127T080000Z|",
	}
	conn := h1tDial(t, lean.addr, strings.Join(reqs, ""))
	br := bufio.NewReader(conn)
	for i := range reqs {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		res.Body.Close()
		if got := res.Header.Get("X-Seen"); got != want[i] {
			t.Fatalf("answer %d: the handler saw %q; want %q", i, got, want[i])
		}
	}
}

// FuzzSimpleRequest: whatever parseSimpleRequest takes, http.ReadRequest
// parses to the same request and the server's checks accept.
func FuzzSimpleRequest(f *testing.F) {
	for _, raw := range simpleRequests {
		f.Add([]byte(raw))
	}
	for _, raw := range notSimple {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		end := headerEnd(raw, 0)
		if end == 0 {
			return
		}
		hdr := raw[:end]
		c := &h1sConn{}
		for range 2 {
			req, _ := c.parseSimpleRequest(hdr)
			if req == nil {
				return
			}
			if msg := sameRequest(string(hdr), req); msg != "" {
				t.Fatalf("%q: %s", hdr, msg)
			}
		}
	})
}

// sameRequest compares req with what http.ReadRequest and the server's
// checks make of raw; it returns what differs.
func sameRequest(raw string, req *http.Request) string {
	ref, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		return "ReadRequest fails: " + err.Error()
	}
	if code, msg := checkRequest(ref, scanHosts([]byte(raw))); code != 0 {
		return "the server's checks refuse it: " + msg
	}
	switch {
	case req.Method != ref.Method, req.RequestURI != ref.RequestURI, req.Host != ref.Host,
		req.Proto != ref.Proto, req.ProtoMajor != ref.ProtoMajor, req.ProtoMinor != ref.ProtoMinor:
		return "request line or Host differ: " + req.Method + " " + req.RequestURI + " " + req.Proto + " " + req.Host
	case !reflect.DeepEqual(req.URL, ref.URL):
		return "URL differs: " + req.URL.String() + " vs " + ref.URL.String()
	case !reflect.DeepEqual(req.Header, ref.Header):
		var a, b bytes.Buffer
		req.Header.Write(&a)
		ref.Header.Write(&b)
		return "header differs:\n" + a.String() + "vs\n" + b.String()
	case req.Body != http.NoBody || ref.Body != http.NoBody, req.ContentLength != ref.ContentLength,
		req.Close != ref.Close, req.TransferEncoding != nil || ref.TransferEncoding != nil,
		req.Trailer != nil || ref.Trailer != nil:
		return "body framing differs"
	}
	return ""
}

// BenchmarkParseRequest: a signed GET parsed by parseSimpleRequest on a
// connection that sent its names before, and by http.ReadRequest.
func BenchmarkParseRequest(b *testing.B) {
	raw := []byte(simpleRequests[1])
	b.Run("simple", func(b *testing.B) {
		c := &h1sConn{}
		b.ReportAllocs()
		for b.Loop() {
			if req, _ := c.parseSimpleRequest(raw); req == nil {
				b.Fatal("not taken")
			}
		}
	})
	b.Run("ReadRequest", func(b *testing.B) {
		br := bufio.NewReader(nil)
		b.ReportAllocs()
		for b.Loop() {
			br.Reset(bytes.NewReader(raw))
			req, err := http.ReadRequest(br)
			if err != nil {
				b.Fatal(err)
			}
			checkRequest(req, scanHosts(raw))
		}
	})
}

// simpleResponses are answers parseSimpleResponse must take, each followed
// by its body.
var simpleResponses = []string{
	"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nDate: Fri, 27 Nov 2026 08:00:00 GMT\r\n\r\nhello",
	"HTTP/1.1 201\r\ncontent-length: 0\r\nlocation: /pets/1\r\n\r\n",
	"HTTP/1.1 404 Not   Found \r\nContent-Length:  3 \r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nConnection: keep-alive\r\n\r\nno!",
	"HTTP/1.1 599 x\r\nContent-Length: 007\r\nX-Empty:\r\n\r\n1234567",
}

// notSimpleResponses are answers it must leave to http.ReadResponse.
var notSimpleResponses = map[string]string{
	"no length":          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello",
	"two lengths":        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
	"signed length":      "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
	"empty length":       "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
	"chunked":            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"chunked and length": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
	"trailer":            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTrailer: X\r\n\r\nhello",
	"pragma":             "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nPragma: no-cache\r\n\r\nhello",
	"connection close":   "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
	"HTTP/1.0":           "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello",
	"100 Continue":       "HTTP/1.1 100 Continue\r\n\r\n",
	"204":                "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
	"304":                "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
	"600":                "HTTP/1.1 600 x\r\nContent-Length: 0\r\n\r\n",
	"two-digit status":   "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
	"no space":           "HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n",
	"obs-fold":           "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: a\r\n b\r\n\r\n",
	"bare LF":            "HTTP/1.1 200 OK\nContent-Length: 0\n\n",
	"obs-text reason":    "HTTP/1.1 200 \xc3\xa9\r\nContent-Length: 0\r\n\r\n",
	"space before colon": "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello",
}

func TestSimpleResponseMatchesReadResponse(t *testing.T) {
	c := &h1Conn{}
	for round := range 2 {
		for _, raw := range simpleResponses {
			if msg := sameResponse(c, []byte(raw), http.MethodGet, true); msg != "" {
				t.Fatalf("round %d: %q: %s", round, raw, msg)
			}
		}
	}
}

func TestSimpleResponseDeclines(t *testing.T) {
	for name, raw := range notSimpleResponses {
		t.Run(name, func(t *testing.T) {
			end := headerEnd([]byte(raw), 0)
			if _, ok := (&h1Conn{}).parseSimpleResponse([]byte(raw)[:end], &http.Request{Method: http.MethodGet}); ok {
				t.Fatalf("taken: %q", raw)
			}
		})
	}
	raw := []byte(simpleResponses[0])
	if _, ok := (&h1Conn{}).parseSimpleResponse(raw[:headerEnd(raw, 0)], &http.Request{Method: http.MethodHead}); ok {
		t.Fatal("the answer to HEAD taken")
	}
}

// FuzzSimpleResponse: whatever parseSimpleResponse takes, http.ReadResponse
// parses to the same response, and the bodies read the same bytes with
// the same error (a short body included).
func FuzzSimpleResponse(f *testing.F) {
	for _, raw := range simpleResponses {
		f.Add([]byte(raw))
	}
	for _, raw := range notSimpleResponses {
		f.Add([]byte(raw))
	}
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c := &h1Conn{}
		for range 2 {
			if msg := sameResponse(c, raw, http.MethodGet, false); msg != "" {
				t.Fatalf("%q: %s", raw, msg)
			}
		}
	})
}

// sameResponse parses raw with parseSimpleResponse on c and with
// http.ReadResponse and returns what differs; must says the fast path
// has to take it.
func sameResponse(c *h1Conn, raw []byte, method string, must bool) string {
	end := headerEnd(raw, 0)
	if end == 0 {
		return ""
	}
	req := &http.Request{Method: method}
	c.br = bufio.NewReader(bytes.NewReader(raw[end:]))
	res, ok := c.parseSimpleResponse(raw[:end], req)
	if !ok {
		if must {
			return "not taken"
		}
		return ""
	}
	ref, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), req)
	if err != nil {
		return "ReadResponse fails: " + err.Error()
	}
	switch {
	case res.Status != ref.Status, res.StatusCode != ref.StatusCode, res.Proto != ref.Proto,
		res.ProtoMajor != ref.ProtoMajor, res.ProtoMinor != ref.ProtoMinor:
		return "status line differs: " + res.Proto + " " + res.Status + " vs " + ref.Proto + " " + ref.Status
	case !reflect.DeepEqual(res.Header, ref.Header):
		var a, b bytes.Buffer
		res.Header.Write(&a)
		ref.Header.Write(&b)
		return "header differs:\n" + a.String() + "vs\n" + b.String()
	case res.ContentLength != ref.ContentLength, res.Close != ref.Close, res.Request != ref.Request,
		res.TransferEncoding != nil || ref.TransferEncoding != nil, res.Trailer != nil || ref.Trailer != nil,
		(res.Body == http.NoBody) != (ref.Body == http.NoBody):
		return "framing differs"
	}
	got, gerr := io.ReadAll(res.Body)
	want, werr := io.ReadAll(ref.Body)
	if !bytes.Equal(got, want) || gerr != werr {
		return "bodies differ: " + strconv.Quote(string(got)) + " vs " + strconv.Quote(string(want))
	}
	return ""
}

// BenchmarkParseResponse: the benchmark upstream's answer parsed by
// parseSimpleResponse on a connection that had its names before, and by
// http.ReadResponse; the body read in both.
func BenchmarkParseResponse(b *testing.B) {
	raw := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: Fri, 27 Nov 2026 08:00:00 GMT\r\nContent-Length: 100\r\n\r\n" + strings.Repeat("x", 100))
	end := headerEnd(raw, 0)
	req := &http.Request{Method: http.MethodGet}
	var buf [512]byte
	b.Run("simple", func(b *testing.B) {
		c := &h1Conn{br: bufio.NewReader(nil)}
		b.ReportAllocs()
		for b.Loop() {
			c.br.Reset(bytes.NewReader(raw[end:]))
			res, ok := c.parseSimpleResponse(raw[:end], req)
			if !ok {
				b.Fatal("not taken")
			}
			res.Body.Read(buf[:])
		}
	})
	b.Run("ReadResponse", func(b *testing.B) {
		br := bufio.NewReader(nil)
		b.ReportAllocs()
		for b.Loop() {
			br.Reset(bytes.NewReader(raw))
			res, err := http.ReadResponse(br, req)
			if err != nil {
				b.Fatal(err)
			}
			res.Body.Read(buf[:])
		}
	})
}

// TestCommonKeys: every spelling the shared table knows maps to the
// canonical form textproto gives it.
func TestCommonKeys(t *testing.T) {
	n := 0
	for _, e := range commonKeys.slots {
		if e.key == "" {
			continue
		}
		n++
		if want := textproto.CanonicalMIMEHeaderKey(e.raw); e.key != want {
			t.Errorf("%q -> %q, want %q", e.raw, e.key, want)
		}
		if got, ok := commonKeys.lookup([]byte(e.raw)); !ok || got != e.key {
			t.Errorf("lookup(%q) = %q, %v; want %q", e.raw, got, ok, e.key)
		}
		// Only the two spellings: any other is the connection's to cache.
		if up := strings.ToUpper(e.raw); up != e.raw && up != e.key && up != strings.ToLower(e.key) {
			if got, ok := commonKeys.lookup([]byte(up)); ok {
				t.Errorf("lookup(%q) = %q: not a known spelling", up, got)
			}
		}
	}
	if n < 90 || n > commonSlots/2 {
		t.Fatalf("%d spellings in %d slots", n, commonSlots)
	}
	for _, raw := range []string{"", "X", "x-amz-datE", "Hosts", "Hos", "X-Custom-Thing", "content_type", "Content-Type ", "\xff"} {
		if got, ok := commonKeys.lookup([]byte(raw)); ok {
			t.Errorf("lookup(%q) = %q: not a known spelling", raw, got)
		}
	}
	var ks headerKeys
	if got := ks.key([]byte("x-amz-date")); got != "X-Amz-Date" || len(ks) != 0 {
		t.Fatalf("common name: %q, connection cache %v", got, ks)
	}
	if got := ks.key([]byte("x-custom-thing")); got != "X-Custom-Thing" || ks["x-custom-thing"] != "X-Custom-Thing" {
		t.Fatalf("other name: %q, connection cache %v", got, ks)
	}
}

// isFieldValue's word-at-a-time check agrees with the byte loop: every
// byte value at every position of a word and of a tail, over printable
// filler, and random words.
func TestIsFieldValueWords(t *testing.T) {
	for n := 1; n <= 19; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := bytes.Repeat([]byte("a~ "), 7)[:n]
				b[pos] = byte(c)
				if got, want := isFieldValue(b), fieldBytes(b); got != want {
					t.Fatalf("%q: %v, want %v", b, got, want)
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		var b [8]byte
		for i := range b {
			// Mostly near the edges of the range, where a borrow or a
			// carry between bytes would show.
			switch rng.IntN(4) {
			case 0:
				b[i] = byte(rng.IntN(256))
			case 1:
				b[i] = byte(0x1e + rng.IntN(4))
			case 2:
				b[i] = byte(0x7c + rng.IntN(6))
			default:
				b[i] = byte(0x20 + rng.IntN(0x5f))
			}
		}
		if got, want := plainWord(binary.LittleEndian.Uint64(b[:])), fieldBytes(b[:]) && bytes.IndexByte(b[:], '\t') < 0; got != want {
			t.Fatalf("plainWord(%q) = %v, want %v", b, got, want)
		}
	}
}

// proxyStrips names exactly the request fields httputil.ReverseProxy
// removes or rewrites before it calls Rewrite — asked of the proxy
// itself, so that a Go release that strips one more makes this fail
// rather than let a handed-over map (handOver) carry it — apart from the
// X-Forwarded-* fields, which rewrite sets in every case.
func TestProxyStrips(t *testing.T) {
	names := []string{
		"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer",
		"Transfer-Encoding", "Upgrade", "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
		"Http2-Settings", "Alt-Svc", "Via", "Max-Forwards", "Proxy-Authentication-Info", "Early-Data", "Priority",
		"X-Custom", "Cf-Connecting-Ip", "True-Client-Ip",
	}
	for _, e := range commonKeys.slots {
		if e.key != "" && e.raw == e.key {
			names = append(names, e.key)
		}
	}
	in := make(http.Header)
	for _, n := range names {
		switch n {
		case "Connection":
			in[n] = []string{"keep-alive"} // all the simple parser lets through
		case "Te":
			in[n] = []string{"trailers, deflate"}
		default:
			in[n] = []string{"v-" + n}
		}
	}
	var out http.Header
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { out = pr.Out.Header.Clone() },
		Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
			return nil, errors.New("not sent")
		}),
		ErrorHandler: func(http.ResponseWriter, *http.Request, error) {},
	}
	req := httptest.NewRequest("GET", "http://gw/x", nil)
	req.Header = in
	rp.ServeHTTP(httptest.NewRecorder(), req)
	if out == nil {
		t.Fatal("Rewrite was not called")
	}
	for _, n := range names {
		touched := !slices.Equal(out[n], in[n])
		forwarded := strings.HasPrefix(n, "X-Forwarded-")
		if want := proxyStrips(n) != 0; touched != want && !forwarded {
			t.Errorf("%s: the proxy changed it: %v (to %q); proxyStrips says %v", n, touched, out[n], want)
		}
	}
	if proxyStrips("Connection") != hopKeepAlive || proxyStrips("Keep-Alive") != hopKeepAlive {
		t.Error("keep-alive's fields are not told apart")
	}
}

// The parser offers a request's header map for handing over only when
// the proxy would strip nothing from it but keep-alive's fields.
func TestSimpleRequestOffersHeader(t *testing.T) {
	for raw, want := range map[string]struct{ offered, keepAlive bool }{
		"GET /x HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n":            {true, false},
		"GET /x HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive\r\n\r\n":                             {true, true},
		"GET /x HTTP/1.1\r\nHost: a\r\nkeep-alive: timeout=5\r\n\r\n":                              {true, true},
		"GET /x HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n":                                       {false, false},
		"GET /x HTTP/1.1\r\nHost: a\r\nproxy-connection: keep-alive\r\n\r\n":                       {false, false},
		"GET /x HTTP/1.1\r\nHost: a\r\nProxy-Authorization: Basic eA==\r\n\r\n":                    {false, false},
		"GET /x HTTP/1.1\r\nHost: a\r\nForwarded: for=192.0.2.1\r\nConnection: keep-alive\r\n\r\n": {false, false},
	} {
		req, ctx := (&h1sConn{}).parseSimpleRequest([]byte(raw))
		if req == nil {
			t.Fatalf("not taken: %q", raw)
		}
		offered := ctx.header != nil
		if offered != want.offered || offered && ctx.keepAlive != want.keepAlive {
			t.Errorf("%q: offered %v keep-alive %v, want %+v", raw, offered, ctx.keepAlive, want)
		}
		if offered && reflect.ValueOf(ctx.header).UnsafePointer() != reflect.ValueOf(req.Header).UnsafePointer() {
			t.Errorf("%q: the offered map is not the request's", raw)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
