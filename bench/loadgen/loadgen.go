// Package loadgen is the client side of the in-process benchmarks: a
// keep-alive HTTP/1.1 connection that sends prepared raw requests and reads
// each answer whole, so that what a benchmark measures is the server's
// work, not a client library's. Like wrk's parser it scans an answer's
// head without allocating, whatever fields it carries: a field costs the
// client a scan of its bytes, not a map entry and two strings as with
// net/http's ReadResponse.
package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
)

// Conn is one keep-alive client connection. It is not safe for
// concurrent use: a benchmark goroutine holds its own.
type Conn struct {
	nc net.Conn
	br *bufio.Reader
}

// Dial opens a connection to addr (host:port) over TCP.
func Dial(addr string) (*Conn, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Conn{nc: nc, br: bufio.NewReader(nc)}, nil
}

// Do writes req, a complete raw request, and reads the answer; it returns
// the status and how many body bytes came.
func (c *Conn) Do(req []byte) (status int, body int64, err error) {
	if _, err := c.nc.Write(req); err != nil {
		return 0, 0, err
	}
	return ReadAnswer(c.br)
}

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// ErrMalformed is returned for an answer ReadAnswer cannot frame.
var ErrMalformed = errors.New("loadgen: malformed answer")

// ReadAnswer reads one HTTP/1.1 answer to a request that is not HEAD: its
// status line, its fields (only Content-Length and Transfer-Encoding are
// looked at) and its body, framed by Content-Length or chunked, discarded.
// 1xx answers are skipped. It returns the status and the body's length.
func ReadAnswer(br *bufio.Reader) (status int, body int64, err error) {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, 0, err
		}
		// "HTTP/1.1 200 OK"
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
			return 0, 0, ErrMalformed
		}
		status, err = strconv.Atoi(string(line[9:12])) // no allocation: the conversion does not escape
		if err != nil {
			return 0, 0, ErrMalformed
		}
		length, chunked := int64(-1), false
		for {
			f, err := br.ReadSlice('\n')
			if err != nil {
				return 0, 0, err
			}
			f = bytes.TrimRight(f, "\r\n")
			if len(f) == 0 {
				break
			}
			name, value, ok := bytes.Cut(f, []byte(":"))
			if !ok {
				return 0, 0, ErrMalformed
			}
			value = bytes.TrimSpace(value)
			switch {
			case bytes.EqualFold(name, []byte("Content-Length")):
				if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
					return 0, 0, ErrMalformed
				}
			case bytes.EqualFold(name, []byte("Transfer-Encoding")):
				chunked = bytes.EqualFold(value, []byte("chunked"))
			}
		}
		switch {
		case status >= 100 && status < 200:
			continue // an interim answer; the final one follows
		case status == 204 || status == 304:
			return status, 0, nil
		case chunked:
			n, err := discardChunked(br)
			return status, n, err
		case length >= 0:
			n, err := br.Discard(int(length))
			return status, int64(n), err
		default:
			// Delimited by the end of the connection.
			n, err := io.Copy(io.Discard, br)
			return status, n, err
		}
	}
}

// discardChunked reads a chunked body and its trailer section and returns
// the data's length.
func discardChunked(br *bufio.Reader) (int64, error) {
	var total int64
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return total, err
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 {
			return total, ErrMalformed
		}
		if n == 0 {
			for { // trailer fields, then the empty line
				t, err := br.ReadSlice('\n')
				if err != nil {
					return total, err
				}
				if len(bytes.TrimRight(t, "\r\n")) == 0 {
					return total, nil
				}
			}
		}
		d, err := br.Discard(int(n))
		total += int64(d)
		if err != nil {
			return total, err
		}
		if crlf, err := br.ReadSlice('\n'); err != nil || len(bytes.TrimRight(crlf, "\r\n")) != 0 {
			return total, ErrMalformed
		}
	}
}
