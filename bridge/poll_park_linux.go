package bridge

import (
	"net"
	"syscall"

	"github.com/bridgeway/bridgeway/internal/rawsock"
)

// peekSupported: parked polls need the socket peek.
const peekSupported = rawsock.Supported

// parkSock is a parked poll's socket: the fan-out's non-blocking writer,
// and a peek that tells, without waiting or reading, whether the client
// left (EOF or an error; bytes there, the next request sent early, stay
// for the server). Part of parkedPoll, sharing one RawConn: a poll parks
// once per delivery.
type parkSock struct {
	nb   nbWriter
	gone bool
}

// init binds s to c; false when c is not a plain socket.
func (s *parkSock) init(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	s.nb.rc = rc
	s.nb.fn = s.nb.try
	return true
}

func (s *parkSock) peek(fd uintptr) { s.gone = rawsock.Gone(fd) }

// clientGone reports whether the client closed its end or the connection
// failed (or was closed here). Called by the fan-out only (heartbeats are
// rare: the callback is bound here, not once per park).
func (s *parkSock) clientGone() bool {
	s.gone = false
	if err := s.nb.rc.Control(s.peek); err != nil {
		return true
	}
	return s.gone
}

// waitPeek waits until the socket has bytes, EOF or an error for the next
// read (or its read deadline passes: err), then copies what waits into a
// pooled buffer without consuming it: n is 0 at EOF or an error. The
// buffer is taken only once there is something to look at, so a waiting
// connection holds none (poll_next.go).
func (s *parkSock) waitPeek() (buf *[]byte, n int, err error) {
	err = s.nb.rc.Read(func(fd uintptr) bool {
		b := nextPeekBuffers.Get().(*[]byte)
		m, e := rawsock.Peek(fd, *b)
		if e == syscall.EAGAIN || e == syscall.EINTR {
			nextPeekBuffers.Put(b)
			return false
		}
		buf, n = b, max(m, 0)
		if e != 0 {
			n = 0
		}
		return true
	})
	return buf, n, err
}

// readAll reads len(b) bytes that peekAt saw (they are there: it cannot
// wait).
func (s *parkSock) readAll(b []byte) bool {
	var n int
	var e syscall.Errno
	err := s.nb.rc.Control(func(fd uintptr) { n, e = rawsock.Read(fd, b) })
	return err == nil && e == 0 && n == len(b)
}
