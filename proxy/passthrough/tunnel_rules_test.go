package passthrough

import (
	"bufio"
	"encoding/binary"
	"io"
	"testing"
)

// TestTunnelClientFrameRules: a client frame that breaks RFC 6455 section
// 5 (unmasked, RSV bits with no extension, unknown opcode, a long or
// fragmented control frame, a length with the top bit set) is not
// forwarded. The gateway closes both peers with 1002; the client's close
// answer is read, so the client gets a FIN (not a reset) after the close
// frame, and nothing after the close.
func TestTunnelClientFrameRules(t *testing.T) {
	masked := func(b0 byte, payload []byte) []byte {
		f := maskedFrame(string(payload))
		f[0] = b0
		if len(payload) > 125 {
			f = append([]byte{b0, 0x80 | 126, 0, 0, 1, 2, 3, 4}, payload...) // mask key 1 2 3 4, payload not XORed: no matter
			binary.BigEndian.PutUint16(f[2:], uint16(len(payload)))
		}
		return f
	}
	cases := map[string][]byte{
		"unmasked":           []byte("\x81\x02hi"),
		"rsv1":               masked(0xc1, []byte("hi")),
		"rsv3":               masked(0x91, []byte("hi")),
		"opcode 3":           masked(0x83, []byte("hi")),
		"opcode 11":          masked(0x8b, nil),
		"ping of 126 bytes":  masked(0x89, make([]byte, 126)),
		"fragmented ping":    masked(0x09, []byte("p")),
		"length top bit set": {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4},
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			up := newEchoUpstream(t, false)
			gw := newGateway(t, route("/ws", up.srv.URL), nil)
			conn, br := rawTunnel(t, gw)
			// A good frame, then the bad one.
			if _, err := conn.Write(append(maskedFrame("ok"), bad...)); err != nil {
				t.Fatal(err)
			}
			// The echo of "ok" may come before the close, never after it.
			op, p := readRawFrame(t, br)
			if op == 1 && string(p) == "ok" {
				op, p = readRawFrame(t, br)
			}
			if op != opClose || len(p) < 2 || binary.BigEndian.Uint16(p) != closeProtocolErr {
				t.Fatalf("got opcode %d payload %q, want close 1002", op, p)
			}
			if _, err := conn.Write(closeFrame(closeProtocolErr, "", true)); err != nil {
				t.Fatal(err)
			}
			if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
				t.Fatalf("after the close: %q, %v; want EOF", rest, err)
			}
			if code := recv(t, up.closes); code != closeProtocolErr {
				t.Errorf("upstream got close %d, want 1002", code)
			}
		})
	}
}

// readRawFrame reads one unmasked frame.
func readRawFrame(t *testing.T, br *bufio.Reader) (byte, []byte) {
	t.Helper()
	var hdr [maxFrameHeader]byte
	h, err := readFrameHeader(br, hdr[:])
	if err != nil {
		t.Fatalf("frame header: %v", err)
	}
	if h.masked {
		t.Fatalf("masked frame from the gateway: %+v", h)
	}
	p := make([]byte, h.length)
	if _, err := io.ReadFull(br, p); err != nil {
		t.Fatal(err)
	}
	return h.opcode, p
}
