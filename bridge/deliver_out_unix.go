//go:build unix

package bridge

import (
	"net"
	"syscall"

	"github.com/bridgeway/bridgeway/internal/rawsock"
)

// nbWriter writes to a socket without waiting: what the kernel takes now,
// no goroutine parked, no timer armed. The callback is bound once so a
// write allocates nothing.
type nbWriter struct {
	rc  syscall.RawConn
	fn  func(fd uintptr) bool
	b   []byte
	n   int
	err error
}

// newNBWriter returns nil when c is not a plain socket (TLS, a wrapper
// that does not expose its connection with NetConn).
func newNBWriter(c net.Conn) *nbWriter {
	sc, ok := bareConn(c).(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &nbWriter{rc: rc}
	w.fn = w.try
	return w
}

func (w *nbWriter) try(fd uintptr) bool {
	for w.n < len(w.b) {
		n, e := rawsock.Write(fd, w.b[w.n:])
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return true
		case e != 0:
			w.err = e
			return true
		case n <= 0:
			return true
		}
		w.n += n
	}
	return true
}

// write returns how many bytes of b the socket took.
func (w *nbWriter) write(b []byte) (int, error) {
	w.b, w.n, w.err = b, 0, nil
	err := w.rc.Write(w.fn)
	n, werr := w.n, w.err
	w.b = nil
	if err != nil {
		return n, err
	}
	return n, werr
}

// readable reports whether a read would not wait: bytes, EOF or an error
// (or the connection was closed here). Nothing is consumed. Only the
// fan-out's heartbeat calls it, so the callback is bound per call.
func (w *nbWriter) readable() bool {
	ready := false
	if err := w.rc.Control(func(fd uintptr) { ready = rawsock.Ready(fd) }); err != nil {
		return true
	}
	return ready
}

// peek copies what the client sent into p without consuming it or
// waiting. ready is false when nothing arrived; n == 0 with ready is EOF,
// an error, or a connection closed here.
func (w *nbWriter) peek(p []byte) (n int, ready bool) {
	var e syscall.Errno
	if err := w.rc.Control(func(fd uintptr) { n, e = rawsock.Peek(fd, p) }); err != nil {
		return 0, true
	}
	switch {
	case e == syscall.EAGAIN || e == syscall.EINTR:
		return 0, false
	case e != 0:
		return 0, true
	}
	return n, true
}

// consume reads len(p) bytes that peek saw (they are in the socket's
// buffer, so the read does not wait); it reports whether all came.
func (w *nbWriter) consume(p []byte) bool {
	got := 0
	err := w.rc.Control(func(fd uintptr) {
		for got < len(p) {
			n, e := rawsock.Read(fd, p[got:])
			if e == syscall.EINTR {
				continue
			}
			if e != 0 || n <= 0 {
				return
			}
			got += n
		}
	})
	return err == nil && got == len(p)
}

// fd is the socket's descriptor, for idleSockets.
func (w *nbWriter) fd() (fd uintptr, ok bool) {
	ok = w.rc.Control(func(f uintptr) { fd = f }) == nil
	return fd, ok
}
