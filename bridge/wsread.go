package bridge

import (
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// wsFrameReader reads a client's WebSocket frames (RFC 6455 section 5) on
// every bridged WebSocket, so all of them answer the same bytes the same
// way (gorilla only writes on session routes). Broadcast subscribers on the
// fan-out read straight from the socket: gorilla's reader parks deep in its
// own stack with a read buffer per connection; this one parks in a
// two-byte read with a shallow stack and holds no buffer between messages,
// which is most of an idle subscriber's memory. No extension is ever
// negotiated on bridged WebSockets, so RSV bits are always an error.
type wsFrameReader struct {
	r     io.Reader
	limit int64 // max_message_bytes for one (possibly fragmented) message

	// hdr holds a frame's header bytes and mask key: a field, so that
	// reading them does not allocate per frame (an array on the stack
	// would escape through io.Reader).
	hdr [12]byte

	// The data message being assembled from fragments (inMsg).
	inMsg bool
	op    int
	msg   []byte
	// spare, when set, is storage the next data message starts in (a
	// pooled buffer: the caller takes it back with the message).
	spare []byte
}

// wsFrameError is a protocol violation: the connection is failed with
// code and reason (1002, 1007 or 1009).
type wsFrameError struct {
	code   int
	reason string
}

func (e *wsFrameError) Error() string {
	return "bridge: websocket frame: " + strconv.Itoa(e.code) + " " + e.reason
}

func frameErr(code int, reason string) error { return &wsFrameError{code: code, reason: reason} }

// wsFrame is one frame or message handed to the caller: a whole data
// message (op text/binary), or a control frame (close, ping, pong).
type wsFrame struct {
	op      int
	payload []byte
}

// next returns the next control frame or complete data message. Errors are
// the socket's (io.EOF, a deadline) or a *wsFrameError.
func (r *wsFrameReader) next() (wsFrame, error) {
	for {
		hdr := r.hdr[:8]
		if _, err := io.ReadFull(r.r, hdr[:2]); err != nil {
			return wsFrame{}, err
		}
		fin := hdr[0]&0x80 != 0
		op := int(hdr[0] & 0x0f)
		if hdr[0]&0x70 != 0 {
			return wsFrame{}, frameErr(websocket.CloseProtocolError, "reserved bits set")
		}
		if hdr[1]&0x80 == 0 {
			return wsFrame{}, frameErr(websocket.CloseProtocolError, "client frame not masked")
		}
		length := int64(hdr[1] & 0x7f)
		control := op&0x8 != 0
		switch {
		case op > websocket.BinaryMessage && !control, op > websocket.PongMessage:
			return wsFrame{}, frameErr(websocket.CloseProtocolError, "unknown opcode "+strconv.Itoa(op))
		case control && (!fin || length > 125):
			return wsFrame{}, frameErr(websocket.CloseProtocolError, "fragmented or oversized control frame")
		case op == 0 && !r.inMsg:
			return wsFrame{}, frameErr(websocket.CloseProtocolError, "continuation without a message")
		case op != 0 && !control && r.inMsg:
			return wsFrame{}, frameErr(websocket.CloseProtocolError, "new message inside a fragmented one")
		}
		switch length {
		case 126:
			if _, err := io.ReadFull(r.r, hdr[:2]); err != nil {
				return wsFrame{}, err
			}
			length = int64(binary.BigEndian.Uint16(hdr[:2]))
		case 127:
			if _, err := io.ReadFull(r.r, hdr[:8]); err != nil {
				return wsFrame{}, err
			}
			n := binary.BigEndian.Uint64(hdr[:8])
			if n>>63 != 0 {
				return wsFrame{}, frameErr(websocket.CloseProtocolError, "frame length has the top bit set")
			}
			length = int64(n)
		}
		if !control && length > r.limit-int64(len(r.msg)) {
			return wsFrame{}, frameErr(websocket.CloseMessageTooBig, "message too big")
		}
		if _, err := io.ReadFull(r.r, r.hdr[8:12]); err != nil {
			return wsFrame{}, err
		}
		mask := [4]byte(r.hdr[8:12])
		if control {
			payload := make([]byte, length)
			if _, err := io.ReadFull(r.r, payload); err != nil {
				return wsFrame{}, err
			}
			unmask(payload, mask, 0)
			return r.control(op, payload)
		}
		if !r.inMsg {
			r.inMsg, r.op, r.msg, r.spare = true, op, r.spare, nil
		}
		// Grow with the bytes that arrive, not with the declared length: a
		// client that announces a big frame and sends it slowly holds no
		// more memory than it sent.
		for done := int64(0); done < length; {
			n := int(min(length-done, readChunk))
			start := len(r.msg)
			r.msg = growTo(r.msg, start+n)
			if _, err := io.ReadFull(r.r, r.msg[start:]); err != nil {
				return wsFrame{}, err
			}
			unmask(r.msg[start:], mask, int(done))
			done += int64(n)
		}
		if !fin {
			continue
		}
		f := wsFrame{op: r.op, payload: r.msg}
		r.inMsg, r.msg = false, nil
		if f.payload == nil {
			f.payload = []byte{}
		}
		if f.op == websocket.TextMessage && !utf8.Valid(f.payload) {
			return wsFrame{}, frameErr(websocket.CloseInvalidFramePayloadData, "text message is not UTF-8")
		}
		return f, nil
	}
}

// readChunk bounds how much of a frame's payload is read (and allocated)
// at a time.
const readChunk = 16 << 10

// unmask XORs p with the key, p starting at offset off of the payload:
// eight bytes at a time (as gobwas/ws's Cipher does), then the tail.
func unmask(p []byte, key [4]byte, off int) {
	k := [4]byte{key[off&3], key[(off+1)&3], key[(off+2)&3], key[(off+3)&3]}
	k32 := uint64(binary.LittleEndian.Uint32(k[:]))
	k64 := k32 | k32<<32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k64)
	}
	for ; i < len(p); i++ {
		p[i] ^= k[i&3]
	}
}

// control validates a close frame's payload; pings and pongs pass as is.
func (r *wsFrameReader) control(op int, payload []byte) (wsFrame, error) {
	if op == websocket.CloseMessage && len(payload) > 0 {
		if len(payload) < 2 {
			return wsFrame{}, frameErr(websocket.CloseProtocolError, "close payload of one byte")
		}
		if !validReceivedCloseCode(int(binary.BigEndian.Uint16(payload))) {
			return wsFrame{}, frameErr(websocket.CloseProtocolError, "invalid close code")
		}
		if !utf8.Valid(payload[2:]) {
			return wsFrame{}, frameErr(websocket.CloseInvalidFramePayloadData, "close reason is not UTF-8")
		}
	}
	return wsFrame{op: op, payload: payload}, nil
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

// validReceivedCloseCode: the codes a client may send (RFC 6455 7.4.1, and
// the IANA registry's 1012 and 1013); 1004-1006 and 1015 are never on the
// wire. 1014 (bad gateway) is registered, but only a gateway sends it, never
// a client: refused as gorilla/websocket refuses it, so every bridged route
// and the reference answer it alike.
func validReceivedCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1013:
		return true
	default:
		return code >= 3000 && code <= 4999
	}
}

// isFrameError reports a protocol violation and its close frame payload.
func isFrameError(err error) (*wsFrameError, bool) {
	var fe *wsFrameError
	ok := errors.As(err, &fe)
	return fe, ok
}
