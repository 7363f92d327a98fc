package gateway

import (
	"net"
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
	return &rawWriteConn{TCPConn: tc, rc: rc}
}

// Write implements net.Conn.
func (c *rawWriteConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return c.TCPConn.Write(p)
	}
	n := 0
	var errno syscall.Errno
	err := c.rc.Write(func(fd uintptr) bool {
		for n < len(p) {
			m, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[n])), uintptr(len(p)-n))
			switch e {
			case 0:
				n += int(m)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // wait until the socket takes more
			default:
				errno = e
				return true
			}
		}
		return true
	})
	if err == nil && errno != 0 {
		err = errno
	}
	if err != nil {
		return n, &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	return n, nil
}
