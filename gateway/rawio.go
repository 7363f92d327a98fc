package gateway

import (
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// rawIOConn is a TCP connection whose reads and writes call read(2) and
// write(2) without telling the Go scheduler they are system calls
// (RawSyscall). Both are on a non-blocking socket and never block, but
// the runtime's bookkeeping around a system call costs more than it saves
// here, twice over:
//
//   - A write on loopback runs the receiver's whole TCP path and often
//     gets preempted in the kernel, and a P seen in a system call for two
//     of sysmon's ticks is handed to another thread: a wake-up and a
//     context switch more per request under load.
//   - Entering a system call wakes sysmon when it sleeps because every P
//     was idle — as a gateway's are, between bursts, whenever the machine
//     is shared with its clients and upstreams — and a woken sysmon polls
//     every 20 µs fifty times before it slows down again. Under load that
//     was some two thousand wake-ups a second, 4–5% of the gateway's CPU
//     (bench/README.md).
//
// A read that finds nothing, or a write the socket cannot take (EAGAIN),
// waits through the runtime's poller as any other, deadlines included.
type rawIOConn struct {
	*net.TCPConn
	rc   syscall.RawConn
	r, w rawSide
}

// rawSide is one direction's read or write in progress, for readFD or
// writeFD, which fn is bound to once: a closure over a call's own
// variables, handed to RawConn, would be allocated on every call. busy
// claims them; a call that finds them claimed (another goroutine reading,
// or writing, at once) uses a progress and a closure of its own.
type rawSide struct {
	busy atomic.Bool
	op   rawOp
	fn   func(fd uintptr) bool
}

// rawOp is one read's or write's progress: the bytes, how many were
// moved and the error that stopped it.
type rawOp struct {
	p     []byte
	n     int
	errno syscall.Errno
}

// rawIO wraps c when it is a TCP connection; anything else is returned as
// it is.
func rawIO(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	w := &rawIOConn{TCPConn: tc, rc: rc}
	w.r.fn, w.w.fn = w.r.op.readFD, w.w.op.writeFD
	return w
}

// Read implements net.Conn: as net.TCPConn's, io.EOF at the end of the
// stream and a *net.OpError for anything else.
func (c *rawIOConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return c.TCPConn.Read(p)
	}
	return c.run(&c.r, false, p)
}

// Write implements net.Conn.
func (c *rawIOConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return c.TCPConn.Write(p)
	}
	return c.run(&c.w, true, p)
}

// run reads into p or writes it (write) through the poller, on s's
// progress when it is free.
func (c *rawIOConn) run(s *rawSide, write bool, p []byte) (int, error) {
	name := "read"
	if write {
		name = "write"
	}
	op, fn := &s.op, s.fn
	if !s.busy.CompareAndSwap(false, true) {
		op = new(rawOp)
		if fn = op.readFD; write {
			fn = op.writeFD
		}
		s = nil
	}
	*op = rawOp{p: p}
	var err error
	if write {
		err = c.rc.Write(fn)
	} else {
		err = c.rc.Read(fn)
	}
	n, errno := op.n, op.errno
	if s != nil {
		op.p = nil // not kept past the call
		s.busy.Store(false)
	}
	return c.result(name, n, errno, err)
}

// result is what a read or write (op) returns after n bytes moved and the
// call stopped with errno, or with err from the poller (a deadline, a
// closed connection), as net.TCPConn reports them: an end of stream is
// io.EOF, anything else a *net.OpError for op around the cause.
func (c *rawIOConn) result(op string, n int, errno syscall.Errno, err error) (int, error) {
	switch {
	case err != nil:
		if oe, ok := err.(*net.OpError); ok {
			err = oe.Err // RawConn's own, for "raw-read" or "raw-write"
		}
	case errno != 0:
		err = os.NewSyscallError(op, errno)
	case op == "read" && n == 0:
		return 0, io.EOF
	default:
		return n, nil
	}
	return n, &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// readFD reads into r.p from fd; it reports false when there is nothing
// to read yet (the poller then waits and calls it again). Like net's, a
// read returns what one read(2) gave.
func (r *rawOp) readFD(fd uintptr) bool {
	for {
		m, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&r.p[0])), uintptr(len(r.p)))
		switch e {
		case 0:
			r.n = int(m)
			raceRead(r.p[:r.n])
			return true
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false // wait until there is something to read
		default:
			r.errno = e
			return true
		}
	}
}

// writeFD writes what is left of w.p to fd; it reports false when the
// socket cannot take more for now (the poller then waits and calls it
// again).
func (w *rawOp) writeFD(fd uintptr) bool {
	for w.n < len(w.p) {
		raceWrote(w.p[w.n:])
		m, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&w.p[w.n])), uintptr(len(w.p)-w.n))
		switch e {
		case 0:
			w.n += int(m)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false // wait until the socket takes more
		default:
			w.errno = e
			return true
		}
	}
	return true
}
