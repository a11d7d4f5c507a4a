package proxy

import (
	"context"
	"net"

	"github.com/bridgeway/bridgeway/internal/reenter"
)

// reenterListener takes back plain HTTP/1.1 connections that a handler
// hijacked and answered itself (the bridge's parked long-polls, see
// internal/reenter): the plain http.Server serves it next to its own
// listener, so the client's next request on the connection is read as
// usual.
type reenterListener struct {
	*reenter.Listener
	again *reenter.Again // for handlers that read the next request themselves
}

func newReenterListener(addr net.Addr, again *reenter.Again) *reenterListener {
	return &reenterListener{Listener: reenter.NewListener(addr), again: again}
}

// push gives c back to the server. c is what the recorder's Hijack
// returned: the countingConn around the limitedConn is dropped (the
// request it counted for is logged already), and the limitedConn goes back
// as accepted, still holding its slot of the connection limits (released
// at its Close, as before), with its wire guard on again since the bytes
// are HTTP once more. When c comes as a reenter.Prefixed (bytes the
// handler read ahead), those bytes go under the limitedConn, so that its
// wire guard scans them like any others.
func (ln *reenterListener) push(c net.Conn) bool {
	var ahead []byte
	if pc, ok := c.(*reenter.Prefixed); ok {
		c, ahead = pc.Conn, pc.Rest()
	}
	if cc, ok := c.(*countingConn); ok {
		c = cc.Conn
	}
	lc, ok := c.(*limitedConn)
	if ok && lc.wire != nil {
		lc.wire.off.Store(false)
	}
	if len(ahead) > 0 {
		switch {
		case !ok:
			c = reenter.WithPrefix(c, ahead)
		case isPrefixed(lc.Conn):
			lc.Conn.(*reenter.Prefixed).Prepend(ahead)
		default:
			lc.Conn = reenter.WithPrefix(lc.Conn, ahead)
		}
	}
	return ln.Push(c)
}

func isPrefixed(c net.Conn) bool {
	_, ok := c.(*reenter.Prefixed)
	return ok
}

// MarkHijackedStatus records the status of a response that its handler
// writes itself after hijacking (a parked long-poll answers 200 later):
// the access log and request metrics report it instead of 101.
func (r *recorder) MarkHijackedStatus(code int) {
	if r.status == 0 {
		r.status = code
	}
}

// withConn is the plain server's ConnContext: the connection, the way
// back for it once hijacked, and what serving its next request without the
// server needs.
func (ln *reenterListener) withConn(ctx context.Context, c net.Conn) context.Context {
	return reenter.WithAgain(reenter.WithFunc(withConn(ctx, c), ln.push), ln.again)
}
