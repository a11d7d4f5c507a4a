package bridge_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/config"
)

// frameConn is a WebSocket client written by hand, to send what gorilla
// never would (bad frames, odd fragmentation) to a broadcast subscriber,
// whose frames bridge reads itself (wsread.go).
type frameConn struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
}

func dialFrames(t testing.TB, g *gateway, path string) *frameConn {
	t.Helper()
	conn, err := net.Dial("tcp", g.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(deadline))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", path)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("%s: %d", path, resp.StatusCode)
	}
	return &frameConn{t: t, conn: conn, br: br}
}

// frame writes one frame; masked false sends it unmasked (a violation).
func (c *frameConn) frame(fin bool, op byte, payload []byte, masked bool) {
	c.t.Helper()
	b0 := op
	if fin {
		b0 |= 0x80
	}
	c.raw(b0, uint64(len(payload)), payload, masked)
}

// raw writes a frame with the given first byte and declared length.
func (c *frameConn) raw(b0 byte, length uint64, payload []byte, masked bool) {
	c.t.Helper()
	var mbit byte
	if masked {
		mbit = 0x80
	}
	b := []byte{b0}
	switch {
	case length < 126:
		b = append(b, mbit|byte(length))
	case length <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, mbit|126), uint16(length))
	default:
		b = binary.BigEndian.AppendUint64(append(b, mbit|127), length)
	}
	if masked {
		key := [4]byte{0x12, 0x34, 0x56, 0x78}
		b = append(b, key[:]...)
		for i, x := range payload {
			b = append(b, x^key[i&3])
		}
	} else {
		b = append(b, payload...)
	}
	if _, err := c.conn.Write(b); err != nil {
		c.t.Logf("write: %v (the gateway may have closed already)", err)
	}
}

// read returns the next server frame (servers never mask).
func (c *frameConn) read() (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err := io.ReadFull(c.br, e[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err := io.ReadFull(c.br, e[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(c.br, payload)
	return h[0] & 0x0f, payload, err
}

// until reads frames until one with op arrives, returning it.
func (c *frameConn) until(op byte) []byte {
	c.t.Helper()
	for {
		got, p, err := c.read()
		if err != nil {
			c.t.Fatalf("waiting for opcode %d: %v", op, err)
		}
		if got == op {
			return p
		}
	}
}

// closeCode reads to the server's close frame and returns its code (1005
// for an empty payload), then checks the server ends the connection.
func (c *frameConn) closeCode() int {
	c.t.Helper()
	p := c.until(0x8)
	code := 1005
	if len(p) >= 2 {
		code = int(binary.BigEndian.Uint16(p))
	}
	// Closed: EOF, or a reset when the gateway left the client's bad
	// bytes unread. Only a timeout means it kept the connection open.
	_, err := io.Copy(io.Discard, c.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("after the close frame: %v (want the connection closed)", err)
	}
	return code
}

func sharedFramesGateway(t *testing.T) (*gateway, *testUpstream) {
	up := newUpstream(t)
	route := broadcastRoute(up)
	route.ClientSend = true
	g := newGateway(t, route, config.Limits{MaxMessageBytes: 64 << 10})
	return g, up
}

// TestSharedWebSocketHostileFrames: protocol violations from a broadcast
// subscriber fail its connection with the RFC's close code, and nothing of
// them reaches the upstream.
func TestSharedWebSocketHostileFrames(t *testing.T) {
	g, up := sharedFramesGateway(t)
	cases := []struct {
		name string
		send func(c *frameConn)
		want int
	}{
		{"declares 2^63-1 bytes", func(c *frameConn) { c.raw(0x82, 1<<63-1, nil, true) }, 1009},
		{"declares 2^63 bytes", func(c *frameConn) { c.raw(0x82, 1<<63, nil, true) }, 1002},
		{"declares max_message_bytes+1", func(c *frameConn) { c.raw(0x82, 64<<10+1, nil, true) }, 1009},
		{"fragments beyond max_message_bytes", func(c *frameConn) {
			chunk := bytes.Repeat([]byte("f"), 4096)
			c.frame(false, 1, chunk, true)
			for range 16 {
				c.frame(false, 0, chunk, true)
			}
		}, 1009},
		{"unmasked frame", func(c *frameConn) { c.frame(true, 1, []byte("hi"), false) }, 1002},
		{"reserved opcode", func(c *frameConn) { c.frame(true, 3, []byte("hi"), true) }, 1002},
		{"reserved control opcode", func(c *frameConn) { c.frame(true, 0xb, nil, true) }, 1002},
		{"control frame over 125 bytes", func(c *frameConn) { c.frame(true, 9, make([]byte, 126), true) }, 1002},
		{"fragmented control frame", func(c *frameConn) { c.frame(false, 9, []byte("x"), true) }, 1002},
		{"continuation without start", func(c *frameConn) { c.frame(true, 0, []byte("x"), true) }, 1002},
		{"new message inside a fragmented one", func(c *frameConn) {
			c.frame(false, 1, []byte("a"), true)
			c.frame(true, 1, []byte("b"), true)
		}, 1002},
		{"RSV1 without extension", func(c *frameConn) { c.raw(0xC1, 0, nil, true) }, 1002},
		{"text not UTF-8", func(c *frameConn) { c.frame(true, 1, []byte{'o', 'k', 0xff}, true) }, 1007},
		{"text not UTF-8 across fragments", func(c *frameConn) {
			c.frame(false, 1, []byte{'o', 0xe2, 0x82}, true)
			c.frame(true, 0, []byte{'x'}, true)
		}, 1007},
		{"close with one byte", func(c *frameConn) { c.frame(true, 8, []byte{3}, true) }, 1002},
		{"close with code 1005", func(c *frameConn) { c.frame(true, 8, []byte{0x03, 0xed}, true) }, 1002},
		{"close reason not UTF-8", func(c *frameConn) { c.frame(true, 8, []byte{0x03, 0xe8, 0xff}, true) }, 1007},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, before := up.stats()
			c := dialFrames(t, g, "/prices/ACME/ws")
			tc.send(c)
			if code := c.closeCode(); code != tc.want {
				t.Errorf("close code %d, want %d", code, tc.want)
			}
			if _, _, after := up.stats(); after != before {
				t.Errorf("the upstream received %d messages", after-before)
			}
		})
	}
}

// TestSharedWebSocketFragmentsPingsAndClose: fragmented messages (with a
// ping between fragments, and many empty fragments) reach the upstream
// whole and in order; the ping is answered; a close is echoed with the
// client's code and the connection ends.
func TestSharedWebSocketFragmentsPingsAndClose(t *testing.T) {
	g, up := sharedFramesGateway(t)
	c := dialFrames(t, g, "/prices/ACME/ws")
	waitFor(t, "subscriber", func() bool { return metricValue(t, g, "bridgeway_bridge_clients_connected", "websocket") == 1 })
	waitUpstream(t, up)

	c.frame(false, 1, []byte("hel"), true)
	c.frame(true, 9, []byte("mid-message ping"), true)
	c.frame(true, 0, []byte("lo"), true)
	if p := c.until(0xa); string(p) != "mid-message ping" {
		t.Fatalf("pong %q", p)
	}
	big := bytes.Repeat([]byte{0xab}, 40000) // crosses the reader's chunking
	c.frame(false, 2, big[:20000], true)
	for range 2000 {
		c.frame(false, 0, nil, true)
	}
	c.frame(true, 0, big[20000:], true)
	c.frame(true, 1, []byte("after"), true)

	// The upstream echoes what it gets to the topic: every subscriber
	// (this one too) receives the messages back, in order.
	want := []struct {
		op   byte
		data []byte
	}{{1, []byte("hello")}, {2, big}, {1, []byte("after")}}
	for _, w := range want {
		op, p, err := c.read()
		for err == nil && op == 0xa {
			op, p, err = c.read()
		}
		if err != nil || op != w.op || !bytes.Equal(p, w.data) {
			t.Fatalf("echo: op %d, %d bytes %.20q, %v; want op %d, %d bytes", op, len(p), p, err, w.op, len(w.data))
		}
	}
	if _, _, n := up.stats(); n != 3 {
		t.Fatalf("upstream received %d messages, want 3", n)
	}

	c.frame(true, 8, []byte{0x0f, 0xa0, 'b', 'y', 'e'}, true) // 4000 "bye"
	if code := c.closeCode(); code != 4000 {
		t.Fatalf("close answer %d, want 4000 echoed", code)
	}
	waitFor(t, "subscriber gone", func() bool { return metricValue(t, g, "bridgeway_bridge_clients_connected", "websocket") == 0 })
}

// TestSharedWebSocketSilentClientIsDropped: a broadcast subscriber that
// stops answering pings is disconnected (its connection is closed); one
// that answers keeps receiving. No per-connection read deadline does this:
// the fan-out's heartbeat does.
func TestSharedWebSocketSilentClientIsDropped(t *testing.T) {
	up := newUpstream(t)
	route := broadcastRoute(up)
	// Long enough that a loaded machine still schedules the answering
	// client's pong within one beat (100 ms dropped it under load).
	route.Heartbeat = config.Duration(400 * time.Millisecond)
	g := newGateway(t, route, config.Limits{})
	silent := dialFrames(t, g, "/prices/ACME/ws")
	alive := dialFrames(t, g, "/prices/ACME/ws")
	waitFor(t, "subscribers", func() bool { return metricValue(t, g, "bridgeway_bridge_clients_connected", "websocket") == 2 })
	waitUpstream(t, up)

	// The answering client pongs every ping while the silent one is
	// being dropped.
	type result struct {
		pings int
		msg   string
		err   error
	}
	done := make(chan result, 1)
	go func() {
		r := result{}
		for {
			op, p, err := alive.read()
			if err != nil {
				r.err = err
				done <- r
				return
			}
			switch op {
			case 0x9:
				r.pings++
				alive.frame(true, 0xa, p, true)
			case 0x1:
				r.msg = string(p)
				done <- r
				return
			}
		}
	}()

	// The silent client reads pings but never answers: the gateway ends it.
	_ = silent.conn.SetReadDeadline(time.Now().Add(deadline))
	pings := 0
	for {
		op, _, err := silent.read()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("silent client still connected after %d pings", pings)
			}
			break
		}
		if op == 0x9 {
			pings++
		}
	}
	if pings < 2 {
		t.Fatalf("silent client got %d pings before being dropped", pings)
	}
	waitFor(t, "silent subscriber gone", func() bool { return metricValue(t, g, "bridgeway_bridge_clients_connected", "websocket") == 1 })
	up.publish("still here")
	r := <-done
	if r.err != nil || r.msg != "still here" {
		t.Fatalf("answering client: %q after %d pings, %v", r.msg, r.pings, r.err)
	}
	if r.pings <= pings {
		t.Fatalf("answering client saw %d pings, the silent one %d: it should have outlived it", r.pings, pings)
	}
}
