package bridge

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// wireOut is where a push transport's bytes go: net/http's response
// (httpOut), or a hijacked HTTP/1.1 connection (rawOut).
type wireOut interface {
	write(b []byte) error
	// write2 writes a then b as one unit (never split by a failed flush).
	write2(a, b []byte) error
	flush() error
}

// httpOut writes through net/http (HTTP/2, TLS, HTTP/1.0, session mode).
type httpOut struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (o *httpOut) write(b []byte) error {
	_ = o.rc.SetWriteDeadline(time.Now().Add(writeWait))
	_, err := o.w.Write(b)
	return err
}

func (o *httpOut) write2(a, b []byte) error {
	if err := o.write(a); err != nil {
		return err
	}
	_, err := o.w.Write(b)
	return err
}

func (o *httpOut) flush() error { return o.rc.Flush() }

// errSlow reports that the socket did not take all bytes without waiting:
// the subscriber leaves the shared fan-out for a goroutine of its own.
var errSlow = errors.New("bridge: client is not keeping up")

const (
	// chunkReserve is room before a chunk's payload for its size line:
	// up to 8 hex digits and CRLF.
	chunkReserve = 10
	// maxChunk bounds one chunk, hence the buffer that builds it.
	maxChunk = 32 << 10
)

var (
	crlf            = []byte("\r\n")
	chunkTerminator = []byte("0\r\n\r\n")
)

// rawOut writes to a hijacked connection: HTTP/1.1 chunked encoding
// (SSE, stream: net/http already sent the headers and first bytes) or
// whole WebSocket frames (ws). One flush is one chunk / one write.
// Non-blocking (in the shared fan-out) until the socket refuses bytes; from
// then on blocking with writeWait per write (in the subscriber's own
// goroutine).
type rawOut struct {
	conn net.Conn
	nb   *nbWriter // nil: this connection can only do blocking writes
	// counter, when the host counts the connection's bytes, is told about
	// non-blocking writes, which bypass conn.
	counter writtenCounter
	ws      bool // WebSocket frames: no chunking; finishing waits for the client's close
	// buf is the current chunk (after chunkReserve bytes when chunked).
	// In the fan-out it is the fan-out's scratch, lent for one step.
	buf []byte

	// wmu orders writes to the socket: the fan-out or the handed-off pump,
	// and control frames from the WebSocket reader (control).
	wmu sync.Mutex
	// pending are bytes the socket did not take yet.
	pending  []byte
	blocking bool
	slow     bool
	closed   bool // a WebSocket close frame was written or queued
	// closeOut: our close frame went to send. Every byte goes out through
	// send, so checking there is what keeps a frame from following it.
	closeOut bool
	// queue (wmu held), while the fan-out's part holds the subscriber for
	// a batch, takes every byte instead of the socket, in order: the
	// part's streamBatch sends them with others' (stream_batch_linux.go).
	queue *[]byte
}

// errClosedOut: a frame was dropped because our close frame went out first
// (RFC 6455 5.5.1: nothing may follow it).
var errClosedOut = errors.New("bridge: websocket close frame already sent")

// markClosed reports whether no close frame went out yet, and records one.
func (o *rawOut) markClosed() bool {
	o.wmu.Lock()
	defer o.wmu.Unlock()
	first := !o.closed
	o.closed = true
	return first
}

func (o *rawOut) reserve() int {
	if o.ws {
		return 0
	}
	return chunkReserve
}

func (o *rawOut) write(b []byte) error { return o.write2(b, nil) }

func (o *rawOut) write2(a, b []byte) error {
	if len(o.buf) < o.reserve() {
		o.buf = append(o.buf[:0], make([]byte, chunkReserve)...)
	}
	o.buf = append(append(o.buf, a...), b...)
	if len(o.buf)-o.reserve() >= maxChunk {
		return o.flush()
	}
	return nil
}

// frame turns buf into what goes on the wire (for chunked, one chunk: a
// sub-slice of buf), or nil when there is no payload.
func (o *rawOut) frame() []byte {
	size := len(o.buf) - o.reserve()
	if size <= 0 {
		return nil
	}
	if o.ws {
		return o.buf
	}
	var hex [8]byte
	h := strconv.AppendUint(hex[:0], uint64(size), 16)
	start := chunkReserve - 2 - len(h)
	copy(o.buf[start:], h)
	o.buf[chunkReserve-2], o.buf[chunkReserve-1] = '\r', '\n'
	o.buf = append(o.buf, crlf...)
	return o.buf[start:]
}

func (o *rawOut) flush() error {
	f := o.frame()
	o.wmu.Lock()
	defer o.wmu.Unlock()
	err := o.send(f)
	o.buf = o.buf[:0]
	return err
}

// send writes pending bytes and then f (wmu held). On a WebSocket, f is
// dropped once our close frame went out; a close frame marked (closed) ends
// f, so f is the last to go.
func (o *rawOut) send(f []byte) error {
	var err error
	if o.ws {
		if o.closeOut {
			if len(f) > 0 {
				err = errClosedOut
			}
			f = nil
		}
		o.closeOut = o.closed
	}
	if serr := o.sendBytes(f); serr != nil {
		return serr
	}
	return err
}

func (o *rawOut) sendBytes(f []byte) error {
	if o.blocking {
		if len(o.pending) > 0 {
			if err := o.writeAll(o.pending); err != nil {
				return err
			}
			o.pending = nil
		}
		if len(f) > 0 {
			return o.writeAll(f)
		}
		return nil
	}
	if len(o.pending) > 0 {
		// Still behind (a control frame went partly out): queue behind it.
		o.pending = append(o.pending, f...)
		f = o.pending
	} else if len(f) == 0 {
		return nil
	} else if o.queue != nil {
		*o.queue = append(*o.queue, f...)
		return nil
	}
	n, err := o.nb.write(f)
	o.countRaw(n)
	if err != nil {
		return err
	}
	if n < len(f) {
		// The client is not reading fast enough: keep the rest (its own
		// copy, buf is shared) for the goroutine that takes over.
		o.pending = append(o.pending[:0:0], f[n:]...)
		o.slow = true
		return errSlow
	}
	o.pending = nil
	return nil
}

// control writes one frame now, from another goroutine than the writer's
// (a WebSocket pong or close answer). Nothing follows a close frame.
func (o *rawOut) control(f []byte, isClose bool) error {
	o.wmu.Lock()
	defer o.wmu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = isClose
	return o.send(f)
}

func (o *rawOut) writeAll(b []byte) error {
	_ = o.conn.SetWriteDeadline(time.Now().Add(writeWait))
	_, err := o.conn.Write(b)
	return err
}

// finish ends the response. Chunked: the last chunk, then close (the
// server cannot take a hijacked connection back for keep-alive). WebSocket:
// our close frame is out, give the client closeGrace to answer. Best effort
// when non-blocking: a client that does not read loses the ending.
func (o *rawOut) finish() {
	err := o.flush()
	if o.ws {
		_ = o.conn.SetReadDeadline(time.Now().Add(closeGrace))
		return
	}
	if err == nil {
		o.wmu.Lock()
		if o.blocking {
			_ = o.writeAll(chunkTerminator)
		} else {
			n, _ := o.nb.write(chunkTerminator)
			o.countRaw(n)
		}
		o.wmu.Unlock()
	}
	_ = o.conn.Close()
}
