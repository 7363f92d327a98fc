package gateway

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns a raw-I/O client connection and the server's end.
func tcpPair(t *testing.T) (*rawIOConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv := <-accepted
	if srv == nil {
		t.Fatal("accept failed")
	}
	rc, ok := rawIO(c).(*rawIOConn)
	if !ok {
		t.Fatal("a TCP connection was not wrapped")
	}
	t.Cleanup(func() { rc.Close(); srv.Close() })
	return rc, srv
}

// A write larger than the socket buffers, to a reader that takes it slowly,
// arrives whole: the raw write waits through the poller when the socket is
// full and goes on where it stopped.
func TestRawWriteLarge(t *testing.T) {
	c, srv := tcpPair(t)
	want := make([]byte, 8<<20)
	rand.Read(want)
	got := make(chan []byte, 1)
	go func() {
		var buf bytes.Buffer
		time.Sleep(50 * time.Millisecond) // let the sender fill the buffers first
		io.Copy(&buf, srv)
		got <- buf.Bytes()
	}()
	n, err := c.Write(want)
	if err != nil || n != len(want) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	c.CloseWrite()
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("received %d bytes, not what was written", len(b))
	}
}

// Deadlines, a closed connection and a peer that went away fail as a
// net.Conn's write does, to the same checks.
func TestRawWriteErrors(t *testing.T) {
	t.Run("deadline", func(t *testing.T) {
		c, _ := tcpPair(t) // the peer never reads
		c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		big := make([]byte, 64<<20)
		start := time.Now()
		n, err := c.Write(big)
		var ne net.Error
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() || n >= len(big) {
			t.Fatalf("Write past its deadline = %d, %v", n, err)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("the deadline did not end the write (%v)", time.Since(start))
		}
	})
	t.Run("closed", func(t *testing.T) {
		c, _ := tcpPair(t)
		c.Close()
		if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Write on a closed connection: %v", err)
		}
	})
	t.Run("peer gone", func(t *testing.T) {
		c, srv := tcpPair(t)
		srv.(*net.TCPConn).SetLinger(0) // the peer resets
		srv.Close()
		var err error
		for i := 0; i < 100 && err == nil; i++ {
			_, err = c.Write([]byte("after the peer left"))
			time.Sleep(5 * time.Millisecond)
		}
		if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("Write to a reset connection: %v", err)
		}
		var oe *net.OpError
		if !errors.As(err, &oe) || oe.Op != "write" {
			t.Fatalf("the error is not a net.OpError for the write: %#v", err)
		}
	})
	t.Run("not tcp", func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		if rawIO(a) != a {
			t.Fatal("a pipe was wrapped")
		}
	})
}

// A write allocates nothing; writes from several goroutines at once (one
// of them on the connection's own progress, the others on their own) each
// arrive whole, none interleaved with another, and none lost.
func TestRawWriteAllocationsAndConcurrency(t *testing.T) {
	c, srv := tcpPair(t)
	go io.Copy(io.Discard, srv)
	msg := []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	if n := testing.AllocsPerRun(200, func() {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per write", n)
	}

	c2, srv2 := tcpPair(t)
	const writers, each, size = 8, 300, 3000
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(srv2)
		got <- b
	}()
	done := make(chan error, writers)
	for w := range writers {
		go func() {
			chunk := bytes.Repeat([]byte{byte('a' + w)}, size)
			for range each {
				if n, err := c2.Write(chunk); err != nil || n != size {
					done <- errors.Join(err, errors.New("short write"))
					return
				}
			}
			done <- nil
		}()
	}
	for range writers {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	c2.CloseWrite()
	b := <-got
	if len(b) != writers*each*size {
		t.Fatalf("received %d bytes, want %d", len(b), writers*each*size)
	}
	count := map[byte]int{}
	for i := 0; i < len(b); i += size {
		if !bytes.Equal(b[i:i+size], bytes.Repeat(b[i:i+1], size)) {
			t.Fatalf("write at %d interleaved with another", i)
		}
		count[b[i]]++
	}
	for w := range writers {
		if count[byte('a'+w)] != each {
			t.Fatalf("writer %d: %d writes arrived, want %d", w, count[byte('a'+w)], each)
		}
	}
}

// Reads deliver the stream whole, in order, with io.EOF (itself, not
// wrapped) at its end, whatever the sizes of the writes and the reads.
func TestRawReadStream(t *testing.T) {
	c, srv := tcpPair(t)
	want := make([]byte, 4<<20)
	rand.Read(want)
	go func() {
		for rest := want; len(rest) > 0; {
			n := min(len(rest), 1+len(rest)%70000)
			srv.Write(rest[:n])
			rest = rest[n:]
		}
		srv.Close()
	}()
	var got []byte
	buf := make([]byte, 5000)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Read after %d bytes: %v", len(got), err)
		}
		if n == 0 {
			t.Fatal("a read returned nothing and no error")
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, not what was written", len(got))
	}
	if n, err := c.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("a read after the end = %d, %v", n, err)
	}
}

// A read past its deadline, on a closed connection, on one closed while
// the read waits, and from a peer that reset fails as net.TCPConn's does,
// to the same checks.
func TestRawReadErrors(t *testing.T) {
	t.Run("deadline", func(t *testing.T) {
		c, srv := tcpPair(t) // the peer writes nothing in time
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		_, err := c.Read(make([]byte, 10))
		var ne net.Error
		var oe *net.OpError
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() || !errors.As(err, &oe) || oe.Op != "read" {
			t.Fatalf("Read past its deadline: %#v", err)
		}
		// With the deadline lifted the connection reads again.
		c.SetReadDeadline(time.Time{})
		srv.Write([]byte("late"))
		if n, err := io.ReadFull(c, make([]byte, 4)); n != 4 || err != nil {
			t.Fatalf("Read after the deadline was lifted = %d, %v", n, err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		c, _ := tcpPair(t)
		c.Close()
		if _, err := c.Read(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read on a closed connection: %v", err)
		}
	})
	t.Run("closed while waiting", func(t *testing.T) {
		c, _ := tcpPair(t)
		errc := make(chan error, 1)
		go func() {
			_, err := c.Read(make([]byte, 10))
			errc <- err
		}()
		time.Sleep(20 * time.Millisecond)
		c.Close()
		select {
		case err := <-errc:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("the waiting read ended with %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("closing did not end the waiting read")
		}
	})
	t.Run("peer reset", func(t *testing.T) {
		c, srv := tcpPair(t)
		c.Write([]byte("unread by the peer")) // closing with unread data resets
		time.Sleep(10 * time.Millisecond)
		srv.(*net.TCPConn).SetLinger(0)
		srv.Close()
		_, err := c.Read(make([]byte, 10))
		var oe *net.OpError
		if !errors.Is(err, syscall.ECONNRESET) || !errors.As(err, &oe) || oe.Op != "read" {
			t.Fatalf("Read from a reset connection: %#v", err)
		}
	})
}

// A read allocates nothing; reads from two goroutines at once (one on the
// connection's own progress, the other on its own) share the stream
// between them, losing nothing.
func TestRawReadAllocationsAndConcurrency(t *testing.T) {
	c, srv := tcpPair(t)
	const runs, size = 201, 16 // AllocsPerRun runs once more than asked
	if _, err := srv.Write(bytes.Repeat([]byte("0123456789abcdef"), runs)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // all of it in the socket
	buf := make([]byte, size)
	if n := testing.AllocsPerRun(runs-1, func() {
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per read", n)
	}

	c2, srv2 := tcpPair(t)
	const total = 3 << 20
	go func() {
		srv2.Write(make([]byte, total))
		srv2.Close()
	}()
	counts := make(chan int, 2)
	for range 2 {
		go func() {
			n, b := 0, make([]byte, 7000)
			for {
				m, err := c2.Read(b)
				n += m
				if err != nil {
					counts <- n
					return
				}
			}
		}()
	}
	if got := <-counts + <-counts; got != total {
		t.Fatalf("the readers got %d bytes between them, want %d", got, total)
	}
}
