package bridge_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
)

// clientFrame is one masked client frame with first byte b0 (payload
// shorter than 126 bytes).
func clientFrame(b0 byte, payload []byte) []byte {
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	b := append([]byte{b0, 0x80 | byte(len(payload))}, key[:]...)
	for i, x := range payload {
		b = append(b, x^key[i&3])
	}
	return b
}

// endOf reads a connection's frames to its end: the opcodes seen, the
// first close frame's payload, and how the TCP connection ended (nil for
// a FIN; a reset or a timeout otherwise).
func (c *frameConn) endOf() (ops []byte, closePayload []byte, end error) {
	for {
		op, p, err := c.read()
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return ops, closePayload, err
		}
		ops = append(ops, op)
		if op == 0x8 && closePayload == nil {
			closePayload = p
		}
	}
}

// TestSharedWebSocketNothingAfterClose: a broadcast subscriber with
// client_send that sends a text message and its close in one write gets
// the close answer and then nothing: the echo of its message (which the
// upstream sends to the topic) must not follow the close frame (RFC 6455
// 5.5.1), and the connection ends with a FIN.
func TestSharedWebSocketNothingAfterClose(t *testing.T) {
	g, up := sharedFramesGateway(t)
	first := dialFrames(t, g, "/prices/ACME/ws")
	waitUpstream(t, up)
	first.conn.Close()
	bye := append(clientFrame(0x81, []byte("hi")), clientFrame(0x88, []byte{0x03, 0xe8})...)
	for i := range 300 {
		c := dialFrames(t, g, "/prices/ACME/ws")
		if _, err := c.conn.Write(bye); err != nil {
			t.Fatal(err)
		}
		ops, closing, end := c.endOf()
		at := bytes.IndexByte(ops, 0x8)
		switch {
		case at < 0 || len(closing) < 2 || binary.BigEndian.Uint16(closing) != 1000:
			t.Fatalf("try %d: frames %v, close payload %q; want the close 1000 echoed", i, ops, closing)
		case at != len(ops)-1:
			t.Fatalf("try %d: frames %v: something was sent after the close frame", i, ops)
		case end != nil:
			t.Fatalf("try %d: after the close frame: %v, want EOF", i, end)
		}
		c.conn.Close()
	}
}

// TestSharedWebSocketFINAfterProtocolError: a subscriber whose frame breaks
// the protocol, with more bytes behind it, gets the 1002 close frame and a
// FIN, not a reset that could destroy the close frame before it is read:
// the gateway reads what the client sent before closing.
func TestSharedWebSocketFINAfterProtocolError(t *testing.T) {
	g, up := sharedFramesGateway(t)
	for i := range 20 {
		c := dialFrames(t, g, "/prices/ACME/ws")
		if i == 0 {
			waitUpstream(t, up)
		}
		bad := append([]byte{0x81, 0x05}, "hello"...) // unmasked
		bad = append(bad, clientFrame(0x81, bytes.Repeat([]byte("x"), 100))...)
		if _, err := c.conn.Write(bad); err != nil {
			t.Fatal(err)
		}
		ops, closing, end := c.endOf()
		if len(ops) != 1 || len(closing) < 2 || binary.BigEndian.Uint16(closing) != 1002 {
			t.Fatalf("try %d: frames %v, close payload %q; want one close 1002", i, ops, closing)
		}
		if end != nil {
			t.Fatalf("try %d: after the close frame: %v, want EOF", i, end)
		}
		c.conn.Close()
	}
}
