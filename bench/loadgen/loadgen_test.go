package loadgen

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestReadAnswer(t *testing.T) {
	for _, c := range []struct {
		name, raw string
		status    int
		body      int64
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello", 200, 5},
		{"case and spaces", "HTTP/1.1 201 Created\r\ncontent-length:   3  \r\nRateLimit: \"burst\";r=9;t=1\r\n\r\nabc", 201, 3},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nTrailer-A: x\r\n\r\n", 200, 5},
		{"chunked two", "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n", 200, 13},
		{"interim", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, 2},
		{"no content", "HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n", 204, 0},
		{"to close", "HTTP/1.1 200 OK\r\n\r\nuntil the end", 200, 13},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Each answer is followed by another, as on a keep-alive
			// connection: the first must end exactly where it should.
			br := bufio.NewReader(strings.NewReader(c.raw + followUp(c.name)))
			status, body, err := ReadAnswer(br)
			if err != nil || status != c.status || body != c.body {
				t.Fatalf("got %d, %d bytes, %v; want %d, %d bytes", status, body, err, c.status, c.body)
			}
			if c.name == "to close" {
				return
			}
			if status, body, err := ReadAnswer(br); err != nil || status != 202 || body != 1 {
				t.Fatalf("the next answer: %d, %d bytes, %v", status, body, err)
			}
		})
	}
}

func followUp(name string) string {
	if name == "to close" {
		return ""
	}
	return "HTTP/1.1 202 Accepted\r\nContent-Length: 1\r\n\r\nx"
}

func TestReadAnswerMalformed(t *testing.T) {
	for _, raw := range []string{
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"SPDY/3 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n0\r\n\r\n",
	} {
		if _, _, err := ReadAnswer(bufio.NewReader(strings.NewReader(raw))); err == nil {
			t.Errorf("%q: no error", raw)
		}
	}
	if _, _, err := ReadAnswer(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"))); err != io.EOF {
		t.Errorf("a short body: %v, want EOF", err)
	}
}

// TestReadAnswerAllocs: an answer costs the client no allocation however
// many fields it has, as with wrk.
func TestReadAnswerAllocs(t *testing.T) {
	raw := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nRatelimit-Policy: \"burst\";q=10;w=1\r\nRatelimit: \"burst\";r=9;t=1\r\n" +
		"X-Portico-Request-Id: 0123456789abcdef\r\nContent-Length: 4\r\n\r\nbody"
	r := strings.NewReader(raw)
	br := bufio.NewReader(r)
	if n := testing.AllocsPerRun(100, func() {
		r.Reset(raw)
		br.Reset(r)
		if status, body, err := ReadAnswer(br); status != 200 || body != 4 || err != nil {
			t.Fatal(status, body, err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per answer", n)
	}
}

// TestConnAgainstServer drives a net/http server over a real connection,
// with answers of every framing it uses.
func TestConnAgainstServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte("part one "))
			w.(http.Flusher).Flush()
			w.Write([]byte("part two"))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Write([]byte("fixed"))
		}
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	c, err := Dial(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 3 {
		for _, want := range []struct {
			path   string
			status int
			body   int64
		}{{"/chunked", 200, 17}, {"/empty", 204, 0}, {"/fixed", 200, 5}} {
			status, body, err := c.Do([]byte("GET " + want.path + " HTTP/1.1\r\nHost: x\r\n\r\n"))
			if err != nil || status != want.status || body != want.body {
				t.Fatalf("%s: %d, %d bytes, %v", want.path, status, body, err)
			}
		}
	}
}
