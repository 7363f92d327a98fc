package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
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
	ln := LimitConns(inner, 2, nil)
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
	exempt := LimitConns(inner2, 1, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
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
