package upstream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/internal/rawsock"
	"github.com/bridgeway/bridgeway/internal/wsframe"
)

// An idle upstream WebSocket (session mode holds one per client) should
// cost its reader goroutine's smallest stack and no buffer. gorilla's
// reader parks deep in its own frames with its read buffer, so on a plain
// TCP upstream the frames are read here (internal/wsframe, the reader
// client frames use too, on its server side): the reader parks in a readiness
// wait with a shallow stack (the runtime then starts and keeps it at the
// minimum), and its read buffer is pooled and held only while it holds
// bytes. gorilla still dials and writes; its reader is never used after
// the handshake. Frames are handled as gorilla's reader handles them:
// pings answered, close frames answered and reported as *websocket.CloseError,
// protocol errors answered with 1002, the read limit with 1009.

// frameWriteWait bounds the control frames the reader answers with, as
// gorilla's own handlers do.
const frameWriteWait = time.Second

// handshakeConn records what gorilla's handshake reads: the bytes its read
// buffer took past the 101 answer (frames the upstream sent at once) are
// the frame reader's first.
type handshakeConn struct {
	net.Conn
	seen []byte
	done bool // frameReaderOf looked: nothing more is recorded
}

func (c *handshakeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.done {
		c.seen = append(c.seen, p[:n]...)
	}
	return n, err
}

// dialRecorded dials like gorilla's default dialer and keeps the
// connection in *last for frameReaderOf.
func dialRecorded(last **handshakeConn) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		hc := &handshakeConn{Conn: conn}
		*last = hc
		return hc, nil
	}
}

// frameReaderOf takes over reading ws from its socket; nil (gorilla goes
// on reading) when the socket cannot be waited on or the handshake's end
// is not where this reader can find it.
func frameReaderOf(ws *websocket.Conn, hc *handshakeConn, limit int64) *frameReader {
	if hc == nil {
		return nil
	}
	seen := hc.seen
	hc.seen, hc.done = nil, true
	if ws.NetConn() != net.Conn(hc) || !rawsock.Supported {
		return nil
	}
	sc, ok := hc.Conn.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	end := bytes.Index(seen, []byte("\r\n\r\n"))
	if end < 0 {
		return nil
	}
	r := &frameReader{ws: ws, rc: rc, limit: limit}
	r.frames.Side = wsframe.Server
	r.src = frameSource{conn: hc.Conn}
	if rest := seen[end+4:]; len(rest) > 0 {
		r.src.pre = bytes.Clone(rest)
	}
	return r
}

// frameSource is what the gorilla handshake left unread, then the socket.
type frameSource struct {
	conn net.Conn
	pre  []byte
}

func (s *frameSource) Read(p []byte) (int, error) {
	if len(s.pre) > 0 {
		n := copy(p, s.pre)
		s.pre = s.pre[n:]
		if len(s.pre) == 0 {
			s.pre = nil
		}
		return n, nil
	}
	return s.conn.Read(p)
}

// frameReadBuffer is the reader's buffer while it holds bytes.
const frameReadBuffer = 512

var frameReadBuffers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, frameReadBuffer) }}

// frameReader reads one upstream connection's frames (internal/wsframe,
// the server side: unmasked frames, judged as gorilla judges them).
type frameReader struct {
	ws     *websocket.Conn // writes the answers to pings and close frames
	rc     syscall.RawConn
	src    frameSource
	br     *bufio.Reader // from frameReadBuffers; nil while nothing is buffered
	onPong func()
	limit  int64 // max_message_bytes
	frames wsframe.Reader
}

// wait returns when the socket has something to read (or its deadline
// passed, or it was closed); at once when bytes are buffered already.
func (r *frameReader) wait() error {
	if r.br != nil || r.src.pre != nil {
		return nil
	}
	return r.rc.Read(rawsock.Ready)
}

// readFrame reads one frame. It returns a message when the frame ends
// one; control frames are answered here, fragments kept for the next
// call. Errors are the socket's (EOF as gorilla's 1006 CloseError), a
// *websocket.CloseError for the upstream's close, websocket.ErrReadLimit
// or a protocol error.
//
//go:noinline
func (r *frameReader) readFrame() (m msg.Message, ok bool, err error) {
	if r.br == nil {
		r.br = frameReadBuffers.Get().(*bufio.Reader)
		r.br.Reset(&r.src)
	}
	defer r.putBuffer()
	f, ok, err := r.frames.ReadFrame(r.br, r.limit)
	switch {
	case err != nil:
		return m, false, r.failed(err)
	case !ok:
		return m, false, nil
	case f.Op >= websocket.CloseMessage:
		return m, false, r.control(f.Op, f.Payload)
	}
	return msg.Message{Data: f.Payload, Binary: f.Op == websocket.BinaryMessage}, true, nil
}

// failed answers a violation as gorilla does (1009 with no reason for the
// read limit, else 1002 with its reason); the connection ending in a frame
// is gorilla's 1006 "unexpected EOF".
func (r *frameReader) failed(err error) error {
	var fe *wsframe.Error
	switch {
	case errors.As(err, &fe):
		_ = r.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(fe.Code, fe.Reason()), time.Now().Add(frameWriteWait))
		if fe.Kind == wsframe.TooBig {
			return websocket.ErrReadLimit
		}
		return errors.New("websocket: " + fe.Reason())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &websocket.CloseError{Code: websocket.CloseAbnormalClosure, Text: io.ErrUnexpectedEOF.Error()}
	}
	return err
}

// control answers a ping, counts a pong as life, and answers and reports
// a close frame (already validated), as gorilla's default handlers do.
func (r *frameReader) control(op int, payload []byte) error {
	switch op {
	case websocket.PingMessage:
		_ = r.ws.WriteControl(websocket.PongMessage, payload, time.Now().Add(frameWriteWait))
		return nil
	case websocket.PongMessage:
		if r.onPong != nil {
			r.onPong()
		}
		return nil
	}
	code, text := websocket.CloseNoStatusReceived, ""
	if len(payload) >= 2 {
		code, text = int(binary.BigEndian.Uint16(payload)), string(payload[2:])
	}
	_ = r.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(frameWriteWait))
	return &websocket.CloseError{Code: code, Text: text}
}

// putBuffer gives the read buffer back once it holds nothing.
func (r *frameReader) putBuffer() {
	if r.br != nil && r.br.Buffered() == 0 {
		r.release()
	}
}

// release gives the read buffer back (the connection ended, or the
// buffer is empty).
func (r *frameReader) release() {
	if r.br != nil {
		r.br.Reset(nil)
		frameReadBuffers.Put(r.br)
		r.br = nil
	}
}
