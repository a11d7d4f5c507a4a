package bridge

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/bridgeway/bridgeway/internal/rawsock"
	"github.com/bridgeway/bridgeway/internal/reenter"
)

// Once a parked poll's answer is out on a keep-alive connection, the
// client's next request is read here rather than by net/http: giving the
// connection back costs a fresh connection goroutine, its stack growth and
// 8 KiB of bufio buffers per cycle that the next hijack takes out of
// net/http's pools (the long-poll CPU of issue 18). The waiting connection
// has no goroutine: it sits in a shared edge-triggered epoll set
// (nextSockets) from its first wait on, and one read (recv(2)) takes what
// the client sent. A plain next
// poll whose head is the previous one's byte for byte but for its cursor
// parks again, usually on the poller's goroutine (poll_next_raw.go,
// poll_next_repark.go); the first next poll of a connection is parsed by
// net/http's parser and served on the route's handler (poll_next_match.go,
// poll_next_serve.go). Anything else goes back to the server
// (internal/reenter) with the bytes read ahead in front, so net/http
// answers it exactly as on a fresh read.

// readNextPolls switches reading the next poll here (tests and benchmarks
// compare it with the way back through net/http).
var readNextPolls atomic.Bool

// matchRawPolls switches matching next polls by their bytes
// (poll_next_raw.go; benchmarks measure it against the parser's way).
var matchRawPolls atomic.Bool

func init() {
	readNextPolls.Store(true)
	matchRawPolls.Store(true)
}

// nextReadSize bounds the head read here: a head that does not fit (or
// has not arrived whole) goes to net/http with those bytes, and net/http's
// limit (max_header_bytes + 4 KiB) is never below this.
const nextReadSize = 4096

var nextReadBuffers = sync.Pool{New: func() any { b := make([]byte, nextReadSize); return &b }}

// nextSockets tells when a connection read here has something new to
// read: one goroutine for all of them, which ends with the last registered
// socket. A connection stays registered from its first wait until it is
// closed or given back, so a wait costs no system call.
var nextSockets rawsock.EdgePoller

// States of a nextConn (nextConn.state).
const (
	nextBusy    = 0 // its owner holds it: its poll is parked, answered or read
	nextWaiting = 1 // waiting for the client's next request
	// nextPending (with nextBusy) notes that something arrived while
	// busy: the edge-triggered poller does not tell it again.
	nextPending = 2
)

// nextConn is a keep-alive connection whose polls the bridge reads itself,
// kept from one poll to the next: its registration in nextSockets, its
// header timer, and what a next poll must repeat byte for byte (raw). Its
// owner is whoever holds the connection: the parked poll, then the
// waiter; the state's transitions hand it on.
type nextConn struct {
	h     *RouteHandler // the route of the poll answered last
	p     *parkedPoll   // the poll answered last
	sock  nextSock      // the socket's raw read and its descriptor
	state atomic.Int32
	// header closes the connection when no request came within the
	// header timeout, as net/http ends a silent one (expire).
	header lazyTimer
	inSet  bool    // registered in nextSockets
	raw    rawPoll // the head a next poll must repeat (poll_next_raw.go)
	polls  pollTimer
}

// readNext takes over p's connection to wait for its next request; false
// when it cannot (the caller gives the connection back). Called by finish
// while p still holds the route (active > 0), so Close sees the waiter.
func (h *RouteHandler) readNext(p *parkedPoll) bool {
	if p.again == nil || !readNextPolls.Load() || h.ending.Load() || !p.again.Open() {
		return false
	}
	nc := p.next
	if nc == nil {
		nc = &nextConn{}
		if !nc.sock.init(&p.sock) {
			return false
		}
		p.next = nc
	}
	nc.h, nc.p = h, p
	if !h.nextPolls.add(nc) {
		return false
	}
	h.runs.Add(1)
	if d := p.again.HeaderTimeout; d > 0 { // 0: none, as in net/http
		if at := time.Now().Add(d); !nc.header.set(at) {
			nc.header.start(at, nc.expire)
		}
	} else {
		nc.header.clear()
	}
	if !nc.inSet {
		// Registered while busy: what is there already is noted pending.
		nc.inSet = true
		if !nextSockets.Add(nc.sock.fd, nc) {
			nc.inSet = false
			nc.header.stop()
			h.nextPolls.remove(nc)
			h.runs.Done()
			return false
		}
	}
	nc.wait()
	// After the wait began: expire, finding the connection busy, disarms
	// and then looks again for a wait begun meanwhile.
	nc.header.arm()
	return true
}

// wait starts waiting for the client's next request, or reads it at once
// when it arrived while the connection was busy. The owner calls it.
func (nc *nextConn) wait() {
	h := nc.h
	for {
		s := nc.state.Load()
		if s&nextPending != 0 {
			if nc.state.CompareAndSwap(s, nextBusy) {
				nc.take()
				return
			}
			continue
		}
		if nc.state.CompareAndSwap(s, nextWaiting) {
			break
		}
	}
	// stop sets closed, then takes the waiting connections: one that began
	// to wait after stop looked at it sees closed here.
	if h.nextPolls.closed.Load() && nc.state.CompareAndSwap(nextWaiting, nextBusy) {
		h.nextPolls.remove(nc)
		nc.handBack(nil)
		h.runs.Done()
	}
}

// EdgeReady is told by nextSockets: the client sent something (or left;
// the read tells which, so the flags are not needed). A waiting connection
// is read on the poller's goroutine, with the others of its batch
// (nextReads); a busy one notes it for its next wait.
func (nc *nextConn) EdgeReady(uint32) {
	for {
		s := nc.state.Load()
		switch {
		case s == nextWaiting:
			if nc.state.CompareAndSwap(s, nextBusy) {
				nextReads.add(nc)
				return
			}
		case s&nextPending != 0:
			return
		case nc.state.CompareAndSwap(s, s|nextPending):
			return
		}
	}
}

// take reads what the client sent (the caller made the connection busy):
// a plain next poll parks again here; anything else goes on in a
// goroutine of its own.
func (nc *nextConn) take() {
	start := time.Now()
	buf := nextReadBuffers.Get().(*[]byte)
	n, retry, failed := nc.sock.read(*buf)
	nc.took(buf, n, retry, failed, start)
}

// took goes on with what the read of the client's next request brought
// into buf (n bytes; retry: nothing after all; failed: an error), read at
// start: by take, or with others in one system call (nextReads).
func (nc *nextConn) took(buf *[]byte, n int, retry, failed bool, start time.Time) {
	if retry {
		nextReadBuffers.Put(buf)
		nc.wait()
		return
	}
	h, p := nc.h, nc.p
	stopped := h.nextPolls.remove(nc)
	head := (*buf)[:n]
	switch {
	case stopped: // the route closes: the server answers or closes
		nc.handBack(head)
	case failed || n == 0: // the client left
		nc.release()
		_ = p.conn.Close()
	default:
		if c, ok := nc.raw.match(h.set(), head); ok && matchRawPolls.Load() && h.repark(nc, c, head, start) {
			break
		}
		go h.serveRead(nc, buf, n, start) // owns buf and the run
		return
	}
	nextReadBuffers.Put(buf)
	h.runs.Done()
}

// serveRead serves a next request that is not a repeat of the last poll's
// bytes: a plain next poll of the same client on the route's handler (it
// then remembers its head for the next cycles), anything else back to the
// server with the bytes read.
func (h *RouteHandler) serveRead(nc *nextConn, buf *[]byte, n int, start time.Time) {
	defer h.runs.Done()
	defer nextReadBuffers.Put(buf)
	head := (*buf)[:n]
	r := h.nextPoll(nc.p, head)
	if r == nil {
		nc.handBack(head)
		return
	}
	nc.raw = makeRawPoll(head, r, h.set())
	h.serveNextPoll(nc.p, r, start)
}

// handBack gives the connection back to the server with the bytes read
// from it first.
func (nc *nextConn) handBack(ahead []byte) {
	nc.release()
	p := nc.p
	if len(ahead) == 0 {
		p.back(p.conn)
		return
	}
	p.back(reenter.WithPrefix(p.conn, ahead))
}

// expire closes a connection that sent nothing within the header timeout,
// as net/http ends a silent connection (from the timer's goroutine).
func (nc *nextConn) expire() {
	if nc.state.Load() == nextWaiting {
		if nc.header.later() {
			return
		}
		if nc.header.deadline.Load() != 0 && nc.state.CompareAndSwap(nextWaiting, nextBusy) {
			h, p := nc.h, nc.p
			h.nextPolls.remove(nc)
			nc.release()
			_ = p.conn.Close()
			h.runs.Done()
			return
		}
	}
	nc.header.disarm(func() bool { return nc.state.Load() == nextWaiting })
}

// release lets go of the epoll registration and the timer before the
// connection is closed or given back (its descriptor may then be reused).
func (nc *nextConn) release() {
	nc.header.stop()
	nc.polls.stop()
	if nc.inSet {
		nc.inSet = false
		nextSockets.Remove(nc.sock.fd, nc)
	}
}

// pollWaiters are the connections waiting for their next poll, which
// Close hands back to the server.
type pollWaiters struct {
	mu    sync.Mutex
	conns map[*nextConn]struct{}
	// closed is set under mu and read without it by a wait that begins
	// while stop runs (nextConn.wait).
	closed atomic.Bool
}

func (w *pollWaiters) add(nc *nextConn) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed.Load() {
		return false
	}
	if w.conns == nil {
		w.conns = make(map[*nextConn]struct{})
	}
	w.conns[nc] = struct{}{}
	return true
}

// remove reports whether the waiters were stopped.
func (w *pollWaiters) remove(nc *nextConn) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.conns, nc)
	return w.closed.Load()
}

// stop hands every waiting connection back to the server (which answers
// or closes it) and refuses new ones; a connection being read is handed
// back by its reader, which sees stop.
func (w *pollWaiters) stop() {
	w.mu.Lock()
	w.closed.Store(true)
	var waiting []*nextConn
	for nc := range w.conns {
		if nc.state.CompareAndSwap(nextWaiting, nextBusy) {
			waiting = append(waiting, nc)
			delete(w.conns, nc)
		}
	}
	w.mu.Unlock()
	for _, nc := range waiting {
		h := nc.h
		nc.handBack(nil)
		h.runs.Done()
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
		// Matched already: the same request but its cursor, on the same
		// waiting connection.
		p.again, p.fp, p.next = ag, w.fp, w.next
		return
	}
	if fp, ok := pollFingerprint(req.r); ok {
		p.again, p.fp = ag, fp
	}
}

// release lets go of p's connection's registration for its next poll
// before the connection is closed or given back.
func (p *parkedPoll) release() {
	if p.next != nil {
		p.next.release()
	}
}
