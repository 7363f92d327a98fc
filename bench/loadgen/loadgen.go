// Package loadgen is the client side of the in-process benchmarks: a
// keep-alive HTTP/1.1 connection that sends prepared raw requests and reads
// each answer whole, so that what a benchmark measures is the server's
// work, not a client library's.
package loadgen

import (
	"bufio"
	"io"
	"net"
	"net/http"
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
	res, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, 0, err
	}
	body, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, body, err
}

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }
