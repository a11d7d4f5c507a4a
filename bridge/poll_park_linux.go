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
// left (EOF or an error; bytes there, the next request sent early, are not
// taken: the bridge reads them at the connection's next wait, or the
// server does). Part of parkedPoll, sharing one RawConn: a poll parks
// once per delivery.
type parkSock struct {
	nb   nbWriter
	fd   uintptr // looked up once: the batches (poll_*_batch_linux.go) name the socket by it
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
	fd, ok := s.nb.fd()
	s.fd = fd
	return ok
}

// from binds s to the socket of o (the same connection's previous poll).
func (s *parkSock) from(o *parkSock) {
	s.nb.rc = o.nb.rc
	s.nb.fn = s.nb.try
	s.fd = o.fd
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

// nextSock is the raw read of a connection waiting for its next poll
// (poll_next.go): one read(2) without waiting, through a callback bound
// once per connection.
type nextSock struct {
	rc syscall.RawConn
	fd uintptr // for the poller's registration
	fn func(fd uintptr)
	b  []byte
	n  int
	e  syscall.Errno
}

// init binds s to a parked poll's socket.
func (s *nextSock) init(ps *parkSock) bool {
	s.rc = ps.nb.rc
	s.fn = s.readFD
	s.fd = ps.fd
	return true
}

func (s *nextSock) readFD(fd uintptr) { s.n, s.e = rawsock.Read(fd, s.b) }

// read reads once what waits on the socket into b: n bytes (0 at EOF),
// retry when nothing was there after all, failed on an error.
func (s *nextSock) read(b []byte) (n int, retry, failed bool) {
	s.b = b
	err := s.rc.Control(s.fn)
	s.b = nil
	switch {
	case err != nil:
		return 0, false, true
	case s.e == syscall.EAGAIN || s.e == syscall.EINTR:
		return 0, true, false
	case s.e != 0 || s.n < 0:
		return 0, false, true
	}
	return s.n, false, false
}
