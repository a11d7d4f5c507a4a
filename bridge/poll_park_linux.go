package bridge

import (
	"errors"
	"net"
	"os"
	"syscall"

	"github.com/bridgeway/bridgeway/internal/rawsock"
)

// peekSupported: parked polls need peekWaiter.
const peekSupported = rawsock.Supported

// peekWaiter parks until a socket turns readable and tells a client that
// left (EOF, an error) from one that sent bytes, which stay unread.
type peekWaiter struct {
	rc   syscall.RawConn
	fn   func(fd uintptr) bool
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
	w.fn = w.try
	return w
}

func (w *peekWaiter) try(fd uintptr) bool {
	var b [1]byte
	n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	switch {
	case err == syscall.EAGAIN || err == syscall.EINTR:
		return false // not readable yet: wait
	case err != nil || n == 0:
		w.gone = true
	}
	return true
}

// wait returns once the socket is readable: gone when the client closed it
// or the connection failed or was closed; false when bytes wait or the
// read deadline passed.
func (w *peekWaiter) wait() (gone bool) {
	if err := w.rc.Read(w.fn); err != nil {
		return !errors.Is(err, os.ErrDeadlineExceeded)
	}
	return w.gone
}
