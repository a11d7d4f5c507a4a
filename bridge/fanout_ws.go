package bridge

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"net"

	"github.com/gorilla/websocket"
)

// A broadcast WebSocket subscriber on a plain socket joins the topic's
// fan-out like SSE: the fan-out writes server frames (unmasked,
// uncompressed) straight to the socket, so no writer goroutine waits per
// client, and its one goroutine reads the client's frames with bridge's
// own reader (wsread.go) parked in a small read with no deadline. Every
// write to the socket goes through rawOut (wmu): the fan-out's frames, and
// the reader's pong, close and protocol-error answers.

// shareWebSocket makes a broadcast client (chooseDelivery: viaFanout, nb
// its socket's non-blocking writer) a fan-out subscriber. It joins the
// fan-out here, on the handler's goroutine, so that the reader's fresh
// goroutine (serveShared) keeps a small stack.
func (h *RouteHandler) shareWebSocket(c *wsClient, nb *nbWriter) *fanSub {
	conn := c.ws.NetConn()
	out := &rawOut{conn: conn, nb: nb, ws: true, counter: counterOf(conn)}
	s := &fanSub{h: h, a: c.a, out: out, idx: -1, fan: c.a.top.fanout()}
	w := &rawWriter{sink: rawFrames{out: out, json: c.json, pongWait: 2*h.set().heartbeat + closeGrace}}
	w.sink.sawClient()
	s.w = w
	c.shared = s
	// gorilla's connection is dropped after the handshake (it has read
	// nothing past it: Upgrade refuses a client that sent data early),
	// which frees its read buffer; frames are read by wsread.go.
	c.ws = nil
	bare := bareConn(conn)
	c.rd = &wsFrameReader{r: bare, limit: h.set().maxMessageBytes}
	c.wait = newReadWaiter(bare)
	s.fan.add(s)
	return s
}

// serveShared is serve for a fan-out subscriber: this goroutine only
// reads, and owns the subscriber's lifetime. It sets no read deadline
// (a timer per connection): the fan-out's heartbeat notices a client that
// stopped answering pings (rawFrames.ping). Idle, it parks in the
// read waiter with a shallow stack; each frame is handled in readFrame.
func (c *wsClient) serveShared(s *fanSub) {
	defer func() {
		s.release() // shuts the sending side only (shutWrite)
		lingerClose(bareConn(s.out.conn))
		_ = s.out.conn.Close()
	}()
	for {
		if c.wait != nil {
			if err := c.wait.wait(); err != nil {
				return
			}
		}
		if !c.readFrame(s) {
			return
		}
	}
}

// readFrame reads and acts on one client frame or message; false ends the
// connection.
//
//go:noinline
func (c *wsClient) readFrame(s *fanSub) bool {
	f, err := c.rd.next()
	if err != nil {
		if fe, ok := isFrameError(err); ok {
			_ = s.out.control(appendWSFrame(nil, websocket.CloseMessage, websocket.FormatCloseMessage(fe.code, fe.reason)), true)
		}
		return false
	}
	s.w.(*rawWriter).sink.sawClient()
	switch f.op {
	case websocket.PingMessage:
		_ = s.out.control(appendWSFrame(nil, websocket.PongMessage, f.payload), false)
		return true
	case websocket.PongMessage:
		return true
	case websocket.CloseMessage:
		// Echo the client's code (none when it sent none), then end.
		_ = s.out.control(appendWSFrame(nil, websocket.CloseMessage, closeEcho(f.payload)), true)
		return false
	}
	// As serve: no request context once the handler returned.
	if err := c.forward(context.Background(), f.op, f.payload); err != nil {
		c.closeWith(err)
		return false
	}
	return true
}

// closeEcho is the payload of our answer to a client's close frame: its
// status code, no reason.
func closeEcho(payload []byte) []byte {
	if len(payload) < 2 {
		return nil
	}
	return payload[:2]
}

// bareConn is the connection under the proxy's wrappers (limitedConn,
// countingConn: they only watch request bytes and count, and each layer
// deepens the stack an idle reader parks with). It stops at TLS: under a
// *tls.Conn the socket carries records, never our bytes, so the caller's
// socket fast paths (which need a syscall.Conn) do not apply.
func bareConn(c net.Conn) net.Conn {
	for {
		if _, ok := c.(*tls.Conn); ok {
			return c
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return c
		}
		c = u.NetConn()
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
