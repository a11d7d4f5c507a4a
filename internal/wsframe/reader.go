// Package wsframe reads RFC 6455 frames, from either side of a WebSocket:
// a client's frames on bridged WebSockets (bridge/wsread.go) and a server's
// on plain ws:// upstreams (bridge/upstream/wsframes.go). It reads exactly
// the bytes of each frame and holds no buffer between messages, so an idle
// caller can park in a readiness wait with a shallow stack and nothing
// buffered. No extension is ever negotiated, so RSV bits are an error.
package wsframe

import (
	"encoding/binary"
	"io"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// Side is which peer's frames a Reader reads.
type Side uint8

const (
	// Client frames must be masked; text and close reasons must be UTF-8
	// and a close payload of one byte is an error (a server reading by the
	// book).
	Client Side = iota
	// Server frames must not be masked; they are judged as gorilla's
	// client reader judges them (text is not checked, a one-byte close
	// payload counts as none), so a plain upstream is answered as a TLS
	// one, which gorilla still reads.
	Server
)

// Reader reads one connection's frames. The zero value reads a client's.
// It is kept small (no limit or spare field of its own: callers have
// them): every idle WebSocket holds one, inside a struct whose size
// class is its memory.
type Reader struct {
	// hdr holds a frame's header bytes and mask key: a field, so that
	// reading them does not allocate per frame (an array on the stack
	// would escape through io.Reader).
	hdr   [12]byte
	Side  Side
	op    uint8 // the data message being assembled from fragments (inMsg)
	inMsg bool
	// msg is that message; between messages, storage the next one starts
	// in (Reuse).
	msg []byte
}

// Frame is a control frame (close, ping, pong) or a whole data message
// (text, binary): gorilla's message type constants.
type Frame struct {
	Op      int
	Payload []byte
}

// InMessage reports a fragmented message being assembled.
func (r *Reader) InMessage() bool { return r.inMsg }

// Reuse makes b (a pooled buffer: the caller takes it back with the
// message) the storage the next data message starts in; ignored while a
// message is being assembled.
func (r *Reader) Reuse(b []byte) {
	if !r.inMsg {
		r.msg = b[:0]
	}
}

// Unused is the storage Reuse gave that no message has started in yet.
func (r *Reader) Unused() []byte {
	if r.inMsg {
		return nil
	}
	return r.msg
}

// readChunk bounds how much of a frame's payload is read (and allocated)
// at a time.
const readChunk = 16 << 10

// ReadFrame reads one frame from src; limit bounds one (possibly
// fragmented) data message. ok is false when the frame was a
// fragment kept for a later call; otherwise f is a control frame or a
// complete message. Errors are src's (io.EOF, io.ErrUnexpectedEOF, a
// deadline) or an *Error.
func (r *Reader) ReadFrame(src io.Reader, limit int64) (f Frame, ok bool, err error) {
	hdr := r.hdr[:8]
	if _, err := io.ReadFull(src, hdr[:2]); err != nil {
		return f, false, err
	}
	fin := hdr[0]&0x80 != 0
	op := int(hdr[0] & 0x0f)
	masked := hdr[1]&0x80 != 0
	length := int64(hdr[1] & 0x7f)
	control := op&0x8 != 0
	switch {
	case hdr[0]&0x70 != 0:
		return f, false, r.fail(ReservedBits, int(hdr[0]&0x70))
	case masked != (r.Side == Client):
		return f, false, r.fail(MaskBit, 0)
	case op > websocket.BinaryMessage && !control, op > websocket.PongMessage:
		return f, false, r.fail(UnknownOpcode, op)
	case control && (!fin || length > 125):
		return f, false, r.fail(BadControl, op)
	case op == 0 && !r.inMsg:
		return f, false, r.fail(StrayContinuation, 0)
	case op != 0 && !control && r.inMsg:
		return f, false, r.fail(NestedMessage, 0)
	}
	switch length {
	case 126:
		if _, err := io.ReadFull(src, hdr[:2]); err != nil {
			return f, false, err
		}
		length = int64(binary.BigEndian.Uint16(hdr[:2]))
	case 127:
		if _, err := io.ReadFull(src, hdr[:8]); err != nil {
			return f, false, err
		}
		n := binary.BigEndian.Uint64(hdr[:8])
		if n>>63 != 0 {
			return f, false, r.fail(LengthTopBit, 0)
		}
		length = int64(n)
	}
	if !control && length > limit-int64(len(r.msg)) {
		return f, false, r.fail(TooBig, 0)
	}
	var key [4]byte
	if masked {
		if _, err := io.ReadFull(src, r.hdr[8:12]); err != nil {
			return f, false, err
		}
		key = [4]byte(r.hdr[8:12])
	}
	if control {
		payload := make([]byte, length)
		if _, err := io.ReadFull(src, payload); err != nil {
			return f, false, err
		}
		if masked {
			unmask(payload, key, 0)
		}
		return r.control(op, payload)
	}
	if !r.inMsg {
		r.inMsg, r.op = true, uint8(op)
	}
	// Grow with the bytes that arrive, not with the declared length: a
	// peer that announces a big frame and sends it slowly holds no more
	// memory than it sent.
	for done := int64(0); done < length; {
		n := int(min(length-done, readChunk))
		start := len(r.msg)
		r.msg = growTo(r.msg, start+n)
		if _, err := io.ReadFull(src, r.msg[start:]); err != nil {
			return f, false, err
		}
		if masked {
			unmask(r.msg[start:], key, int(done))
		}
		done += int64(n)
	}
	if !fin {
		return f, false, nil
	}
	f = Frame{Op: int(r.op), Payload: r.msg}
	r.inMsg, r.msg = false, nil
	if f.Payload == nil {
		f.Payload = []byte{}
	}
	if r.Side == Client && f.Op == websocket.TextMessage && !utf8.Valid(f.Payload) {
		return Frame{}, false, r.fail(TextNotUTF8, 0)
	}
	return f, true, nil
}

// control validates a close frame's payload; pings and pongs pass as is.
func (r *Reader) control(op int, payload []byte) (Frame, bool, error) {
	if op == websocket.CloseMessage && len(payload) > 0 {
		if len(payload) < 2 {
			if r.Side == Client {
				return Frame{}, false, r.fail(CloseOneByte, 0)
			}
			return Frame{Op: op, Payload: payload}, true, nil
		}
		if code := int(binary.BigEndian.Uint16(payload)); !ValidReceivedCloseCode(code) {
			return Frame{}, false, r.fail(BadCloseCode, code)
		}
		if !utf8.Valid(payload[2:]) {
			return Frame{}, false, r.fail(CloseReasonNotUTF8, 0)
		}
	}
	return Frame{Op: op, Payload: payload}, true, nil
}

// growTo extends b to n bytes, doubling capacity so that many small
// fragments cost amortised copies (n is bounded by the read limit).
func growTo(b []byte, n int) []byte {
	if n <= cap(b) {
		return b[:n]
	}
	nb := make([]byte, n, max(n, 2*cap(b)))
	copy(nb, b)
	return nb
}

// ValidReceivedCloseCode: the codes a peer may send (RFC 6455 7.4.1, and
// the IANA registry's 1012 and 1013); 1004-1006 and 1015 are never on the
// wire. 1014 (bad gateway) is registered, but only a gateway sends it:
// refused as gorilla/websocket refuses it, so every route and the
// reference answer it alike.
func ValidReceivedCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1013:
		return true
	default:
		return code >= 3000 && code <= 4999
	}
}
