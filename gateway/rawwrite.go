package gateway

import (
	"net"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// rawWriteConn is a TCP connection whose writes call write(2) without
// telling the Go scheduler they are system calls (RawSyscall): a write to a
// non-blocking socket never blocks, but on loopback it runs the receiver's
// whole TCP path and often gets preempted in the kernel, and a P seen in a
// system call for two of sysmon's ticks is handed to another thread — a
// wake-up and a context switch more per request under load. A write the
// socket cannot take (EAGAIN) waits through the runtime's poller as any
// other, deadlines included.
type rawWriteConn struct {
	*net.TCPConn
	rc syscall.RawConn
	// The write in progress, for writeFD, which is bound once (in fn):
	// a closure over a call's own variables, handed to RawConn.Write,
	// would be allocated on every write. busy claims them; a write that
	// finds them claimed (another goroutine writing at once) uses a
	// closure of its own.
	busy atomic.Bool
	w    rawWrite
	fn   func(fd uintptr) bool
}

// rawWrite is one write's progress: the bytes, how many went out and the
// error that stopped it.
type rawWrite struct {
	p     []byte
	n     int
	errno syscall.Errno
}

// rawWrites wraps c when it is a TCP connection; anything else is returned
// as it is.
func rawWrites(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	w := &rawWriteConn{TCPConn: tc, rc: rc}
	w.fn = w.w.writeFD
	return w
}

// Write implements net.Conn.
func (c *rawWriteConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return c.TCPConn.Write(p)
	}
	if c.busy.CompareAndSwap(false, true) {
		c.w = rawWrite{p: p}
		err := c.rc.Write(c.fn)
		n, errno := c.w.n, c.w.errno
		c.w.p = nil // not kept past the call
		c.busy.Store(false)
		return c.result(n, errno, err)
	}
	w := &rawWrite{p: p}
	err := c.rc.Write(w.writeFD)
	return c.result(w.n, w.errno, err)
}

// result is what Write returns after n bytes went out and the write
// stopped with errno, or with err from the poller.
func (c *rawWriteConn) result(n int, errno syscall.Errno, err error) (int, error) {
	if err == nil && errno != 0 {
		err = errno
	}
	if err != nil {
		return n, &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	return n, nil
}

// writeFD writes what is left of w.p to fd; it reports false when the
// socket cannot take more for now (the poller then waits and calls it
// again).
func (w *rawWrite) writeFD(fd uintptr) bool {
	for w.n < len(w.p) {
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
