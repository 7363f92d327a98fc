package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-dev/portico/gateway/sigv4"
)

// countingServer is an httptest server that counts the connections it
// accepts.
type countingServer struct {
	*httptest.Server
	conns atomic.Int32
}

func newCountingServer(t *testing.T, h http.HandlerFunc) *countingServer {
	t.Helper()
	s := &countingServer{}
	s.Server = httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// fallbackRecorder is a fallback transport that only records its calls.
type fallbackRecorder struct{ calls atomic.Int32 }

func (f *fallbackRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	f.calls.Add(1)
	return &http.Response{StatusCode: 299, Body: http.NoBody, Request: r}, nil
}

func newTestH1(t *testing.T) (*h1Transport, *fallbackRecorder) {
	t.Helper()
	fb := &fallbackRecorder{}
	d := &net.Dialer{}
	tr := newH1Transport(d.DialContext, fb)
	t.Cleanup(tr.CloseIdleConnections)
	return tr, fb
}

// do sends a request and reads the whole body.
func do(t *testing.T, tr http.RoundTripper, method, url, body string) (*http.Response, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	if n, err := res.Body.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("%s %s: Read after EOF: %d, %v", method, url, n, err)
	}
	res.Body.Close()
	return res, string(b)
}

func TestH1KeepAliveAndFraming(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<18) // 4 MiB
	s := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			for i := 0; i < 3; i++ {
				fmt.Fprintf(w, "part%d;", i)
				w.(http.Flusher).Flush()
			}
		case "/head":
			w.Header().Set("Content-Length", "1000")
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.WriteHeader(http.StatusNotModified)
		case "/big":
			io.WriteString(w, big)
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s cl=%d te=%v hcl=%s len=%d q=%s", r.Method, r.ContentLength, r.TransferEncoding,
				r.Header.Get("Content-Length"), len(b), r.URL.RawQuery)
		default:
			io.WriteString(w, "hello")
		}
	})
	tr, fb := newTestH1(t)
	cases := []struct {
		name, method, path, body, want string
		status                         int
	}{
		{"get", "GET", "/", "", "hello", 200},
		{"chunked", "GET", "/chunked", "", "part0;part1;part2;", 200},
		{"head", "HEAD", "/head", "", "", 200},
		{"no content", "GET", "/204", "", "", 204},
		{"not modified", "GET", "/304", "", "", 304},
		{"big", "GET", "/big", "", big, 200},
		{"post body", "POST", "/echo?a=b%20c", "payload", "POST cl=7 te=[] hcl=7 len=7 q=a=b%20c", 200},
		{"post empty", "POST", "/echo", "", "POST cl=0 te=[] hcl=0 len=0 q=", 200},
		{"put big body", "PUT", "/echo", big, "PUT cl=4194304 te=[] hcl=4194304 len=4194304 q=", 200},
		{"get again", "GET", "/", "", "hello", 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, body := do(t, tr, c.method, s.URL+c.path, c.body)
			if res.StatusCode != c.status || body != c.want {
				t.Fatalf("got %d %.80q, want %d %.80q", res.StatusCode, body, c.status, c.want)
			}
		})
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("server accepted %d connections, want 1 (keep-alive)", n)
	}
	if n := fb.calls.Load(); n != 0 {
		t.Errorf("fallback used %d times", n)
	}
}

func TestH1DelegatesToFallback(t *testing.T) {
	tr, fb := newTestH1(t)
	up, _ := http.NewRequest("GET", "http://127.0.0.1:1/ws", nil)
	up.Header.Set("Connection", "Upgrade")
	up.Header.Set("Upgrade", "websocket")
	tls, _ := http.NewRequest("GET", "https://127.0.0.1:1/", nil)
	unknown, _ := http.NewRequest("POST", "http://127.0.0.1:1/", io.MultiReader(strings.NewReader("x")))
	unknown.ContentLength = -1
	for _, r := range []*http.Request{up, tls, unknown} {
		res, err := tr.RoundTrip(r)
		if err != nil || res.StatusCode != 299 {
			t.Fatalf("%s: %v %v", r.URL, res, err)
		}
	}
	if n := fb.calls.Load(); n != 3 {
		t.Errorf("fallback calls %d, want 3", n)
	}
}

// scriptedServer is a raw TCP upstream: each accepted connection is handed
// to serve.
type scriptedServer struct {
	ln      net.Listener
	accepts atomic.Int32
}

func newScriptedServer(t *testing.T, serve func(c net.Conn, n int32)) *scriptedServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptedServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := s.accepts.Add(1)
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				serve(c, n)
			}()
		}
	}()
	return s
}

func (s *scriptedServer) URL() string { return "http://" + s.ln.Addr().String() }

func TestH1StaleConnectionRetried(t *testing.T) {
	for _, probe := range []bool{false, true} {
		for _, method := range []string{"GET", "POST"} {
			if method == "POST" && !probe {
				continue // not replayable: only the idle probe saves it
			}
			t.Run(fmt.Sprintf("%s probe=%v", method, probe), func(t *testing.T) {
				closed := make(chan struct{}, 4)
				// Every connection answers one request keep-alive, then
				// the server closes it while it is idle.
				s := newScriptedServer(t, func(c net.Conn, _ int32) {
					req, err := http.ReadRequest(bufio.NewReader(c))
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
					time.Sleep(20 * time.Millisecond)
					c.Close()
					closed <- struct{}{}
				})
				tr, _ := newTestH1(t)
				if probe {
					tr.probeAfter = 0
				} else {
					tr.probeAfter = time.Hour
				}
				for i := 0; i < 3; i++ {
					res, body := do(t, tr, method, s.URL(), "body")
					if res.StatusCode != 200 || body != "ok" {
						t.Fatalf("call %d: %d %q", i, res.StatusCode, body)
					}
					select {
					case <-closed:
					case <-time.After(10 * time.Second):
						t.Fatal("server did not close")
					}
					time.Sleep(10 * time.Millisecond)
				}
				if n := s.accepts.Load(); n != 3 {
					t.Errorf("accepted %d connections, want 3", n)
				}
			})
		}
	}
}

// TestH1UnsolicitedBytesNeverReachNextCall: bytes a server sends on a
// connection after its answer — a body after HEAD or 204, more body than
// its Content-Length said, a whole second answer — arrive while the
// connection sits in the pool. The next call must not read them as its
// answer: it gets its own, on a fresh connection.
func TestH1UnsolicitedBytesNeverReachNextCall(t *testing.T) {
	leak := "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret"
	for _, tc := range []struct {
		name, method, answer, later string
		status                      int
		body                        string
	}{
		{"second answer", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", leak, 200, "ok"},
		{"body after HEAD", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 70\r\n\r\n", leak + strings.Repeat("x", 70-len(leak)), 200, ""},
		{"body after 204", "GET", "HTTP/1.1 204 No Content\r\n\r\n", leak, 204, ""},
		{"body longer than Content-Length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "!!" + leak, 200, "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sent := make(chan struct{}, 2)
			s := newScriptedServer(t, func(c net.Conn, n int32) {
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				if n > 1 {
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
					return
				}
				io.WriteString(c, tc.answer)
				// The rest comes in a write of its own, once the client
				// has read the answer and pooled the connection.
				time.Sleep(30 * time.Millisecond)
				io.WriteString(c, tc.later)
				sent <- struct{}{}
				// Answer a second request on this connection as a
				// server would that gets one after a stray write.
				if req, err := http.ReadRequest(br); err == nil {
					io.Copy(io.Discard, req.Body)
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nreused")
				}
			})
			tr, _ := newTestH1(t)
			res, body := do(t, tr, tc.method, s.URL(), "")
			if res.StatusCode != tc.status || body != tc.body {
				t.Fatalf("first call: %d %q", res.StatusCode, body)
			}
			select {
			case <-sent:
			case <-time.After(10 * time.Second):
				t.Fatal("server did not send")
			}
			time.Sleep(20 * time.Millisecond) // let the bytes land in the idle connection's socket
			res, body = do(t, tr, "GET", s.URL(), "")
			if res.StatusCode != 200 || body != "fresh" {
				t.Fatalf("second call got %d %q, want its own answer %q on a fresh connection", res.StatusCode, body, "fresh")
			}
			if n := s.accepts.Load(); n != 2 {
				t.Errorf("accepted %d connections, want 2", n)
			}
		})
	}
}

func TestH1ConnectionClose(t *testing.T) {
	u := newRawUpstream(t, rawOK) // answers Connection: close
	tr, _ := newTestH1(t)
	for i := 0; i < 3; i++ {
		res, body := do(t, tr, "GET", u.URL(), "")
		if res.StatusCode != 200 || body != "ok" {
			t.Fatalf("%d %q", res.StatusCode, body)
		}
	}
	if n := u.accepts.Load(); n != 3 {
		t.Errorf("accepted %d, want 3", n)
	}
	tr.mu.Lock()
	idle := len(tr.idle[u.ln.Addr().String()])
	tr.mu.Unlock()
	if idle != 0 {
		t.Errorf("%d closed connections pooled", idle)
	}
}

func TestH1EarlyCloseClosesConnection(t *testing.T) {
	s := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			chunk := []byte(strings.Repeat("x", 64<<10))
			for i := 0; i < 256; i++ { // 16 MiB, more than buffers hold
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			return
		}
		io.WriteString(w, "small")
	})
	tr, _ := newTestH1(t)
	req, _ := http.NewRequest("GET", s.URL+"/big", nil)
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(res.Body, buf); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { res.Body.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close drained the body")
	}
	if _, err := res.Body.Read(buf); err == nil {
		t.Error("Read after Close succeeded")
	}
	if _, body := do(t, tr, "GET", s.URL+"/", ""); body != "small" {
		t.Fatalf("body %q", body)
	}
	if n := s.conns.Load(); n != 2 {
		t.Errorf("accepted %d connections, want 2 (early close must not reuse)", n)
	}
}

func TestH1Errors(t *testing.T) {
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	slow := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	reset := newRawUpstream(t, rawTruncate)
	tr, _ := newTestH1(t)

	t.Run("timeout", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", slow.URL, nil)
		_, err := tr.RoundTrip(req)
		if !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
			t.Fatalf("err %v, want a timeout", err)
		}
	})
	t.Run("client cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		req, _ := http.NewRequestWithContext(ctx, "GET", slow.URL, nil)
		_, err := tr.RoundTrip(req)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		req, _ := http.NewRequest("GET", refusedURL(t), nil)
		_, err := tr.RoundTrip(req)
		if err == nil || !connectionFailure(err) || isTimeout(err) {
			t.Fatalf("err %v, want a connection failure", err)
		}
	})
	t.Run("reset mid-body", func(t *testing.T) {
		req, _ := http.NewRequest("GET", reset.URL(), nil)
		res, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err == nil || string(b) != "0123456789" {
			t.Fatalf("read %q, %v: want the 10 bytes then an error", b, err)
		}
	})
	t.Run("short request body", func(t *testing.T) {
		req, _ := http.NewRequest("POST", slow.URL, strings.NewReader("abc"))
		req.ContentLength = 10
		if _, err := tr.RoundTrip(req); err == nil {
			t.Fatal("sent a body shorter than its Content-Length")
		}
	})
	t.Run("invalid header", func(t *testing.T) {
		req, _ := http.NewRequest("GET", slow.URL, nil)
		req.Header["Bad Name"] = []string{"x"}
		if _, err := tr.RoundTrip(req); err == nil {
			t.Fatal("sent an invalid header name")
		}
	})
}

func TestH1Skips1xx(t *testing.T) {
	s := newScriptedServer(t, func(c net.Conn, _ int32) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"+
				"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
		}
	})
	tr, _ := newTestH1(t)
	for i := 0; i < 2; i++ {
		res, body := do(t, tr, "POST", s.URL(), "data")
		if res.StatusCode != 200 || body != "abc" {
			t.Fatalf("%d %q", res.StatusCode, body)
		}
	}
	if n := s.accepts.Load(); n != 1 {
		t.Errorf("accepted %d, want 1", n)
	}
}

func TestH1Concurrent(t *testing.T) {
	s := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Len", strconv.Itoa(len(b)))
		io.WriteString(w, r.URL.Query().Get("n"))
	})
	tr, _ := newTestH1(t)
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				n := strconv.Itoa(g*1000 + i)
				body := strings.Repeat("b", i)
				req, _ := http.NewRequest("POST", s.URL+"/?n="+n, strings.NewReader(body))
				if i%2 == 0 {
					req, _ = http.NewRequest("GET", s.URL+"/?n="+n, nil)
					body = ""
				}
				res, err := tr.RoundTrip(req)
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || string(b) != n || res.Header.Get("X-Len") != strconv.Itoa(len(body)) {
					errs <- fmt.Errorf("n=%s: got %q len %s, %v", n, b, res.Header.Get("X-Len"), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := s.conns.Load(); n > 8 {
		t.Errorf("accepted %d connections for 8 concurrent clients", n)
	}
}

// TestForwardThroughH1 runs the gateway over h1Transport: a POST keeps
// its body and Content-Length, connections are reused, a stale pooled
// connection costs no error and no breaker failure, and a client that
// leaves is logged as 499.
func TestForwardThroughH1(t *testing.T) {
	var seen sync.Map
	release := make(chan struct{})
	defer close(release)
	abandoned := make(chan struct{}, 4)
	up := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
				abandoned <- struct{}{}
			}
			return
		}
		b, _ := io.ReadAll(r.Body)
		seen.Store(r.Method, fmt.Sprintf("cl=%d te=%v body=%s", r.ContentLength, r.TransferEncoding, b))
		io.WriteString(w, "ok")
	})
	g := newFwdGateway(t, fwdConfig(Upstream{Timeout: 10 * time.Second, Targets: []Target{{URL: up.URL, Weight: 1}}}),
		Options{AllowPrivateUpstreams: true})
	if _, ok := g.h.proxy.Transport.(*upstreamTransport).inner.(*h1Transport); !ok {
		t.Fatalf("inner transport is %T", g.h.proxy.Transport.(*upstreamTransport).inner)
	}
	for i := 0; i < 3; i++ {
		if res, body := g.call(t, "POST", "/acme/echo/v1/items", `{"a":1}`, nil); res.StatusCode != 200 || body != "ok" {
			t.Fatalf("POST: %d %s", res.StatusCode, body)
		}
	}
	if v, _ := seen.Load("POST"); v != `cl=7 te=[] body={"a":1}` {
		t.Errorf("upstream saw %v", v)
	}
	if n := up.conns.Load(); n != 1 {
		t.Errorf("upstream accepted %d connections, want 1", n)
	}
	// The upstream drops its idle connections: the next call must not see it.
	up.CloseClientConnections()
	time.Sleep(50 * time.Millisecond)
	if res, body := g.call(t, "GET", "/acme/echo/v1/items/1", "", nil); res.StatusCode != 200 || body != "ok" {
		t.Fatalf("GET after idle close: %d %s", res.StatusCode, body)
	}
	if m := g.metrics(t); strings.Contains(m, "upstream_errors") && strings.Contains(m, `kind="unavailable"`) {
		t.Errorf("stale connection counted as an upstream error:\n%s", m)
	}

	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest("GET", "http://gw.example/acme/echo/v1/slow", nil).WithContext(ctx)
	if err := (&sigv4.Signer{Region: "local"}).Sign(req, "PKTESTTESTTESTTEST01", "secretsecretsecretsecretsecretsecret1234", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(100*time.Millisecond, cancel)
	rec := httptest.NewRecorder()
	g.h.ServeHTTP(rec, req)
	if rec.Code != 499 {
		t.Fatalf("client gone: status %d, want 499", rec.Code)
	}
	<-abandoned

	// The same through the gateway's server (H1Server): a client that hangs
	// up mid-call has the upstream call abandoned too, once the server's
	// watch notices (within 50-100 ms).
	req = httptest.NewRequest("GET", g.srv.URL+"/acme/echo/v1/slow", nil)
	if err := (&sigv4.Signer{Region: "local"}).Sign(req, "PKTESTTESTTESTTEST01", "secretsecretsecretsecretsecretsecret1234", "", time.Now()); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", strings.TrimPrefix(g.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	req.RequestURI = ""
	if err := req.Write(c); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	c.Close()
	select {
	case <-abandoned:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream call went on after the client hung up")
	}
}

func TestH1IdleExpiryAndBound(t *testing.T) {
	s := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tr, _ := newTestH1(t)
	tr.idleTimeout = 20 * time.Millisecond
	do(t, tr, "GET", s.URL, "")
	time.Sleep(50 * time.Millisecond)
	do(t, tr, "GET", s.URL, "") // the expired connection is not reused
	if n := s.conns.Load(); n != 2 {
		t.Errorf("accepted %d connections, want 2", n)
	}

	// Three responses finish at once with room for two idle connections.
	tr2, _ := newTestH1(t)
	tr2.maxIdle = 2
	var bodies []io.ReadCloser
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequest("GET", s.URL, nil)
		res, err := tr2.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, res.Body)
	}
	for _, b := range bodies {
		io.ReadAll(b)
		b.Close()
	}
	tr2.mu.Lock()
	idle := len(tr2.idle[strings.TrimPrefix(s.URL, "http://")])
	tr2.mu.Unlock()
	if idle != 2 {
		t.Errorf("%d idle connections, want 2", idle)
	}
}

// A host no longer called does not keep its idle connections: the sweep
// the health-check loop runs closes them once they expire.
func TestH1CloseIdleSweepsEveryHost(t *testing.T) {
	s := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tr, _ := newTestH1(t)
	tr.idleTimeout = 20 * time.Millisecond
	do(t, tr, "GET", s.URL, "")
	tr.closeIdle(time.Now()) // still fresh: kept
	tr.mu.Lock()
	kept := len(tr.idle)
	tr.mu.Unlock()
	if kept != 1 {
		t.Fatalf("%d hosts pooled right after a call, want 1", kept)
	}
	tr.closeIdle(time.Now().Add(time.Second))
	tr.mu.Lock()
	left := len(tr.idle)
	tr.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d hosts still pooled after their connections expired", left)
	}
	do(t, tr, "GET", s.URL, "") // a fresh connection
	if n := s.conns.Load(); n != 2 {
		t.Errorf("accepted %d connections, want 2", n)
	}
}

// crossingConn runs hook before the connection's second write: the second
// request on a reused connection is held there until the server has
// answered the idle connection, so that answer crosses the request after
// the check before reuse found the connection quiet.
type crossingConn struct {
	*net.TCPConn // keeps syscall.Conn: the check before reuse still runs
	writes       int
	hook         func()
}

func (c *crossingConn) Write(p []byte) (int, error) {
	if c.writes++; c.writes == 2 {
		c.hook()
	}
	return c.TCPConn.Write(p)
}

// TestH1Transport408CrossingTheRequest: servers (nginx, Go, HAProxy) may
// send 408 Request Timeout on an idle keep-alive connection and close it.
// A 408 already there when the connection is taken from the pool is seen
// by the check before reuse; one that arrives after it, while the request
// goes out, reads like the request's answer. It is not: an idempotent call
// goes again on a fresh connection (RFC 9110 §15.5.9 lets a client repeat
// a request a 408 answered, on a new connection). net/http relays it (it
// drops a 408 only when it arrives before a request is in flight); a call
// that may not be repeated gets the 408, and the connection is not kept.
func TestH1Transport408CrossingTheRequest(t *testing.T) {
	const r408 = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
	for _, tc := range []struct {
		name, method, idemKey string
		h1, nethttp           string // the second call's answer
	}{
		{"GET", "GET", "", `200 "fresh"`, `408 ""`},
		{"PUT", "PUT", "", `200 "fresh"`, `408 ""`},
		{"POST", "POST", "", `408 ""`, `408 ""`},
		{"POST with an Idempotency-Key", "POST", "k1", `200 "fresh"`, `408 ""`},
	} {
		for _, kind := range []string{"h1Transport", "net/http"} {
			t.Run(tc.name+" "+kind, func(t *testing.T) {
				send408 := make(chan struct{})
				sent := make(chan struct{})
				s := newScriptedServer(t, func(c net.Conn, n int32) {
					br := bufio.NewReader(c)
					if n > 1 {
						serveAnswer(br, c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
						return
					}
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					io.WriteString(c, ok2)
					<-send408
					io.WriteString(c, r408)
					close(sent)
					// Read what comes (the crossing request) and close,
					// as a server does that timed the connection out.
					c.(*net.TCPConn).CloseWrite()
					io.Copy(io.Discard, c)
				})
				hook := func() {
					close(send408)
					<-sent
					time.Sleep(20 * time.Millisecond) // the 408 is in the socket
				}
				d := &net.Dialer{}
				var dials atomic.Int32
				dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
					nc, err := d.DialContext(ctx, network, addr)
					if err != nil || dials.Add(1) > 1 {
						return nc, err
					}
					return &crossingConn{TCPConn: nc.(*net.TCPConn), hook: hook}, nil
				}
				var tr http.RoundTripper
				want := tc.h1
				if kind == "net/http" {
					std := &http.Transport{DialContext: dial}
					t.Cleanup(std.CloseIdleConnections)
					tr, want = std, tc.nethttp
				} else {
					h1 := newH1Transport(dial, &fallbackRecorder{})
					t.Cleanup(h1.CloseIdleConnections)
					tr = h1
				}
				if r := diffCall(tr, s.URL(), diffReq{method: "GET"}); r.String() != `200 "ok"` {
					t.Fatalf("first call: %v", r)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, tc.method, s.URL(), strings.NewReader("payload"))
				if tc.idemKey != "" {
					req.Header.Set("Idempotency-Key", tc.idemKey)
				}
				res, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatalf("second call: %v", err)
				}
				b, err := io.ReadAll(res.Body)
				res.Body.Close()
				if got := fmt.Sprintf("%d %q", res.StatusCode, b); got != want || err != nil {
					t.Fatalf("second call got %s (%v), want %s", got, err, want)
				}
				// Nothing of the timed-out connection is reused.
				if r := diffCall(tr, s.URL(), diffReq{method: "GET"}); r.String() != `200 "fresh"` {
					t.Fatalf("third call: %v", r)
				}
			})
		}
	}
}

// TestH1TransportUnreadUpload: an upstream that takes a connection but
// neither reads the request nor answers holds the call until its timeout,
// as with net/http: a large upload blocks in the write, a small one (the
// socket buffers take it) in the read. Either way the call fails as a
// timeout (the gateway's 504), and the stuck connection is not reused.
func TestH1TransportUnreadUpload(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for _, size := range []int{7, 16 << 20} {
		for _, kind := range []string{"h1Transport", "net/http"} {
			t.Run(fmt.Sprintf("%d bytes %s", size, kind), func(t *testing.T) {
				hold := make(chan struct{})
				s := newScriptedServer(t, func(c net.Conn, n int32) {
					if n > 1 {
						serveAnswer(bufio.NewReader(c), c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
						return
					}
					<-hold
				})
				t.Cleanup(func() { close(hold) })
				var tr http.RoundTripper
				if kind == "net/http" {
					std := &http.Transport{}
					t.Cleanup(std.CloseIdleConnections)
					tr = std
				} else {
					tr, _ = newTestH1(t)
				}
				body := strings.NewReader(strings.Repeat("u", size))
				start := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, "POST", s.URL(), body)
				res, err := tr.RoundTrip(req)
				elapsed := time.Since(start)
				if err == nil {
					res.Body.Close()
					t.Fatalf("got %d, want a timeout", res.StatusCode)
				}
				if !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
					t.Fatalf("err %v, want a timeout", err)
				}
				t.Logf("%v after %v", err, elapsed.Round(time.Millisecond))
				if elapsed < timeout-10*time.Millisecond || elapsed > timeout+2*time.Second {
					t.Fatalf("failed after %v, want about %v", elapsed, timeout)
				}
				if r := diffCall(tr, s.URL(), diffReq{method: "GET"}); r.String() != `200 "fresh"` {
					t.Fatalf("next call: %v", r)
				}
			})
		}
	}
}
