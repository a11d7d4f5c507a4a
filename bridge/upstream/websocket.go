package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/internal/rawsock"
)

// Small buffers and a shared write buffer pool: an idle upstream connection
// should cost little memory, since session mode opens one per client. A
// frame larger than the read buffer is still read whole (as the client
// side's upgrader does with 512).
const (
	wsReadBufferSize = 512
	// handshakeReadBuffer is gorilla's read buffer when it only reads the
	// handshake (wsframes.go reads the frames): the smallest bufio allows.
	handshakeReadBuffer = 16
	wsWriteBufferSize   = 2048
	// closeGrace bounds the write of our close frame when Run stops.
	closeGrace = time.Second
)

var wsWriteBufferPool = &sync.Pool{}

// handshakeHeaders are set by the WebSocket dialer itself; gorilla refuses a
// request header that duplicates them, so they are dropped from Options.Header.
var handshakeHeaders = []string{
	"Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version",
	"Sec-Websocket-Extensions", "Sec-Websocket-Protocol",
}

// wsConn is a WebSocket upstream. Reads happen only in Run; writes (Send) go
// through writeSlot, a one-slot semaphore, so there is exactly one writer at a
// time and a caller can give up waiting when its ctx ends. Pings and the
// final close frame use WriteControl, which gorilla allows concurrently.
//
// Keepalive: a ping every route heartbeat; the connection is declared dead
// when nothing (message or pong) arrived for two heartbeats, which catches a
// blackholed upstream that never closes the TCP connection.
type wsConn struct {
	s      *settings
	cnt    counters
	dialer *websocket.Dialer
	header http.Header

	closed    context.Context // done once Close was called
	closeFunc context.CancelFunc
	// farewell, when set, is the close code and reason Close sends
	// instead of 1000 (CloseWith).
	farewell  atomic.Pointer[msg.CloseInfo]
	writeSlot chan struct{}
	writeBy   time.Time // the write deadline Send last chose (under writeSlot)
	health    health    // set by Dial, then owned by Run
	// dialed is the socket of the last dial (ws:// only) and frames the
	// reader that takes it over (nil: gorilla reads); set by dial, taken
	// by readLoop, both on Run's side of the dial.
	dialed *handshakeConn
	frames *frameReader

	mu          sync.Mutex
	ws          *websocket.Conn // nil while disconnected
	subprotocol string
	ended       bool // Run returned or Close was called: Send fails with ErrClosed
}

var _ Conn = (*wsConn)(nil)

func dialWebSocket(ctx context.Context, s *settings) (Conn, error) {
	u := *s.url
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	s.url = &u
	header := s.header.Clone()
	if header == nil {
		header = http.Header{}
	}
	for _, h := range handshakeHeaders {
		header.Del(h)
	}
	s.header = nil // c.header is the one kept (for redials)
	closed, closeFunc := context.WithCancel(context.Background())
	c := &wsConn{
		s:   s,
		cnt: s.metrics.forRoute(s.routePath, s.kind),
		dialer: &websocket.Dialer{
			HandshakeTimeout: s.timeout,
			ReadBufferSize:   wsReadBufferSize,
			WriteBufferSize:  wsWriteBufferSize,
			WriteBufferPool:  wsWriteBufferPool,
			Subprotocols:     s.subprotocols,
		},
		header:    header,
		closed:    closed,
		closeFunc: closeFunc,
		writeSlot: make(chan struct{}, 1),
		health:    health{s: s},
	}
	if u.Scheme == "ws" && rawsock.Supported {
		// Plain TCP: the frames are read by wsframes.go's reader, and
		// gorilla's read buffer only serves the handshake.
		c.dialer.NetDialContext = dialRecorded(&c.dialed)
		c.dialer.ReadBufferSize = handshakeReadBuffer
	}
	ws, err := c.dial(ctx)
	if err != nil {
		if !s.reconnect {
			closeFunc()
			return nil, err
		}
		c.health.fail("first dial: " + err.Error())
		return c, nil
	}
	c.setConn(ws)
	if !s.reconnect {
		c.header = nil // never dialled again
	}
	return c, nil
}

func (c *wsConn) dial(ctx context.Context) (*websocket.Conn, error) {
	ws, resp, err := c.dialer.DialContext(ctx, c.s.url.String(), c.header)
	if err != nil {
		inc(c.cnt.failures)
		if resp != nil {
			return nil, fmt.Errorf("upstream: websocket handshake: status %d: %w", resp.StatusCode, err)
		}
		return nil, fmt.Errorf("upstream: websocket dial: %w", err)
	}
	inc(c.cnt.connects)
	ws.SetReadLimit(c.s.maxBytes)
	c.frames = frameReaderOf(ws, c.dialed, c.s.maxBytes)
	c.dialed = nil
	return ws, nil
}

// setConn makes ws the current connection; false (and ws hung up) when
// Close came first.
func (c *wsConn) setConn(ws *websocket.Conn) bool {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		c.hangUp(ws)
		return false
	}
	c.ws = ws
	c.subprotocol = ws.Subprotocol()
	c.mu.Unlock()
	return true
}

func (c *wsConn) current() *websocket.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ws
}

func (c *wsConn) Subprotocol() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subprotocol
}

func (c *wsConn) Run(ctx context.Context, sink msg.Sink) msg.CloseInfo {
	runCtx, stop := runContext(ctx, c.closed)
	defer stop()
	defer func() {
		c.mu.Lock()
		c.ended = true
		ws := c.ws
		c.ws = nil
		c.mu.Unlock()
		if ws != nil {
			c.hangUp(ws) // stopped before reading it
		}
	}()

	backoff := NewBackoff(c.s.minDelay, c.s.maxDelay)
	ws := c.current()
	hadConn := ws != nil
	for {
		if c.stopping(runCtx) {
			return endInfo(c.closed)
		}
		if ws == nil {
			if !c.s.reconnect || !sleep(runCtx, backoff.Next()) {
				return endInfo(c.closed)
			}
			var err error
			if ws, err = c.dial(runCtx); err != nil {
				c.health.fail(err.Error())
				continue
			}
			c.health.ok()
			backoff.Reset()
			if !c.setConn(ws) {
				return endInfo(c.closed)
			}
			if hadConn {
				inc(c.cnt.reconnects)
				sink.Gap("upstream reconnected")
			}
			hadConn = true
		}
		info := c.readLoop(runCtx, ws, sink)
		c.mu.Lock()
		c.ws = nil
		c.mu.Unlock()
		ws.Close()
		ws = nil
		if c.stopping(runCtx) {
			return endInfo(c.closed)
		}
		if !c.s.reconnect {
			return info
		}
		c.health.fail(fmt.Sprintf("connection lost: %d %s", info.Code, info.Reason))
	}
}

// readLoop appends every message of one connection until it ends. Pings
// and the hang-up when runCtx ends run from timers (keepalive), not from a
// goroutine per connection: session mode holds one upstream per client.
func (c *wsConn) readLoop(runCtx context.Context, ws *websocket.Conn, sink msg.Sink) msg.CloseInfo {
	pongWait := 2 * c.s.heartbeat
	ws.SetReadDeadline(time.Now().Add(pongWait))
	alive := func() { ws.SetReadDeadline(time.Now().Add(pongWait)) }
	ws.SetPongHandler(func(string) error { alive(); return nil })

	ka := c.startKeepalive(runCtx, ws)
	defer ka.stop()

	var err error
	if fr := c.frames; fr != nil {
		c.frames = nil
		fr.onPong = alive
		err = c.readFrames(ws, fr, sink, pongWait)
		fr.release()
	} else {
		err = c.readMessages(ws, sink, pongWait)
	}
	if c.stopping(runCtx) {
		return endInfo(c.closed)
	}
	return c.readEnd(err)
}

// readFrames is readLoop over wsframes.go's reader: between frames it
// parks in the readiness wait, a shallow stack holding no buffer. What
// arrived is handled on a short-lived goroutine (frameWork): the sink's
// append writes the session's client inline, deep enough to grow a stack
// that the runtime never shrinks back to the minimum, and that stack goes
// with the worker instead of staying with this idle reader.
func (c *wsConn) readFrames(ws *websocket.Conn, fr *frameReader, sink msg.Sink, pongWait time.Duration) error {
	readBy := time.Now().Add(pongWait)
	var w *frameWork // made at the first wake-up: a session that never hears from its upstream holds none
	for {
		if err := fr.wait(); err != nil {
			return err
		}
		if w == nil {
			w = &frameWork{c: c, ws: ws, fr: fr, sink: sink, pongWait: pongWait, readBy: readBy, done: make(chan error, 1)}
			w.run = w.steps
		}
		go w.run()
		if err := <-w.done; err != nil {
			return err
		}
	}
}

// frameWork is what readFrames' worker needs; one per connection, so a
// wake-up allocates nothing.
type frameWork struct {
	c        *wsConn
	ws       *websocket.Conn
	fr       *frameReader
	sink     msg.Sink
	pongWait time.Duration
	readBy   time.Time
	done     chan error
	run      func() // steps, as a value made once: go w.run() allocates no closure
}

// steps reads and handles frames until the read buffer is empty (the
// socket may have more: readFrames waits for it) or an error.
func (w *frameWork) steps() {
	for {
		m, ok, err := w.fr.readFrame()
		if ok {
			w.readBy = w.c.appendMessage(w.ws, w.sink, m, w.readBy, w.pongWait)
		}
		if err != nil || w.fr.br == nil {
			w.done <- err
			return
		}
	}
}

// readMessages is readLoop over gorilla's reader (TLS upstreams).
func (c *wsConn) readMessages(ws *websocket.Conn, sink msg.Sink, pongWait time.Duration) error {
	readBy := time.Now().Add(pongWait)
	for {
		mt, data, err := ws.ReadMessage()
		if err != nil {
			return err
		}
		readBy = c.appendMessage(ws, sink, msg.Message{Data: data, Binary: mt == websocket.BinaryMessage}, readBy, pongWait)
	}
}

// appendMessage hands one message to the sink and moves the read
// deadline (readBy) when that is worth a timer reset.
//
//go:noinline
func (c *wsConn) appendMessage(ws *websocket.Conn, sink msg.Sink, m msg.Message, readBy time.Time, pongWait time.Duration) time.Time {
	inc(c.cnt.messages)
	if !m.Binary {
		m.Data = validText(m.Data, c.cnt)
	}
	sink.Append(m)
	// After Append: time spent in the sink is not the upstream's silence.
	if want, ok := coarseDeadline(readBy, pongWait); ok {
		readBy = want
		ws.SetReadDeadline(readBy)
	}
	return readBy
}

// keepalive pings the upstream every heartbeat and hangs up when runCtx
// ends (which unblocks ReadMessage). Its callbacks run on timer goroutines
// only while they work; stop waits for any that is running.
type keepalive struct {
	c        *wsConn
	ws       *websocket.Conn
	ticker   *time.Timer
	stopHang func() bool
	hungUp   chan struct{}

	mu      sync.Mutex
	stopped bool
	pinging sync.WaitGroup
}

func (c *wsConn) startKeepalive(runCtx context.Context, ws *websocket.Conn) *keepalive {
	k := &keepalive{c: c, ws: ws}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.ticker = time.AfterFunc(c.s.heartbeat, k.ping)
	if runCtx == c.closed {
		// Only Close ends Run, and Close hangs up the current connection
		// itself (setConn refuses one dialled after Close).
		k.stopHang = func() bool { return true }
		return k
	}
	k.hungUp = make(chan struct{})
	k.stopHang = context.AfterFunc(runCtx, func() {
		defer close(k.hungUp)
		c.hangUp(ws)
	})
	return k
}

func (k *keepalive) ping() {
	k.mu.Lock()
	if k.stopped {
		k.mu.Unlock()
		return
	}
	k.pinging.Add(1)
	k.mu.Unlock()
	defer k.pinging.Done()
	// A failed ping shows up as a read error or deadline soon enough.
	_ = k.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(k.c.s.timeout))
	k.mu.Lock()
	if !k.stopped {
		k.ticker.Reset(k.c.s.heartbeat)
	}
	k.mu.Unlock()
}

func (k *keepalive) stop() {
	k.mu.Lock()
	k.stopped = true
	k.ticker.Stop()
	k.mu.Unlock()
	k.pinging.Wait()
	if !k.stopHang() {
		<-k.hungUp // the hang-up started: let it finish
	}
}

// hangUp tells the upstream why we leave (1000 after Close, 1001 when ctx
// ended) and closes the socket.
func (c *wsConn) hangUp(ws *websocket.Conn) {
	info := endInfo(c.closed)
	if f := c.farewell.Load(); f != nil && c.closed.Err() != nil {
		info = *f
	}
	payload := websocket.FormatCloseMessage(info.Code, info.Reason)
	_ = ws.WriteControl(websocket.CloseMessage, payload, time.Now().Add(closeGrace))
	ws.Close()
}

// stopping reports whether Run must end: ctx done or Close called. Close
// marks c.closed before it closes the socket, so a read error caused by our
// own hang-up is never mistaken for an upstream failure.
func (c *wsConn) stopping(runCtx context.Context) bool {
	return c.closed.Err() != nil || runCtx.Err() != nil
}

// readEnd turns a read error into the CloseInfo that clients will see.
func (c *wsConn) readEnd(err error) msg.CloseInfo {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce):
		code := ce.Code
		switch code {
		case websocket.CloseNoStatusReceived:
			code = CloseNormal // 1005 must not be sent on the wire
		case websocket.CloseAbnormalClosure:
			inc(c.cnt.failures)
		}
		return msg.CloseInfo{Code: code, Reason: ce.Text}
	case errors.Is(err, websocket.ErrReadLimit):
		inc(c.cnt.failures)
		return msg.CloseInfo{Code: websocket.CloseMessageTooBig, Reason: "upstream message too large"}
	}
	inc(c.cnt.failures)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return msg.CloseInfo{Code: CloseAbnormal, Reason: "upstream keepalive timed out"}
	}
	return msg.CloseInfo{Code: CloseAbnormal, Reason: "upstream connection lost"}
}

func (c *wsConn) Send(ctx context.Context, m msg.Message) error {
	if int64(len(m.Data)) > c.s.maxBytes {
		return ErrMessageTooLarge
	}
	select {
	case c.writeSlot <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closed.Done():
		return ErrClosed
	}
	defer func() { <-c.writeSlot }()

	c.mu.Lock()
	ws, ended := c.ws, c.ended
	c.mu.Unlock()
	switch {
	case ended || c.closed.Err() != nil:
		return ErrClosed
	case ws == nil:
		return ErrNotConnected
	}
	deadline := c.writeBy // writeSlot is held: no other Send touches it
	if want, ok := coarseDeadline(deadline, c.s.timeout); ok {
		deadline, c.writeBy = want, want
	}
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	ws.SetWriteDeadline(deadline)
	mt := websocket.TextMessage
	if m.Binary {
		mt = websocket.BinaryMessage
	}
	if err := ws.WriteMessage(mt, m.Data); err != nil {
		return fmt.Errorf("upstream: websocket write: %w", err)
	}
	return nil
}

// Close makes Run return (it sends the upstream a 1000 close frame). A
// connection that Dial opened but Run never took over is closed here.
func (c *wsConn) Close() error {
	c.closeFunc()
	c.mu.Lock()
	c.ended = true
	ws := c.ws
	c.mu.Unlock()
	if ws != nil {
		c.hangUp(ws) // Run, if running, hangs up too; closing twice is harmless
	}
	return nil
}

// CloseWith is Close, with the close code and reason the upstream gets.
func (c *wsConn) CloseWith(info msg.CloseInfo) error {
	c.farewell.Store(&info)
	return c.Close()
}

// coarseDeadline returns now+wait when that moves the deadline at by at
// least wait/16, else (at, false): Go re-arms a socket's runtime timer
// whenever its deadline changes (gorilla sets the write deadline on every
// frame), which costs more per message than the rest of the bookkeeping,
// while a bound up to 1/16 shorter is the same bound to a peer.
func coarseDeadline(at time.Time, wait time.Duration) (time.Time, bool) {
	want := time.Now().Add(wait)
	if want.Sub(at) < wait/16 {
		return at, false
	}
	return want, true
}
