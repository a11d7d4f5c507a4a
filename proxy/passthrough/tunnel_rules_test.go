package passthrough

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
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

// TestTunnelUpstreamFrameRules: an upstream frame that breaks a rule (a
// 126-byte ping) is not relayed; both peers get close 1002 from the
// gateway, the upstream its own (not the client's answer relayed), then
// EOF once the client answered: the tunnel does not wait out its grace.
func TestTunnelUpstreamFrameRules(t *testing.T) {
	type seen struct {
		code   uint16
		reason string
		err    error
	}
	got := make(chan seen, 1)
	up := newRawUpstream(t, func(conn net.Conn, req *http.Request) {
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: "+acceptKey(req.Header.Get("Sec-WebSocket-Key"))+"\r\n\r\n"+
			"\x89\x7e\x00\x7e"+strings.Repeat("p", 126))
		br := bufio.NewReader(conn)
		var hdr [maxFrameHeader]byte
		h, err := readFrameHeader(br, hdr[:])
		if err != nil || h.opcode != opClose || !h.masked || h.length < 2 {
			got <- seen{err: fmt.Errorf("frame %+v, %v; want a masked close", h, err)}
			return
		}
		key := h.raw[len(h.raw)-4:]
		p := make([]byte, h.length)
		if _, err := io.ReadFull(br, p); err != nil {
			got <- seen{err: err}
			return
		}
		for i := range p {
			p[i] ^= key[i%4]
		}
		_, err = io.Copy(io.Discard, br)
		got <- seen{code: binary.BigEndian.Uint16(p), reason: string(p[2:]), err: err}
	})
	gw := newGateway(t, route("/ws", up.url()), nil)
	conn, br := rawTunnel(t, gw)
	op, p := readRawFrame(t, br)
	if op != opClose || len(p) < 2 || binary.BigEndian.Uint16(p) != closeProtocolErr {
		t.Fatalf("client got opcode %d payload %q, want close 1002", op, p)
	}
	if _, err := conn.Write([]byte{0x88, 0x80, 1, 2, 3, 4}); err != nil { // an empty close
		t.Fatal(err)
	}
	s := recv(t, got)
	if s.err != nil || s.code != closeProtocolErr || s.reason != reasonBadUpstream {
		t.Fatalf("upstream got close %d %q, then %v; want 1002 %q from the gateway, then EOF", s.code, s.reason, s.err, reasonBadUpstream)
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("client after the close: %q, %v; want EOF", rest, err)
	}
}
