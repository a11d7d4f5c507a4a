package bridge

import (
	"net/http"
	"sync/atomic"

	"github.com/bridgeway/bridgeway/internal/reenter"
)

// The one place that decides how a client's messages leave the gateway.
// Every handler asks chooseDelivery once its headers (or handshake) are
// out; the table below is the whole policy, each row with its reasons.

// clientKind is what a transport asks of delivery.
type clientKind int

const (
	pushStream clientKind = iota // SSE, NDJSON: a chunked response that stays open
	webSocket                    // a WebSocket after its handshake
	heldPoll                     // a long-poll or JSONP with nothing to answer yet
)

// deliveryPath is who moves bytes from the log to the client's socket.
type deliveryPath uint8

const (
	// viaGoroutine: a goroutine per client runs pump (the handler's, or a
	// WebSocket's writer), or the handler holds the poll. Always correct;
	// the byte-parity tests compare every other path against it.
	viaGoroutine deliveryPath = iota
	// viaKick: the session's upstream reader kicks the client's pump after
	// each append (deliver_kick.go); no goroutine waits per client.
	viaKick
	// viaFanout: the connection is hijacked and the topic's one fan-out
	// goroutine writes it with non-blocking writes (deliver_fanout.go).
	viaFanout
	// viaPark: the poll's connection is hijacked and parked; the fan-out
	// answers it once and gives the connection back (poll_park.go).
	viaPark
)

// deliveryFacts are the reasons the table reads (passed by value: a few
// bytes, and through the rows' func values a pointer would go to the heap).
type deliveryFacts struct {
	broadcast    bool // a topic's subscriber: one log read by many, no flow control
	localSession bool // a session whose upstream reader runs in this process (not Redis-fed)
	plainHTTP11  bool // HTTP/1.1 (not 1.0, not 2) GET without TLS: net/http can let go of it
	nonBlocking  bool // the socket takes non-blocking writes (unix, a plain socket); WebSocket only
	body         bool // the request has a body net/http has not read all of
	wayBack      bool // the connection can go back to its http.Server and be peeked at (Linux; asked as ending)
	ending       bool // the route's shutdown began: answer now, park nothing (asked for broadcast HTTP/1.1 only)
}

// Switches for tests and benchmarks that compare a path with viaGoroutine
// (atomic where a test flips it while the gateway serves).
var (
	hijackStreams = true // viaFanout
	parkPolls     atomic.Bool
)

func init() { parkPolls.Store(true) }

// deliveryTable: the first row of the client's kind whose condition holds
// wins; no row, viaGoroutine.
var deliveryTable = [...]struct {
	client clientKind
	path   deliveryPath
	holds  func(f deliveryFacts) bool
}{
	// A topic's stream over plain HTTP/1.1: hijacked into the fan-out
	// (a socket without non-blocking writes gets a goroutine there).
	{pushStream, viaFanout, func(f deliveryFacts) bool {
		return hijackStreams && f.broadcast && f.plainHTTP11
	}},
	// A topic's WebSocket on a plain socket: the fan-out writes its frames.
	{webSocket, viaFanout, func(f deliveryFacts) bool {
		return hijackStreams && f.broadcast && f.nonBlocking
	}},
	// A session fed here: its upstream reader's appends kick the writer.
	// (A Redis-fed session has nothing local to kick it.)
	{webSocket, viaKick, func(f deliveryFacts) bool { return f.localSession }},
	// A topic's waiting poll on plain HTTP/1.1 without a body, with a way
	// back to the server for the next request, while the route serves.
	{heldPoll, viaPark, func(f deliveryFacts) bool {
		return parkPolls.Load() && f.broadcast && f.plainHTTP11 && !f.body && f.wayBack && !f.ending
	}},
}

// chooseDelivery is the path for a client of kind with facts f.
func chooseDelivery(client clientKind, f deliveryFacts) deliveryPath {
	for i := range deliveryTable {
		row := &deliveryTable[i]
		if row.client == client && row.holds(f) {
			return row.path
		}
	}
	return viaGoroutine
}

// deliveryFactsOf gathers what the request and attachment say; the
// caller adds nonBlocking (it needs the upgraded socket).
func (h *RouteHandler) deliveryFactsOf(req *request, a *attachment) deliveryFacts {
	r := req.r
	f := deliveryFacts{
		broadcast:    a.top != nil,
		localSession: a.localSession(),
		plainHTTP11:  r.ProtoMajor == 1 && r.ProtoMinor >= 1 && r.TLS == nil && r.Method == http.MethodGet,
		body:         r.ContentLength != 0 || len(r.TransferEncoding) > 0,
	}
	if f.broadcast && f.plainHTTP11 {
		f.wayBack = peekSupported && reenter.From(r.Context()) != nil
		select {
		case <-h.shuttingDown():
			f.ending = true
		default:
		}
	}
	return f
}

// localSession reports whether a's session is fed by this process's
// upstream reader (so its log changes are seen by kickPumps, and its
// upstream Send copies a frame before returning).
func (a *attachment) localSession() bool {
	return a.sess != nil && a.sess.home.local()
}
