package bridge

import (
	"bufio"
	"context"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// readLoop forwards the client's frames until the connection ends. They
// are read by wsread.go's reader, as on the fan-out, so session and
// broadcast routes answer every frame alike; gorilla writes (its control
// writes may run beside the pump's).
//
// Between frames an idle client holds no buffer: the read buffer and the
// frame buffer are pooled and taken when bytes arrive. It parks in the
// read waiter (wsread_wait.go) with a shallow stack, and what arrived is
// handled on a short-lived goroutine (clientFrames.steps): forwarding a
// frame to the upstream is deep enough to grow a stack that the runtime
// never shrinks back to the minimum, and that stack goes with the worker
// instead of staying with the idle reader.
func (c *wsClient) readLoop(ctx context.Context, pongWait time.Duration) {
	r := c.clientFrames(ctx, pongWait)
	defer r.release()
	if r.wait == nil { // nothing to wait on (TLS): the reader parks in its read
		for r.one(ctx) {
		}
		return
	}
	for {
		if r.br == nil {
			if r.wait.wait() != nil { // deadline passed or connection closed
				return
			}
		}
		if r.done == nil { // made at the first frame: a client that never sends holds none
			r.done = make(chan bool, 1)
			r.run = r.steps
		}
		go r.run()
		if !<-r.done {
			return
		}
	}
}

// wsReadBuffer is the read buffer of a WebSocket read by readLoop.
const wsReadBuffer = 512

// readBuffers are readLoop's read buffers, held only while they hold bytes.
var readBuffers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, wsReadBuffer) }}

// clientFrames is readLoop's state between frames.
type clientFrames struct {
	c        *wsClient
	conn     net.Conn
	pongWait time.Duration
	forward  func(ctx context.Context, kind int, data []byte) error
	rd       wsFrameReader
	br       *bufio.Reader // from readBuffers; nil while nothing is buffered
	wait     *readWaiter   // nil where the socket cannot be waited on (TLS, no peek)
	// A local session's upstream Send has copied the frame when it
	// returns, so its messages are read into pooled buffers.
	pooled bool
	buf    *[]byte // the frame buffer (frameBuffers) the next message starts in

	ctx  context.Context
	done chan bool // steps' answer: go on
	run  func()    // steps, as a value made once: go r.run() allocates no closure
}

// steps handles frames until the read buffer is empty (the socket may
// have more: readLoop waits for it) or the connection ends.
func (r *clientFrames) steps() {
	for {
		if !r.one(r.ctx) {
			r.done <- false
			return
		}
		if r.br == nil {
			r.done <- true
			return
		}
	}
}

func (c *wsClient) clientFrames(ctx context.Context, pongWait time.Duration) *clientFrames {
	conn := c.ws.NetConn()
	r := &clientFrames{c: c, conn: conn, pongWait: pongWait, forward: c.forward,
		wait: newReadWaiter(bareConn(conn)), pooled: c.a.localSession(), ctx: ctx}
	r.rd.limit = c.h.set().maxMessageBytes
	if c.acks {
		r.rd.limit = c.h.sendFrameLimit() // a send frame carries a message in JSON (or base64)
		r.forward = c.forwardAcked        // numbered send frames (websocket_acks.go)
	}
	return r
}

// one reads and acts on one client frame or message; false ends the
// connection.
//
//go:noinline
func (r *clientFrames) one(ctx context.Context) bool {
	if r.br == nil {
		r.br = readBuffers.Get().(*bufio.Reader)
		r.br.Reset(r.conn)
		r.rd.r = r.br
	}
	defer r.putReadBuffer()
	if r.pooled && r.buf == nil {
		r.buf = frameBuffers.Get().(*[]byte)
		r.rd.spare = (*r.buf)[:0]
	}
	c := r.c
	f, err := r.rd.next()
	if err != nil {
		if fe, ok := isFrameError(err); ok {
			c.writeClose(fe.code, fe.reason)
		}
		return false
	}
	_ = r.conn.SetReadDeadline(time.Now().Add(r.pongWait))
	switch f.op {
	case websocket.PingMessage:
		_ = c.ws.WriteControl(websocket.PongMessage, f.payload, time.Now().Add(writeWait))
		r.putFrameBuffer(nil)
		return true
	case websocket.PongMessage:
		r.putFrameBuffer(nil)
		return true
	case websocket.CloseMessage:
		_ = c.ws.WriteControl(websocket.CloseMessage, closeEcho(f.payload), time.Now().Add(writeWait))
		if c.a.sess != nil {
			c.a.sess.clientClosed(f.payload)
		}
		return false
	}
	if err := r.forward(ctx, f.op, f.payload); err != nil {
		c.closeWith(err)
		return false
	}
	r.putFrameBuffer(f.payload)
	return true
}

// putReadBuffer gives the read buffer back once it holds nothing.
func (r *clientFrames) putReadBuffer() {
	if r.br != nil && r.br.Buffered() == 0 {
		r.release()
	}
}

// putFrameBuffer gives the frame buffer back after a forwarded message
// (its payload, which the buffer now backs), or after a control frame
// when no fragmented message is using it.
func (r *clientFrames) putFrameBuffer(payload []byte) {
	if r.buf == nil {
		return
	}
	if payload == nil {
		if r.rd.inMsg {
			return // a control frame between fragments: the message goes on in it
		}
		payload, r.rd.spare = r.rd.spare, nil
	}
	if payload != nil && cap(payload) <= maxPooledFrame {
		*r.buf = payload[:0]
		frameBuffers.Put(r.buf)
	}
	r.buf = nil
}

// release gives the read buffer back (the connection ended, or the
// buffer is empty).
func (r *clientFrames) release() {
	if r.br != nil {
		r.br.Reset(nil)
		readBuffers.Put(r.br)
		r.br, r.rd.r = nil, nil
	}
}
