package passthrough

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// WebSocket framing (RFC 6455 section 5.2), just enough for the tunnel to
// copy whole frames and inject a close frame between two of them. Payloads
// are never unmasked or inspected.

const (
	opClose = 0x8

	// maxFrameLength caps a declared payload length. RFC 6455 allows up to
	// 2^63-1; nothing real comes near 2^62, and a larger value is a broken or
	// hostile peer.
	maxFrameLength = 1 << 62
	// maxControlPayload is the RFC 6455 limit for control frames.
	maxControlPayload = 125
	// maxFrameHeader is 2 + 8 (64-bit length) + 4 (mask key).
	maxFrameHeader = 14

	closeGoingAway    = 1001
	closeProtocolErr  = 1002
	closeInternalErr  = 1011
	reasonShutdown    = "gateway shutting down"
	reasonBadUpstream = "upstream protocol error"
	reasonBadClient   = "client protocol error"
)

// errFrame is a frame header the tunnel refuses to copy.
var errFrame = errors.New("websocket frame")

// frameHeader is a parsed frame header; raw holds its bytes as received so
// the frame is forwarded verbatim.
type frameHeader struct {
	fin    bool
	opcode byte
	masked bool
	length int64
	raw    []byte
}

func (h frameHeader) isControl() bool { return h.opcode&0x8 != 0 }

// errShortHeader: the bytes hold only the start of a frame header.
var errShortHeader = errors.New("short frame header")

// parseFrameHeader parses the frame header at the start of b, with the same
// length check as readFrameHeader (frame_test.go, the tests' reader); the
// other rules are check's. h.raw aliases b. A b too short for the whole
// header gives errShortHeader (or errFrame when what is there is already
// wrong).
func parseFrameHeader(b []byte) (frameHeader, error) {
	var h frameHeader
	if len(b) < 2 {
		return h, errShortHeader
	}
	h.fin = b[0]&0x80 != 0
	h.opcode = b[0] & 0x0f
	h.masked = b[1]&0x80 != 0
	n := 2
	switch length := b[1] & 0x7f; length {
	case 126:
		if len(b) < 4 {
			return h, errShortHeader
		}
		h.length = int64(binary.BigEndian.Uint16(b[2:]))
		n = 4
	case 127:
		if len(b) < 10 {
			return h, errShortHeader
		}
		v := binary.BigEndian.Uint64(b[2:])
		if v > maxFrameLength {
			return h, fmt.Errorf("%w: declared length %d is too large", errFrame, v)
		}
		h.length = int64(v)
		n = 10
	default:
		h.length = int64(length)
	}
	if h.masked {
		n += 4
	}
	if len(b) < n {
		return h, errShortHeader
	}
	h.raw = b[:n]
	return h, nil
}

// errFrameRule is a frame whose header is whole and well formed but breaks
// a rule of RFC 6455 section 5: the frame can be skipped, so the stream
// stays readable after it (errFrame alone: it does not).
var errFrameRule = fmt.Errorf("%w: rule", errFrame)

// check applies the rules a frame must follow beyond its length: control
// frames are whole and short (both peers); a client's frames are masked,
// use known opcodes and set RSV bits only with a negotiated extension.
func (h frameHeader) check(fromClient, extensions bool) error {
	b0 := h.raw[0]
	switch {
	case h.isControl() && (h.length > maxControlPayload || !h.fin):
		return fmt.Errorf("%w: control frame opcode %#x with length %d fin %v", errFrameRule, h.opcode, h.length, h.fin)
	case !fromClient:
		return nil
	case !h.masked:
		return fmt.Errorf("%w: client frame not masked", errFrameRule)
	case h.opcode > 0x2 && h.opcode < opClose || h.opcode > 0xa:
		return fmt.Errorf("%w: unknown opcode %#x", errFrameRule, h.opcode)
	case b0&0x70 != 0 && !extensions:
		return fmt.Errorf("%w: reserved bits %#x without an extension", errFrameRule, b0&0x70)
	}
	return nil
}

// noEOF turns an EOF inside a header into ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// closeFrame builds a close frame with code and reason. Frames towards the
// upstream (client to server direction) must be masked.
func closeFrame(code uint16, reason string, masked bool) []byte {
	if len(reason) > maxControlPayload-2 {
		reason = reason[:maxControlPayload-2]
	}
	payload := make([]byte, 2+len(reason))
	binary.BigEndian.PutUint16(payload, code)
	copy(payload[2:], reason)

	frame := []byte{0x80 | opClose, byte(len(payload))}
	if masked {
		var key [4]byte
		_, _ = rand.Read(key[:]) // crypto/rand.Read never fails
		frame[1] |= 0x80
		frame = append(frame, key[:]...)
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return append(frame, payload...)
}
