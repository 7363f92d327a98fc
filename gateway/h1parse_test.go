package gateway

import (
	"bufio"
	"bytes"
	"net/http"
	"reflect"
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
			req, ok := c.parseSimpleRequest([]byte(raw))
			if !ok {
				t.Fatalf("round %d: not taken: %q", round, raw)
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
			if _, ok := (&h1sConn{}).parseSimpleRequest([]byte(raw)); ok {
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
			req, ok := c.parseSimpleRequest(hdr)
			if !ok {
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
			if _, ok := c.parseSimpleRequest(raw); !ok {
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
