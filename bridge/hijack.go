package bridge

import (
	"net/http"

	"github.com/bridgeway/bridgeway/internal/rawsock"
)

// handOver moves a broadcast SSE/stream subscriber off net/http once its
// headers and first bytes are out: it hijacks HTTP/1.1 connections (their
// bufio buffers and the serving goroutine go away) and gives the
// subscriber to the topic's shared fan-out, with no goroutine of its own
// (the fan-out notices the client leaving at a heartbeat or a failed
// write, and releases it). It reports whether it
// took the attachment (then the caller must not touch it again). HTTP/2,
// TLS, HTTP/1.0 and session mode keep the net/http path.
func (h *RouteHandler) handOver(req *request, a *attachment, newWriter func(wireOut) streamWriter) bool {
	f := h.deliveryFactsOf(req, a)
	if chooseDelivery(pushStream, f) != viaFanout {
		return false
	}
	conn, _, err := http.NewResponseController(req.w).Hijack()
	if err != nil {
		return false
	}
	// Bytes the client sent after its request (pipelining) are dropped with
	// net/http's reader, as net/http would leave them unread.
	out := &rawOut{conn: conn, nb: newNBWriter(conn), counter: counterOf(conn)}
	s := &fanSub{h: h, a: a, out: out, idx: -1, done: outliveHandler(req.w)}
	s.w = newWriter(out)
	if out.nb != nil {
		s.fan = a.top.fanout()
	}
	// Counted until releaseStream (by the fan-out, or by watch once the
	// subscriber has a goroutine of its own).
	h.hold()
	h.runs.Add(1)
	if out.nb == nil {
		s.mu.Lock()
		s.handOff(false)
		s.mu.Unlock()
		return true
	}
	// Without a peek (rawsock.Supported) the heartbeat cannot tell a
	// client left: a reader does. It starts after the add: one that
	// released first would leave a dead subscriber in the fan-out.
	// s.watched is the fan-out's once s is added (handOff sets it).
	watch := !rawsock.Supported
	s.watched = watch
	s.fan.add(s)
	if watch {
		go s.watch()
	}
	return true
}

// hold counts one more request in while a goroutine keeps serving a
// client after its handler returned (hand-over, WebSocket), so Close still
// waits for it to say goodbye before closing topics and sessions under it.
// Only called from inside a request (active > 0); release with h.exit.
func (h *RouteHandler) hold() {
	h.mu.Lock()
	h.active++
	h.mu.Unlock()
}
