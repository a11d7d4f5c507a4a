package bridge

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"net"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/internal/rawsock"
)

// A broadcast WebSocket subscriber on a plain socket joins the topic's
// fan-out like SSE: the fan-out writes server frames (unmasked,
// uncompressed) straight to the socket, so no writer goroutine waits per
// client. While its client is silent it has no reader goroutine either:
// its socket waits in idleSockets, one epoll set for all of them, and when
// the client sends, idleRead (on the poller's goroutine) reads what an
// idle client sends, pongs and pings, without waiting. Anything else (a
// message, a close, EOF, a frame not wholly arrived) starts the client's
// reader (serveShared) at once, which handles it as it always did, and
// stays: a client that sends messages gets them forwarded as they come.
// Every write to the socket goes through rawOut (wmu): the fan-out's
// frames, and the pong, close and protocol-error answers.

// idleSockets tells when a silent WebSocket subscriber's client sends.
var idleSockets rawsock.Poller

// shareWebSocket makes a broadcast client (chooseDelivery: viaFanout, nb
// its socket's non-blocking writer) a fan-out subscriber. The caller
// counted the connection (hold, runs); the reader ends that and calls
// done, which ends the request at the host.
func (h *RouteHandler) shareWebSocket(c *wsClient, nb *nbWriter, done func()) {
	conn := c.ws.NetConn()
	out := &rawOut{conn: conn, nb: nb, ws: true, counter: counterOf(conn)}
	s := &fanSub{h: h, a: c.a, out: out, idx: -1, fan: c.a.top.fanout(), wsc: c, wsDone: done}
	w := &rawWriter{sink: rawFrames{out: out, json: c.json, pongWait: 2*h.set().heartbeat + closeGrace}}
	w.sink.joined()
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
	// After the add, as handOver's watch: a reader that released first
	// would leave a dead subscriber in the fan-out. The fan-out may have
	// started the reader already.
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reading {
		return
	}
	if fd, ok := nb.fd(); ok && idleSockets.Add(fd, s) {
		s.pollFD, s.polled = fd, true
		return
	}
	s.startReader() // no poller here: the reader waits for the client
}

// startReader gives the subscriber its reader goroutine, once (s.mu
// held): the client sent something the poller does not handle, or the
// fan-out is done with the subscriber (its close frame is out, it failed,
// it was handed off) and the reader sees the connection to its end.
func (s *fanSub) startReader() {
	if s.reading {
		return
	}
	if s.polled {
		idleSockets.Remove(s.pollFD) // before the reader may close it
		s.polled = false
	}
	s.reading = true
	go s.readClient()
}

// readClient owns the subscriber's lifetime once started: it reads, then
// releases the subscriber and ends what the caller of shareWebSocket
// counted.
func (s *fanSub) readClient() {
	defer s.h.runs.Done()
	defer s.h.exit()
	defer s.wsDone() // the access line, once the connection is gone
	s.wsc.serveShared(s)
}

// Readable is idleSockets telling that a silent client sent something.
func (s *fanSub) Readable() { s.idleRead() }

// idlePeek is how much of a silent client's input is looked at: many
// pongs (6 bytes each for our empty pings).
const idlePeek = 256

// idleRead reads, without waiting, what a WebSocket client with no reader
// goroutine sent: its pings are answered and its pongs noted here, as the
// reader would; anything else starts the reader.
func (s *fanSub) idleRead() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.polled {
		return // the reader took over (or the descriptor is another's now)
	}
	var b [idlePeek]byte
	n, ready := s.out.nb.peek(b[:])
	if !ready {
		idleSockets.Rearm(s.pollFD)
		return
	}
	k := leadingPings(b[:n])
	if k == 0 || !s.out.nb.consume(b[:k]) {
		s.startReader()
		return
	}
	// The reader's frame reader and handling, over the bytes taken.
	c := s.wsc
	sock := c.rd.r
	c.rd.r = bytes.NewReader(b[:k])
	for c.readFrame(s) {
	}
	c.rd.r = sock
	if k < n {
		s.startReader() // more than pings, or a frame cut short
		return
	}
	idleSockets.Rearm(s.pollFD)
}

// leadingPings is the length of the whole client ping and pong frames
// (final, masked, at most 125 bytes of payload) that p starts with.
func leadingPings(p []byte) int {
	k := 0
	for len(p)-k >= 6 {
		op, size := p[k], p[k+1]
		if op != 0x80|websocket.PingMessage && op != 0x80|websocket.PongMessage ||
			size&0x80 == 0 || size&0x7f > 125 {
			break
		}
		end := k + 6 + int(size&0x7f)
		if end > len(p) {
			break
		}
		k = end
	}
	return k
}

// serveShared is serve for a fan-out subscriber's reader (readClient):
// this goroutine only reads, and owns the subscriber's lifetime. It sets no read deadline
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
