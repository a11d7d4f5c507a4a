package upstream

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/config"
)

// rawUpstream is a WebSocket server written by hand: it answers the
// handshake with first (frames sent in the same write as the 101), then
// runs script on the socket. It reads back what the gateway sends.
func rawUpstream(t *testing.T, first []byte, script func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		answer := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"
		if _, err := c.Write(append([]byte(answer), first...)); err != nil {
			return
		}
		script(c, br)
	}()
	return "ws://" + ln.Addr().String() + "/chat"
}

// serverFrame is one unmasked frame (masked sets the mask bit, which a
// server must not).
func serverFrame(b0 byte, payload []byte, masked bool) []byte {
	f := []byte{b0}
	var m byte
	if masked {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		f = append(f, m|byte(n))
	default:
		f = binary.BigEndian.AppendUint16(append(f, m|126), uint16(n))
	}
	if masked {
		f = append(f, 0, 0, 0, 0) // a zero key: the payload reads as sent
	}
	return append(f, payload...)
}

// clientFrame reads one frame the gateway sent (masked, as a client's).
func clientFrame(br *bufio.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	n := int(h[1] & 0x7f)
	if n == 126 {
		var l [2]byte
		if _, err = io.ReadFull(br, l[:]); err != nil {
			return 0, nil, err
		}
		n = int(binary.BigEndian.Uint16(l[:]))
	}
	var key [4]byte
	if _, err = io.ReadFull(br, key[:]); err != nil {
		return 0, nil, err
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(br, payload); err != nil {
		return 0, nil, err
	}
	for i := range payload {
		payload[i] ^= key[i&3]
	}
	return h[0] & 0x0f, payload, nil
}

// answer is the next frame the upstream read (the guard only prevents a
// hang; nothing is timed).
func answer(t *testing.T, got <-chan []byte) []byte {
	t.Helper()
	select {
	case b := <-got:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream got no answer")
		return nil
	}
}

// TestWebSocketFramesReadByTheGateway: on a plain upstream the gateway
// reads the frames itself (wsframes.go). Frames sent with the handshake's
// answer, a fragmented message with a ping between its fragments, a
// binary message and a message longer than the read buffer all arrive in
// order; the ping is answered, and the upstream's close code and reason
// reach Run and are echoed.
func TestWebSocketFramesReadByTheGateway(t *testing.T) {
	long := strings.Repeat("x", 3000)
	first := append(serverFrame(0x81, []byte("early"), false), serverFrame(0x81, []byte("bird"), false)...)
	got := make(chan []byte, 4)
	url := rawUpstream(t, first, func(c net.Conn, br *bufio.Reader) {
		var b []byte
		b = append(b, serverFrame(0x01, []byte("frag"), false)...)
		b = append(b, serverFrame(0x89, []byte("ping!"), false)...)
		b = append(b, serverFrame(0x80, []byte("mented"), false)...)
		b = append(b, serverFrame(0x82, []byte{0, 1, 0xff}, false)...)
		b = append(b, serverFrame(0x81, []byte(long), false)...)
		b = append(b, serverFrame(0x88, append([]byte{0x0f, 0xa1}, "bye now"...), false)...)
		if _, err := c.Write(b); err != nil {
			return
		}
		for {
			op, p, err := clientFrame(br)
			if err != nil {
				return
			}
			got <- append([]byte{op}, p...)
			if op == 8 {
				return
			}
		}
	})
	conn := dial(t, testOptions(t, config.KindWebSocket, url))
	sink := newRecSink()
	r := startRun(t, conn, sink)
	info := r.wait(t)
	if info != (msg.CloseInfo{Code: 4001, Reason: "bye now"}) {
		t.Errorf("CloseInfo = %+v, want 4001 bye now", info)
	}
	msgs := sink.messages()
	want := []string{"early", "bird", "fragmented", "\x00\x01\xff", long}
	if len(msgs) != len(want) {
		t.Fatalf("%d messages %q, want %d", len(msgs), dataOf(msgs), len(want))
	}
	for i, m := range msgs {
		if string(m.Data) != want[i] || m.Binary != (i == 3) {
			t.Errorf("message %d = %.20q binary %v, want %.20q", i, m.Data, m.Binary, want[i])
		}
	}
	pong, closeEcho := answer(t, got), answer(t, got)
	if string(pong) != "\x0aping!" {
		t.Errorf("answer to the ping %q, want a pong with its payload", pong)
	}
	if closeEcho[0] != 8 || binary.BigEndian.Uint16(closeEcho[1:3]) != 4001 {
		t.Errorf("close answer %q, want 4001", closeEcho)
	}
}

// TestWebSocketMaskedUpstreamFrameIsAProtocolError: a server frame with
// the mask bit is answered with 1002, and the session sees the upstream
// lost (1006), as gorilla's reader does.
func TestWebSocketMaskedUpstreamFrameIsAProtocolError(t *testing.T) {
	got := make(chan []byte, 1)
	url := rawUpstream(t, nil, func(c net.Conn, br *bufio.Reader) {
		if _, err := c.Write(serverFrame(0x81, []byte("hidden"), true)); err != nil {
			return
		}
		if op, p, err := clientFrame(br); err == nil {
			got <- append([]byte{op}, p...)
		}
	})
	conn := dial(t, testOptions(t, config.KindWebSocket, url))
	sink := newRecSink()
	r := startRun(t, conn, sink)
	if info := r.wait(t); info.Code != CloseAbnormal {
		t.Errorf("CloseInfo = %+v, want 1006", info)
	}
	if len(sink.messages()) != 0 {
		t.Errorf("messages %q, want none", dataOf(sink.messages()))
	}
	if a := answer(t, got); a[0] != 8 || binary.BigEndian.Uint16(a[1:3]) != 1002 {
		t.Errorf("answer %q, want close 1002", a)
	}
}
