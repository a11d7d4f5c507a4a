package bridge

import (
	"net"
	"syscall"
	"unsafe"
)

// readWaiter parks until a socket has something to read (bytes, EOF or an
// error) without reading it. An idle broadcast WebSocket reader waits here
// rather than inside the frame reader, so the stack it parks with is a few
// small frames: the runtime then shrinks its goroutine to the minimum
// stack, half of what parking in the reader costs (wsread.go reads exactly
// the bytes of each frame, so nothing is ever buffered past a wait).
type readWaiter struct {
	rc syscall.RawConn
	fn func(fd uintptr) bool
}

// newReadWaiter returns nil when c is not a plain socket.
func newReadWaiter(c net.Conn) *readWaiter {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return &readWaiter{rc: rc, fn: peekReady}
}

// peekReady reports whether a read would not wait: a byte to peek at, EOF,
// or an error for the next read to return.
func peekReady(fd uintptr) bool {
	var b [1]byte
	_, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	return e != syscall.EAGAIN && e != syscall.EINTR
}

// wait returns when the socket is readable, or the read deadline passed or
// the connection was closed (an error).
func (w *readWaiter) wait() error { return w.rc.Read(w.fn) }
