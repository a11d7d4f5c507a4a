package bridge

import (
	"net"
	"syscall"

	"github.com/bridgeway/bridgeway/internal/rawsock"
)

// readWaiter parks until a socket has something to read (bytes, EOF or an
// error) without reading it. An idle broadcast WebSocket reader waits here
// rather than inside the frame reader, so the stack it parks with is a few
// small frames: the runtime then shrinks its goroutine to the minimum
// stack, half of what parking in the reader costs (wsread.go reads exactly
// the bytes of each frame, so nothing is ever buffered past a wait).
type readWaiter struct {
	rc syscall.RawConn
}

// newReadWaiter returns nil when c is not a plain socket or the system has
// no peek (the reader then parks in its read).
func newReadWaiter(c net.Conn) *readWaiter {
	sc, ok := c.(syscall.Conn)
	if !ok || !rawsock.Supported {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return &readWaiter{rc: rc}
}

// wait returns when the socket is readable, or the read deadline passed or
// the connection was closed (an error).
func (w *readWaiter) wait() error { return w.rc.Read(rawsock.Ready) }
