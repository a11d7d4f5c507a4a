package hardening

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawWS is a hand-made WebSocket client connection, so tests can write
// frames no library would.
type rawWS struct {
	c  net.Conn
	br *bufio.Reader
	// header is the 101's header.
	header http.Header
}

func dialRawWS(t *testing.T, g *gateway, path string, extra string) *rawWS {
	t.Helper()
	c := g.rawConn(t)
	req := "GET " + path + " HTTP/1.1\r\nHost: " + g.addr + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + wsKey + "\r\n" + extra + "\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake answered %d", res.StatusCode)
	}
	return &rawWS{c: c, br: br, header: res.Header}
}

// frame writes one frame; declared overrides the length field when >= 0.
func (w *rawWS) frame(fin bool, opcode byte, payload []byte, masked bool, declared int64) error {
	var hdr []byte
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	hdr = append(hdr, b0)
	n := uint64(len(payload))
	if declared >= 0 {
		n = uint64(declared)
	}
	var mbit byte
	if masked {
		mbit = 0x80
	}
	switch {
	case n < 126 && declared < 0:
		hdr = append(hdr, mbit|byte(n))
	case n <= 0xffff && declared < 0:
		hdr = append(hdr, mbit|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, mbit|127)
		hdr = binary.BigEndian.AppendUint64(hdr, n)
	}
	data := append([]byte(nil), payload...)
	if masked {
		var key [4]byte
		_, _ = rand.Read(key[:])
		hdr = append(hdr, key[:]...)
		for i := range data {
			data[i] ^= key[i%4]
		}
	}
	_, err := w.c.Write(append(hdr, data...))
	return err
}

// hugeDeclared is a header that declares n bytes with the top bit as given.
func (w *rawWS) declare(opcode byte, n uint64) error {
	hdr := []byte{0x80 | opcode, 0x80 | 127}
	hdr = binary.BigEndian.AppendUint64(hdr, n)
	hdr = append(hdr, 1, 2, 3, 4, 'x', 'y', 'z')
	_, err := w.c.Write(hdr)
	return err
}

// readFrame reads one server frame (unmasked).
func (w *rawWS) readFrame() (opcode byte, payload []byte, err error) {
	f, err := readServerFrame(w.br)
	if err == nil && f.b1&0x80 != 0 {
		return 0, nil, errors.New("server frame is masked")
	}
	return f.opcode(), f.payload, err
}

// closeCode reads frames until a close frame (its code) or the end of the
// connection (-1). Data frames are returned in seen.
func (w *rawWS) closeCode(t *testing.T) (code int, seen []string) {
	t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		op, p, err := w.readFrame()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("no close and no end of connection")
			}
			return -1, seen
		}
		switch op {
		case 8:
			if len(p) < 2 {
				return 1005, seen
			}
			return int(binary.BigEndian.Uint16(p)), seen
		case 1, 2:
			seen = append(seen, string(p))
		}
	}
}

// expectClosed asserts the server ends the TCP connection after its close.
func (w *rawWS) expectClosed(t *testing.T) {
	t.Helper()
	readAllUntilClosed(t, bufConn{w.c, w.br})
}

const framesYAML = "limits: {max_message_bytes: 64KiB}\n"

// TestHostileWebSocketFrames: frames that declare absurd lengths, floods of
// fragments beyond max_message_bytes and protocol violations on a bridged
// WebSocket end the connection with the right close code, and nothing of
// them reaches the upstream.
func TestHostileWebSocketFrames(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, framesYAML+bridgedYAML(app))
	cases := []struct {
		name string
		send func(w *rawWS) error
		want []int // acceptable close codes (-1: dropped without a close)
	}{
		{"declares 2^63-1 bytes", func(w *rawWS) error { return w.declare(1, 1<<63-1) }, []int{1009}},
		{"declares 2^63 bytes (top bit)", func(w *rawWS) error { return w.declare(2, 1<<63) }, []int{1002, 1009, -1}},
		{"declares max_message_bytes+1", func(w *rawWS) error { return w.declare(2, 64<<10+1) }, []int{1009}},
		{"fragment flood", func(w *rawWS) error {
			chunk := make([]byte, 4096)
			if err := w.frame(false, 1, chunk, true, -1); err != nil {
				return err
			}
			for range 64 {
				if err := w.frame(false, 0, chunk, true, -1); err != nil {
					return nil // the gateway already closed
				}
			}
			return nil
		}, []int{1009}},
		{"unmasked client frame", func(w *rawWS) error { return w.frame(true, 1, []byte("hi"), false, -1) }, []int{1002}},
		{"reserved opcode", func(w *rawWS) error { return w.frame(true, 3, []byte("hi"), true, -1) }, []int{1002}},
		{"control frame over 125 bytes", func(w *rawWS) error { return w.frame(true, 9, make([]byte, 126), true, -1) }, []int{1002}},
		{"fragmented control frame", func(w *rawWS) error { return w.frame(false, 9, []byte("x"), true, -1) }, []int{1002}},
		{"continuation without start", func(w *rawWS) error { return w.frame(true, 0, []byte("x"), true, -1) }, []int{1002}},
		{"RSV1 without extension", func(w *rawWS) error {
			_, err := w.c.Write([]byte{0xC1, 0x80, 0, 0, 0, 0})
			return err
		}, []int{1002}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, accepted := app.received.Load(), app.accepted.Load()
			w := dialRawWS(t, g, "/chat/ws", "")
			if err := tc.send(w); err != nil {
				t.Fatalf("write: %v", err)
			}
			code, _ := w.closeCode(t)
			ok := false
			for _, c := range tc.want {
				ok = ok || c == code
			}
			if !ok {
				t.Errorf("close code %d, want one of %v", code, tc.want)
			}
			w.expectClosed(t)
			// The barrier: the session's upstream connection ends with it,
			// and the app forgets it only after reading everything the
			// gateway sent.
			eventually(t, "the session's upstream to end", func() bool {
				return app.accepted.Load() == accepted+1 && app.open() == 0
			})
			if n := app.received.Load() - before; n != 0 {
				t.Errorf("the upstream received %d messages", n)
			}
		})
	}
	// Many empty fragments are one (empty) message: no memory grows and the
	// connection keeps working.
	t.Run("empty fragment flood", func(t *testing.T) {
		w := dialRawWS(t, g, "/chat/ws", "")
		_ = w.frame(false, 1, nil, true, -1)
		for range 5000 {
			if err := w.frame(false, 0, nil, true, -1); err != nil {
				t.Fatal(err)
			}
		}
		_ = w.frame(true, 0, []byte("end"), true, -1)
		_ = w.c.SetReadDeadline(time.Now().Add(30 * time.Second))
		op, p, err := w.readFrame()
		if err != nil || op != 1 || string(p) != "end" {
			t.Fatalf("echo after the fragments: %d %q %v", op, p, err)
		}
	})
}

// TestInvalidUTF8TextFrameClosed1007: RFC 6455 8.1: a text message that is
// not UTF-8 fails the connection with 1007; it is not forwarded.
func TestInvalidUTF8TextFrameClosed1007(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, bridgedYAML(app))
	w := dialRawWS(t, g, "/chat/ws", "")
	if err := w.frame(true, 1, []byte{'o', 'k', 0xff, 0xfe}, true, -1); err != nil {
		t.Fatal(err)
	}
	code, seen := w.closeCode(t)
	if code != 1007 {
		t.Errorf("close code %d (frames back: %q), want 1007", code, seen)
	}
	// The barrier: the session's upstream connection ends with it, and the
	// app forgets it only after reading everything the gateway sent.
	eventually(t, "the session's upstream to end", func() bool { return app.accepted.Load() == 1 && app.open() == 0 })
	if n := app.received.Load(); n != 0 {
		t.Errorf("the upstream received %d messages: %q", n, app.messages())
	}
}

// TestPermessageDeflateNotNegotiated: the bridged WebSocket never enables
// compression, so there is no inflate bomb to defuse; an offer is ignored.
func TestPermessageDeflateNotNegotiated(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, bridgedYAML(app))
	w := dialRawWS(t, g, "/chat/ws", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")
	if ext := w.header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Fatalf("compression negotiated: %q", ext)
	}
	// A frame claiming compression (RSV1) is a protocol error.
	_, _ = w.c.Write([]byte{0xC1, 0x80, 0, 0, 0, 0})
	if code, _ := w.closeCode(t); code != 1002 {
		t.Errorf("close code %d, want 1002", code)
	}
}

// TestPassthroughTunnelHugeFrame: a pass-through WebSocket tunnel parses
// frame headers; an absurd declared length ends the tunnel with 1002 and
// nothing reaches the upstream app as a message.
func TestPassthroughTunnelHugeFrame(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, passthroughYAML(app.srv.URL))
	w := dialRawWS(t, g, "/app/echo", "")
	if err := w.declare(2, 1<<63-1); err != nil {
		t.Fatal(err)
	}
	if code, _ := w.closeCode(t); code != 1002 && code != -1 {
		t.Errorf("close code %d, want 1002 or a dropped connection", code)
	}
	w.expectClosed(t)
	// The barrier: the tunnel's upstream connection ends with it (close
	// 1002), and the app forgets it only after reading everything the
	// gateway sent.
	eventually(t, "the tunnel's upstream to end", func() bool { return app.accepted.Load() == 1 && app.open() == 0 })
	if n := app.received.Load(); n != 0 {
		t.Errorf("the upstream received %d messages", n)
	}
}

// TestSSEFieldInjectionFromUpstream: upstream data holding CR, LF, CRLF,
// NUL and text shaped like SSE fields cannot inject a field or an event:
// every line of the event is a data: line, and the data round-trips (line
// breaks normalised to LF, as EventSource reads them). The NDJSON stream
// carries it byte for byte.
func TestSSEFieldInjectionFromUpstream(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, bridgedYAML(app))
	evil := "a\r\nevent: evil\rid: 999\n\nretry: 1\r\n\r\ndata: x\x00y\n:comment\nlast"
	s := openSSE(t, g.URL+"/chat/sse", nil)
	sess := s.nextEvent(t, "session")
	var info struct{ Session, Cursor string }
	_ = json.Unmarshal([]byte(sess.data), &info)
	if a := do(t, "POST", g.URL+"/chat/send?session="+info.Session, nil, evil); a.status != 204 {
		t.Fatalf("send: %d", a.status)
	}
	ev := s.nextEvent(t, "message")
	for _, l := range ev.lines {
		if !strings.HasPrefix(l, "data:") && !strings.HasPrefix(l, "id: ") {
			t.Errorf("injected line %q", l)
		}
	}
	want := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(evil)
	if ev.data != want || ev.event != "" || !strings.HasPrefix(ev.id, info.Session+"-") {
		t.Errorf("event id=%q event=%q data=%q, want data %q", ev.id, ev.event, ev.data, want)
	}
	// The same message as NDJSON, from the start of the session.
	a := get(t, g.URL+"/chat/poll?wait=0&cursor="+info.Cursor, nil)
	p := decodePoll(t, a)
	if got := p.data(); len(got) != 1 || got[0] != evil {
		t.Errorf("long-poll data %q, want %q", got, evil)
	}
}
