package bridge

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bridgeway/bridgeway/internal/reenter"
)

// Once a parked poll's answer is out on a keep-alive connection, the
// client's next request is read here rather than by net/http: giving the
// connection back costs a fresh connection goroutine, its stack growth and
// 8 KiB of bufio buffers per cycle that the next hijack takes out of
// net/http's pools (the long-poll CPU of issue 18). A goroutine with a
// small stack waits for the socket to become readable, peeks at the bytes
// and, only when they are one whole plain next poll of the same client
// (poll_next_match.go), reads them and serves the poll on the route's
// handler (which parks it again). Anything else is left on the socket and
// the connection goes back to the server (internal/reenter) as before, so
// net/http answers it exactly as on the way back.

// readNextPolls switches reading the next poll here (tests and benchmarks
// compare it with the way back through net/http).
var readNextPolls atomic.Bool

func init() { readNextPolls.Store(true) }

// nextPeekSize bounds the head read here: a head that does not fit (or
// has not arrived whole) goes to net/http, whose limit
// (max_header_bytes + 4 KiB) is never below this.
const nextPeekSize = 4096

var nextPeekBuffers = sync.Pool{New: func() any { b := make([]byte, nextPeekSize); return &b }}

// readNext takes over p's connection to read the next request; false when
// it cannot (the caller gives the connection back). Called by finish while
// p still holds the route (active > 0), so Close waits for the waiter.
func (h *RouteHandler) readNext(p *parkedPoll) bool {
	if p.again == nil || !readNextPolls.Load() || h.ending.Load() || !p.again.Open() {
		return false
	}
	if !h.nextPolls.add(p) {
		return false
	}
	h.runs.Add(1)
	go h.awaitNext(p)
	return true
}

// awaitNext waits, at most the server's header timeout, for the client's
// next request on p's connection, then serves it or gives the connection
// back.
func (h *RouteHandler) awaitNext(p *parkedPoll) {
	defer h.runs.Done()
	c := p.conn
	if d := p.again.HeaderTimeout; d > 0 { // 0: none, as in net/http
		_ = c.SetReadDeadline(time.Now().Add(d))
	}
	var buf *[]byte
	var n int
	err := net.ErrClosed
	if !h.nextPolls.stopped() { // else stop may have set its deadline before ours
		buf, n, err = p.sock.waitPeek()
	}
	if buf != nil {
		defer nextPeekBuffers.Put(buf)
	}
	stopped := h.nextPolls.remove(p)
	_ = c.SetReadDeadline(time.Time{})
	switch {
	case stopped:
		p.back(c) // the route closes: the server answers or closes
		return
	case err != nil || n == 0:
		// The header timeout (as net/http ends a silent connection), or
		// the client left.
		_ = c.Close()
		return
	}
	start := time.Now()
	r, size := h.nextPoll(p, (*buf)[:n])
	switch {
	case r == nil:
		p.back(c)
	case !p.sock.readAll((*buf)[:size]):
		_ = c.Close()
	default:
		h.serveNextPoll(p, r, start)
	}
}

// pollWaiters are the connections waiting for their next poll, which
// Close hands back to the server.
type pollWaiters struct {
	mu     sync.Mutex
	conns  map[*parkedPoll]struct{}
	closed bool
}

func (w *pollWaiters) add(p *parkedPoll) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	if w.conns == nil {
		w.conns = make(map[*parkedPoll]struct{})
	}
	w.conns[p] = struct{}{}
	return true
}

// remove reports whether the waiters were stopped.
func (w *pollWaiters) remove(p *parkedPoll) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.conns, p)
	return w.closed
}

func (w *pollWaiters) stopped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed
}

// stop wakes every waiter (a read deadline in the past), which then gives
// its connection back, and refuses new ones.
func (w *pollWaiters) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	past := time.Unix(1, 0)
	for p := range w.conns {
		_ = p.conn.SetReadDeadline(past)
	}
}

// offerNext keeps what reading p's next poll here needs, when the server
// offers it (not the request's context: a held poll stays small).
func (p *parkedPoll) offerNext(req *request) {
	ag := reenter.AgainFrom(req.r.Context())
	if ag == nil || !readNextPolls.Load() {
		return
	}
	if w, ok := req.w.(*nextWriter); ok {
		p.again, p.fp = ag, w.fp // matched already: the same request but its cursor
		return
	}
	if fp, ok := pollFingerprint(req.r); ok {
		p.again, p.fp = ag, fp
	}
}
