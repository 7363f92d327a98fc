//go:build race

package gateway

import (
	"runtime"
	"syscall"
	"unsafe"
)

// The race detector learns of I/O from the syscall package: Write releases
// and Read acquires one variable of its own, which orders a goroutine's
// write to a socket before the read that receives it — a test's client,
// gateway and upstream in one process rely on that edge. rawIOConn's raw
// system calls bypass the package, so in race builds they make the same
// calls on /dev/null, which do nothing else, and report the bytes moved.
var raceDevNull = func() int {
	fd, err := syscall.Open("/dev/null", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		panic("rawio: race build without /dev/null: " + err.Error())
	}
	return fd
}()

// raceWrote tells the race detector that p is being written to a socket.
func raceWrote(p []byte) {
	syscall.Write(raceDevNull, nil) // releases the syscall package's I/O variable
	if len(p) > 0 {
		runtime.RaceReadRange(unsafe.Pointer(&p[0]), len(p))
	}
}

// raceRead tells the race detector that p was read from a socket.
func raceRead(p []byte) {
	if len(p) > 0 {
		runtime.RaceWriteRange(unsafe.Pointer(&p[0]), len(p))
	}
	syscall.Read(raceDevNull, nil) // acquires it
}
