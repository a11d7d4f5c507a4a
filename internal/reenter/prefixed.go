package reenter

import (
	"errors"
	"net"
	"syscall"
)

// Prefixed is a connection whose first bytes were already read from its
// socket by a handler that hoped to serve them itself (the bridge reads a
// parked poll's next request with one read(2)): Read returns those bytes
// first, then reads the connection, so the server sees the client's bytes
// in order.
//
// It has no NetConn on purpose: whoever looks for the bare socket to read
// it directly (a later hijack) must not skip the bytes held here.
// SyscallConn gives the socket only once they are all read.
type Prefixed struct {
	net.Conn
	rest []byte
}

// WithPrefix returns c reading b first (b is copied: the caller's buffer
// may be pooled).
func WithPrefix(c net.Conn, b []byte) *Prefixed {
	return &Prefixed{Conn: c, rest: append([]byte(nil), b...)}
}

// Rest is what is still to be read before the connection's own bytes.
func (c *Prefixed) Rest() []byte { return c.rest }

// Prepend adds b before what is still to be read (a connection handed back
// again while wrapped).
func (c *Prefixed) Prepend(b []byte) {
	c.rest = append(append([]byte(nil), b...), c.rest...)
}

func (c *Prefixed) Read(b []byte) (int, error) {
	if len(c.rest) == 0 {
		return c.Conn.Read(b)
	}
	n := copy(b, c.rest)
	if c.rest = c.rest[n:]; len(c.rest) == 0 {
		c.rest = nil // SyscallConn may now offer the socket
	}
	return n, nil
}

// errPrefixPending: the socket is not offered while bytes read from it
// wait here.
var errPrefixPending = errors.New("reenter: bytes read ahead are pending")

// SyscallConn is the socket's once nothing read ahead is left.
func (c *Prefixed) SyscallConn() (syscall.RawConn, error) {
	if len(c.rest) > 0 {
		return nil, errPrefixPending
	}
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return sc.SyscallConn()
}

// CloseWrite keeps TCP half-close working through the wrapper.
func (c *Prefixed) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
