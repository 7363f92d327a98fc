package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/portico-dev/portico/gateway/backendsig"
)

// h1Transport is a lean HTTP/1.1 client for plain http:// upstreams. The
// calling goroutine writes the request (one flush, usually one write
// syscall) and reads the response on the same connection: no per-connection
// goroutines and no channel hand-offs, which in net/http's Transport cost
// about a quarter of the gateway's CPU under load. Connections are kept in
// a LIFO stack per host:port and handed back when a response body has been
// read to its end. What it does not handle — https, upgrades (WebSocket),
// CONNECT, bodies of unknown length (a chunked request the gateway did not
// buffer with a known length), request trailers — goes to fallback.
type h1Transport struct {
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	fallback http.RoundTripper
	// maxIdle bounds the idle connections kept per host:port.
	maxIdle int
	// idleTimeout: an idle connection older than this is closed instead
	// of reused (checked lazily, when the pool is touched).
	idleTimeout time.Duration
	// probeAfter: a connection idle this long is checked (a non-blocking
	// peek) before it is reused: it must hold nothing to read. Zero by
	// default: every reuse is checked, for about 0.4 µs. A connection
	// nobody reads while it is idle cannot otherwise tell the server's
	// close, or bytes the server sent after its answer — a body after
	// HEAD, 204 or 304, more body than its Content-Length said, a second
	// answer — from the next call's answer, and the next caller, perhaps
	// another partner, would get them.
	probeAfter time.Duration

	mu   sync.Mutex
	idle map[string][]*h1Conn
}

// h1Conn is one upstream connection. It is the bufio.Writer's target so it
// can count what reached the socket, and the bufio.Reader's so it can bound
// the response head.
type h1Conn struct {
	nc      net.Conn
	br      *bufio.Reader
	addr    string
	idleAt  time.Time
	written int64
	// writeFailed: the socket refused part of the request.
	writeFailed bool
	reused      bool
	// headLeft is what the response head may still read; unbounded while
	// a body is read.
	headLeft int64
	// reads counts Read calls: none during a ReadResponse means the head
	// was parsed from what the buffer already held, still in place.
	reads int
	// keys caches the canonical header names the server sent
	// (parseSimpleResponse).
	keys headerKeys
	// probe peeks at the idle socket (alive): made once at dial, so a
	// reuse allocates neither the raw connection nor the callback.
	probe probe
}

// probe is a connection's non-blocking peek: rc is nil for a connection
// that is no socket (it cannot be probed, and passes), bad says
// SyscallConn failed.
type probe struct {
	rc   syscall.RawConn
	bad  bool
	fn   func(fd uintptr)
	ok   bool
	byte [1]byte
}

// init prepares the probe of nc.
func (p *probe) init(nc net.Conn) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		p.bad = true
		return
	}
	p.rc, p.fn = rc, p.peek
}

// peek asks whether the connection has anything to read (or is closed):
// it passes when there is nothing yet. A raw system call, as rawIOConn's
// reads and writes are: entering one the scheduler knows of would wake
// sysmon whenever it sleeps.
func (p *probe) peek(fd uintptr) {
	_, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p.byte[0])), uintptr(len(p.byte)),
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	p.ok = e == syscall.EAGAIN
}

// unblock ends pending I/O (a past deadline) when the request's context
// is done.
func (c *h1Conn) unblock() { c.nc.SetDeadline(aLongTimeAgo) }

func (c *h1Conn) Write(p []byte) (int, error) {
	n, err := c.nc.Write(p)
	c.written += int64(n)
	if err != nil {
		c.writeFailed = true
	}
	return n, err
}

// Read bounds the response head as net/http does (ReadResponse itself
// reads a status line or header of any length into memory): an upstream
// must not make the gateway buffer without end.
func (c *h1Conn) Read(p []byte) (int, error) {
	c.reads++
	if c.headLeft <= 0 {
		return 0, errHeadTooLarge
	}
	if int64(len(p)) > c.headLeft {
		p = p[:c.headLeft]
	}
	n, err := c.nc.Read(p)
	c.headLeft -= int64(n)
	return n, err
}

func (c *h1Conn) close() {
	c.nc.Close()
	if c.br != nil {
		c.br.Reset(nil)
		readerPool.Put(c.br)
		c.br = nil
	}
}

var (
	readerPool sync.Pool // *bufio.Reader, 4 KiB
	writerPool sync.Pool // *bufio.Writer, 4 KiB
	// aLongTimeAgo is a deadline in the past: it unblocks pending I/O.
	aLongTimeAgo = time.Unix(1, 0)
	// errBodyClosed is returned by a Read after Close.
	errBodyClosed = errors.New("gateway: read on closed response body")
	// errRequestBodyLength: the body ended before its Content-Length.
	errRequestBodyLength = errors.New("gateway: request body shorter than its Content-Length")
	// errHeadTooLarge: the response head passed maxResponseHeadBytes.
	errHeadTooLarge = errors.New("gateway: upstream response headers exceeded " + strconv.Itoa(maxResponseHeadBytes) + " bytes")
	// errStatusBelow100: ReadResponse takes any three digits; below 100 no
	// handler can relay the status, and it is no 1xx to skip either.
	errStatusBelow100 = errors.New("gateway: malformed status code from upstream: below 100")
)

// maxResponseHeadBytes bounds a response's status line and headers, 1xx
// answers included: net/http's default, which the fallback applies too.
const maxResponseHeadBytes = 10 << 20

func newH1Transport(dial func(ctx context.Context, network, addr string) (net.Conn, error), fallback http.RoundTripper) *h1Transport {
	return &h1Transport{dial: dial, fallback: fallback, maxIdle: 512, idleTimeout: 90 * time.Second,
		idle: map[string][]*h1Conn{}}
}

// RoundTrip implements http.RoundTripper.
func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" || req.URL.Host == "" || !h1Carries(req) {
		setHeldSignature(req)
		return t.fallback.RoundTrip(req)
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	ctx := req.Context()
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	body := req.Body
	for retried := false; ; retried = true {
		c, err := t.get(ctx, addr, retried)
		if err != nil {
			closeBody(body)
			return nil, err
		}
		res, err := t.roundTrip(ctx, c, req, body)
		if err == nil {
			if res.StatusCode != http.StatusRequestTimeout || !c.reused || !idempotent(req) || ctx.Err() != nil {
				return res, nil
			}
			// A 408 on a reused connection is most likely the server
			// timing the idle connection out as the request went, not
			// an answer to it (roundTrip closed the connection): an
			// idempotent call goes again once, on a fresh connection,
			// as RFC 9110 §15.5.9 allows. net/http drops such a 408
			// only when it comes before the request is sent (the check
			// in pop does that here).
			if hasBody {
				if req.GetBody == nil {
					return res, nil
				}
				b, gerr := req.GetBody()
				if gerr != nil {
					return res, nil
				}
				body = b
			}
			res.Body.Close()
			continue
		}
		// A pooled connection the server closed while it was idle fails
		// before any answer: send again once on a fresh connection when
		// nothing reached the server, or the request may be sent twice.
		var se *staleError
		if !retried && errors.As(err, &se) && ctx.Err() == nil && (se.nothingWritten || idempotent(req)) {
			if !hasBody {
				continue
			}
			if req.GetBody != nil {
				if b, gerr := req.GetBody(); gerr == nil {
					body = b
					continue
				}
			}
		}
		if errors.As(err, &se) {
			err = se.err
		}
		return nil, err
	}
}

// h1Carries reports whether h1Transport can send req over plain http:
// not an upgrade, CONNECT, trailers or a body of unknown length.
func h1Carries(req *http.Request) bool {
	hasBody := req.Body != nil && req.Body != http.NoBody
	return len(req.Header["Upgrade"]) == 0 && len(req.Trailer) == 0 && req.Method != http.MethodConnect &&
		(!hasBody || req.ContentLength > 0)
}

// deadline is when the exchange must be over: the context's deadline, or
// the forwarded call's own (forward leaves calls h1Transport carries
// without a timer context; see fwdCall.deadline).
func deadline(ctx context.Context) time.Time {
	if dl, ok := ctx.Deadline(); ok {
		return dl
	}
	if c, _ := ctx.Value(fwdKey{}).(*fwdCall); c != nil {
		return c.deadline
	}
	return time.Time{}
}

func closeBody(b io.ReadCloser) {
	if b != nil {
		b.Close()
	}
}

// staleError marks a failure on a reused connection before any response
// byte arrived.
type staleError struct {
	err            error
	nothingWritten bool
}

func (e *staleError) Error() string { return e.err.Error() }
func (e *staleError) Unwrap() error { return e.err }

// get returns an idle connection to addr or dials one; fresh skips the pool.
func (t *h1Transport) get(ctx context.Context, addr string, fresh bool) (*h1Conn, error) {
	if !fresh {
		if c := t.pop(addr); c != nil {
			return c, nil
		}
	}
	dctx := ctx
	if dl := deadline(ctx); !dl.IsZero() {
		// The call's deadline bounds the dial too (a no-op when the
		// context already carries it).
		var cancel context.CancelFunc
		dctx, cancel = context.WithDeadline(ctx, dl)
		defer cancel()
	}
	nc, err := t.dial(dctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil && !isForbidden(err) {
			return nil, ctx.Err()
		}
		return nil, err
	}
	nc = rawIO(nc)
	c := &h1Conn{nc: nc, addr: addr}
	c.probe.init(nc)
	br, _ := readerPool.Get().(*bufio.Reader)
	if br == nil {
		br = bufio.NewReaderSize(c, 4096)
	} else {
		br.Reset(c)
	}
	c.br = br
	return c, nil
}

func isForbidden(err error) bool {
	var fe *forbiddenAddrError
	return errors.As(err, &fe)
}

// pop takes the most recently used idle connection, closing expired ones
// and those the server has visibly closed.
func (t *h1Transport) pop(addr string) *h1Conn {
	for {
		t.mu.Lock()
		st := t.idle[addr]
		if len(st) == 0 {
			t.mu.Unlock()
			return nil
		}
		c := st[len(st)-1]
		st[len(st)-1] = nil
		t.idle[addr] = st[:len(st)-1]
		t.mu.Unlock()
		idle := time.Since(c.idleAt)
		if idle > t.idleTimeout || (idle >= t.probeAfter && !c.probe.alive()) {
			c.close()
			continue
		}
		c.reused = true
		return c
	}
}

// closeIdle closes every pooled connection idle past the timeout, for all
// hosts: put and get only look at the host they serve, so a host no longer
// called would keep its connections (and descriptors) forever.
func (t *h1Transport) closeIdle(now time.Time) {
	var drop []*h1Conn
	t.mu.Lock()
	for addr, st := range t.idle {
		n := 0
		for n < len(st) && now.Sub(st[n].idleAt) > t.idleTimeout {
			n++
		}
		if n == 0 {
			continue
		}
		drop = append(drop, st[:n]...)
		if n == len(st) {
			delete(t.idle, addr)
			continue
		}
		t.idle[addr] = append(st[:0], st[n:]...)
	}
	t.mu.Unlock()
	for _, c := range drop {
		c.close()
	}
}

// put returns a connection to its host's stack, dropping the expired ones
// at the bottom (LIFO leaves the oldest there).
func (t *h1Transport) put(c *h1Conn) {
	now := time.Now()
	c.idleAt = now
	var drop []*h1Conn
	t.mu.Lock()
	st := t.idle[c.addr]
	n := 0
	for n < len(st) && now.Sub(st[n].idleAt) > t.idleTimeout {
		n++
	}
	if n > 0 {
		drop = append(drop, st[:n]...)
		st = append(st[:0], st[n:]...)
	}
	if len(st) >= t.maxIdle {
		drop = append(drop, c)
	} else {
		st = append(st, c)
	}
	t.idle[c.addr] = st
	t.mu.Unlock()
	for _, d := range drop {
		d.close()
	}
}

// CloseIdleConnections closes every idle connection, and the fallback's.
func (t *h1Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[string][]*h1Conn{}
	t.mu.Unlock()
	for _, st := range idle {
		for _, c := range st {
			c.close()
		}
	}
	if ci, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// alive reports whether an idle connection is still open: a non-blocking
// peek must find nothing to read (EAGAIN). EOF, an error or unexpected
// bytes mean it cannot be reused.
func (p *probe) alive() bool {
	if p.bad {
		return false
	}
	if p.rc == nil {
		return true
	}
	p.ok = false
	// Control, not Read: Read fails once the deadline the connection's
	// last call left on it has passed, which would throw away every
	// connection idle longer than what remained of that call's timeout.
	// The peek does not block, so it needs no poller.
	err := p.rc.Control(p.fn)
	return err == nil && p.ok
}

// roundTrip sends req on c and reads the answer. On failure c is closed and
// the request body too; a failure on a reused connection before any
// response byte comes back as a *staleError.
func (t *h1Transport) roundTrip(ctx context.Context, c *h1Conn, req *http.Request, body io.ReadCloser) (*http.Response, error) {
	c.nc.SetDeadline(deadline(ctx))
	cw := watchCancel(ctx, c)
	fail := func(err error, stale bool) (*http.Response, error) {
		cw.end()
		c.close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if stale && c.reused && !isTimeout(err) && connectionFailure(err) {
			return nil, &staleError{err: err, nothingWritten: c.written == 0}
		}
		return nil, err
	}
	c.written, c.writeFailed = 0, false
	c.headLeft = maxResponseHeadBytes
	werr := writeRequest(c, req, body, heldSignature(req))
	if werr != nil && (!c.writeFailed || c.written == 0) {
		return fail(werr, !errors.Is(werr, errRequestBodyLength))
	}
	// After a failed write the server's answer may still be in the
	// socket: a server may answer a body it will not take (413, 401) and
	// close before reading it, and that answer is the one to relay. A
	// socket whose write failed is reset, closed or past its deadline, so
	// this read returns at once.
	var res *http.Response
	// head is what the buffer held when the final answer's head was
	// parsed, and reads the count of Read calls then (for the check of a
	// chunked answer's head below).
	var head []byte
	var reads int
	for n := 0; ; n++ {
		if _, err := c.br.Peek(1); err != nil {
			if werr != nil {
				err = werr
			}
			return fail(err, n == 0)
		}
		head, _ = c.br.Peek(c.br.Buffered())
		// A chunked answer's head is checked for a Content-Length below,
		// in the bytes it was parsed from: wait here for the whole head
		// (it nearly always came in one read, and ReadResponse would wait
		// for the rest anyway), as far as the buffer holds.
		end := headerEnd(head, 0)
		for end == 0 && len(head) < c.br.Size() {
			if _, err := c.br.Peek(len(head) + 1); err != nil {
				break // ReadResponse meets it too
			}
			scanned := max(0, len(head)-3) // a line end may straddle the new bytes
			head, _ = c.br.Peek(c.br.Buffered())
			end = headerEnd(head, scanned)
		}
		reads = c.reads
		var err error
		res = nil
		if end > 0 {
			if r, ok := c.parseSimpleResponse(head[:end], req); ok {
				c.br.Discard(end)
				res = r
			}
		}
		if res == nil {
			if res, err = http.ReadResponse(c.br, req); err != nil {
				if c.headLeft <= 0 {
					err = errHeadTooLarge
				}
				return fail(err, false)
			}
		}
		if res.StatusCode < 100 {
			return fail(errStatusBelow100, false)
		}
		if res.StatusCode >= 200 || res.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		// Informational answers go to httputil.ReverseProxy's trace,
		// which relays them to the client, as net/http's Transport does.
		if trace := httptrace.ContextClientTrace(ctx); trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(res.StatusCode, textproto.MIMEHeader(res.Header)); err != nil {
				return fail(err, false)
			}
		}
		if n >= 8 {
			return fail(errors.New("gateway: too many 1xx responses from upstream"), false)
		}
	}
	c.headLeft = math.MaxInt64
	if res.StatusCode == http.StatusSwitchingProtocols {
		return fail(errors.New("gateway: unexpected 101 Switching Protocols from upstream"), false)
	}
	// A connection that answered 408 is not kept: the server timed out
	// waiting for a request, and what it does next is unsure.
	keep := werr == nil && !res.Close && !req.Close && res.ProtoAtLeast(1, 1) && res.StatusCode != http.StatusRequestTimeout
	if keep && res.TransferEncoding != nil && (c.reads != reads || hasContentLength(head[:len(head)-c.br.Buffered()])) {
		// Transfer-Encoding and Content-Length together (ReadResponse
		// drops the latter): the answer may be a smuggling attempt (RFC
		// 9112 §6.3), and a hop that framed it by its Content-Length
		// disagrees with us on where it ends, so what follows is never
		// read as another call's answer. A head larger than the buffer,
		// which ReadResponse had to read more for, is no longer there to
		// check: not kept either.
		keep = false
	}
	if res.Body == http.NoBody {
		if !cw.end() {
			keep = false
		}
		t.release(c, keep)
		return res, nil
	}
	res.Body = &h1Body{t: t, c: c, rc: res.Body, ctx: ctx, cw: cw, keep: keep}
	return res, nil
}

// hasContentLength reports whether a response head holds a Content-Length
// field line, in any case, also with spaces before the colon: Go's parser
// takes "Content-Length :" for another field, but other hops take it for
// this one.
func hasContentLength(head []byte) bool {
	for len(head) > 0 {
		var line []byte
		line, head, _ = bytes.Cut(head, []byte("\n"))
		if name, _, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(bytes.TrimRight(name, " \t"), []byte("Content-Length")) {
			return true
		}
	}
	return false
}

// release pools c when it may carry another request, else closes it.
func (t *h1Transport) release(c *h1Conn, keep bool) {
	if keep && c.br.Buffered() == 0 {
		t.put(c)
		return
	}
	c.close()
}

// writeRequest writes the request line, headers and body in one flush.
func writeRequest(c *h1Conn, req *http.Request, body io.ReadCloser, sig *backendsig.Values) error {
	bw, _ := writerPool.Get().(*bufio.Writer)
	if bw == nil {
		bw = bufio.NewWriterSize(c, 4096)
	} else {
		bw.Reset(c)
	}
	defer func() {
		bw.Reset(nil)
		writerPool.Put(bw)
	}()
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !validHeaderValue(host) {
		closeBody(body)
		return errors.New("gateway: invalid Host header")
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	bw.WriteString(method)
	bw.WriteByte(' ')
	u := req.URL
	if u.Opaque != "" || u.ForceQuery {
		bw.WriteString(u.RequestURI())
	} else {
		p := u.EscapedPath()
		if p == "" {
			p = "/"
		}
		bw.WriteString(p)
		if u.RawQuery != "" {
			bw.WriteByte('?')
			bw.WriteString(u.RawQuery)
		}
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	if ua := req.Header["User-Agent"]; len(ua) > 0 && ua[0] != "" {
		writeHeaderLine(bw, "User-Agent", ua[0])
	}
	for k, vv := range req.Header {
		switch k {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer", "Connection", "Expect":
			// Written here or meaningless: the body is already in hand.
			continue
		}
		if !validHeaderName(k) {
			closeBody(body)
			return errors.New("gateway: invalid header name " + strconv.Quote(k))
		}
		for _, v := range vv {
			writeHeaderLine(bw, k, v)
		}
	}
	if sig != nil {
		for i, v := range sig {
			writeHeaderLine(bw, backendsig.Names[i], v)
		}
	}
	if req.Close {
		bw.WriteString("Connection: close\r\n")
	} else if cv := req.Header["Connection"]; len(cv) > 0 {
		for _, v := range cv {
			writeHeaderLine(bw, "Connection", v)
		}
	}
	hasBody := body != nil && body != http.NoBody
	if hasBody {
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), req.ContentLength, 10))
		bw.WriteString("\r\n")
	} else if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		bw.WriteString("Content-Length: 0\r\n")
	}
	bw.WriteString("\r\n")
	if hasBody {
		n, err := io.CopyN(bw, body, req.ContentLength)
		body.Close()
		if err != nil {
			if n < req.ContentLength && (err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)) {
				return errRequestBodyLength
			}
			return err
		}
	}
	return bw.Flush()
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}

// h1Body is a response body: at EOF it gives the connection back to the
// pool (when the answer allows keep-alive); closed earlier, or after an
// error, it closes the connection without draining it.
type h1Body struct {
	t    *h1Transport
	c    *h1Conn
	rc   io.ReadCloser
	ctx  context.Context
	cw   cancelWatch
	keep bool
	// state: 0 reading, 1 closed or failed, 2 read to EOF (conn released).
	state atomic.Int32
}

func (b *h1Body) Read(p []byte) (int, error) {
	switch b.state.Load() {
	case 1:
		return 0, errBodyClosed
	case 2:
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	if err == nil {
		return n, nil
	}
	if err == io.EOF {
		if b.state.CompareAndSwap(0, 2) {
			keep := b.keep
			if !b.cw.end() {
				keep = false
			}
			b.t.release(b.c, keep)
		}
		return n, io.EOF
	}
	if b.state.CompareAndSwap(0, 1) {
		b.cw.end()
		b.c.close()
	}
	if b.ctx.Err() != nil {
		err = b.ctx.Err()
	}
	return n, err
}

// Close before EOF closes the connection: draining an answer nobody reads
// could take long. A Read may be running concurrently, so the reader is
// left to the garbage collector rather than pooled.
func (b *h1Body) Close() error {
	if b.state.CompareAndSwap(0, 1) {
		b.cw.end()
		b.c.nc.Close()
	}
	return nil
}
