package bridge

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"
)

// wireOut is where a push transport's bytes go: net/http's response
// (httpOut), or a hijacked HTTP/1.1 connection (rawOut).
type wireOut interface {
	write(b []byte) error
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

func (o *httpOut) flush() error { return o.rc.Flush() }

// hijackStreams turns the hand-over on (a var so tests and benchmarks can
// compare both paths).
var hijackStreams = true

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

// rawOut writes HTTP/1.1 chunked encoding to a hijacked connection, as
// net/http did for the headers and first bytes it already sent. One flush
// is one chunk. Non-blocking (in the shared fan-out) until the socket
// refuses bytes; from then on blocking with writeWait per write (in the
// subscriber's own goroutine).
type rawOut struct {
	conn net.Conn
	nb   *nbWriter // nil: this connection can only do blocking writes
	// buf is the current chunk: chunkReserve bytes, then the payload. In
	// the fan-out it is the fan-out's scratch, lent for one step.
	buf []byte
	// pending are framed bytes the socket did not take yet.
	pending  []byte
	blocking bool
	slow     bool
}

func (o *rawOut) write(b []byte) error {
	if len(o.buf) < chunkReserve {
		o.buf = append(o.buf[:0], make([]byte, chunkReserve)...)
	}
	o.buf = append(o.buf, b...)
	if len(o.buf)-chunkReserve >= maxChunk {
		return o.flush()
	}
	return nil
}

// frame turns buf into one chunk and returns its bytes (a sub-slice of
// buf), or nil when there is no payload.
func (o *rawOut) frame() []byte {
	size := len(o.buf) - chunkReserve
	if size <= 0 {
		return nil
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
	if o.blocking {
		if len(o.pending) > 0 {
			if err := o.writeAll(o.pending); err != nil {
				return err
			}
			o.pending = nil
		}
		if f := o.frame(); f != nil {
			if err := o.writeAll(f); err != nil {
				return err
			}
		}
		o.buf = o.buf[:0]
		return nil
	}
	f := o.frame()
	o.buf = o.buf[:0]
	if f == nil {
		return nil
	}
	n, err := o.nb.write(f)
	if err != nil {
		return err
	}
	if n < len(f) {
		// The client is not reading fast enough: keep the rest (its own
		// copy, buf is shared) for the goroutine that takes over.
		o.pending = append(o.pending, f[n:]...)
		o.slow = true
		return errSlow
	}
	return nil
}

func (o *rawOut) writeAll(b []byte) error {
	_ = o.conn.SetWriteDeadline(time.Now().Add(writeWait))
	_, err := o.conn.Write(b)
	return err
}

// finish ends the chunked body and closes the connection (the server
// cannot take a hijacked connection back for keep-alive). Best effort
// when non-blocking: a client that does not read loses the ending.
func (o *rawOut) finish() {
	if o.blocking {
		if o.flush() == nil {
			_ = o.writeAll(chunkTerminator)
		}
	} else if o.flush() == nil {
		_, _ = o.nb.write(chunkTerminator)
	}
	_ = o.conn.Close()
}

// handOver moves a broadcast SSE/stream subscriber off net/http once its
// headers and first bytes are out: it hijacks HTTP/1.1 connections (their
// bufio buffers and the serving goroutine go away) and gives the
// subscriber to the topic's shared fan-out, leaving one small goroutine per
// connection that only notices the client leaving. It reports whether it
// took the attachment (then the caller must not touch it again). HTTP/2,
// TLS, HTTP/1.0 and session mode keep the net/http path.
func (h *RouteHandler) handOver(req *request, a *attachment, newWriter func(wireOut) streamWriter) bool {
	r := req.r
	if !hijackStreams || a.top == nil || r.ProtoMajor != 1 || r.ProtoMinor < 1 || r.TLS != nil || r.Method != http.MethodGet {
		return false
	}
	conn, _, err := http.NewResponseController(req.w).Hijack()
	if err != nil {
		return false
	}
	// Bytes the client sent after its request (pipelining) are dropped with
	// net/http's reader, as net/http would leave them unread.
	out := &rawOut{conn: conn, nb: newNBWriter(conn)}
	s := &fanSub{h: h, a: a, out: out, idx: -1}
	s.w = newWriter(out)
	if out.nb != nil {
		s.fan = a.top.fanout()
	}
	h.hold()
	h.runs.Add(1)
	go s.watch()
	if out.nb == nil {
		s.mu.Lock()
		if !s.gone {
			s.handOff(false)
		}
		s.mu.Unlock()
		return true
	}
	s.fan.add(s)
	return true
}

// hold counts one more request in while a goroutine keeps serving a
// client after its handler returned (hand-over, WebSocket), so Close still
// waits for it to say goodbye before closing topics and sessions under it.
// Only called from inside a request (active > 0); release with h.exit.
func (h *RouteHandler) hold() {
	h.mu.Lock()
	h.active++
	h.mu.Unlock()
}
