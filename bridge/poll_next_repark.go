package bridge

import (
	"net/http"
	"time"

	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/bridge/wire"
	"github.com/bridgeway/bridgeway/internal/reenter"
)

// repark parks a next poll matched by its bytes (poll_next_raw.go) again
// without the route's handler: it subscribes the connection to the same
// topic at cursor c and leaves it to the fan-out, as the handler's park
// would (same transport, limits, answer head, timeout). A cursor behind
// the log's end parks too: the fan-out looks at every fresh poll at once
// and answers it with what follows the cursor, the bytes the handler
// would write (under load, clients often poll again after the next
// message; sending those through net/http cost most of the gateway's
// CPU). It never waits; it runs on the poller's goroutine, or on whoever
// finished the poll before (fan-out, timer, the answer's writer) when the
// request had arrived meanwhile. false, before
// anything changed, when the poll is not one to park here now (a cursor
// ahead of the log or of another epoch, the topic ended, a reload gave
// the path to another route; with the access log on, a cursor behind the
// end, whose line counts the answer's bytes): the caller then serves it
// the handler's way.
func (h *RouteHandler) repark(nc *nextConn, c wire.Cursor, head []byte, start time.Time) bool {
	old := nc.p
	t := old.a.top
	_, last := t.log.Bounds()
	if c.Seq > last || c.Epoch != t.log.Epoch() || c.Seq < last && accessLogOn(old.again) {
		return false
	}
	// Entered until parked, so Close waits for this too; the parked
	// poll's own hold is let go of when it is answered.
	if old.again.Route(nc.raw.path) != http.Handler(h) || !h.enter() {
		return false
	}
	defer h.exit()
	if !t.attach() {
		return false
	}
	// Same epoch, not past the end (checked above): the position is the cursor's.
	rd := msglog.NewReader(t.log, c.Seq)
	a := &attachment{tm: h.metrics.transports[old.transport], top: t, rd: rd}
	a.connected()
	p := &parkedPoll{h: h, a: a, conn: old.conn, back: old.back, transport: old.transport, callback: old.callback,
		lim: old.lim, head: old.head, pos: rd.Pos(), idx: -1, again: old.again, fp: old.fp, next: nc}
	p.sock.from(&old.sock)
	p.fan = t.fanout()
	h.hold()
	p.mu.Lock()
	p.fan.addPoll(p)
	nc.timePoll(p, start.Add(h.set().pollTimeout))
	p.mu.Unlock()
	nextPollsParked.Add(1)
	nextPollsRaw.Add(1)
	h.recordRaw(p, head, start)
	return true
}

// recordRaw records a poll parked by repark as the server records its
// requests: the access-log line needs a request, built only when the log
// is on; the metrics need the path only.
func (h *RouteHandler) recordRaw(p *parkedPoll, head []byte, start time.Time) {
	ag := p.again
	if accessLogOn(ag) {
		if r, err := parseHead(head); err == nil {
			ag.Served(p.requestFor(r), http.StatusOK, 0, start)
		}
		return
	}
	ag.Counted(p.next.raw.path, http.StatusOK, start)
}

// accessLogOn reports whether a request served through ag needs its
// access-log line (also when the server cannot say).
func accessLogOn(ag *reenter.Again) bool {
	return ag.Logging == nil || ag.Counted == nil || ag.Logging()
}
