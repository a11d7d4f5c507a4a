package bridge

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/bridge/wire"
)

// A broadcast WebSocket subscriber on a plain socket joins the topic's
// fan-out like SSE: its one goroutine reads (gorilla), the fan-out writes
// server frames (unmasked, uncompressed) straight to the socket, so no
// writer goroutine waits per client. Every write to the socket goes
// through rawOut (wmu): the fan-out's frames, and the reader's pong and
// close answers (our own ping/close handlers replace gorilla's, which
// would write on their own). gorilla still writes by itself after a
// protocol error (e.g. 1009 for an oversized frame), as the connection
// ends.

// shareWebSocket returns the fan-out subscriber for a broadcast client
// whose socket allows non-blocking writes, or nil (session mode, TLS).
func (h *RouteHandler) shareWebSocket(c *wsClient) *fanSub {
	if !hijackStreams || c.a.top == nil {
		return nil
	}
	nb := newNBWriter(c.ws.NetConn())
	if nb == nil {
		return nil
	}
	out := &rawOut{conn: c.ws.NetConn(), nb: nb, ws: true}
	s := &fanSub{h: h, a: c.a, out: out, idx: -1, fan: c.a.top.fanout()}
	s.w = &wsFrameWriter{out: out, json: c.json}
	c.shared = s
	return s
}

// serveShared is serve for a fan-out subscriber: this goroutine only
// reads; it owns the subscriber's lifetime.
func (c *wsClient) serveShared(s *fanSub) {
	defer s.release()
	pongWait := 2*c.h.set.heartbeat + closeGrace
	c.ws.SetReadLimit(c.h.set.maxMessageBytes)
	_ = c.ws.SetReadDeadline(time.Now().Add(pongWait))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(pongWait))
	})
	c.ws.SetPingHandler(func(data string) error {
		_ = s.out.control(appendWSFrame(nil, websocket.PongMessage, []byte(data)), false)
		return nil
	})
	c.ws.SetCloseHandler(func(code int, _ string) error {
		_ = s.out.control(appendWSFrame(nil, websocket.CloseMessage, websocket.FormatCloseMessage(code, "")), true)
		return nil
	})
	s.fan.add(s)
	ctx := context.Background() // as serve: no request context once the handler returned
	for {
		kind, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(pongWait))
		if err := c.forward(ctx, kind, data); err != nil {
			c.closeWith(err)
			return
		}
	}
}

// appendWSFrame appends one unmasked final frame.
func appendWSFrame(b []byte, op int, payload []byte) []byte {
	return append(appendWSHeader(b, op, len(payload)), payload...)
}

func appendWSHeader(b []byte, op, n int) []byte {
	b = append(b, 0x80|byte(op))
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
}

// wsFrameWriter is wsWriter for the fan-out: frames into rawOut.
type wsFrameWriter struct {
	out  *rawOut
	json bool
	hdr  [10]byte
}

func (w *wsFrameWriter) frame(op int, payload []byte) error {
	return w.out.write2(appendWSHeader(w.hdr[:0], op, len(payload)), payload)
}

func (w *wsFrameWriter) entry(e *msglog.Entry) (int, error) {
	if w.json {
		return len(e.Msg.Data), w.frame(websocket.TextMessage, e.Encoded(msglog.FormatJSON, encodeJSON))
	}
	if e.Kind == msglog.KindGap {
		return 0, nil // as wsWriter: upstream gaps are only counted on raw frames
	}
	op := websocket.TextMessage
	if e.Msg.Binary {
		op = websocket.BinaryMessage
	}
	return len(e.Msg.Data), w.frame(op, e.Msg.Data)
}

func (w *wsFrameWriter) gap(g *msglog.Gap) error {
	if w.json {
		b := []byte(`{"id":`)
		b = wire.AppendJSONString(b, g.To)
		b = append(b, `,"gap":`...)
		b = wire.AppendGapJSON(b, g.From, g.To)
		return w.frame(websocket.TextMessage, append(b, '}'))
	}
	_ = w.close(msg.CloseInfo{Code: closeSlowClient, Reason: "slow client: messages were lost"})
	_ = w.flush()
	return errors.New("bridge: gap on a raw websocket")
}

func (w *wsFrameWriter) close(info msg.CloseInfo) error {
	if !w.out.markClosed() {
		return nil // the reader already answered the client's close
	}
	reason := info.Reason
	if len(reason) > 120 {
		reason = reason[:120]
	}
	return w.frame(websocket.CloseMessage, websocket.FormatCloseMessage(clientCloseCode(info.Code), reason))
}

func (w *wsFrameWriter) heartbeat() error { return w.frame(websocket.PingMessage, nil) }

func (w *wsFrameWriter) goingAway() error {
	return w.close(msg.CloseInfo{Code: closeShutdown, Reason: "gateway shutting down"})
}

func (w *wsFrameWriter) flush() error { return w.out.flush() }
