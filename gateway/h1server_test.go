package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The differential test sends the same raw bytes to net/http's server and
// to H1Server, both serving h1dHandler with h1dLimits, and compares what
// comes back: every response's status, header fields, framing, body and
// trailers, and whether the connection ended (closed, reset, or still open).

// h1dLimits: a small MaxHeaderBytes so that 431 is cheap to reach (the
// servers allow MaxHeaderBytes+4096 bytes); long timeouts so that they
// play no part in the differential cases.
var h1dLimits = ServerLimits{ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
	IdleTimeout: 30 * time.Second, MaxHeaderBytes: 8 << 10}

// h1dWatchAfter is short so that a slow handler's connection is watched
// (and a pipelined request's first byte read by the watch) in the cases.
const h1dWatchAfter = 20 * time.Millisecond

// h1dStart serves h behind net/http's server (configured as NewServer
// configures it) and behind an H1Server; it returns their addresses.
func h1dStart(t testing.TB, h http.Handler, l ServerLimits) (std, lean string) {
	t.Helper()
	return h1dServeStd(t, h, l), h1dServeLean(t, h, l, nil).addr
}

func h1dServeStd(t testing.TB, h http.Handler, l ServerLimits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(h, l)
	srv.ErrorLog = log.New(io.Discard, "", 0)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

type h1dLean struct {
	srv    *H1Server
	addr   string
	served chan error // Serve's result
}

func h1dServeLean(t testing.TB, h http.Handler, l ServerLimits, logger *slog.Logger) *h1dLean {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := NewH1Server(h, l)
	s.WatchAfter = h1dWatchAfter
	s.Log = logger
	lean := &h1dLean{srv: s, addr: ln.Addr().String(), served: make(chan error, 1)}
	go func() { lean.served <- s.Serve(ln) }()
	t.Cleanup(func() { s.Close() })
	return lean
}

// h1dDescribe is what the handler saw of the request, sent back in the
// X-Req response header of every response.
func h1dDescribe(r *http.Request) string {
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var hdr strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&hdr, "%s=%q;", k, r.Header[k])
	}
	remote, _, _ := net.SplitHostPort(r.RemoteAddr)
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	_, srv := r.Context().Value(http.ServerContextKey).(*http.Server)
	return fmt.Sprintf("%+q", fmt.Sprintf("%s %s %s url=%s host=%s cl=%d te=%q close=%v nobody=%v hdr=%s remote=%s local=%v srv=%v ctx=%v",
		r.Method, r.RequestURI, r.Proto, r.URL, r.Host, r.ContentLength, r.TransferEncoding, r.Close, r.Body == http.NoBody, hdr.String(),
		remote, local != nil, srv, r.Context().Err()))
}

var h1dLong = strings.Repeat("0123456789abcdef", 20<<10/16)

// h1dHandler answers by path; see each case.
func h1dHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Req", h1dDescribe(r))
		switch r.URL.Path {
		case "/cl":
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		case "/short":
			io.WriteString(w, "short body")
		case "/long":
			for i := 0; i < len(h1dLong); i += 1 << 10 {
				io.WriteString(w, h1dLong[i:i+1<<10])
			}
		case "/2048": // the most net/http buffers before it commits to chunking
			io.WriteString(w, h1dLong[:2048])
		case "/2049":
			io.WriteString(w, h1dLong[:2049])
		case "/1000+1048":
			io.WriteString(w, h1dLong[:1000])
			io.WriteString(w, h1dLong[1000:2048])
		case "/1000+1049":
			io.WriteString(w, h1dLong[:1000])
			io.WriteString(w, h1dLong[1000:2049])
		case "/flush":
			io.WriteString(w, "one,")
			w.(http.Flusher).Flush()
			io.WriteString(w, "two,")
			http.NewResponseController(w).Flush()
			io.WriteString(w, "three")
		case "/flushonly":
			w.(http.Flusher).Flush()
		case "/trailer":
			// As net/http's ExampleResponseWriter_trailers.
			w.Header().Set("Trailer", "AtEnd1, AtEnd2")
			w.Header().Add("Trailer", "AtEnd3")
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			w.Header().Set("AtEnd1", "value 1")
			io.WriteString(w, "This HTTP response has both headers before this text and trailers at the end.\n")
			w.Header().Set("AtEnd2", "value 2")
			w.Header().Set("AtEnd3", "value 3")
		case "/trailer-early":
			// Declared and set before the body: the values are sent twice
			// by both servers (in the header and as trailers).
			w.Header().Set("Trailer", "X-T")
			w.Header().Set("X-T", "t")
			io.WriteString(w, "body")
		case "/trailer-prefix":
			io.WriteString(w, "body")
			w.Header().Set(http.TrailerPrefix+"X-P", "p")
			w.Header().Add(http.TrailerPrefix+"X-Q", "q1")
			w.Header().Add(http.TrailerPrefix+"X-Q", "q2")
		case "/trailer-flushed":
			w.Header().Set("Trailer", "X-T")
			io.WriteString(w, "body")
			w.(http.Flusher).Flush()
			w.Header().Set("X-T", "t")
			w.Header().Set(http.TrailerPrefix+"X-P", "p")
		case "/trailer-badname":
			// Names that are not tokens, as ReverseProxy relays them from
			// an upstream's "X-T : v" trailer line: dropped.
			w.Header().Set("Trailer", "X-Ok")
			io.WriteString(w, "body")
			w.Header().Set("X-Ok", "fine")
			w.Header()[http.TrailerPrefix+"X-T "] = []string{"v"}
			w.Header()[http.TrailerPrefix+"Transfer-Encoding "] = []string{"chunked"}
			w.Header()[http.TrailerPrefix+"X U"] = []string{"u"}
		case "/trailer-cl":
			w.Header().Set("Trailer", "X-T")
			w.Header().Set("Content-Length", "4")
			io.WriteString(w, "body")
			w.Header().Set("X-T", "t")
		case "/trailer-declared-late":
			w.WriteHeader(http.StatusOK)
			w.Header().Set("Trailer", "X-T")
			io.WriteString(w, "body")
			w.Header().Set("X-T", "t")
		case "/1xx-cl":
			w.Header().Set("Content-Length", "5")
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "hello")
		case "/101":
			w.Header().Set("Upgrade", "x")
			w.Header().Set("Connection", "Upgrade")
			w.WriteHeader(http.StatusSwitchingProtocols)
		case "/head-flush":
			io.WriteString(w, "<p>x</p>")
			w.(http.Flusher).Flush()
			io.WriteString(w, "more")
		case "/head":
			io.WriteString(w, "<p>head body</p>")
		case "/head-cl":
			w.Header().Set("Content-Length", "9")
			if r.Method != http.MethodHead {
				io.WriteString(w, "head body")
			}
		case "/head3k":
			io.WriteString(w, h1dLong[:3000])
		case "/head8k":
			io.WriteString(w, h1dLong[:8000])
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/204cl":
			w.Header().Set("Content-Length", "0")
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.Header().Set("ETag", `"x"`)
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", "10")
			w.WriteHeader(http.StatusNotModified)
			if _, err := io.WriteString(w, "x"); err != http.ErrBodyNotAllowed {
				panic(fmt.Sprintf("write on 304: %v", err))
			}
		case "/1xx":
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "final")
		case "/status299":
			w.WriteHeader(299)
			io.WriteString(w, "odd")
		case "/close":
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		case "/ka":
			w.Header().Set("Connection", "keep-alive")
			w.Header().Set("Content-Length", "2")
			io.WriteString(w, "ok")
		case "/readbody":
			b, err := io.ReadAll(r.Body)
			fmt.Fprintf(w, "body=%q err=%v trailer=%v", b, err, r.Trailer)
		case "/readbody-slow":
			b, err := io.ReadAll(r.Body)
			time.Sleep(100 * time.Millisecond)
			fmt.Fprintf(w, "body=%q err=%v", b, err)
		case "/closebody":
			r.Body.Close()
			b, err := io.ReadAll(r.Body)
			fmt.Fprintf(w, "body=%q err=%v", b, err)
		case "/maxbytes":
			b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 3))
			fmt.Fprintf(w, "body=%q err=%v", b, err)
		case "/flush-then-read":
			io.WriteString(w, "first;")
			w.(http.Flusher).Flush()
			b, err := io.ReadAll(r.Body)
			fmt.Fprintf(w, "body=%q err=%v", b, err)
		case "/fullduplex":
			fmt.Fprintf(w, "EnableFullDuplex: %v", http.NewResponseController(w).EnableFullDuplex())
		case "/readhalf":
			b := make([]byte, 3)
			n, err := io.ReadFull(r.Body, b)
			fmt.Fprintf(w, "body=%q err=%v", b[:n], err)
		case "/ignorebody":
			io.WriteString(w, "ignored")
		case "/slow":
			time.Sleep(100 * time.Millisecond)
			fmt.Fprintf(w, "slow ctx=%v", r.Context().Err())
		case "/panic":
			io.WriteString(w, "partial")
			panic("boom")
		case "/panic-flushed":
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic("boom")
		case "/panic-long":
			io.WriteString(w, h1dLong[:6000])
			panic("boom")
		case "/abort":
			io.WriteString(w, "partial")
			panic(http.ErrAbortHandler)
		case "/sniff":
			io.WriteString(w, "<html><body>hi</body></html>")
		case "/sniff-late":
			// The sniff must see more than the first short write.
			io.WriteString(w, "<")
			io.WriteString(w, "html><body>"+strings.Repeat(" ", 3000)+"</body></html>")
		case "/nosniff":
			w.Header()["Content-Type"] = nil
			io.WriteString(w, "<html><body>hi</body></html>")
		case "/nodate":
			w.Header()["Date"] = nil
			io.WriteString(w, "no date")
		case "/ce":
			w.Header().Set("Content-Encoding", "gzip")
			io.WriteString(w, "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03")
		case "/shortcl":
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "12345")
		case "/overflow":
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "12345678")
			if _, err := io.WriteString(w, "abcde"); err != http.ErrContentLength {
				panic(fmt.Sprintf("overflowing write: %v", err))
			}
		case "/badcl":
			w.Header().Set("Content-Length", "abc")
			io.WriteString(w, "x")
		case "/late":
			w.WriteHeader(http.StatusOK)
			w.Header().Set("X-Late", "1")
			io.WriteString(w, "x")
		case "/hdrvals":
			w.Header().Set("X-Nl", "a\r\nb")
			w.Header().Set("X-Nbsp", "v\u00a0")
			w.Header()["Bad Name"] = []string{"x"}
			io.WriteString(w, "ok")
		case "/te-chunked":
			w.Header().Set("Transfer-Encoding", "chunked")
			io.WriteString(w, "x")
		case "/te-identity":
			w.Header().Set("Transfer-Encoding", "identity")
			io.WriteString(w, "x")
		case "/hijack":
			c, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			defer c.Close()
			fmt.Fprintf(brw, "HTTP/1.1 299 Hijacked\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%d", len(strconv.Itoa(brw.Reader.Buffered())), brw.Reader.Buffered())
			brw.Flush()
		default:
			io.WriteString(w, "hello\n")
		}
	})
}

// h1dCase is one differential case.
type h1dCase struct {
	name string
	// parts are written one after the other, pause apart (default 30 ms).
	parts []string
	pause time.Duration
	// closeWrite half-closes the connection after the last part.
	closeWrite bool
	// lean, when set, is a legitimate difference: it turns net/http's
	// outcome into H1Server's (the case says why).
	lean func(*h1dResult)
}

func h1dReq(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n\r\n" }

// Legitimate differences, applied to net/http's outcome.

// h1dRejectText: net/http puts the reason of a 400 or 505 in the status
// line too ("400 Bad Request: missing required Host header"); H1Server
// only in the body. No client reads a reason phrase.
func h1dRejectText(r *h1dResult) {
	for i := range r.resps {
		if st, _, ok := strings.Cut(r.resps[i].status, ": "); ok {
			r.resps[i].status = st
		}
	}
}

// h1dReject501Text: net/http's 501 body is "Unsupported transfer
// encoding"; H1Server's starts with the status as its other rejections.
func h1dReject501Text(r *h1dResult) {
	for i := range r.resps {
		if strings.HasSuffix(r.resps[i].status, " 501 Not Implemented") {
			r.resps[i].body = `"501 Not Implemented: Unsupported transfer encoding"`
		}
	}
}

// h1dHalfClosed: net/http cancels the connection's context when its
// background read sees the client's EOF, so that requests the client
// pipelined before it may start cancelled (depending on timing);
// H1Server cancels only the request that runs when its watch sees it.
func h1dHalfClosed(r *h1dResult) {
	for _, resp := range r.resps {
		for j, v := range resp.header["X-Req"] {
			resp.header["X-Req"][j] = strings.Replace(v, "ctx=context canceled", "ctx=<nil>", 1)
		}
	}
}

func h1dCases() []h1dCase {
	get := h1dReq("GET / HTTP/1.1", "Host: example.com")
	bigHeader := func(n int) string {
		return h1dReq("GET /short HTTP/1.1", "Host: example.com", "X-Big: "+strings.Repeat("b", n))
	}
	bigBody := strings.Repeat("z", 300<<10)
	var cases []h1dCase
	add := func(c h1dCase) { cases = append(cases, c) }
	one := func(name, raw string) { add(h1dCase{name: name, parts: []string{raw}}) }
	accept := func(name, raw string, lean func(*h1dResult)) {
		add(h1dCase{name: name, parts: []string{raw}, lean: lean})
	}

	// Keep-alive, pipelining, framing.
	one("get keep-alive", get)
	one("pipelined gets", get+h1dReq("GET /cl HTTP/1.1", "Host: example.com")+h1dReq("GET /long HTTP/1.1", "Host: example.com")+h1dReq("HEAD /head HTTP/1.1", "Host: example.com")+get)
	one("pipelined after close", h1dReq("GET /short HTTP/1.1", "Host: a", "Connection: close")+get)
	one("pipelined after slow", h1dReq("GET /slow HTTP/1.1", "Host: a")+h1dReq("GET /short HTTP/1.1", "Host: a"))
	add(h1dCase{name: "pipelined while watched", pause: 70 * time.Millisecond, parts: []string{
		h1dReq("GET /slow HTTP/1.1", "Host: a"), "G", "ET /cl HTTP/1.1\r\nHost: a\r\n\r\n"}})
	add(h1dCase{name: "pipelined after body while watched", pause: 70 * time.Millisecond, parts: []string{
		h1dReq("POST /readbody-slow HTTP/1.1", "Host: a", "Content-Length: 3") + "abc", "G", "ET /cl HTTP/1.1\r\nHost: a\r\n\r\n"}})
	add(h1dCase{name: "pipelined then half-close", closeWrite: true, parts: []string{get + h1dReq("GET /cl HTTP/1.1", "Host: a")}})
	add(h1dCase{name: "slow then half-close with pipelined", closeWrite: true,
		parts: []string{h1dReq("GET /slow HTTP/1.1", "Host: a") + h1dReq("GET /cl HTTP/1.1", "Host: a")},
		// (See h1dHalfClosed.)
	})
	add(h1dCase{name: "header in pieces", pause: 40 * time.Millisecond, parts: []string{"GE", "T /cl HT", "TP/1.1\r\nHo", "st: a\r\nX-A: 1\r", "\n\r", "\n"}})
	one("bare LF", "GET /cl HTTP/1.1\nHost: a\nX-A: b\n\nGET /short HTTP/1.1\nHost: a\n\n")
	one("mixed CRLF and LF", "GET /cl HTTP/1.1\r\nHost: a\n\r\n")
	one("absolute-form URI", h1dReq("GET http://other.example:8080/cl?q=1 HTTP/1.1", "Host: example.com"))
	accept("absolute-form URI without Host", h1dReq("GET http://other.example/cl HTTP/1.1"), h1dRejectText)
	one("asterisk OPTIONS", h1dReq("OPTIONS * HTTP/1.1", "Host: a"))
	one("CONNECT", h1dReq("CONNECT example.com:443 HTTP/1.1", "Host: example.com:443"))
	one("CONNECT without Host", h1dReq("CONNECT example.com:443 HTTP/1.1"))
	one("lowercase method", h1dReq("get / HTTP/1.1", "Host: a"))
	one("obs-fold", h1dReq("GET /cl HTTP/1.1", "Host: a", "X-Fold: a", " b"))

	// HTTP/1.0.
	one("HTTP/1.0", h1dReq("GET /short HTTP/1.0")+get)
	add(h1dCase{name: "HTTP/1.0 keep-alive", parts: []string{h1dReq("GET /short HTTP/1.0", "Connection: keep-alive") + h1dReq("GET /cl HTTP/1.0", "Connection: Keep-Alive") + h1dReq("HEAD /head HTTP/1.0", "Connection: keep-alive") + h1dReq("GET /204 HTTP/1.0", "Connection: keep-alive") + h1dReq("GET /short HTTP/1.0")}})
	one("HTTP/1.0 keep-alive long", h1dReq("GET /long HTTP/1.0", "Connection: keep-alive")+get)
	one("HTTP/1.0 keep-alive handler says keep-alive", h1dReq("GET /ka HTTP/1.0", "Connection: keep-alive")+get)
	one("HTTP/1.0 keep-alive trailer", h1dReq("GET /trailer HTTP/1.0", "Connection: keep-alive")+get)
	one("HTTP/1.0 flush", h1dReq("GET /flush HTTP/1.0", "Connection: keep-alive")+get)
	one("HTTP/1.0 with Host and body", h1dReq("POST /readbody HTTP/1.0", "Host: a", "Content-Length: 3")+"abc")
	one("connection close", h1dReq("GET /short HTTP/1.1", "Host: a", "Connection: close")+get)
	one("connection close among tokens", h1dReq("GET /short HTTP/1.1", "Host: a", "Connection: foo, CLOSE")+get)
	one("handler connection close", h1dReq("GET /close HTTP/1.1", "Host: a")+get)

	// Response framing decided by the server.
	for _, p := range []string{"/cl", "/short", "/long", "/2048", "/2049", "/1000+1048", "/1000+1049", "/flush", "/flushonly",
		"/trailer-early", "/trailer-flushed", "/trailer-badname", "/1xx-cl", "/101", "/head-flush", "/204", "/1xx", "/status299", "/sniff", "/nosniff", "/nodate", "/shortcl", "/hijack"} {
		one("GET "+p, h1dReq("GET "+p+" HTTP/1.1", "Host: a")+get)
	}
	one("GET /trailer", h1dReq("GET /trailer HTTP/1.1", "Host: a")+get)
	// net/http decides on a Content-Length for a short body when the
	// handler returns, from the header snapshot taken at WriteHeader, which
	// lacks the TrailerPrefix keys set later: it drops the trailers.
	// H1Server sends them (chunked).
	accept("GET /trailer-prefix", h1dReq("GET /trailer-prefix HTTP/1.1", "Host: a")+get, func(r *h1dResult) {
		r.resps[0].framing = `te=["chunked"] cl=-1 close=false`
		delete(r.resps[0].header, "Content-Length")
		r.resps[0].header["Transfer-Encoding"] = []string{"chunked"}
		r.resps[0].trailer = http.Header{"X-P": {"p"}, "X-Q": {"q1", "q2"}}
	})
	// Trailer declared after WriteHeader (which net/http's doc does not
	// allow): net/http ignores the declaration (not in its header
	// snapshot) and drops the trailer; H1Server, which writes the header
	// from the live map when it sends it, declares it and sends it.
	accept("GET /trailer-declared-late", h1dReq("GET /trailer-declared-late HTTP/1.1", "Host: a")+get, func(r *h1dResult) {
		r.resps[0].framing = `te=["chunked"] cl=-1 close=false`
		delete(r.resps[0].header, "Content-Length")
		r.resps[0].header["Transfer-Encoding"] = []string{"chunked"}
		r.resps[0].header["Trailer"] = []string{"X-T"}
		r.resps[0].trailer = http.Header{"X-T": {"t"}}
	})
	one("GET /trailer-cl", h1dReq("GET /trailer-cl HTTP/1.1", "Host: a")+get)
	one("GET /204cl", h1dReq("GET /204cl HTTP/1.1", "Host: a")+get)
	one("GET /304", h1dReq("GET /304 HTTP/1.1", "Host: a")+get)
	one("GET /sniff-late", h1dReq("GET /sniff-late HTTP/1.1", "Host: a")+get)
	one("GET /ce", h1dReq("GET /ce HTTP/1.1", "Host: a")+get)
	one("GET /overflow", h1dReq("GET /overflow HTTP/1.1", "Host: a")+get)
	// "Content-Length: abc": net/http deletes it, then chunks (its header
	// snapshot still has the field); H1Server computes the length.
	accept("GET /badcl", h1dReq("GET /badcl HTTP/1.1", "Host: a")+get, func(r *h1dResult) {
		r.resps[0].framing = `te=[] cl=1 close=false`
		r.resps[0].header["Content-Length"] = []string{"1"}
		delete(r.resps[0].header, "Transfer-Encoding")
	})
	// H1Server writes the header from the handler's map when it sends it,
	// net/http from a copy taken at WriteHeader: fields set in between are
	// sent (by design, see the doc comment of H1Server).
	accept("GET /late", h1dReq("GET /late HTTP/1.1", "Host: a")+get, func(r *h1dResult) {
		r.resps[0].header["X-Late"] = []string{"1"}
	})
	one("GET /hdrvals", h1dReq("GET /hdrvals HTTP/1.1", "Host: a")+get)
	one("GET /te-chunked", h1dReq("GET /te-chunked HTTP/1.1", "Host: a")+get)
	one("GET /te-identity", h1dReq("GET /te-identity HTTP/1.1", "Host: a")+get)
	for _, p := range []string{"/head-cl", "/204", "/1xx", "/head-flush", "/1xx-cl", "/head", "/head3k", "/head8k", "/sniff", "/short", "/cl", "/trailer"} {
		one("HEAD "+p, h1dReq("HEAD "+p+" HTTP/1.1", "Host: a")+get)
	}

	// Request bodies.
	one("POST content-length", h1dReq("POST /readbody HTTP/1.1", "Host: a", "Content-Length: 5")+"hello"+get)
	one("POST chunked with extension and trailers", h1dReq("POST /readbody HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Trailer: X-Sum")+
		"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\nX-Other: o\r\n\r\n"+get)
	one("POST chunked body unread", h1dReq("POST /ignorebody HTTP/1.1", "Host: a", "Transfer-Encoding: chunked")+"5\r\nhello\r\n0\r\n\r\n"+get)
	one("POST body unread", h1dReq("POST /ignorebody HTTP/1.1", "Host: a", "Content-Length: 5")+"hello"+get)
	one("POST body half read", h1dReq("POST /readhalf HTTP/1.1", "Host: a", "Content-Length: 5")+"hello"+get)
	one("HTTP/1.0 keep-alive big body unread", h1dReq("POST /ignorebody HTTP/1.0", "Connection: keep-alive", "Content-Length: "+strconv.Itoa(len(bigBody)))+bigBody)
	one("POST big body unread", h1dReq("POST /ignorebody HTTP/1.1", "Host: a", "Content-Length: "+strconv.Itoa(len(bigBody)))+bigBody+get)
	one("POST then CRLF", h1dReq("POST /readbody HTTP/1.1", "Host: a", "Content-Length: 3")+"abc\r\n"+get)
	one("POST body read after close", h1dReq("POST /closebody HTTP/1.1", "Host: a", "Content-Length: 5")+"hello"+get)
	// http.MaxBytesReader tells net/http's ResponseWriter (through an
	// unexported method) to close the connection after the response;
	// H1Server cannot be told, and reads the rest of a short body to keep
	// the connection.
	accept("POST over MaxBytesReader", h1dReq("POST /maxbytes HTTP/1.1", "Host: a", "Content-Length: 5")+"hello", func(r *h1dResult) {
		delete(r.resps[0].header, "Connection")
		r.resps[0].framing = strings.Replace(r.resps[0].framing, "close=true", "close=false", 1)
		r.end = "open"
	})
	// Once the response header is out, net/http reads away the body the
	// handler left unread (unless EnableFullDuplex), so that clients that
	// send a whole request before reading cannot deadlock, and later reads
	// fail; H1Server leaves the body to the handler until it returns.
	accept("POST read after flush", h1dReq("POST /flush-then-read HTTP/1.1", "Host: a", "Content-Length: 5")+"hello"+get, func(r *h1dResult) {
		r.resps[0].body = `"first;body=\"hello\" err=<nil>"`
	})
	one("full duplex", h1dReq("GET /fullduplex HTTP/1.1", "Host: a")+get)
	one("POST bad chunk", h1dReq("POST /readbody HTTP/1.1", "Host: a", "Transfer-Encoding: chunked")+"zz\r\nhello\r\n0\r\n\r\n"+get)
	add(h1dCase{name: "POST short body then half-close", closeWrite: true, parts: []string{h1dReq("POST /readbody HTTP/1.1", "Host: a", "Content-Length: 10") + "abc"}})
	add(h1dCase{name: "expect 100-continue read", pause: 100 * time.Millisecond,
		parts: []string{h1dReq("POST /readbody HTTP/1.1", "Host: a", "Expect: 100-continue", "Content-Length: 5"), "hello" + get}})
	add(h1dCase{name: "expect 100-continue not read",
		parts: []string{h1dReq("POST /ignorebody HTTP/1.1", "Host: a", "Expect: 100-continue", "Content-Length: 5")},
		// net/http answers "Connection: close" but then waits for the body
		// it never asked for (until ReadTimeout) to close; H1Server closes.
		lean: func(r *h1dResult) { r.end = "closed" }})
	add(h1dCase{name: "expect 100-continue half read", pause: 100 * time.Millisecond,
		parts: []string{h1dReq("POST /readhalf HTTP/1.1", "Host: a", "Expect: 100-continue", "Content-Length: 5"), "hello" + get},
		// net/http closes a connection whose 100-continue body the
		// handler did not read to its end; H1Server reads the rest of a
		// short one, as for any body, and keeps the connection.
		lean: func(r *h1dResult) {
			delete(r.resps[1].header, "Connection")
			r.resps[1].framing = strings.Replace(r.resps[1].framing, "close=true", "close=false", 1)
			r.resps = append(r.resps, r.resps[1])
			r.resps[2].header = http.Header{"Content-Length": {"6"}, "Content-Type": {"text/plain; charset=utf-8"}, "Date": {"<date>"},
				"X-Req": {`"GET / HTTP/1.1 url=/ host=example.com cl=0 te=[] close=false nobody=true hdr= remote=127.0.0.1 local=true srv=true ctx=<nil>"`}}
			r.resps[2].framing, r.resps[2].body = "te=[] cl=6 close=false", `"hello\n"`
			r.end = "open"
		}})
	one("expect 100-continue without body", h1dReq("GET / HTTP/1.1", "Host: a", "Expect: 100-continue")+get)
	one("expect 100-continue HTTP/1.0", h1dReq("POST /readbody HTTP/1.0", "Expect: 100-continue", "Content-Length: 5")+"hello")
	one("expect something else", h1dReq("POST /readbody HTTP/1.1", "Host: a", "Expect: something-else", "Content-Length: 5")+"hello"+get)
	one("expect something else without body", h1dReq("GET / HTTP/1.1", "Host: a", "Expect: something-else")+get)
	one("expect 100-continue among others", h1dReq("POST /readbody HTTP/1.1", "Host: a", "Expect: 100-continue, foo", "Content-Length: 5")+"hello"+get)

	// Rejections.
	accept("missing Host", h1dReq("GET / HTTP/1.1")+get, h1dRejectText)
	one("two Host headers", h1dReq("GET / HTTP/1.1", "Host: a", "Host: b")+get)
	accept("bad Host", h1dReq("GET / HTTP/1.1", "Host: a b")+get, h1dRejectText)
	accept("bad Host with slash", h1dReq("GET / HTTP/1.1", "Host: a/b")+get, h1dRejectText)
	accept("Host with trailing NBSP", h1dReq("GET / HTTP/1.1", "Host: a\u00a0")+get, h1dRejectText)
	accept("Host folded", h1dReq("GET / HTTP/1.1", "Host: a", " b")+get, h1dRejectText)
	one("Host folded from empty", h1dReq("GET / HTTP/1.1", "Host:", " example.com")+get)
	one("empty Host", h1dReq("GET / HTTP/1.1", "Host:")+get)
	accept("HTTP/1.0 bad Host", h1dReq("GET / HTTP/1.0", "Host: a b"), h1dRejectText)
	one("invalid header name", h1dReq("GET / HTTP/1.1", "Host: a", "Bad(Name): x")+get)
	accept("space before colon", h1dReq("GET / HTTP/1.1", "Host: a", "X-A : x")+get, h1dRejectText)
	one("invalid header value", h1dReq("GET / HTTP/1.1", "Host: a", "X-A: a\x01b")+get)
	one("header too large", bigHeader(20<<10)+get)
	one("header just within the limit", bigHeader(11<<10)+get)
	one("header above 4 KiB", bigHeader(6<<10)+get)
	one("headers above 4 KiB twice", bigHeader(6<<10)+bigHeader(7<<10)+get)
	add(h1dCase{name: "header above 4 KiB in pieces", pause: 20 * time.Millisecond, parts: []string{
		bigHeader(6 << 10)[:3000], bigHeader(6 << 10)[3000:5000], bigHeader(6 << 10)[5000:] + get}})
	accept("transfer-encoding gzip", h1dReq("POST /readbody HTTP/1.1", "Host: a", "Transfer-Encoding: gzip")+"xxxx"+get, h1dReject501Text)
	accept("transfer-encoding gzip, chunked", h1dReq("POST /readbody HTTP/1.1", "Host: a", "Transfer-Encoding: gzip, chunked")+"0\r\n\r\n"+get, h1dReject501Text)
	one("content-length and transfer-encoding", h1dReq("POST /readbody HTTP/1.1", "Host: a", "Content-Length: 3", "Transfer-Encoding: chunked")+"3\r\nabc\r\n0\r\n\r\n"+get)
	one("duplicate differing content-length", h1dReq("POST /readbody HTTP/1.1", "Host: a", "Content-Length: 3", "Content-Length: 4")+"abcd"+get)
	one("duplicate equal content-length", h1dReq("POST /readbody HTTP/1.1", "Host: a", "Content-Length: 3", "Content-Length: 3")+"abc"+get)
	one("bad content-length", h1dReq("POST /readbody HTTP/1.1", "Host: a", "Content-Length: -3")+"abc"+get)
	one("garbage request line", "GARBAGE\r\n\r\n"+get)
	one("request line with two spaces", h1dReq("GET  / HTTP/1.1", "Host: a")+get)
	one("bad method", h1dReq("G(T / HTTP/1.1", "Host: a")+get)
	one("bad version", h1dReq("GET / HTTP/1.x", "Host: a")+get)
	accept("HTTP/2.0", h1dReq("GET / HTTP/2.0", "Host: a")+get, h1dRejectText)
	one("HTTP/0.9 style", "GET /\r\n\r\n")
	one("bad escape in path", h1dReq("GET /%zz HTTP/1.1", "Host: a")+get)
	one("bad URI", h1dReq("GET http://[::1 HTTP/1.1", "Host: a")+get)
	one("malformed line mentioning transfer encoding", h1dReq("GET / HTTP/1.1", "Host: a", "unsupported transfer encoding")+get)
	one("leading CRLF", "\r\n"+get)
	add(h1dCase{name: "truncated header then half-close", closeWrite: true, parts: []string{"GET / HTTP/1.1\r\nHost: a\r\n"},
		// net/http answers 400 to a header cut short by the client's EOF;
		// H1Server waits for the whole header and closes on EOF without
		// an answer. Nothing a client can use either way.
		lean: func(r *h1dResult) { *r = h1dResult{end: "closed"} }})
	add(h1dCase{name: "short garbage then half-close", closeWrite: true, parts: []string{get + "x\n\n"},
		// net/http waits for 4 bytes of a next request before it reads
		// one, and closes without an answer at an EOF before; H1Server
		// reads the 3 bytes ("x", empty line) as a request and answers 400.
		lean: func(r *h1dResult) {
			r.resps = append(r.resps, h1dResp{status: "HTTP/1.1 400 Bad Request", framing: "te=[] cl=-1 close=true", body: `"400 Bad Request"`,
				header: http.Header{"Connection": {"close"}, "Content-Type": {"text/plain; charset=utf-8"}}})
		}})
	// net/http hands the HTTP/2 connection preface to the handler (so that
	// one may take over the connection for h2c); H1Server answers it as
	// any other HTTP/2.0 request line.
	accept("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", func(r *h1dResult) {
		r.resps = []h1dResp{{status: "HTTP/1.1 505 HTTP Version Not Supported", framing: "te=[] cl=-1 close=true",
			body:   `"505 HTTP Version Not Supported: unsupported protocol version"`,
			header: http.Header{"Connection": {"close"}, "Content-Type": {"text/plain; charset=utf-8"}}}}
	})
	one("nothing", "")
	add(h1dCase{name: "nothing then half-close", closeWrite: true})

	// Handlers that fail.
	one("panic", h1dReq("GET /panic HTTP/1.1", "Host: a")+get)
	one("panic after flush", h1dReq("GET /panic-flushed HTTP/1.1", "Host: a")+get)
	one("panic after long write", h1dReq("GET /panic-long HTTP/1.1", "Host: a")+get)
	one("abort handler", h1dReq("GET /abort HTTP/1.1", "Host: a")+get)
	return cases
}

func (c h1dCase) raw() string { return strings.Join(c.parts, "") }

// h1dOutcome is what came back on one connection.
type h1dOutcome struct {
	data []byte
	end  string // closed, reset, open
}

// h1dIdle is how long a connection must stay silent, once everything was
// sent, to count as open.
const h1dIdle = 700 * time.Millisecond

func h1dExchange(addr string, c h1dCase) h1dOutcome {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return h1dOutcome{end: "dial: " + err.Error()}
	}
	defer nc.Close()
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		pause := c.pause
		if pause == 0 {
			pause = 30 * time.Millisecond
		}
		for i, p := range c.parts {
			if i > 0 {
				time.Sleep(pause)
			}
			if _, err := io.WriteString(nc, p); err != nil {
				return
			}
		}
		if c.closeWrite {
			nc.(*net.TCPConn).CloseWrite()
		}
	}()
	var out bytes.Buffer
	buf := make([]byte, 64<<10)
	end := ""
	for end == "" {
		nc.SetReadDeadline(time.Now().Add(h1dIdle))
		n, err := nc.Read(buf)
		out.Write(buf[:n])
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			end = "closed"
		case isTimeout(err):
			select {
			case <-sent:
				end = "open"
			default: // still sending: the silence does not count yet
			}
		case errors.Is(err, syscall.ECONNRESET):
			end = "reset"
		default:
			end = err.Error()
		}
	}
	nc.Close()
	<-sent
	return h1dOutcome{data: out.Bytes(), end: end}
}

// h1dMethods are the methods of the requests in raw, in order, as far as
// http.ReadRequest can read them (HEAD responses have no body).
func h1dMethods(raw string) []string {
	var m []string
	br := bufio.NewReader(strings.NewReader(raw))
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return m
		}
		m = append(m, req.Method)
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return m
		}
	}
}

// h1dResp is one response as a client sees it, with what legitimately
// varies left out: the Date value, header order, chunk sizes.
type h1dResp struct {
	status  string // proto and status line
	header  http.Header
	framing string
	body    string
	trailer http.Header
}

// h1dResult is everything that came back on a connection.
type h1dResult struct {
	resps []h1dResp
	tail  string // what followed the last response that could be parsed
	end   string
}

// h1dParse reads the responses in o; methods are the requests' methods.
func h1dParse(o h1dOutcome, methods []string) *h1dResult {
	r := &h1dResult{end: o.end}
	src := bytes.NewReader(o.data)
	br := bufio.NewReader(src)
	for i := 0; ; {
		if _, err := br.Peek(1); err != nil {
			break
		}
		method := http.MethodGet
		if i < len(methods) {
			method = methods[i]
		}
		rest := o.data[len(o.data)-src.Len()-br.Buffered():]
		// The header as sent: ReadResponse moves Transfer-Encoding and
		// Connection: close out of res.Header.
		tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(rest)))
		line, _ := tp.ReadLine()
		mh, _ := tp.ReadMIMEHeader()
		hdr := http.Header(mh)
		if vv, ok := hdr["Date"]; ok {
			if _, err := time.Parse(http.TimeFormat, vv[0]); len(vv) == 1 && err == nil {
				hdr["Date"] = []string{"<date>"}
			}
		}
		if strings.HasPrefix(line, "HTTP/1.1 4") || strings.HasPrefix(line, "HTTP/1.1 5") {
			if hdr.Get("Content-Length") == "" && hdr.Get("Connection") == "close" {
				// A request the server would not take gets a body that
				// ends with the connection, HEAD or not.
				method = http.MethodGet
			}
		}
		res, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			r.tail = fmt.Sprintf("unparsable (%v): %+q", err, h1dTrim(rest))
			break
		}
		resp := h1dResp{status: res.Proto + " " + res.Status, header: hdr,
			framing: fmt.Sprintf("te=%q cl=%d close=%v", res.TransferEncoding, res.ContentLength, res.Close)}
		body, err := io.ReadAll(res.Body)
		switch {
		case err != nil:
			// A body cut short: how much of it arrived depends on buffering.
			resp.body = fmt.Sprintf("cut short: %v", err)
		case len(body) > 200:
			resp.body = fmt.Sprintf("%d bytes %+q...", len(body), body[:100])
		default:
			resp.body = fmt.Sprintf("%+q", body)
		}
		resp.trailer = res.Trailer
		r.resps = append(r.resps, resp)
		if err != nil {
			break
		}
		if res.StatusCode < 100 || res.StatusCode > 199 || res.StatusCode == http.StatusSwitchingProtocols {
			i++
		}
	}
	return r
}

func (r *h1dResult) String() string {
	var b strings.Builder
	for n, resp := range r.resps {
		fmt.Fprintf(&b, "#%d %s\n", n+1, resp.status)
		for _, k := range slices.Sorted(maps.Keys(resp.header)) {
			fmt.Fprintf(&b, "  %s: %+q\n", k, resp.header[k])
		}
		fmt.Fprintf(&b, "  framing: %s\n  body: %s\n", resp.framing, resp.body)
		for _, k := range slices.Sorted(maps.Keys(resp.trailer)) {
			fmt.Fprintf(&b, "  trailer %s: %+q\n", k, resp.trailer[k])
		}
	}
	if r.tail != "" {
		fmt.Fprintf(&b, "%s\n", r.tail)
	}
	fmt.Fprintf(&b, "end: %s\n", r.end)
	return b.String()
}

func h1dTrim(b []byte) []byte {
	if len(b) > 300 {
		return b[:300]
	}
	return b
}

func TestH1ServerMatchesNetHTTP(t *testing.T) {
	std, lean := h1dStart(t, h1dHandler(), h1dLimits)
	cases := h1dCases()
	type pair struct{ std, lean h1dOutcome }
	results := make([]pair, len(cases))
	// Every case waits h1dIdle at its end to tell an open connection from
	// a closed one: run them side by side.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 48)
	for i, c := range cases {
		wg.Add(2)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i].std = h1dExchange(std, c)
		}()
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i].lean = h1dExchange(lean, c)
		}()
	}
	wg.Wait()
	names := map[string]bool{}
	for i, c := range cases {
		if names[c.name] {
			t.Fatalf("two cases named %q", c.name)
		}
		names[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			methods := h1dMethods(c.raw())
			got := h1dParse(results[i].lean, methods).String()
			stdRes := h1dParse(results[i].std, methods)
			if c.closeWrite {
				h1dHalfClosed(stdRes)
			}
			if c.lean != nil {
				c.lean(stdRes)
			}
			want := stdRes.String()
			if got == want {
				return
			}
			msg := fmt.Sprintf("request %+q\n--- want (net/http's", h1dTrim([]byte(c.raw())))
			if c.lean != nil || c.closeWrite {
				msg += ", with the accepted differences"
			}
			msg += ")\n+++ H1Server\n" + h1dDiff(want, got)
			t.Error(msg)
		})
	}
}

// h1dDiff is a line diff of a and b.
func h1dDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	// lcs[i][j]: the longest common subsequence of x[i:] and y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			out.WriteString("  " + x[i] + "\n")
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			out.WriteString("+ " + y[j] + "\n")
			j++
		default:
			out.WriteString("- " + x[i] + "\n")
			i++
		}
	}
	return out.String()
}

// Behaviour specific to H1Server.

// h1tDial connects to addr and sends raw.
func h1tDial(t *testing.T, addr, raw string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if raw != "" {
		if _, err := io.WriteString(c, raw); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// h1tRead reads one response to a request with method from br, body
// included, within a few seconds.
func h1tRead(t *testing.T, c net.Conn, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return res, string(b)
}

// h1tClosed waits (a few seconds at most) for the server to close c, and
// reports what arrived before.
func h1tClosed(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if isTimeout(err) {
		t.Fatalf("the connection is still open (read %q)", b)
	}
	return string(b)
}

func h1tWait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// A client that goes away while a handler runs cancels the request's
// context, within about 2×WatchAfter (we only require a few seconds),
// whether the request had a body or not.
func TestH1ServerCancelsWhenClientGoes(t *testing.T) {
	started := make(chan struct{}, 1)
	type outcome struct {
		err error
		at  time.Time
	}
	ended := make(chan outcome, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		started <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		ended <- outcome{r.Context().Err(), time.Now()}
	})
	lean := h1dServeLean(t, h, h1dLimits, nil)
	for _, raw := range []string{
		h1dReq("GET / HTTP/1.1", "Host: a"),
		h1dReq("POST / HTTP/1.1", "Host: a", "Content-Length: 5") + "hello",
		h1dReq("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked") + "5\r\nhello\r\n0\r\n\r\n",
	} {
		c := h1tDial(t, lean.addr, raw)
		h1tWait(t, started, "the handler")
		time.Sleep(10 * time.Millisecond)
		closed := time.Now()
		c.Close()
		o := h1tWait(t, ended, "the handler to end")
		if o.err == nil {
			t.Fatalf("%q: the handler's context was not cancelled when the client went away", raw)
		}
		t.Logf("%q: context cancelled %v after the client closed (WatchAfter %v)", strings.SplitN(raw, "\r\n", 2)[0], o.at.Sub(closed), h1dWatchAfter)
	}
}

// A request pipelined while a slow one runs (so the watch reads its first
// byte) is answered, in order, and does not cancel the slow one.
func TestH1ServerPipelinedWhileWatched(t *testing.T) {
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/block":
			io.Copy(io.Discard, r.Body)
			select {
			case <-release:
			case <-r.Context().Done():
			}
			fmt.Fprintf(w, "block ctx=%v", r.Context().Err())
		default:
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s body=%q", r.Method, r.URL.Path, b)
		}
	})
	lean := h1dServeLean(t, h, h1dLimits, nil)
	for _, first := range []string{
		h1dReq("GET /block HTTP/1.1", "Host: a"),
		h1dReq("POST /block HTTP/1.1", "Host: a", "Content-Length: 3") + "abc",
	} {
		c := h1tDial(t, lean.addr, first)
		// Several sweeps: the connection is being watched.
		time.Sleep(10 * h1dWatchAfter)
		io.WriteString(c, "P")
		time.Sleep(5 * h1dWatchAfter)
		io.WriteString(c, "OST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody"+h1dReq("GET /three HTTP/1.1", "Host: a"))
		time.Sleep(5 * h1dWatchAfter)
		release <- struct{}{}
		br := bufio.NewReader(c)
		for _, want := range []string{"block ctx=<nil>", `POST /two body="body"`, `GET /three body=""`} {
			if _, body := h1tRead(t, c, br, "GET"); body != want {
				t.Fatalf("got %q, want %q", body, want)
			}
		}
		c.Close()
	}
}

// Shutdown lets a running request finish (its response says Connection:
// close), closes idle connections at once, stops accepting, and Serve
// returns http.ErrServerClosed.
func TestH1ServerShutdown(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			started <- struct{}{}
			<-release
		}
		io.WriteString(w, "done")
	})
	lean := h1dServeLean(t, h, h1dLimits, nil)
	idle := h1tDial(t, lean.addr, h1dReq("GET / HTTP/1.1", "Host: a"))
	if res, body := h1tRead(t, idle, bufio.NewReader(idle), "GET"); res.Close || body != "done" {
		t.Fatalf("keep-alive response: close=%v body %q", res.Close, body)
	}
	busy := h1tDial(t, lean.addr, h1dReq("GET /block HTTP/1.1", "Host: a"))
	h1tWait(t, started, "the handler")

	shut := make(chan error, 1)
	go func() { shut <- lean.srv.Shutdown(context.Background()) }()
	if rest := h1tClosed(t, idle); rest != "" {
		t.Errorf("the idle connection got %q", rest)
	}
	if err := h1tWait(t, lean.served, "Serve to return"); err != http.ErrServerClosed {
		t.Errorf("Serve returned %v", err)
	}
	if c, err := net.DialTimeout("tcp", lean.addr, time.Second); err == nil {
		c.Close()
		t.Error("the listener still accepts")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) while a request ran", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	br := bufio.NewReader(busy)
	res, body := h1tRead(t, busy, br, "GET")
	if !res.Close || body != "done" {
		t.Errorf("in-flight response: close %v (want Connection: close), body %q", res.Close, body)
	}
	if rest := h1tClosed(t, busy); rest != "" {
		t.Errorf("after the in-flight response: %q", rest)
	}
	if err := h1tWait(t, shut, "Shutdown"); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := lean.srv.Serve(lean.listenerForTest(t)); err != http.ErrServerClosed {
		t.Errorf("Serve after Shutdown: %v", err)
	}
}

func (l *h1dLean) listenerForTest(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// Shutdown with a context that ends returns its error while a request
// runs; Close then ends that request's connection (and cancels the
// request's context), and idle ones.
func TestH1ServerClose(t *testing.T) {
	started := make(chan struct{}, 1)
	cancelled := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			started <- struct{}{}
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			cancelled <- r.Context().Err()
		}
		io.WriteString(w, "done")
	})
	lean := h1dServeLean(t, h, h1dLimits, nil)
	idle := h1tDial(t, lean.addr, h1dReq("GET / HTTP/1.1", "Host: a"))
	h1tRead(t, idle, bufio.NewReader(idle), "GET")
	busy := h1tDial(t, lean.addr, h1dReq("GET /block HTTP/1.1", "Host: a"))
	h1tWait(t, started, "the handler")
	time.Sleep(5 * h1dWatchAfter) // the request is watched

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := lean.srv.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Errorf("Shutdown with a request running: %v", err)
	}
	if err := lean.srv.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if rest := h1tClosed(t, busy); rest != "" {
		t.Errorf("the busy connection got %q", rest)
	}
	h1tClosed(t, idle)
	if err := h1tWait(t, cancelled, "the handler's context"); err == nil {
		t.Error("the handler's context was not cancelled")
	}
	if err := h1tWait(t, lean.served, "Serve to return"); err != http.ErrServerClosed {
		t.Errorf("Serve returned %v", err)
	}
}

// An idle keep-alive connection is closed after IdleTimeout; a client
// that sends half a header is cut off after ReadHeaderTimeout, on a new
// connection or on a kept-alive one; a kept-alive connection may idle
// longer than ReadHeaderTimeout before its next request.
func TestH1ServerTimeouts(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	get := h1dReq("GET / HTTP/1.1", "Host: a")
	for _, kind := range serverKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			serve := func(l ServerLimits) string {
				if kind == LeanServer {
					return h1dServeLean(t, h, l, nil).addr
				}
				return h1dServeStd(t, h, l)
			}
			t.Run("idle", func(t *testing.T) {
				addr := serve(ServerLimits{IdleTimeout: 200 * time.Millisecond})
				c := h1tDial(t, addr, get)
				h1tRead(t, c, bufio.NewReader(c), "GET")
				t0 := time.Now()
				if rest := h1tClosed(t, c); rest != "" {
					t.Errorf("got %q", rest)
				}
				if d := time.Since(t0); d < 100*time.Millisecond {
					t.Errorf("closed after %v, before the idle timeout", d)
				}
			})
			t.Run("header", func(t *testing.T) {
				addr := serve(ServerLimits{ReadHeaderTimeout: 200 * time.Millisecond})
				c := h1tDial(t, addr, "GET / HTTP/1.1\r\nHost: a\r\nX-Half: ")
				if rest := h1tClosed(t, c); rest != "" {
					t.Errorf("half a header got %q", rest)
				}
				c = h1tDial(t, addr, get)
				br := bufio.NewReader(c)
				h1tRead(t, c, br, "GET")
				time.Sleep(400 * time.Millisecond) // idling is not reading a header
				io.WriteString(c, get)
				h1tRead(t, c, br, "GET")
				io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\nX-Half: ")
				if rest := h1tClosed(t, c); rest != "" {
					t.Errorf("half a header on a kept-alive connection got %q", rest)
				}
			})
		})
	}
}

// A WebSocket-style upgrade through httputil.ReverseProxy: the backend
// answers 101 (late enough for the connection to be watched) and echoes;
// the proxy hijacks H1Server's connection.
func TestH1ServerUpgradeThroughReverseProxy(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "no upgrade", http.StatusBadRequest)
			return
		}
		time.Sleep(5 * h1dWatchAfter)
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		io.WriteString(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		io.Copy(c, brw)
	}))
	defer backend.Close()
	u, _ := url.Parse(backend.URL)
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	lean := h1dServeLean(t, proxy, h1dLimits, nil)

	c := h1tDial(t, lean.addr, h1dReq("GET /ws HTTP/1.1", "Host: a", "Connection: Upgrade", "Upgrade: echo"))
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols || res.Header.Get("Upgrade") != "echo" {
		t.Fatalf("got %s, Upgrade %q", res.Status, res.Header.Get("Upgrade"))
	}
	for _, msg := range []string{"ping\n", strings.Repeat("x", 100<<10) + "\n", "pong\n"} {
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := br.ReadString('\n')
		if err != nil || got != msg {
			t.Fatalf("echo: %d bytes, %v; want %d bytes", len(got), err, len(msg))
		}
	}
	c.Close()

	// A session still open does not hold Shutdown (as net/http, which
	// forgets hijacked connections).
	c = h1tDial(t, lean.addr, h1dReq("GET /ws HTTP/1.1", "Host: a", "Connection: Upgrade", "Upgrade: echo"))
	br = bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if res, err := http.ReadResponse(br, &http.Request{Method: "GET"}); err != nil || res.StatusCode != 101 {
		t.Fatalf("second upgrade: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := lean.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown waits for a hijacked connection (an upgraded session), net/http's does not: %v", err)
	}
}

// A streamed (chunked) backend response comes through httputil.ReverseProxy
// and H1Server chunk by chunk.
func TestH1ServerStreamsThroughReverseProxy(t *testing.T) {
	next := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			fmt.Fprintf(w, "chunk%d\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-time.After(5 * time.Second):
				return
			}
		}
	}))
	defer backend.Close()
	u, _ := url.Parse(backend.URL)
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	lean := h1dServeLean(t, proxy, h1dLimits, nil)

	c := h1tDial(t, lean.addr, h1dReq("GET /stream HTTP/1.1", "Host: a"))
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.TransferEncoding) != 1 || res.TransferEncoding[0] != "chunked" {
		t.Errorf("Transfer-Encoding %q", res.TransferEncoding)
	}
	body := bufio.NewReader(res.Body)
	for i := range 3 {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := body.ReadString('\n')
		if want := fmt.Sprintf("chunk%d\n", i); err != nil || line != want {
			t.Fatalf("got %q, %v; want %q", line, err, want)
		}
		next <- struct{}{} // the backend writes the next chunk only now
	}
	if rest, err := io.ReadAll(body); err != nil || len(rest) != 0 {
		t.Errorf("after the chunks: %q, %v", rest, err)
	}
}

// h1tLog records H1Server's log.
type h1tLog struct {
	mu   sync.Mutex
	msgs []string
}

func (l *h1tLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *h1tLog) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "stack" {
			msg += " " + a.Key + "=" + a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	l.msgs = append(l.msgs, msg)
	l.mu.Unlock()
	return nil
}
func (l *h1tLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *h1tLog) WithGroup(string) slog.Handler      { return l }

func (l *h1tLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.msgs
	l.msgs = nil
	return m
}

// A handler panic is logged and ends the connection; http.ErrAbortHandler
// is not logged.
func TestH1ServerPanicLogged(t *testing.T) {
	rec := &h1tLog{}
	lean := h1dServeLean(t, h1dHandler(), h1dLimits, slog.New(rec))
	c := h1tDial(t, lean.addr, h1dReq("GET /panic HTTP/1.1", "Host: a"))
	if rest := h1tClosed(t, c); rest != "" {
		t.Errorf("got %q", rest)
	}
	c = h1tDial(t, lean.addr, h1dReq("GET /abort HTTP/1.1", "Host: a"))
	h1tClosed(t, c)
	msgs := rec.take()
	if len(msgs) != 1 || !strings.Contains(msgs[0], "panic=boom") {
		t.Errorf("logged %q", msgs)
	}
}

// FuzzH1Server sends arbitrary bytes as a request stream, then half-closes:
// H1Server must answer with well-formed responses (the handlers check
// what the ResponseWriter returns them) and close, without panicking
// outside the handlers' own panics, and without hanging.
func FuzzH1Server(f *testing.F) {
	for _, c := range h1dCases() {
		f.Add([]byte(c.raw()))
	}
	rec := &h1tLog{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	s := NewH1Server(h1dHandler(), ServerLimits{ReadHeaderTimeout: 3 * time.Second, ReadTimeout: 3 * time.Second,
		IdleTimeout: 3 * time.Second, MaxHeaderBytes: 8 << 10})
	s.WatchAfter = h1dWatchAfter
	s.Log = slog.New(rec)
	go s.Serve(ln)
	f.Cleanup(func() { s.Close() })
	addr := ln.Addr().String()

	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 64<<10 {
			return
		}
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go func() {
			c.Write(in)
			c.(*net.TCPConn).CloseWrite()
		}()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		out, err := io.ReadAll(c)
		end := "closed"
		switch {
		case err == nil:
		case isTimeout(err):
			t.Fatalf("H1Server did not close the connection within 10 s of the client's EOF (got %q)", h1dTrim(out))
		default:
			end = "reset" // closed with unread bytes
		}
		c.Close()
		for _, m := range rec.take() {
			if strings.HasPrefix(m, "gateway handler panicked") && !strings.Contains(m, "panic=boom") {
				t.Errorf("%s", m)
			}
		}
		methods := h1dMethods(string(in))
		r := h1dParse(h1dOutcome{data: out, end: end}, methods)
		final := 0
		for _, resp := range r.resps {
			if !strings.Contains(resp.status, " 1") || strings.Contains(resp.status, " 101 ") {
				final++
			}
		}
		bad := r.tail != "" && !strings.Contains(r.tail, "unexpected EOF")
		if final > len(methods)+1 {
			bad = true
		}
		if bad {
			msg := fmt.Sprintf("input %+q\nresponses:\n%s", h1dTrim(in), r)
			t.Error(msg)
		}
	})
}

// A handler that sets a read deadline (http.ResponseController) while its
// connection is watched must not make the watch spin on timeouts.
func TestH1ServerWatchAndHandlerReadDeadline(t *testing.T) {
	cpu := make(chan time.Duration, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(10 * h1dWatchAfter) // watched by now
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		t0 := h1tCPU()
		time.Sleep(500 * time.Millisecond)
		cpu <- h1tCPU() - t0
		io.WriteString(w, "ok")
	})
	lean := h1dServeLean(t, h, h1dLimits, nil)
	c := h1tDial(t, lean.addr, h1dReq("GET / HTTP/1.1", "Host: a"))
	if _, body := h1tRead(t, c, bufio.NewReader(c), "GET"); body != "ok" {
		t.Errorf("body %q", body)
	}
	// An idle process uses a few milliseconds in 500; a spinning
	// goroutine all of them.
	if used := <-cpu; used > 250*time.Millisecond {
		t.Fatalf("the watch spins on read timeouts once the handler set a read deadline: %v of CPU in 500ms", used)
	}
}

func h1tCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Serve may be called for several listeners.
func TestH1ServerTwoListeners(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	lean := h1dServeLean(t, h, h1dLimits, nil)
	c := h1tDial(t, lean.addr, h1dReq("GET / HTTP/1.1", "Host: a"))
	br := bufio.NewReader(c)
	h1tRead(t, c, br, "GET")
	second := lean.listenerForTest(t)
	go lean.srv.Serve(second)
	io.WriteString(c, "GET / HTTP/1.1\r\n")
	time.Sleep(20 * time.Millisecond)
	io.WriteString(c, "Host: a\r\n\r\n")
	h1tRead(t, c, br, "GET")
	c2 := h1tDial(t, second.Addr().String(), h1dReq("GET / HTTP/1.1", "Host: a"))
	if _, body := h1tRead(t, c2, bufio.NewReader(c2), "GET"); body != "ok" {
		t.Errorf("second listener: %q", body)
	}
}

// A client that ends a POST with an extra CRLF (tolerated, as by
// net/http) and then idles is idle: Shutdown closes it at once.
func TestH1ServerShutdownAfterPostCRLF(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(w, r.Body) })
	lean := h1dServeLean(t, h, h1dLimits, nil)
	c := h1tDial(t, lean.addr, h1dReq("POST / HTTP/1.1", "Host: a", "Content-Length: 3")+"abc\r\n")
	if _, body := h1tRead(t, c, bufio.NewReader(c), "POST"); body != "abc" {
		t.Fatalf("body %q", body)
	}
	time.Sleep(50 * time.Millisecond) // the CRLF has arrived
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := lean.srv.Shutdown(ctx); err != nil {
		t.Fatalf("after a POST and the CRLF old clients send, Shutdown does not take the idle connection: %v", err)
	}
	h1tClosed(t, c)
}

// TestH1ServerConnSet: connections opening and closing in any order leave
// the server's set holding exactly the open ones, each at its own index.
func TestH1ServerConnSet(t *testing.T) {
	lean := h1dServeLean(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), ServerLimits{}, nil)
	check := func(want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			lean.srv.mu.Lock()
			n, ok := len(lean.srv.conns), true
			for i, c := range lean.srv.conns {
				ok = ok && c.at == i
			}
			lean.srv.mu.Unlock()
			if !ok {
				t.Fatal("a connection's index is not its place in the set")
			}
			if n == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d connections in the set, want %d", n, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	var conns []net.Conn
	for range 40 {
		c, err := net.Dial("tcp", lean.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	check(40)
	// Close every third, then the first and the last: removals from the
	// middle and both ends.
	open := 40
	for i := 0; i < len(conns); i += 3 {
		conns[i].Close()
		conns[i] = nil
		open--
	}
	check(open)
	for _, i := range []int{1, len(conns) - 1} {
		if conns[i] != nil {
			conns[i].Close()
			conns[i] = nil
			open--
		}
	}
	check(open)
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	check(0)
}

// A field is written as net/http's Header.Write writes it.
func TestWriteHeaderLineAsNetHTTP(t *testing.T) {
	for _, v := range []string{"plain", "  padded\t ", "a\r\nInjected: yes", "\r\n", "", "x\ny\rz", "only\rreturn", "\t \t", `"burst";q=10;w=1, "day";q=1000;w=86400`} {
		var got bytes.Buffer
		bw := bufio.NewWriter(&got)
		writeHeaderLine(bw, "X-Field", v)
		bw.Flush()
		var want bytes.Buffer
		http.Header{"X-Field": {v}}.Write(&want)
		if got.String() != want.String() {
			t.Errorf("%q: wrote %q, net/http %q", v, got.String(), want.String())
		}
	}
}
