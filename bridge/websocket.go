package bridge

import (
	"context"
	"encoding/binary"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/upstream"
	"github.com/bridgeway/bridgeway/bridge/wire"
)

// closeGrace is how long we wait for the client's close frame after ours.
const closeGrace = 5 * time.Second

// wsWriteBuffers are shared by all connections between writes: idle
// connections hold no write buffer.
var wsWriteBuffers = &sync.Pool{}

// testHookBeatRead, when a test sets it, runs after a client WebSocket read
// its heartbeat (a reload landing there must not change its pings).
var testHookBeatRead atomic.Pointer[func()]

// heartbeatRead marks where a connection has read its heartbeat, for
// testHookBeatRead.
func heartbeatRead() {
	if hook := testHookBeatRead.Load(); hook != nil {
		(*hook)()
	}
}

var upgrader = websocket.Upgrader{
	// gorilla never reads past the handshake (bridge reads frames itself,
	// wsread.go): the smallest buffer bufio allows.
	ReadBufferSize:  16,
	WriteBufferSize: 4096,
	WriteBufferPool: wsWriteBuffers,
	// Origins are checked by the route before upgrading.
	CheckOrigin: func(*http.Request) bool { return true },
}

// serveWebSocket is the route path with Upgrade: websocket, or /ws. In
// session mode a new connection opens its own session (closed with it) and
// frames pass unchanged; ?session=&cursor= attach to an existing one. In
// broadcast mode it subscribes to the topic. ?format=json sends message
// objects instead of raw data; with &acks=1 too, client frames are
// numbered sends that the gateway acknowledges (websocket_acks.go).
func (h *RouteHandler) serveWebSocket(req *request, transport string) {
	q := req.r.URL.Query()
	jsonFormat := q.Get("format") == "json"
	acks, aerr := h.acksQuery(q.Get("acks"), jsonFormat) // websocket_acks.go
	if aerr == nil {
		aerr = h.checkSubprotocols(req.r) // subprotocol.go
	}
	if aerr != nil {
		writeError(req.w, aerr)
		return
	}
	a, aerr := h.attach(req, transport, q.Get("cursor"), true)
	if sessionLost(aerr) && isWebSocketUpgrade(req.r) {
		writeWebSocketLost(req) // session_lost.go
		return
	}
	if aerr != nil {
		writeError(req.w, aerr)
		return
	}
	served := false
	defer func() {
		if !served {
			a.done()
		}
	}()
	// The upstream's subprotocol: chosen for this client (session), or the
	// shared one when the client offers it (broadcast).
	var respHeader http.Header
	if a.sess != nil {
		if a.sess.conn == nil {
			// Cluster mode, a session owned by another instance: its
			// subprotocol is not known here.
		} else {
			respHeader = answerSubprotocol(req.r, a.sess.conn.Subprotocol())
		}
	} else if a.top.conn == nil {
		// Cluster mode: the shared upstream may be on another instance.
	} else {
		respHeader = answerSubprotocol(req.r, a.top.conn.Subprotocol())
	}
	// The upgrade writes its own error answer on failure.
	ws, err := upgrader.Upgrade(req.w, req.r, respHeader)
	if err != nil {
		return
	}
	a.connected()
	if jsonFormat && a.start {
		// Where a broadcast subscriber starts, before anything else.
		if ws.WriteMessage(websocket.TextMessage, wire.AppendStartJSON(nil, a.startCursor())) != nil {
			_ = ws.Close()
			return
		}
	}
	served = true
	h.deliverWebSocket(req, &wsClient{h: h, a: a, ws: ws, json: jsonFormat, acks: acks})
}

// deliverWebSocket serves an upgraded client from a fresh goroutine and
// returns: net/http's connection state (its bufio buffers, the serving
// goroutine's deep stack) is freed instead of being held for the socket's
// lifetime. chooseDelivery picks who writes: the topic's fan-out, the
// session's kicks (in serve) or a writer goroutine. It owns c.a.
func (h *RouteHandler) deliverWebSocket(req *request, c *wsClient) {
	a, ws := c.a, c.ws
	done := outliveHandler(req.w) // the access line ends with the connection
	h.hold()
	h.runs.Add(1)
	f := h.deliveryFactsOf(req, a)
	var nb *nbWriter
	if f.broadcast {
		nb = newNBWriter(ws.NetConn())
		f.nonBlocking = nb != nil
	}
	c.path = chooseDelivery(webSocket, f)
	if c.path == viaFanout {
		h.shareWebSocket(c, nb, done) // a reader starts when the client sends (fanout_ws.go)
		return
	}
	go func() {
		defer h.runs.Done()
		defer h.exit()
		defer done() // the access line, once the connection is gone
		defer ws.Close()
		// No request context: net/http cancels it when the handler
		// returns. serve's writer stops with serve.
		c.serve(context.Background())
		a.done() // the session or topic is let go before the linger
		lingerAfterClose(ws.NetConn())
	}()
}

// wsClient is one client WebSocket: the handler goroutine reads, one
// writer goroutine (pump) writes.
type wsClient struct {
	h      *RouteHandler
	a      *attachment
	ws     *websocket.Conn
	json   bool
	acks   bool           // client frames are numbered sends, acknowledged (websocket_acks.go)
	path   deliveryPath   // who writes: a writer goroutine, the session's kicks, or the fan-out
	wmu    sync.Mutex     // one frame writer at a time: the pump's messages, the reader's acks
	shared *fanSub        // set when the topic's fan-out writes (fanout_ws.go)
	rd     *wsFrameReader // reads the client's frames when shared
	wait   *readWaiter    // parks the shared reader until a frame arrives
}

func (c *wsClient) serve(ctx context.Context) {
	// Read once: the pings and the read deadline must agree, whatever a
	// reload sets meanwhile.
	beat := c.h.set().heartbeat
	pongWait := 2*beat + closeGrace
	_ = c.ws.SetReadDeadline(time.Now().Add(pongWait))
	heartbeatRead()

	if c.path == viaKick {
		// No writer goroutine parked per client (deliver_kick.go).
		p := c.startSessionPump(beat, func() {
			// As below: our close frame is out (or the connection broke).
			_ = c.ws.SetReadDeadline(time.Now().Add(closeGrace))
		})
		defer p.stop()
		c.readLoop(ctx, pongWait)
		return
	}

	writerCtx, stopWriter := context.WithCancel(ctx)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		w := newGorillaWriter(c)
		c.h.pumpBeating(writerCtx, c.a, w, beat)
		// Our close frame is out (or the connection broke): give the
		// client a moment to answer, then unblock the reader.
		_ = c.ws.SetReadDeadline(time.Now().Add(closeGrace))
	}()
	defer func() {
		stopWriter()
		<-writerDone
	}()
	c.readLoop(ctx, pongWait)
}

// forward sends one client frame to the upstream.
func (c *wsClient) forward(ctx context.Context, kind int, data []byte) error {
	m := msg.Message{Data: data, Binary: kind == websocket.BinaryMessage}
	a := c.a
	var err error
	switch {
	case a.sess != nil:
		err = a.sess.send(ctx, -1, oneMessage(m))
		if err == nil {
			a.sess.countIn(1, len(data))
		}
	case !c.h.set().clientSend:
		return errSendNotAllowed
	default:
		err = c.h.bridge.logs.sendTopic(ctx, a.top, oneMessage(m))
	}
	if err != nil {
		return err
	}
	a.tm.messagesIn.Inc()
	a.tm.bytesIn.Add(float64(len(data)))
	return nil
}

// closeWith ends the connection after a failed client send.
func (c *wsClient) closeWith(err error) {
	code, reason := websocket.CloseInternalServerErr, "upstream send failed"
	var ce *wsCloseError
	switch {
	case errors.As(err, &ce):
		code, reason = ce.code, ce.reason
	case errors.Is(err, errSendNotAllowed), errors.Is(err, upstream.ErrSendUnsupported):
		code, reason = websocket.ClosePolicyViolation, "sending is not allowed on this route"
	case errors.Is(err, upstream.ErrMessageTooLarge):
		code, reason = websocket.CloseMessageTooBig, "message too large"
	case errors.Is(err, upstream.ErrClosed):
		return // the writer delivers the upstream's own close
	case errors.Is(err, upstream.ErrNotConnected):
		code, reason = websocket.CloseTryAgainLater, "upstream reconnecting"
	}
	c.writeClose(code, reason)
}

// writeClose sends our close frame with code and reason.
func (c *wsClient) writeClose(code int, reason string) {
	if c.shared != nil {
		_ = c.shared.out.control(appendWSFrame(nil, websocket.CloseMessage, websocket.FormatCloseMessage(code, reason)), true)
		return
	}
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(writeWait))
}

// clientClosed records the close frame (its validated payload) of the
// WebSocket client that owns the session, for the upstream: frames pass
// unchanged in session mode, and so does the client's reason for leaving
// when it is one an application gives (1000, 1001, 3000-4999). Codes about
// the client's own connection (protocol errors, sizes) are the gateway's
// business; the upstream then gets 1000.
func (s *session) clientClosed(payload []byte) {
	if !s.owned || len(payload) < 2 {
		return
	}
	c := int(binary.BigEndian.Uint16(payload))
	if c != websocket.CloseNormalClosure && c != websocket.CloseGoingAway && (c < 3000 || c > 4999) {
		return
	}
	s.mu.Lock()
	s.farewell = &msg.CloseInfo{Code: c, Reason: string(payload[2:])}
	s.mu.Unlock()
}
