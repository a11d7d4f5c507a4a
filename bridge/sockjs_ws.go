package bridge

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/wire"
	"github.com/bridgeway/bridgeway/config"
)

// sockjsUpgrader reads frames through gorilla (SockJS clients send few
// and small ones); write buffers are pooled as for bridgeway's own
// WebSockets.
var sockjsUpgrader = websocket.Upgrader{
	WriteBufferPool: wsWriteBuffers,
	CheckOrigin:     func(*http.Request) bool { return true }, // sockjsCORS judged it
}

// sockjsWSCheck answers what is not a WebSocket handshake the route may
// take: 404 when websocket is off, 405 for another method, 400 without
// the upgrade headers, 403 for a refused origin.
func (h *RouteHandler) sockjsWSCheck(req *request) bool {
	switch {
	case !config.Bool(h.route.SockJS.WebSocket, true):
		writeError(req.w, errNotFound)
	case req.r.Method != http.MethodGet:
		sockjsMethod(req.w, http.MethodGet)
	case !isWebSocketUpgrade(req.r):
		sockjsText(req.w, http.StatusBadRequest, `Can "Upgrade" only to "WebSocket".`)
	default:
		return h.sockjsCORS(req)
	}
	return false
}

// sockjsRawWebSocket is /websocket: plain WebSocket, no SockJS framing,
// which is what the bridge's own WebSocket endpoint serves.
func (h *RouteHandler) sockjsRawWebSocket(req *request) {
	if h.sockjsWSCheck(req) {
		h.serveWebSocket(h.sockjsRequest(req), config.TransportWebSocket)
	}
}

// sockjsWebSocket is /<server>/<session>/websocket: SockJS frames over a
// WebSocket. The connection is the session (the protocol lets two share
// an id): its own bridge session or subscription, ended with it.
func (h *RouteHandler) sockjsWebSocket(req *request) {
	if !h.sockjsWSCheck(req) {
		return
	}
	sreq := h.sockjsRequest(req)
	a, aerr := h.attach(sreq, config.TransportWebSocket, "", true)
	if aerr != nil {
		writeError(req.w, aerr)
		return
	}
	defer a.done()
	ws, err := sockjsUpgrader.Upgrade(req.w, req.r, nil)
	if err != nil {
		return // the upgrade wrote its own answer
	}
	defer ws.Close()
	a.connected()
	ws.SetReadLimit(h.set().maxBodyBytes) // one frame carries a batch, like a send body
	// A client that stopped reading answers no ping: it is dropped after
	// two heartbeats and a grace, not when heartbeats stop fitting in its
	// socket's buffers.
	beat := h.set().heartbeat // read once: the pings and the deadline agree
	pongWait := 2*beat + closeGrace
	_ = ws.SetReadDeadline(time.Now().Add(pongWait))
	heartbeatRead()
	ws.SetPongHandler(func(string) error { return ws.SetReadDeadline(time.Now().Add(pongWait)) })
	closing := msg.CloseInfo{Code: 3000, Reason: "Go away!"}
	sw := &sockjsWriter{out: &sockjsWSOut{ws: ws}, perFrame: true, onClose: func(i msg.CloseInfo) { closing = i },
		onHeartbeat: func() error { return ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)) }}
	sw.frame([]byte(wire.SockJSOpen))
	if sw.flush() != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer cancel() // the client left or broke the protocol: stop the pump
		h.sockjsReadWS(sreq, ws, a, pongWait)
	}()
	h.pumpBeating(ctx, a, sw, beat)
	if sw.finished {
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(closing.Code, cutCloseReason(closing.Reason)), time.Now().Add(writeWait))
	}
	_ = ws.SetReadDeadline(time.Now().Add(closeGrace))
	<-readerDone
}

// sockjsReadWS forwards the client's frames: each a JSON array of strings
// (or one string); an empty frame is ignored, broken JSON ends the
// connection at once, as the protocol says.
func (h *RouteHandler) sockjsReadWS(req *request, ws *websocket.Conn, a *attachment, pongWait time.Duration) {
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		_ = ws.SetReadDeadline(time.Now().Add(pongWait))
		if len(data) == 0 {
			continue
		}
		texts, err := wire.ParseSockJSMessages(data)
		if err != nil {
			return
		}
		msgs, _, aerr := sockjsMessages(h.set(), texts)
		if aerr != nil {
			return
		}
		if h.sockjsForward(req, a, msgs) != nil {
			return
		}
	}
}
