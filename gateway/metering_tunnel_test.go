package gateway

import (
	"bytes"
	"net"
	"testing"
	"time"
)

// bufConn is a net.Conn that writes to a buffer (no other method is used).
type bufConn struct {
	net.Conn
	buf bytes.Buffer
}

func (c *bufConn) Write(p []byte) (int, error) { return c.buf.Write(p) }

// The 101's head is not a tunnel byte, however the writes split it, and
// what follows it is, even when it looks like the end of a head.
func TestTunnelConnSkipsTheHead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string
		sent   bool // the head went out before the hijack
		want   int64
	}{
		{"one write", []string{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nabc"}, false, 3},
		{"split in the blank line", []string{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r", "\n", "abc", "\r\n\r\n"}, false, 7},
		{"split after a lone CR", []string{"HTTP/1.1 101 Switching Protocols\r\nA: b\r\r", "\n\r\n", "xy"}, false, 2},
		{"head only", []string{"HTTP/1.1 101 Switching Protocols\r\n", "Upgrade: x\r\n\r\n"}, false, 0},
		{"head sent before", []string{"abc\r\n\r\n", "de"}, true, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &tunnelConn{Conn: &bufConn{}}
			if tc.sent {
				c.head.Store(headDone)
			}
			for _, w := range tc.writes {
				if n, err := c.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("write %q: %d %v", w, n, err)
				}
			}
			if got := c.out.Load(); got != tc.want {
				t.Fatalf("%d tunnel bytes out, want %d", got, tc.want)
			}
		})
	}
}

// lateConn's Read is ended by Close and then returns bytes it had, late,
// as a connection may when it closes in the middle of a read.
type lateConn struct {
	net.Conn
	reading, closed chan struct{}
}

func (c *lateConn) Read(p []byte) (int, error) {
	close(c.reading)
	<-c.closed
	time.Sleep(20 * time.Millisecond)
	return copy(p, "late!"), net.ErrClosed
}

func (c *lateConn) Close() error {
	close(c.closed)
	return nil
}

// Close returns only when the reads in progress have counted what they
// read, so the usage event, recorded after the proxy closed the tunnel,
// has every byte; nothing reads or counts after it.
func TestTunnelConnCloseWaitsForReads(t *testing.T) {
	lc := &lateConn{reading: make(chan struct{}), closed: make(chan struct{})}
	c := &tunnelConn{Conn: lc}
	go c.Read(make([]byte, 16))
	<-lc.reading
	c.Close()
	if n := c.in.Load(); n != int64(len("late!")) {
		t.Fatalf("%d bytes in once closed, want %d", n, len("late!"))
	}
	if n, err := c.Read(make([]byte, 16)); n != 0 || err != net.ErrClosed {
		t.Fatalf("read after Close: %d %v", n, err)
	}
	if n, err := c.Write([]byte("x")); n != 0 || err != net.ErrClosed {
		t.Fatalf("write after Close: %d %v", n, err)
	}
}
