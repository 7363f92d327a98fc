package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Server is what serves one of the gateway's listeners: an *http.Server
// or an *H1Server.
type Server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

// H1Server serves HTTP/1.0 and HTTP/1.1 on the gateway's plain-TCP
// listener. It reads requests with net/http's own parser (http.ReadRequest,
// so the same framing rules and smuggling checks apply) — except the
// plainest bodyless HTTP/1.1 requests, which parseSimpleRequest turns into
// the very same *http.Request for fewer allocations — and hands them to
// an http.Handler, but spends far less per request than net/http's server:
//
//   - net/http starts a goroutine for every request that blocks in a read
//     on the connection to notice a client going away, and stops it when
//     the handler returns (a read syscall, a deadline in the past, two
//     goroutine switches). H1Server watches only requests still running
//     after WatchAfter (a sweep over the active connections), which at
//     gateway speeds are a small minority; a client that goes away while
//     one runs cancels its context as with net/http.
//   - read deadlines are set once per request, not three or four times;
//   - the response header is written straight from the handler's map, and
//     the response is flushed once, when the handler returns.
//
// TLS listeners keep net/http's server (HTTP/2). TestH1ServerMatchesNetHTTP
// sends the same raw requests to both servers and compares the answers
// byte for byte but for the Date; the differences it accepts are spelled
// out there (reason phrases of rejected requests, what happens to trailers
// declared after the header went out, a few malformed inputs answered 400
// or closed the other way round).
type H1Server struct {
	Handler http.Handler
	Limits  ServerLimits
	// WatchAfter is how long a request runs before its connection is
	// watched for the client going away (default 50 ms; the sweep runs
	// every WatchAfter, so a departure is noticed within 1–2× of it).
	WatchAfter time.Duration
	// Log gets handler panics and accept errors (default slog.Default()).
	Log *slog.Logger

	mu        sync.Mutex
	listeners map[*net.Listener]struct{}
	// conns are the open connections, in no order; each knows its index
	// (h1sConn.at), so adding and removing one are O(1) and the sweep's
	// copy is one memmove.
	conns    []*h1sConn
	sweepBuf []*h1sConn // the sweep's copy of conns (the sweep's alone)
	sweeping bool
	closing  atomic.Bool
	stop     chan struct{}
	active   sync.WaitGroup
	baseCtx  context.Context
}

// NewH1Server returns an H1Server for h with l's limits (zero fields take
// DefaultServerLimits').
func NewH1Server(h http.Handler, l ServerLimits) *H1Server {
	return &H1Server{Handler: h, Limits: l.withDefaults()}
}

func (l ServerLimits) withDefaults() ServerLimits {
	d := DefaultServerLimits
	if l.ReadHeaderTimeout <= 0 {
		l.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = d.ReadTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = d.IdleTimeout
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	return l
}

func (s *H1Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Serve accepts connections on ln until Shutdown or Close; it returns
// http.ErrServerClosed then, or the listener's error.
func (s *H1Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	if s.listeners == nil {
		// First Serve: what later connections read is set once.
		s.listeners = map[*net.Listener]struct{}{}
		s.stop = make(chan struct{})
		s.Limits = s.Limits.withDefaults()
	}
	if s.baseCtx == nil {
		// Handlers find a server in their context as under net/http:
		// httputil.ReverseProxy aborts a broken-off answer with
		// http.ErrAbortHandler only then. It describes this one.
		l := s.Limits
		s.baseCtx = context.WithValue(context.Background(), http.ServerContextKey, &http.Server{Handler: s.Handler,
			ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: l.ReadTimeout, IdleTimeout: l.IdleTimeout, MaxHeaderBytes: l.MaxHeaderBytes})
	}
	s.listeners[&ln] = struct{}{}
	if !s.sweeping {
		s.sweeping = true
		go s.sweep(s.stop)
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, &ln)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			if isTimeout(err) || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ECONNABORTED) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log().Warn("gateway accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := newH1sConn(s, nc)
		s.mu.Lock()
		if s.closing.Load() {
			s.mu.Unlock()
			nc.Close()
			return http.ErrServerClosed
		}
		c.at = len(s.conns)
		s.conns = append(s.conns, c)
		s.active.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

// Shutdown stops accepting, closes idle connections at once and the
// others as soon as their current response is written, and waits for
// them until ctx ends (then it returns ctx's error; Close ends the rest).
func (s *H1Server) Shutdown(ctx context.Context) error {
	s.beginClose()
	done := make(chan struct{})
	go func() { s.active.Wait(); close(done) }()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		s.closeIdle()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Close closes the listeners and every connection at once.
func (s *H1Server) Close() error {
	s.beginClose()
	s.mu.Lock()
	for _, c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	return nil
}

func (s *H1Server) beginClose() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Swap(true) {
		return
	}
	for ln := range s.listeners {
		(*ln).Close()
	}
	if s.stop != nil {
		close(s.stop)
	}
}

func (s *H1Server) closeIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		if c.state.CompareAndSwap(h1sIdle, h1sClosed) ||
			time.Since(c.accepted) > newGrace && c.state.CompareAndSwap(h1sNew, h1sClosed) {
			c.nc.Close()
		}
	}
}

// newGrace is how long Shutdown lets a new connection send its first
// request (as net/http's server).
const newGrace = 5 * time.Second

// sweep starts watching the connections whose request has been running
// since the previous sweep.
func (s *H1Server) sweep(stop <-chan struct{}) {
	every := s.WatchAfter
	if every <= 0 {
		every = 50 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		s.sweepOnce()
	}
}

// sweepOnce walks every connection once. It holds the server's lock, which
// accepting and closing connections take, only to copy the set: at 50,000
// connections walking it under the lock held every accept up for a
// millisecond each sweep. A connection that ends meanwhile is no longer
// active, so the walk leaves it alone.
func (s *H1Server) sweepOnce() {
	conns := s.connsCopy()
	defer func() {
		clear(conns) // no ended connection stays reachable until the next sweep
		s.sweepBuf = conns[:0]
	}()
	for _, c := range conns {
		if c.state.Load() != h1sActive {
			continue
		}
		if seq := c.seq.Load(); seq != c.swept {
			c.swept = seq
			continue
		}
		if c.state.CompareAndSwap(h1sActive, h1sWatched) {
			go c.watch()
		}
	}
}

// connsCopy copies the set of connections into the sweep's buffer, under
// the server's lock.
func (s *H1Server) connsCopy() []*h1sConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(s.sweepBuf[:0], s.conns...)
}

func (s *H1Server) forget(c *h1sConn) {
	s.mu.Lock()
	last := len(s.conns) - 1
	s.conns[c.at], s.conns[last].at = s.conns[last], c.at
	s.conns[last] = nil
	s.conns = s.conns[:last]
	s.mu.Unlock()
	s.active.Done()
}

// Connection states. New: accepted, its first request not yet begun
// (Shutdown closes it after newGrace). Idle: waiting for a later request's
// first byte (Shutdown closes it). Reading: reading a request's header or body. Active: the
// handler runs and the request body, if any, has been read; the sweep may
// move it to Watched, where a goroutine blocks in a read to notice the
// client going away. Closed: Shutdown took it while idle.
const (
	h1sNew int32 = iota
	h1sIdle
	h1sReading
	h1sActive
	h1sWatched
	h1sClosed
)

// h1sConn is one client connection. It is its bufio.Reader's source so it
// can replay the byte a watch read.
type h1sConn struct {
	srv      *H1Server
	at       int // index in srv.conns, under srv.mu
	nc       net.Conn
	remote   string
	accepted time.Time
	ctx      context.Context
	br       *bufio.Reader
	bw       *bufio.Writer

	state atomic.Int32
	// seq counts requests; swept is the sweep's copy (sweep's alone).
	seq   atomic.Uint32
	swept uint32

	// pending is a byte the watch read that belongs to the next request.
	pending    byte
	hasPending bool

	// The watch: it cancels the current request's context (reqCtx) when
	// the client goes away; watchMu orders the watch's deadline changes
	// with the handler's stopping it.
	reqCtx    *reqCtx
	watchMu   sync.Mutex
	stopping  bool
	watchDone chan struct{}

	hijacked bool
	hold     []byte
	// ownReader: br is not from the pool (a header outgrew it).
	ownReader bool
	// lastPost: the previous request was a POST.
	lastPost bool
	// keys caches the canonical header names this connection sent, by
	// the bytes it sent them as (parseSimpleRequest).
	keys headerKeys
}

func newH1sConn(s *H1Server, nc net.Conn) *h1sConn {
	c := &h1sConn{srv: s, nc: nc, remote: nc.RemoteAddr().String(), accepted: time.Now(), watchDone: make(chan struct{}, 1)}
	c.ctx = context.WithValue(s.baseCtx, http.LocalAddrContextKey, nc.LocalAddr())
	return c
}

// Read implements io.Reader for the connection's bufio.Reader.
func (c *h1sConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if c.hasPending {
		p[0], c.hasPending = c.pending, false
		return 1, nil
	}
	return c.nc.Read(p)
}

const h1sBufSize = 4 << 10

func (c *h1sConn) serve() {
	s := c.srv
	defer func() {
		if c.hijacked {
			return // Hijack let go of it
		}
		c.nc.Close()
		s.forget(c)
		if !c.ownReader {
			c.br.Reset(nil)
			readerPool.Put(c.br)
		}
		c.bw.Reset(nil)
		writerPool.Put(c.bw)
	}()
	if br, _ := readerPool.Get().(*bufio.Reader); br != nil {
		br.Reset(c)
		c.br = br
	} else {
		c.br = bufio.NewReaderSize(c, h1sBufSize)
	}
	if bw, _ := writerPool.Get().(*bufio.Writer); bw != nil {
		bw.Reset(c.nc)
		c.bw = bw
	} else {
		c.bw = bufio.NewWriterSize(c.nc, h1sBufSize)
	}
	lim := s.Limits
	headerLimit := lim.MaxHeaderBytes + 4096 // as net/http: some slack for the request line
	// The first request's header must arrive within ReadHeaderTimeout of
	// the connection being accepted; later ones may idle before.
	c.nc.SetReadDeadline(time.Now().Add(lim.ReadHeaderTimeout))
	first := true
	for {
		if !first {
			c.nc.SetReadDeadline(time.Now().Add(lim.IdleTimeout))
			if !c.state.CompareAndSwap(h1sReading, h1sIdle) || s.closing.Load() {
				return
			}
		}
		if _, err := c.br.Peek(1); err != nil {
			return
		}
		if !c.state.CompareAndSwap(h1sIdle, h1sReading) && !c.state.CompareAndSwap(h1sNew, h1sReading) {
			return // Shutdown closed it
		}
		if c.lastPost {
			// As net/http (RFC 9112 section 2.2): old clients end a POST
			// body with an extra CRLF, which is skipped.
			c.lastPost = false
			for n := 0; n < 4 && c.br.Buffered() > 0; n++ {
				if b, _ := c.br.Peek(1); b[0] != '\r' && b[0] != '\n' {
					break
				}
				c.br.Discard(1)
			}
			if c.br.Buffered() == 0 {
				continue // only the CRLF came: idle again
			}
		}
		hdr, err := c.peekHeader(headerLimit, !first)
		if err != nil {
			if err == errHeaderTooLarge {
				c.reject(http.StatusRequestHeaderFieldsTooLarge, "")
				c.closeWriteAndWait()
			}
			return
		}
		first = false
		req, ctx := c.parseSimpleRequest(hdr)
		if req != nil {
			c.br.Discard(len(hdr))
		} else {
			hosts := scanHosts(hdr)
			if req, err = http.ReadRequest(c.br); err != nil {
				c.readFailed(err)
				return
			}
			if code, msg := checkRequest(req, hosts); code != 0 {
				c.reject(code, msg)
				return
			}
		}
		c.lastPost = req.Method == http.MethodPost
		if !c.serveRequest(req, ctx, lim) {
			return
		}
	}
}

var errHeaderTooLarge = errors.New("request header too large")

// peekHeader waits until the request header, through the empty line that
// ends it, is in the connection's reader and returns it (without
// consuming it): the server checks what http.ReadRequest does not report
// (how many Host fields came), and ReadRequest then parses it from the
// buffer. A header longer than the reader's 4 KiB gets a reader of
// limit bytes for the rest of the connection. wait sets ReadHeaderTimeout
// from now if more must be read.
func (c *h1sConn) peekHeader(limit int, wait bool) ([]byte, error) {
	scanned := 0 // what earlier rounds searched, less what a line end may straddle
	for {
		n := c.br.Buffered()
		buf, _ := c.br.Peek(n)
		if end := headerEnd(buf, scanned); end > 0 {
			return buf[:end], nil
		}
		scanned = max(0, n-3)
		if n >= limit {
			return nil, errHeaderTooLarge
		}
		if n >= c.br.Size() {
			// Move what is buffered to a reader as large as the limit.
			held := bytes.Clone(buf)
			c.br.Discard(n)
			c.br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(held), c), limit)
			c.ownReader, scanned = true, 0
			if _, err := c.br.Peek(n); err != nil {
				return nil, err
			}
			continue
		}
		if wait {
			c.nc.SetReadDeadline(time.Now().Add(c.srv.Limits.ReadHeaderTimeout))
			wait = false
		}
		if _, err := c.br.Peek(n + 1); err != nil {
			return nil, err
		}
	}
}

// headerEnd is the length of the header at the start of buf through the
// empty line that ends it (lines may end in CRLF or, as textproto
// accepts, LF), or 0 if buf holds no empty line yet; the search starts at
// from.
func headerEnd(buf []byte, from int) int {
	for i := min(from, len(buf)); ; {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return 0
		}
		i += j + 1
		switch {
		case i < len(buf) && buf[i] == '\n':
			return i + 1
		case i+1 < len(buf) && buf[i] == '\r' && buf[i+1] == '\n':
			return i + 2
		}
	}
}

// headerHosts is what scanHosts found: how many Host fields and the
// first one's value.
type headerHosts struct {
	n     int
	value []byte
}

// scanHosts counts the Host fields of a raw request header.
func scanHosts(hdr []byte) headerHosts {
	var h headerHosts
	i := bytes.IndexByte(hdr, '\n') + 1 // past the request line
	for i < len(hdr) {
		line := hdr[i:]
		if j := bytes.IndexByte(line, '\n'); j >= 0 {
			line, i = line[:j], i+j+1
		} else {
			i = len(hdr)
		}
		if len(line) >= 5 && line[4] == ':' && (line[0]|0x20) == 'h' && (line[1]|0x20) == 'o' && (line[2]|0x20) == 's' && (line[3]|0x20) == 't' {
			if h.n++; h.n == 1 {
				v := bytes.Trim(line[5:], " \t\r")
				// Continuation lines (obs-fold) are joined as textproto
				// joins them.
				for i < len(hdr) && (hdr[i] == ' ' || hdr[i] == '\t') {
					next := hdr[i:]
					j := bytes.IndexByte(next, '\n')
					if j < 0 {
						j = len(next)
					}
					if len(v) > 0 {
						v = append(v[:len(v):len(v)], ' ')
					}
					v, i = append(v, bytes.Trim(next[:j], " \t\r")...), i+j+1
				}
				h.value = v
			}
		}
	}
	return h
}

// readFailed answers a request that could not be read, as net/http does.
func (c *h1sConn) readFailed(err error) {
	var oe *net.OpError
	switch {
	case err == io.EOF, errors.Is(err, net.ErrClosed):
	case errors.As(err, &oe) && oe.Op == "read":
		// The connection failed, not the request: nobody to answer.
	case isTimeout(err):
	case strings.HasPrefix(err.Error(), "unsupported transfer encoding"):
		c.reject(http.StatusNotImplemented, "Unsupported transfer encoding")
	default:
		c.reject(http.StatusBadRequest, "")
	}
}

// checkRequest applies the checks net/http's server makes beyond
// http.ReadRequest's; it returns the status and message to reject the
// request with, or 0.
func checkRequest(req *http.Request, hosts headerHosts) (int, string) {
	if req.ProtoMajor != 1 {
		return http.StatusHTTPVersionNotSupported, "unsupported protocol version"
	}
	if msg := checkHeader(req, hosts); msg != "" {
		return http.StatusBadRequest, msg
	}
	return 0, ""
}

func checkHeader(req *http.Request, hosts headerHosts) string {
	switch {
	case req.ProtoAtLeast(1, 1) && hosts.n == 0 && req.Method != "CONNECT":
		return "missing required Host header"
	case hosts.n > 1:
		return "too many Host headers"
	case hosts.n == 1 && !httpguts.ValidHostHeader(string(hosts.value)):
		return "malformed Host header"
	}
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return "invalid header name"
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return "invalid header value"
			}
		}
	}
	return ""
}

// reject answers a request the server could not take and ends the
// connection.
func (c *h1sConn) reject(code int, msg string) {
	text := strconv.Itoa(code) + " " + http.StatusText(code)
	if msg != "" {
		text += ": " + msg
	}
	c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(c.bw, "HTTP/1.1 %03d %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n%s", code, http.StatusText(code), text)
	c.bw.Flush()
}

// closeWriteAndWait ends the server's side of a connection whose client
// may still be sending (a body the server did not read) and gives the
// client time to read the answer before the close, which would otherwise
// reset the connection and could destroy the answer in the client's
// buffers (as net/http's server: half-close, then 500 ms).
func (c *h1sConn) closeWriteAndWait() {
	c.bw.Flush()
	closeWrite(c.nc)
	time.Sleep(rstAvoidanceDelay)
}

// rstAvoidanceDelay is net/http's.
const rstAvoidanceDelay = 500 * time.Millisecond

// serveRequest runs the handler for req; it reports whether the
// connection may carry another request. ctx is req's context when the
// request was made with it (parseSimpleRequest), else nil.
func (c *h1sConn) serveRequest(req *http.Request, ctx *reqCtx, lim ServerLimits) (keep bool) {
	if ctx == nil {
		ctx = newReqCtx(c.ctx)
		req = req.WithContext(ctx)
	}
	defer ctx.cancel()
	req.RemoteAddr = c.remote
	w := &h1sResponse{c: c, req: req, header: make(http.Header, 8), cl: -1}
	hasBody := req.Body != http.NoBody && req.Body != nil
	// As net/http: 100 Continue is owed to an HTTP/1.1 request with a
	// body that expects it; any other expectation fails.
	expectContinue := false
	if ex := field(req.Header, "Expect"); ex != "" { // the parser keys fields canonically
		if !httpguts.HeaderValuesContainsToken([]string{ex}, "100-continue") {
			w.header["Connection"] = []string{"close"}
			w.WriteHeader(http.StatusExpectationFailed)
			w.finish()
			return false
		}
		expectContinue = req.ProtoAtLeast(1, 1) && req.ContentLength != 0
	}
	var body *h1sBody
	if hasBody {
		c.nc.SetReadDeadline(time.Now().Add(lim.ReadTimeout))
		body = &h1sBody{rc: req.Body, c: c}
		if expectContinue {
			body.cont, w.owesContinue = w, true
		}
		req.Body = body
	}
	c.reqCtx = ctx
	c.seq.Add(1)
	if !hasBody {
		c.state.Store(h1sActive)
	}
	w.wantsClose = req.Close && req.ProtoAtLeast(1, 1) || httpguts.HeaderValuesContainsToken(req.Header["Connection"], "close")
	w.wants10KeepAlive = !req.ProtoAtLeast(1, 1) && httpguts.HeaderValuesContainsToken(req.Header["Connection"], "keep-alive")
	handler := c.srv.Handler
	if req.RequestURI == "*" && req.Method == http.MethodOptions {
		handler = optionsHandler{} // as net/http's server
	}
	if !c.runHandler(handler, w, req) {
		if body != nil {
			// Nothing may read the connection's reader once it goes
			// back to the pool.
			body.Close()
		}
		return false
	}
	if c.hijacked {
		return false
	}
	// The body first: once it has ended nothing reads it (and so the
	// connection) behind the server's back.
	bodyLeft := false
	if body != nil {
		var reusable bool
		reusable, w.tooBig = body.end()
		bodyLeft = !reusable
	}
	if bodyLeft {
		w.closeAfter = true
	}
	c.stopWatch()
	if err := w.finish(); err != nil || w.closeAfter {
		if bodyLeft && err == nil {
			c.closeWriteAndWait()
		}
		return false
	}
	c.state.Store(h1sReading)
	return true
}

// runHandler calls the handler; false if it panicked.
func (c *h1sConn) runHandler(h http.Handler, w *h1sResponse, req *http.Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			c.stopWatch()
			if v != http.ErrAbortHandler {
				c.srv.log().Error("gateway handler panicked", "remote", c.remote, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			}
			if !c.hijacked {
				// As net/http: what reached the buffer goes out, then the
				// connection closes.
				c.bw.Flush()
			}
			ok = false
		}
	}()
	h.ServeHTTP(w, req)
	return true
}

// optionsHandler answers "OPTIONS *" as net/http's server does.
type optionsHandler struct{}

func (optionsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "0")
	if r.ContentLength != 0 {
		io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 4<<10))
	}
}

// watch blocks in a read on the connection while a request runs, so a
// client that goes away cancels the request's context. A byte it reads
// belongs to the next request (pipelining) and is kept for it.
func (c *h1sConn) watch() {
	defer func() { c.watchDone <- struct{}{} }()
	c.watchMu.Lock()
	if c.stopping {
		c.watchMu.Unlock()
		return
	}
	c.nc.SetReadDeadline(time.Time{})
	c.watchMu.Unlock()
	var b [1]byte
	for {
		n, err := c.nc.Read(b[:])
		if n == 1 {
			c.pending, c.hasPending = b[0], true
			return
		}
		if err == nil {
			continue
		}
		if isTimeout(err) {
			// Stopped, or the handler set a read deadline of its own
			// (http.ResponseController): either way, watch no more.
			return
		}
		// The client went away, or half-closed: its request is
		// cancelled, as with net/http, and requests it pipelined before
		// are still read and answered.
		c.reqCtx.cancel()
		return
	}
}

// stopWatch ends the watch of the current request, if the sweep started
// one, before the handler's goroutine uses the connection's reader again.
func (c *h1sConn) stopWatch() {
	// Only the sweep moves Active on (to Watched), and only this leaves
	// Watched: if the swap fails the state is Reading or Watched.
	if c.state.CompareAndSwap(h1sActive, h1sReading) || c.state.Load() != h1sWatched {
		return
	}
	c.watchMu.Lock()
	c.stopping = true
	c.nc.SetReadDeadline(aLongTimeAgo)
	c.watchMu.Unlock()
	<-c.watchDone
	c.watchMu.Lock()
	c.stopping = false
	c.watchMu.Unlock()
	c.state.Store(h1sReading)
}

// h1sBody is a request body. It marks the request active when it has
// been read to its end (the watch must not read before), and sends 100
// Continue before the first read when one is owed. Transports may read it
// from a goroutine of their own, even after the handler returned (net/http's
// Transport writes request bodies from its own goroutine): it is locked,
// and the server ends it when the handler returns; later reads fail as
// with net/http.
type h1sBody struct {
	mu sync.Mutex
	rc io.ReadCloser
	c  *h1sConn
	// cont is set when 100 Continue is owed; asked once a read wanted
	// the body.
	cont   *h1sResponse
	asked  bool
	eof    bool
	closed bool
}

func (b *h1sBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return 0, http.ErrBodyReadAfterClose
	case b.eof:
		return 0, io.EOF
	}
	if b.cont != nil && !b.asked {
		b.asked = true
		b.cont.writeContinue()
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.eof = true
		b.c.state.CompareAndSwap(h1sReading, h1sActive)
	}
	return n, err
}

// Close implements io.Closer: later reads fail, as with net/http; what is
// left of the body is dealt with when the handler returns.
func (b *h1sBody) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

// maxDrain is how much of a body the handler left unread the server reads
// to keep the connection (net/http's limit).
const maxDrain = 256 << 10

// end closes the body for good once the handler has returned and reports
// whether the connection can carry another request: the body was read to
// its end, or what was left was short enough to read now (tooBig: it was
// not). A client that
// waits for 100 Continue that never came sends no body: the connection
// cannot go on.
func (b *h1sBody) end() (reusable, tooBig bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	switch {
	case b.eof:
		return true, false
	case b.cont != nil && !b.asked:
		return false, false
	}
	n, err := io.CopyN(io.Discard, b.rc, maxDrain+1)
	return err == io.EOF && n <= maxDrain, n > maxDrain
}

// h1sResponse is the http.ResponseWriter of one request.
type h1sResponse struct {
	c      *h1sConn
	req    *http.Request
	header http.Header
	status int
	// wroteHeader: the final status is set; headerSent: the header is
	// in the connection's buffer.
	wroteHeader, headerSent bool
	chunked                 bool
	closeAfter              bool
	// What the request asked of the connection.
	wantsClose, wants10KeepAlive bool
	// tooBig: the handler left more of the body than the server reads
	// for it; the answer says the connection closes.
	tooBig bool
	// omitConn, omitCL: the handler's Connection and Content-Length
	// fields are not sent (the server sends its own, or none).
	omitConn, omitCL bool
	// cl is the declared Content-Length (-1: none); written counts the
	// body bytes the handler wrote.
	cl, written int64
	// noBody: HEAD, or a status without a body.
	noBody, isHead bool
	handlerDone    bool
	// owesContinue: the request's body may still send 100 Continue,
	// from whatever goroutine reads it; contMu orders that with the
	// final header, and noContinue says it may no longer.
	owesContinue bool
	contMu       sync.Mutex
	noContinue   bool
	// earlyTrailers are the declared trailers set at WriteHeader;
	// lateTrailers the others, when the header is sent.
	earlyTrailers, lateTrailers []string
	calledHeader, snapshot      bool
}

// writeContinue sends 100 Continue unless the final answer has begun.
func (w *h1sResponse) writeContinue() {
	w.contMu.Lock()
	defer w.contMu.Unlock()
	if w.noContinue {
		return
	}
	w.noContinue = true
	w.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	w.c.bw.Flush()
}

// endContinue: no 100 Continue may be sent from now on.
func (w *h1sResponse) endContinue() {
	if w.owesContinue {
		w.contMu.Lock()
		w.noContinue = true
		w.contMu.Unlock()
	}
}

// Header implements http.ResponseWriter.
func (w *h1sResponse) Header() http.Header {
	w.calledHeader = true
	return w.header
}

// WriteHeader implements http.ResponseWriter.
func (w *h1sResponse) WriteHeader(code int) {
	if w.c.hijacked {
		w.c.srv.log().Warn("gateway: WriteHeader on a hijacked connection")
		return
	}
	if w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.owesContinue {
		w.contMu.Lock()
		defer w.contMu.Unlock()
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		// Informational: sent at once, the final answer follows.
		bw := w.c.bw
		writeStatusLine(bw, w.req.ProtoAtLeast(1, 1), code)
		writeHeaderLines(bw, w.header, &h1sResponse{noBody: true})
		bw.WriteString("\r\n")
		bw.Flush()
		return
	}
	w.wroteHeader, w.status, w.noContinue = true, code, true
	// As net/http: if the handler had the header map by now, the header
	// sent is the map as it is here — declared trailers set later go
	// after the body only.
	w.snapshot = w.calledHeader
	if w.snapshot {
		for _, k := range declaredTrailers(w.header) {
			if w.header[k] != nil {
				w.earlyTrailers = append(w.earlyTrailers, k)
			}
		}
	}
	w.isHead = w.req.Method == http.MethodHead
	w.noBody = !bodyAllowedForStatus(code)
	if v := w.header["Content-Length"]; len(v) == 1 {
		if n, err := strconv.ParseInt(strings.TrimSpace(v[0]), 10, 64); err == nil && n >= 0 {
			w.cl = n
		} else {
			delete(w.header, "Content-Length")
		}
	}
}

func bodyAllowedForStatus(code int) bool {
	return !(code >= 100 && code <= 199 || code == http.StatusNoContent || code == http.StatusNotModified)
}

// Write implements http.ResponseWriter.
func (w *h1sResponse) Write(p []byte) (int, error) {
	if w.c.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if w.noBody {
		return 0, http.ErrBodyNotAllowed
	}
	if w.cl >= 0 && w.written+int64(len(p)) > w.cl {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if !w.headerSent {
		if w.cl < 0 && len(w.c.hold)+len(p) <= holdBytes {
			// Hold a short body of unknown length: if the handler ends
			// soon, it gets a Content-Length instead of chunks.
			w.c.hold = append(w.c.hold, p...)
			return len(p), nil
		}
		if err := w.sendHeader(p); err != nil {
			return 0, err
		}
	}
	if w.isHead {
		return len(p), nil
	}
	return w.writeBody(p)
}

// holdBytes is how much body of unknown length the server holds back
// before it must send the header (net/http's bufferBeforeChunkingSize).
const holdBytes = 2048

func (w *h1sResponse) writeBody(p []byte) (int, error) {
	bw := w.c.bw
	if w.chunked {
		bw.WriteString(strconv.FormatInt(int64(len(p)), 16))
		bw.WriteString("\r\n")
		n, err := bw.Write(p)
		if err != nil {
			return n, err
		}
		_, err = bw.WriteString("\r\n")
		return n, err
	}
	return bw.Write(p)
}

func (w *h1sResponse) hasTrailers() bool {
	if _, ok := w.header["Trailer"]; ok {
		return true
	}
	for k := range w.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
	}
	return false
}

// sendHeader writes the status line and header into the connection's
// buffer, deciding how the body is framed, then any body held back; next
// is the body about to be written (for the Content-Type sniff).
func (w *h1sResponse) sendHeader(next []byte) error {
	// The framing decisions follow net/http's chunkWriter.writeHeader.
	w.headerSent = true
	h := w.header
	http11 := w.req.ProtoAtLeast(1, 1)
	held := w.c.hold
	trailers := w.hasTrailers()
	if trailers && w.snapshot {
		for _, k := range declaredTrailers(h) {
			if !slices.Contains(w.earlyTrailers, k) {
				w.lateTrailers = append(w.lateTrailers, k)
			}
		}
	}
	if w.noBody {
		w.cl = -1
	}
	te := ""
	if v := h["Transfer-Encoding"]; len(v) > 0 {
		te = v[0]
	}
	hasTE := te != ""
	if w.handlerDone && !trailers && !hasTE && !w.noBody && w.cl < 0 && (!w.isHead || w.written > 0) {
		// The handler is done: the length is what it wrote.
		w.cl = w.written
		h["Content-Length"] = []string{strconv.FormatInt(w.written, 10)}
	}
	hasCL := w.cl >= 0
	keepAlive10 := false
	if w.wants10KeepAlive && (w.isHead || hasCL || w.noBody) {
		_, set := h["Connection"]
		keepAlive10 = !set
	} else if !http11 || w.wantsClose {
		w.closeAfter = true
	}
	if httpguts.HeaderValuesContainsToken(h["Connection"], "close") || w.c.srv.closing.Load() {
		w.closeAfter = true
	}
	if _, ok := h["Content-Type"]; !ok && !w.noBody && !hasTE && h.Get("Content-Encoding") == "" {
		// As net/http, from the body's first bytes.
		sniff := held
		if len(sniff) < 512 && len(next) > 0 {
			sniff = append(append(make([]byte, 0, 512), held...), next[:min(len(next), 512-len(held))]...)
		}
		if len(sniff) > 0 {
			h["Content-Type"] = []string{http.DetectContentType(sniff)}
		}
	}
	if hasCL && hasTE && te != "identity" {
		// A transfer coding other than identity rules a length out.
		w.omitCL, w.cl, hasCL = true, -1, false
	}
	switch {
	case w.isHead || w.noBody, hasCL:
	case http11 && te == "identity":
		w.closeAfter = true
	case http11:
		w.chunked, w.omitCL = true, true
	default:
		// HTTP/1.0 and no length: the end of the body is the connection's.
		w.closeAfter = true
	}
	sayClose := false
	if w.closeAfter && !httpguts.HeaderValuesContainsToken(h["Connection"], "close") && !(w.status == http.StatusSwitchingProtocols && h.Get("Upgrade") != "") {
		w.omitConn, sayClose = true, http11
	}
	bw := w.c.bw
	writeStatusLine(bw, http11, w.status)
	writeHeaderLines(bw, h, w)
	if _, ok := h["Date"]; !ok {
		bw.WriteString("Date: ")
		bw.Write(httpDate())
		bw.WriteString("\r\n")
	}
	if w.chunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	switch {
	case sayClose || w.tooBig && !httpguts.HeaderValuesContainsToken(h["Connection"], "close"):
		bw.WriteString("Connection: close\r\n")
	case keepAlive10 && !w.closeAfter:
		bw.WriteString("Connection: keep-alive\r\n")
	}
	_, err := bw.WriteString("\r\n")
	if len(held) > 0 {
		w.c.hold = held[:0]
		if !w.isHead && !w.noBody {
			_, err = w.writeBody(held)
		}
	}
	return err
}

// finish ends the response after the handler returned: header if not yet
// sent, the last chunk and trailers, one flush.
func (w *h1sResponse) finish() error {
	w.handlerDone = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headerSent {
		if err := w.sendHeader(nil); err != nil {
			return err
		}
	}
	bw := w.c.bw
	if w.chunked {
		bw.WriteString("0\r\n")
		w.writeTrailers()
		bw.WriteString("\r\n")
	}
	if w.cl >= 0 && w.written < w.cl && !w.isHead && !w.noBody {
		w.closeAfter = true // the body is short of its length: framing is lost
	}
	return bw.Flush()
}

// declaredTrailers are the field names h's Trailer field declares.
func declaredTrailers(h http.Header) []string {
	var names []string
	for _, decl := range h["Trailer"] {
		for name := range strings.SplitSeq(decl, ",") {
			if k := http.CanonicalHeaderKey(strings.TrimSpace(name)); k != "" {
				names = append(names, k)
			}
		}
	}
	return names
}

func (w *h1sResponse) writeTrailers() {
	bw := w.c.bw
	// Names that are not tokens (an upstream's "X-T : v" parses as the
	// name "X-T ") are dropped, as net/http's Header.Write does: written
	// out they would be another field, or a malformed line, downstream.
	for _, k := range declaredTrailers(w.header) {
		if !httpguts.ValidTrailerHeader(k) || !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range w.header[k] {
			writeHeaderLine(bw, k, v)
		}
	}
	for k, vv := range w.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok && httpguts.ValidHeaderFieldName(name) {
			for _, v := range vv {
				writeHeaderLine(bw, name, v)
			}
		}
	}
}

// Flush implements http.Flusher.
func (w *h1sResponse) Flush() { _ = w.FlushError() }

// FlushError sends what the handler wrote so far (http.ResponseController).
func (w *h1sResponse) FlushError() error {
	if w.c.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.headerSent {
		if err := w.sendHeader(nil); err != nil {
			return err
		}
	}
	return w.c.bw.Flush()
}

// Hijack implements http.Hijacker (upgrades such as WebSocket).
func (w *h1sResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c := w.c
	if c.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.handlerDone {
		return nil, nil, errors.New("gateway: Hijack after the handler returned")
	}
	c.stopWatch()
	w.endContinue()
	if w.wroteHeader && !w.headerSent {
		w.sendHeader(nil)
	}
	if err := c.bw.Flush(); err != nil {
		return nil, nil, err
	}
	c.hijacked = true
	// Like net/http's, Shutdown and Close no longer count or close it.
	c.srv.forget(c)
	c.nc.SetDeadline(time.Time{})
	if c.hasPending {
		// The byte the watch read goes into the reader too (its Read
		// hands it over at once), as net/http's Hijack does: the
		// hijacker may read the connection itself past the buffer.
		if _, err := c.br.Peek(c.br.Buffered() + 1); err != nil {
			return nil, nil, err
		}
	}
	// The reader keeps what it buffered; the writer is the hijacker's own.
	return c.nc, bufio.NewReadWriter(c.br, bufio.NewWriterSize(c.nc, h1sBufSize)), nil
}

// EnableFullDuplex serves http.ResponseController: the request body can
// always be read while the answer is written.
func (w *h1sResponse) EnableFullDuplex() error { return nil }

// SetReadDeadline and SetWriteDeadline serve http.ResponseController.
func (w *h1sResponse) SetReadDeadline(t time.Time) error  { return w.c.nc.SetReadDeadline(t) }
func (w *h1sResponse) SetWriteDeadline(t time.Time) error { return w.c.nc.SetWriteDeadline(t) }

var statusLines [600]string

func init() {
	for code := 100; code < len(statusLines); code++ {
		if t := http.StatusText(code); t != "" {
			statusLines[code] = " " + strconv.Itoa(code) + " " + t + "\r\n"
		}
	}
}

func writeStatusLine(bw *bufio.Writer, http11 bool, code int) {
	if http11 {
		bw.WriteString("HTTP/1.1")
	} else {
		bw.WriteString("HTTP/1.0")
	}
	if code < len(statusLines) && statusLines[code] != "" {
		bw.WriteString(statusLines[code])
		return
	}
	fmt.Fprintf(bw, " %03d status code %d\r\n", code, code)
}

// writeHeaderLines writes h as net/http would: invalid names skipped,
// line breaks in values turned into spaces; for the final header of w,
// without what w.omitted leaves out (an informational one is written
// whole but for the framing fields).
func writeHeaderLines(bw *bufio.Writer, h http.Header, w *h1sResponse) {
	for k, vv := range h {
		if w != nil && w.omitted(k) || !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range vv {
			writeHeaderLine(bw, k, v)
		}
	}
}

// omitted reports whether the final header leaves out the handler's field
// k: the server writes the framing fields itself, trailers come after the
// body, and an answer without a body has no length (nor, for 304, a type).
func (w *h1sResponse) omitted(k string) bool {
	switch k {
	case "Transfer-Encoding":
		return true
	case "Content-Length":
		return w.noBody || w.omitCL
	case "Content-Type":
		return w.status == http.StatusNotModified
	case "Connection":
		return w.omitConn
	}
	if strings.HasPrefix(k, http.TrailerPrefix) {
		return true
	}
	for _, t := range w.lateTrailers {
		if k == t {
			return true
		}
	}
	return false
}

// writeHeaderLine writes one field as net/http's Header.Write does: CR
// and LF in the value become spaces, and the spaces and tabs around it go.
// Both the server's answers and the upstream transport's requests use it.
func writeHeaderLine(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	// Two vectorised scans, and net/http's own trimming: strings.ContainsAny
	// and Trim with a set of two build a byte set and then test byte by
	// byte, on every field.
	if strings.IndexByte(v, '\r') >= 0 || strings.IndexByte(v, '\n') >= 0 {
		v = newlineToSpace.Replace(v)
	}
	bw.WriteString(textproto.TrimString(v))
	bw.WriteString("\r\n")
}

var newlineToSpace = strings.NewReplacer("\n", " ", "\r", " ")

// httpDate is the Date header's value, formatted once a second.
func httpDate() []byte {
	now := time.Now()
	sec := now.Unix()
	if d := cachedDate.Load(); d != nil && d.sec == sec {
		return d.b
	}
	d := &dateValue{sec: sec, b: now.UTC().AppendFormat(make([]byte, 0, 29), http.TimeFormat)}
	cachedDate.Store(d)
	return d.b
}

type dateValue struct {
	sec int64
	b   []byte
}

var cachedDate atomic.Pointer[dateValue]
