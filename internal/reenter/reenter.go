// Package reenter lets a handler that hijacked an HTTP/1.1 connection give
// it back to the http.Server it came from once its response is written, so
// the server reads the client's next request (keep-alive). The bridge parks
// held long-polls this way (no goroutine, no bufio buffers while they
// wait); the proxy puts the way back into every plain connection's context,
// with what a handler needs to serve a plain next request itself (Again).
package reenter

import (
	"context"
	"net"
	"net/http"
	"sync"
)

type funcKey struct{}

// WithFunc returns ctx carrying push, the way back for a hijacked
// connection: it reports whether the server took the connection; when it
// did not, the connection is closed.
func WithFunc(ctx context.Context, push func(net.Conn) bool) context.Context {
	return context.WithValue(ctx, funcKey{}, push)
}

// From returns the way back stored by WithFunc, or nil (the connection
// cannot be given back: a handler must not park it).
func From(ctx context.Context) func(net.Conn) bool {
	f, _ := ctx.Value(funcKey{}).(func(net.Conn) bool)
	return f
}

// statusMarker is implemented by response writers that record the status
// of a response for logs and metrics (the proxy's access-log recorder).
type statusMarker interface {
	MarkHijackedStatus(code int)
}

// MarkStatus tells the writers wrapping w (found through Unwrap, as
// http.ResponseController does) that the response about to be hijacked
// will be code, written later on the raw connection: the access log and
// request metrics then report code instead of a protocol switch. Call it
// right before hijacking.
func MarkStatus(w http.ResponseWriter, code int) {
	for {
		if m, ok := w.(statusMarker); ok {
			m.MarkHijackedStatus(code)
			return
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return
		}
		w = u.Unwrap()
	}
}

// Listener is a net.Listener fed by Push: serve it with the same
// http.Server as the connections' own listener.
type Listener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// backlog is how many pushed connections wait for Accept without blocking
// the pusher (a fan-out answering thousands of polls in one round).
const backlog = 1024

// NewListener returns a listener reporting addr as its address.
func NewListener(addr net.Addr) *Listener {
	return &Listener{addr: addr, conns: make(chan net.Conn, backlog), done: make(chan struct{})}
}

// Push hands c to the server's next Accept; once the listener is closed it
// closes c instead and reports false. It waits only when backlog
// connections are already waiting for Accept.
func (l *Listener) Push(c net.Conn) bool {
	select {
	case <-l.done:
		_ = c.Close()
		return false
	default:
	}
	select {
	case l.conns <- c:
	case <-l.done:
		_ = c.Close()
		return false
	}
	// Closed meanwhile: Close may have drained before c went in.
	select {
	case <-l.done:
		l.drain()
	default:
	}
	return true
}

// Accept returns the next pushed connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case <-l.done:
		return nil, net.ErrClosed
	default:
	}
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept and Push, and closes the connections still waiting
// for Accept; connections pushed later are closed.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	l.drain()
	return nil
}

func (l *Listener) drain() {
	for {
		select {
		case c := <-l.conns:
			_ = c.Close()
		default:
			return
		}
	}
}

// Addr is the address of the listener the connections came from.
func (l *Listener) Addr() net.Addr { return l.addr }
