package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// serverKinds are the servers a plain gateway listener may run
// (--gateway-http-server).
var serverKinds = []string{LeanServer, StdServer}

// startServer serves h with limits l on a loopback port, with the server
// kind names.
func startServer(t *testing.T, kind string, h http.Handler, l ServerLimits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewPlainServer(kind, h, l)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// serveGateway serves h for a test as portico serves the plain gateway
// listener (H1Server); the httptest.Server only lends its listener, URL
// and client.
func serveGateway(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	s := NewH1Server(h, ServerLimits{})
	go s.Serve(srv.Listener)
	srv.URL = "http://" + srv.Listener.Addr().String()
	t.Cleanup(func() { s.Close(); srv.Close() })
	return srv
}

// Clients that send their headers a byte at a time are cut off at the
// header timeout, and while fifty of them dawdle a normal client is served.
func TestSlowHeaderClientsDoNotHoldTheGateway(t *testing.T) {
	for _, kind := range serverKinds {
		t.Run(kind, func(t *testing.T) { testSlowHeaderClients(t, kind) })
	}
}

func testSlowHeaderClients(t *testing.T, kind string) {
	now := time.Now()
	snap, err := Compile(demoConfig(Limits{}, SubActive, now))
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(NewStore(snap), Options{Region: "local"})
	if err != nil {
		t.Fatal(err)
	}
	addr := startServer(t, kind, h, ServerLimits{ReadHeaderTimeout: 300 * time.Millisecond})
	var slow []net.Conn
	for range 50 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /acme/echo/v1/things/1 HTTP/1.1\r\nHost: gw\r\nX-Slow: ")
		slow = append(slow, c)
	}
	start := time.Now()
	res, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || time.Since(start) > 2*time.Second {
		t.Fatalf("a normal client waited %v for %d behind slow ones", time.Since(start), res.StatusCode)
	}
	// Every slow connection is closed by the server, not left hanging.
	for i, c := range slow {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("slow connection %d still open after the header timeout", i)
		}
		if len(b) > 0 && !strings.HasPrefix(string(b), "HTTP/1.1 408") {
			t.Fatalf("slow connection %d got %q", i, b)
		}
	}
}

// Oversized headers are refused with 431 before the handler runs.
func TestHeaderSizeLimit(t *testing.T) {
	for _, kind := range serverKinds {
		t.Run(kind, func(t *testing.T) { testHeaderSizeLimit(t, kind) })
	}
}

func testHeaderSizeLimit(t *testing.T, kind string) {
	addr := startServer(t, kind, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("handler reached") }),
		ServerLimits{MaxHeaderBytes: 4 << 10})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: gw\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 16<<10))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", res.StatusCode)
	}
}

func TestIPList(t *testing.T) {
	l, err := ParseIPList([]string{"203.0.113.0/24", "2001:db8::/32"}, []string{"203.0.113.7"})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"203.0.113.1": true, "203.0.113.7": false, "198.51.100.1": false, "2001:db8::5": true, "::ffff:203.0.113.9": true,
	} {
		if got := l.Admits(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Admits(%s) = %v, want %v", addr, got, want)
		}
	}
	if _, err := ParseIPList([]string{"10.0.0.0/33"}, nil); err == nil || !strings.Contains(err.Error(), "10.0.0.0/33") {
		t.Fatalf("bad CIDR: %v", err)
	}
	if !(IPList{}).Admits(netip.MustParseAddr("192.0.2.1")) {
		t.Fatal("the empty list refuses")
	}
}

func TestClientAddrBehindTrustedProxies(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	r, _ := http.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.2.3:5555"
	r.Header.Set("X-Forwarded-For", "198.51.100.9, 203.0.113.5, 10.9.9.9")
	if got := clientAddr(r, trusted); got.String() != "203.0.113.5" {
		t.Fatalf("behind a trusted proxy: %v", got)
	}
	r.RemoteAddr = "192.0.2.1:5555" // not a proxy: its X-Forwarded-For is the client's own claim
	if got := clientAddr(r, trusted); got.String() != "192.0.2.1" {
		t.Fatalf("untrusted peer: %v", got)
	}
}

// One address may hold only so many connections; closing one frees a slot;
// exempt addresses (load balancers) are not counted.
func TestLimitConns(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := LimitConns(inner, 2, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	dial()
	dial()
	first := <-accepted
	<-accepted
	refused := dial() // the third is closed by the gateway at once
	refused.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := refused.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("third connection from one address: read err %v, want it closed", err)
	}
	select {
	case <-accepted:
		t.Fatal("the third connection reached the server")
	default:
	}
	first.Close()
	dial()
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("a freed slot was not reused")
	}

	inner2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	exempt, err := LimitConns(inner2, 1, 0, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	if err != nil {
		t.Fatal(err)
	}
	defer exempt.Close()
	go func() {
		for range 3 {
			if c, err := exempt.Accept(); err == nil {
				accepted <- c
			}
		}
	}()
	for range 3 {
		c, err := net.Dial("tcp", inner2.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	for i := range 3 {
		select {
		case <-accepted:
		case <-time.After(5 * time.Second):
			t.Fatalf("exempt connection %d not accepted", i)
		}
	}
}

// smallBuffers shrinks every accepted connection's send buffer, so that a
// client that stops reading blocks the server's writes after kilobytes,
// not after the megabytes loopback buffers may hold.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(64 << 10)
	}
	return c, err
}

// startSendTimeoutServer serves h as portico serves a gateway listener,
// with SendTimeoutListener(d) under the server.
func startSendTimeoutServer(t *testing.T, kind string, h http.Handler, d time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewPlainServer(kind, h, ServerLimits{})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(SendTimeoutListener(smallBuffers{ln}, d))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// dialSmall connects with a small receive buffer and sends one GET.
func dialSmall(t *testing.T, addr, path string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tc := c.(*net.TCPConn)
	tc.SetReadBuffer(64 << 10)
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: gw.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	return tc
}

// TestSendTimeout: a client that stops reading a large answer frees its
// handler (and the upstream call it would hold) after the send timeout; a
// slow client that keeps reading gets the whole answer however long it
// takes; an idle keep-alive connection keeps no stale deadline; and a
// sooner deadline a handler sets still applies.
func TestSendTimeout(t *testing.T) {
	for _, kind := range serverKinds {
		t.Run(kind, func(t *testing.T) { testSendTimeout(t, kind) })
	}
}

func testSendTimeout(t *testing.T, kind string) {
	const size = 8 << 20
	chunk := bytes.Repeat([]byte("x"), 32<<10)
	// One write of bigChunk to the slow reader below takes longer than
	// the send timeout, while the client keeps taking some of it.
	bigChunk := bytes.Repeat([]byte("y"), 2<<20)
	ended := make(chan error, 4)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			io.WriteString(w, "ok")
			return
		}
		if r.URL.Path == "/own-deadline" {
			http.NewResponseController(w).SetWriteDeadline(time.Now().Add(150 * time.Millisecond))
		}
		w.Header().Set("Content-Length", strconv.Itoa(size))
		chunk := chunk
		if r.URL.Path == "/big-writes" {
			chunk = bigChunk
		}
		var err error
		for n := 0; n < size && err == nil; n += len(chunk) {
			_, err = w.Write(chunk)
		}
		ended <- err
	})
	wait := func(within time.Duration) error {
		t.Helper()
		select {
		case err := <-ended:
			return err
		case <-time.After(within):
			t.Fatalf("the handler still writes after %v", within)
			return nil
		}
	}

	t.Run("stalled client", func(t *testing.T) {
		addr := startSendTimeoutServer(t, kind, h, 300*time.Millisecond)
		start := time.Now()
		dialSmall(t, addr, "/big") // and never read
		if err := wait(10 * time.Second); err == nil {
			t.Fatal("the handler wrote the whole answer to a client that read nothing")
		}
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("gave up after %v, before the send timeout", d)
		}
	})

	t.Run("slow client that keeps reading", func(t *testing.T) {
		addr := startSendTimeoutServer(t, kind, h, 500*time.Millisecond)
		c := dialSmall(t, addr, "/big-writes")
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		res, err := http.ReadResponse(bufio.NewReaderSize(c, 4096), nil)
		if err != nil {
			t.Fatal(err)
		}
		// Read in small bites with pauses well inside the timeout for
		// four times the timeout, then at full speed.
		var got int64
		buf := make([]byte, 64<<10)
		start := time.Now()
		deadline := start.Add(2 * time.Second)
		for {
			n, err := res.Body.Read(buf)
			got += int64(n)
			if err != nil {
				if err != io.EOF {
					t.Fatalf("after %d bytes: %v", got, err)
				}
				break
			}
			if time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
		}
		if got != size {
			t.Fatalf("got %d of %d bytes", got, size)
		}
		if d := time.Since(start); d < 2*time.Second {
			t.Fatalf("the download took %v: the client did not read slowly", d)
		}
		if err := wait(10 * time.Second); err != nil {
			t.Fatalf("handler: %v", err)
		}
	})

	t.Run("idle keep-alive connection", func(t *testing.T) {
		addr := startSendTimeoutServer(t, kind, h, 100*time.Millisecond)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for i := 0; i < 2; i++ {
			io.WriteString(c, "GET /small HTTP/1.1\r\nHost: gw.test\r\n\r\n")
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("request %d: %v", i+1, err)
			}
			b, _ := io.ReadAll(res.Body)
			if string(b) != "ok" {
				t.Fatalf("request %d: %q", i+1, b)
			}
			time.Sleep(300 * time.Millisecond) // idle past the send timeout
		}
	})

	t.Run("a handler's sooner deadline", func(t *testing.T) {
		addr := startSendTimeoutServer(t, kind, h, time.Minute)
		dialSmall(t, addr, "/own-deadline")
		if err := wait(10 * time.Second); err == nil {
			t.Fatal("the handler wrote the whole answer to a client that read nothing")
		}
	})
}

func TestSendTimeoutListenerOff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if got := SendTimeoutListener(ln, 0); got != ln {
		t.Errorf("SendTimeoutListener(ln, 0) wraps the listener")
	}
}

// The connection cap counts an IPv6 client by its /64 (or the configured
// prefix), as the per-IP request limits do: rotating addresses within it
// gains no connections.
func TestLimitConnsIPv6Prefix(t *testing.T) {
	// The remote addresses are the fake listener's below: any loopback
	// listener serves.
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	for _, c := range []struct {
		prefix int
		want   string
	}{{0, "2001:db8::"}, {128, "2001:db8::1"}, {48, "2001:db8::"}} {
		l, err := LimitConns(inner, 1, c.prefix, nil)
		if err != nil {
			t.Fatal(err)
		}
		cl := l.(*connLimiter)
		got := clientNet(netip.MustParseAddr("2001:db8::1%eth0"), cl.v6bits).String()
		if got != c.want {
			t.Errorf("prefix %d: 2001:db8::1%%eth0 counts as %s, want %s", c.prefix, got, c.want)
		}
	}
	if clientNet(netip.MustParseAddr("::ffff:192.0.2.1"), 64) != netip.MustParseAddr("192.0.2.1") {
		t.Error("an IPv4-mapped address does not count as its IPv4 address")
	}
	for _, bad := range []int{-1, 129} {
		if _, err := LimitConns(inner, 1, bad, nil); err == nil {
			t.Errorf("prefix %d accepted", bad)
		}
	}
	// Two connections from one /64 share the one slot the cap allows:
	// the listener is exercised with a wrapped Accept that reports a
	// chosen remote address.
	l, _ := LimitConns(&fakeAddrListener{Listener: inner, addrs: []string{"[2001:db8::1]:1000", "[2001:db8::2]:1001", "[2001:db8:0:1::1]:1002"}}, 1, 0, nil)
	go func() {
		for range 3 {
			if c, err := net.Dial("tcp", inner.Addr().String()); err == nil {
				defer c.Close()
			}
		}
		time.Sleep(5 * time.Second)
	}()
	first, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := l.Accept() // 2001:db8::2 is refused; the next /64 gets in
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if got := second.RemoteAddr().String(); got != "[2001:db8:0:1::1]:1002" {
		t.Fatalf("second accepted connection from %s, want the other /64's", got)
	}
}

// fakeAddrListener reports the given remote addresses for the connections
// it accepts, in order.
type fakeAddrListener struct {
	net.Listener
	addrs []string
	n     int
}

func (l *fakeAddrListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	a := netip.MustParseAddrPort(l.addrs[l.n%len(l.addrs)])
	l.n++
	return &fakeAddrConn{Conn: c, remote: net.TCPAddrFromAddrPort(a)}, nil
}

type fakeAddrConn struct {
	net.Conn
	remote net.Addr
}

func (c *fakeAddrConn) RemoteAddr() net.Addr { return c.remote }

// deadlineConn counts the write deadlines set on it.
type deadlineConn struct {
	net.Conn
	sets []time.Time
}

func (c *deadlineConn) Write(p []byte) (int, error)        { return len(p), nil }
func (c *deadlineConn) SetWriteDeadline(t time.Time) error { c.sets = append(c.sets, t); return nil }

// The send timeout's deadline is renewed once an eighth of it has passed,
// not before every write, and again at once after a deadline was set
// through the connection.
func TestSendTimeoutRenewsLazily(t *testing.T) {
	const d = 400 * time.Millisecond
	inner := &deadlineConn{}
	c := &sendTimeoutConn{Conn: inner, d: d}
	start := time.Now()
	for range 10 {
		c.Write([]byte("x"))
	}
	if len(inner.sets) != 1 || inner.sets[0].Before(start.Add(d)) {
		t.Fatalf("deadlines set by 10 quick writes: %v", inner.sets)
	}
	time.Sleep(d/8 + 20*time.Millisecond)
	c.Write([]byte("x"))
	if len(inner.sets) != 2 {
		t.Fatalf("no renewal after an eighth of the timeout: %d deadlines", len(inner.sets))
	}
	c.SetWriteDeadline(time.Time{}) // someone else's: cleared
	c.Write([]byte("x"))
	if len(inner.sets) != 4 || inner.sets[3].IsZero() {
		t.Fatalf("no renewal after a deadline set through the conn: %v", inner.sets)
	}
	soon := time.Now().Add(50 * time.Millisecond)
	c.SetWriteDeadline(soon) // sooner than d: it applies to every write
	c.Write([]byte("x"))
	c.Write([]byte("x"))
	if n := len(inner.sets); n != 7 || !inner.sets[5].Equal(soon) || !inner.sets[6].Equal(soon) {
		t.Fatalf("a sooner explicit deadline: %v", inner.sets[4:])
	}
}
