package bridge

import (
	"net"
	"syscall"

	"github.com/bridgeway/bridgeway/internal/rawsock"
)

// peekSupported: parked polls need peekWaiter.
const peekSupported = rawsock.Supported

// peekWaiter tells, without waiting or reading, whether the client of a
// parked poll left: EOF or an error on its socket. Bytes there (the next
// request, sent early) stay for the server.
type peekWaiter struct {
	rc   syscall.RawConn
	fn   func(fd uintptr)
	gone bool
}

// newPeekWaiter returns nil when c is not a plain socket.
func newPeekWaiter(c net.Conn) *peekWaiter {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &peekWaiter{rc: rc}
	w.fn = w.peek
	return w
}

func (w *peekWaiter) peek(fd uintptr) {
	var b [1]byte
	n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	w.gone = err == nil && n == 0 || err != nil && err != syscall.EAGAIN && err != syscall.EINTR
}

// clientGone reports whether the client closed its end or the connection
// failed (or was closed here). Called by one goroutine at a time.
func (w *peekWaiter) clientGone() bool {
	w.gone = false
	if err := w.rc.Control(w.fn); err != nil {
		return true
	}
	return w.gone
}
