package bridge

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/bridge/wire"
)

// The one WebSocket encoder: what a WebSocket client sees for each thing
// the log says (messages as text or binary frames, or JSON objects with
// ?format=json; gaps; the end), over either place frames go:
//   - gorillaFrames: gorilla's connection, written by a writer goroutine
//     or the session's kicks;
//   - rawFrames: whole frames into rawOut on a hijacked socket, written by
//     the topic's fan-out.

// wsFrameSink is where a WebSocket's frames go.
type wsFrameSink interface {
	// frame writes one data frame (text or binary).
	frame(op int, payload []byte) error
	// closeFrame writes our close frame; nothing follows it.
	closeFrame(payload []byte) error
	// ping writes a ping, or fails when the client stopped answering.
	ping() error
	flush() error
	// jsonFormat: the client asked for ?format=json.
	jsonFormat() bool
}

// wsWriter is the streamWriter of every WebSocket client. The sink is held
// by value (S is the sink type, PS its pointer): one allocation per client,
// as small as the sink.
type wsWriter[S any, PS interface {
	*S
	wsFrameSink
}] struct {
	sink S
}

func (w *wsWriter[S, PS]) out() PS { return PS(&w.sink) }

func (w *wsWriter[S, PS]) entry(e *msglog.Entry) (int, error) {
	o := w.out()
	if o.jsonFormat() {
		return len(e.Msg.Data), o.frame(websocket.TextMessage, e.Encoded(msglog.FormatJSON, encodeJSON))
	}
	if e.Kind == msglog.KindGap {
		// Messages were lost upstream (a broadcast upstream reconnected
		// and could not resume). Raw frames cannot say so in-band without
		// changing the app's protocol, and skipping would lose them
		// silently: the connection ends, as a plain proxy's would when its
		// upstream dropped. Only gaps after the subscriber's start reach
		// here (a snapshot never starts before a gap).
		return 0, w.endRaw(upstreamGapClose)
	}
	op := websocket.TextMessage
	if e.Msg.Binary {
		op = websocket.BinaryMessage
	}
	return len(e.Msg.Data), o.frame(op, e.Msg.Data)
}

func (w *wsWriter[S, PS]) gap(g *msglog.Gap) error {
	if w.out().jsonFormat() {
		return w.out().frame(websocket.TextMessage, wire.AppendGapMessageJSON(nil, g.From, g.To))
	}
	// Raw frames cannot say "you missed some": close rather than skip.
	return w.endRaw(slowGapClose)
}

// endRaw closes a raw-frames client that lost messages.
func (w *wsWriter[S, PS]) endRaw(info msg.CloseInfo) error {
	_ = w.closeFrame(info)
	_ = w.flush()
	return errRawGap
}

// errRawGap ends a raw WebSocket client at a gap in its messages.
var errRawGap = errors.New("bridge: gap on a raw websocket")

// upstreamGapClose is what a raw WebSocket client gets when the upstream
// lost messages: 1012 (service restart) tells it to reconnect.
var upstreamGapClose = msg.CloseInfo{Code: closeUpstreamGap, Reason: "upstream reconnected: messages were lost"}

// slowGapClose ends a client without a gap frame that was too slow for
// slow_client: drop_oldest (raw WebSocket, SockJS).
var slowGapClose = msg.CloseInfo{Code: closeSlowClient, Reason: "slow client: messages were lost"}

// close ends the client for good (its session or topic ended, or
// slow_client: disconnect). A ?format=json client first gets the
// {"closed":...} object the other transports send: its close code alone
// (1001, 1011-1014) could also mean "resume", and a client that resumed
// would find the same end again and again.
func (w *wsWriter[S, PS]) close(info msg.CloseInfo) error {
	if w.out().jsonFormat() {
		if err := w.out().frame(websocket.TextMessage, wire.AppendClosedJSON(nil, clientCloseCode(info.Code), info.Reason)); err != nil {
			return err
		}
	}
	return w.closeFrame(info)
}

// closeFrame sends the close frame alone (a shutdown's 1001, which the
// client resumes after, or a raw client's end).
func (w *wsWriter[S, PS]) closeFrame(info msg.CloseInfo) error {
	return w.out().closeFrame(websocket.FormatCloseMessage(clientCloseCode(info.Code), cutCloseReason(info.Reason)))
}

func (w *wsWriter[S, PS]) heartbeat() error { return w.out().ping() }

func (w *wsWriter[S, PS]) goingAway() error {
	return w.closeFrame(msg.CloseInfo{Code: closeShutdown, Reason: "gateway shutting down"})
}

func (w *wsWriter[S, PS]) flush() error { return w.out().flush() }

// clientCloseCode maps an upstream close code to one that may be sent on
// the wire: 1005 (no status) becomes 1000, 1006/1015 (abnormal, TLS)
// become 1014 (bad gateway), other reserved values 1011.
func clientCloseCode(code int) int {
	switch {
	case code == 1005 || code == 0:
		return closeNormal
	case code == 1006 || code == 1015:
		return closeBadGateway
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014, code >= 3000 && code <= 4999:
		return code
	default:
		return websocket.CloseInternalServerErr
	}
}

// gorillaFrames is where a WebSocket's frames go on gorilla's connection
// (a writer goroutine's pump, or the session's kicks); encode_ws.go
// decides what they say.
type gorillaFrames struct {
	c *wsClient
	// writeBy is the write deadline last chosen, moved only when it moves
	// by writeWait/16 or more: gorilla applies it to the socket on every
	// frame, and Go re-arms the socket's timer only when it changes.
	writeBy time.Time
}

// gorillaWriter is the WebSocket encoder over gorilla.
type gorillaWriter = wsWriter[gorillaFrames, *gorillaFrames]

func newGorillaWriter(c *wsClient) *gorillaWriter {
	return &gorillaWriter{sink: gorillaFrames{c: c}}
}

func (g *gorillaFrames) frame(kind int, b []byte) error {
	ws := g.c.ws
	if want := time.Now().Add(writeWait); want.Sub(g.writeBy) >= writeWait/16 {
		g.writeBy = want
	}
	g.c.wmu.Lock()
	defer g.c.wmu.Unlock()
	_ = ws.SetWriteDeadline(g.writeBy)
	return ws.WriteMessage(kind, b)
}

func (g *gorillaFrames) closeFrame(payload []byte) error {
	return g.c.ws.WriteControl(websocket.CloseMessage, payload, time.Now().Add(writeWait))
}

// ping: a client that stopped answering is noticed by the reader's
// deadline (readLoop), not here.
func (g *gorillaFrames) ping() error {
	return g.c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait))
}

func (g *gorillaFrames) flush() error     { return nil }
func (g *gorillaFrames) jsonFormat() bool { return g.c.json }

// rawFrames is where a fan-out WebSocket's frames go: whole frames into
// rawOut; encode_ws.go decides what they say.
type rawFrames struct {
	out  *rawOut
	json bool
	hdr  [10]byte

	// pongWait is how long the client may stay silent (it answers our
	// pings); seen is when it last sent a frame, pinged when we last pinged
	// it or it joined (monoNow).
	pongWait time.Duration
	seen     atomic.Int64
	pinged   atomic.Int64
}

// rawWriter is the WebSocket encoder over a hijacked socket.
type rawWriter = wsWriter[rawFrames, *rawFrames]

// errClientSilent ends a subscriber that stopped answering pings.
var errClientSilent = errors.New("bridge: websocket client stopped answering pings")

// sawClient records a frame from the client (reader goroutine).
func (r *rawFrames) sawClient() { r.seen.Store(int64(monoNow())) }

// joined starts the clocks of a subscriber that just joined.
func (r *rawFrames) joined() {
	now := int64(monoNow())
	r.seen.Store(now)
	r.pinged.Store(now)
}

// monoNow is monotonic time since the process started (wall clock jumps
// must not end connections).
func monoNow() time.Duration { return time.Since(processStart) }

var processStart = time.Now()

func (r *rawFrames) frame(op int, payload []byte) error {
	return r.out.write2(appendWSHeader(r.hdr[:0], op, len(payload)), payload)
}

func (r *rawFrames) closeFrame(payload []byte) error {
	if !r.out.markClosed() {
		return nil // the reader already answered the client's close
	}
	return r.frame(websocket.CloseMessage, payload)
}

// ping pings the client, or fails when it has not answered for pongWait:
// the fan-out (or the handed-off pump) then ends the response and the
// reader's read runs out after closeGrace, as with gorilla's read deadline.
//
// The pings come at the topic's fan-out's heartbeat, which follows a
// reload while pongWait stays what the client joined with: after a reload
// that lengthened heartbeat they can be further apart than pongWait, so
// silence is also allowed two of the actual gaps between pings and the
// grace.
func (r *rawFrames) ping() error {
	now := monoNow()
	limit := max(r.pongWait, 2*(now-time.Duration(r.pinged.Load()))+closeGrace)
	if now-time.Duration(r.seen.Load()) > limit {
		return errClientSilent
	}
	r.pinged.Store(int64(now))
	return r.frame(websocket.PingMessage, nil)
}

func (r *rawFrames) flush() error     { return r.out.flush() }
func (r *rawFrames) jsonFormat() bool { return r.json }
