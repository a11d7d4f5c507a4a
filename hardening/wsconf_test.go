package hardening

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// A WebSocket conformance suite modelled on the Autobahn TestSuite's
// fuzzingclient (sections 1-7, 9 at small sizes, 10; wsconf_cases_test.go).
// Every case sends raw client frames to each WebSocket path the gateway
// serves itself (session route, broadcast route with client_send,
// pass-through tunnel; plain and TLS) and to a gorilla/websocket echo server
// directly (the reference, which passes Autobahn), records what comes back
// (data messages, pongs, the close frame, anything after it, the TCP end)
// and fails on each difference RFC 6455 forbids (wsconfCompare).

// wsconfGuard bounds each wait; no case asserts on how long anything took.
const wsconfGuard = 10 * time.Second

// wsconfCase is one case: frames written one per write. A case whose
// frames hold no close frame is ended by the client with close 1000 once
// it got what the reference answered (or a close frame).
type wsconfCase struct {
	id     string // Autobahn's numbering where the case follows one
	frames [][]byte
	closes bool // the frames hold a close frame
	// codes lists further close codes allowed beside the reference's, with
	// the reason (RFC 6455 leaves the choice to the endpoint).
	codes []int
}

// wsconfOutcome is what one endpoint did in one case.
type wsconfOutcome struct {
	messages   []string // data messages, reassembled (an intermediary may refragment)
	pongs      []string
	closeCode  int    // 0: none; 1005: an empty close payload
	afterClose int    // frames received after the close frame
	violation  string // a server frame breaking RFC 6455 (masked, RSV bits, bad fragmentation)
	end        string // "FIN", "RST" or "open" (still open at the guard)
}

func (o wsconfOutcome) String() string {
	return fmt.Sprintf("messages %d pongs %d close %d after-close %d end %s %s",
		len(o.messages), len(o.pongs), o.closeCode, o.afterClose, o.end, o.violation)
}

// wsconfTarget is a WebSocket endpoint under test.
type wsconfTarget struct {
	name string
	// open returns a connection with the handshake done, ready for frames.
	open func(t *testing.T, caseNo int) (net.Conn, *bufio.Reader)
}

// wsconfEcho is the reference, and the upstream of every gateway path: a
// gorilla echo server as in gorilla's own Autobahn server (text is checked
// for UTF-8, which gorilla's reader leaves to the application). It ends
// with a FIN and reads what the client still sends before closing: closing
// over unread bytes (a ping after the client's close) would reset the
// connection and could destroy the close frame, and the reference would
// not answer the same way twice.
func wsconfEcho(t *testing.T) *httptest.Server {
	upgrader := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer func() {
			if tc, ok := ws.NetConn().(*net.TCPConn); ok && tc.CloseWrite() == nil {
				_ = tc.SetReadDeadline(time.Now().Add(wsconfGuard))
				_, _ = io.Copy(io.Discard, tc)
			}
			_ = ws.Close()
		}()
		for {
			op, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if op == websocket.TextMessage && !utf8.Valid(data) {
				_ = ws.WriteControl(websocket.CloseMessage,
					websocket.FormatCloseMessage(websocket.CloseInvalidFramePayloadData, ""), time.Now().Add(time.Second))
				return
			}
			if ws.WriteMessage(op, data) != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// wsconfTargets starts the gateway (plain and TLS listeners) in front of
// echo and returns the reference and every gateway path.
func wsconfTargets(t *testing.T, echo *httptest.Server) []wsconfTarget {
	certFile, keyFile := selfSignedFiles(t)
	wsEcho := "ws" + strings.TrimPrefix(echo.URL, "http")
	g := startGateway(t, "tls: {listen: 127.0.0.1:0, cert_file: "+certFile+", key_file: "+keyFile+", redirect_http: false}\n"+
		"routes:\n"+
		"  - path: /s\n    upstream: {url: \""+wsEcho+"/echo\"}\n    heartbeat: 60s\n"+
		"  - path: /b/{room}\n    mode: broadcast\n    client_send: true\n    heartbeat: 60s\n"+
		"    upstream: {url: \""+wsEcho+"/echo?room={room}\"}\n"+
		"  - path: /t\n    upstream: {url: \""+echo.URL+"\", kind: http}\n")
	plain := func(addr string) func(t *testing.T) net.Conn {
		return func(t *testing.T) net.Conn {
			c, err := net.DialTimeout("tcp", addr, wsconfGuard)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
	}
	secure := func(t *testing.T) net.Conn {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: wsconfGuard}, "tcp", g.srv.TLSAddr(),
			&tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}) // the test's own certificate
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var rooms atomic.Int64
	paths := func(name string, dial func(*testing.T) net.Conn, path string, broadcast bool) wsconfTarget {
		return wsconfTarget{name: name, open: func(t *testing.T, caseNo int) (net.Conn, *bufio.Reader) {
			p := path
			if broadcast {
				p = "/b/r" + strconv.FormatInt(rooms.Add(1), 10) + "/ws" // a topic per case
			}
			c, br := wsconfHandshake(t, dial(t), p)
			if broadcast {
				wsconfTopicReady(t, g, c, br, p)
			}
			return c, br
		}}
	}
	return []wsconfTarget{
		paths("gorilla", plain(strings.TrimPrefix(echo.URL, "http://")), "/echo", false),
		paths("session", plain(g.addr), "/s/ws", false),
		paths("broadcast", plain(g.addr), "", true),
		paths("tunnel", plain(g.addr), "/t/echo", false),
		paths("session+tls", secure, "/s/ws", false),
		paths("broadcast+tls", secure, "", true),
		paths("tunnel+tls", secure, "/t/echo", false),
	}
}

// wsconfHandshake opens a WebSocket on c.
func wsconfHandshake(t *testing.T, c net.Conn, path string) (net.Conn, *bufio.Reader) {
	t.Helper()
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(wsconfGuard))
	req := "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + wsKey + "\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake %s: %v %v", path, res, err)
	}
	return c, br
}

// wsconfTopicReady waits until the broadcast topic's upstream is connected
// (a send is accepted, not 503) and its echo came back, so the case's
// frames never meet a topic still dialling.
func wsconfTopicReady(t *testing.T, g *gateway, c net.Conn, br *bufio.Reader, wsPath string) {
	t.Helper()
	send := g.URL + strings.TrimSuffix(wsPath, "/ws") + "/send"
	deadline := time.Now().Add(wsconfGuard)
	for {
		res, err := http.Post(send, "text/plain", strings.NewReader("ready"))
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode == http.StatusNoContent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s: send answered %d", wsPath, res.StatusCode)
		}
		time.Sleep(5 * time.Millisecond)
	}
	f, err := readServerFrame(br)
	if err != nil || string(f.payload) != "ready" {
		t.Fatalf("topic %s: first frame %q, %v", wsPath, f.payload, err)
	}
}

// serverFrame is one frame from the server side.
type serverFrame struct {
	b0, b1  byte
	payload []byte
}

func (f serverFrame) opcode() byte { return f.b0 & 0x0f }
func (f serverFrame) fin() bool    { return f.b0&0x80 != 0 }

func readServerFrame(br *bufio.Reader) (serverFrame, error) {
	var f serverFrame
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return f, err
	}
	f.b0, f.b1 = h[0], h[1]
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err := io.ReadFull(br, e[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err := io.ReadFull(br, e[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	if n > 1<<24 {
		return f, fmt.Errorf("server frame of %d bytes: too large for the test", n)
	}
	if h[1]&0x80 != 0 {
		var key [4]byte
		if _, err := io.ReadFull(br, key[:]); err != nil {
			return f, err
		}
	}
	f.payload = make([]byte, n)
	_, err := io.ReadFull(br, f.payload)
	return f, err
}

// clientBytes is one masked client frame with first byte b0.
func clientBytes(b0 byte, payload []byte) []byte {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	b := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, 0x80|126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 0x80|127), uint64(n))
	}
	b = append(b, key[:]...)
	for i, x := range payload {
		b = append(b, x^key[i&3])
	}
	return b
}

// wsconfRun plays one case against one target. want (nil for the
// reference) says how many messages and pongs to wait for before the
// client closes.
func wsconfRun(t *testing.T, target wsconfTarget, caseNo int, tc wsconfCase, want *wsconfOutcome) wsconfOutcome {
	c, br := target.open(t, caseNo)
	_ = c.SetDeadline(time.Now().Add(wsconfGuard))
	var out wsconfOutcome
	sentClose := tc.closes
	for _, f := range tc.frames {
		if _, err := c.Write(f); err != nil {
			break // the server may have failed the connection already
		}
	}
	closeNow := func() {
		if !sentClose {
			sentClose = true
			_, _ = c.Write(clientBytes(0x88, []byte{0x03, 0xe8}))
		}
	}
	if want == nil || len(want.messages) == 0 && len(want.pongs) == 0 {
		closeNow()
	}
	var msg []byte
	var msgOp byte
	inMsg := false
	for {
		f, err := readServerFrame(br)
		if err != nil {
			out.end = tcpEnd(err)
			return out
		}
		if out.closeCode != 0 {
			out.afterClose++
			continue
		}
		if f.b1&0x80 != 0 || f.b0&0x70 != 0 {
			out.violation = fmt.Sprintf("frame header %#x %#x", f.b0, f.b1)
		}
		switch op := f.opcode(); op {
		case 0x8:
			out.closeCode = 1005
			if len(f.payload) >= 2 {
				out.closeCode = int(binary.BigEndian.Uint16(f.payload))
			}
			if !sentClose {
				sentClose = true
				_, _ = c.Write(clientBytes(0x88, f.payload[:min(2, len(f.payload))]))
			}
		case 0x9:
			_, _ = c.Write(clientBytes(0x8a, f.payload))
		case 0xa:
			out.pongs = append(out.pongs, string(f.payload))
		case 0x1, 0x2, 0x0:
			if (op == 0) != inMsg {
				out.violation = "bad fragmentation from the server"
			}
			if op != 0 {
				msg, msgOp = nil, op
			}
			msg = append(msg, f.payload...)
			inMsg = !f.fin()
			if f.fin() {
				out.messages = append(out.messages, fmt.Sprintf("%d:%s", msgOp, msg))
			}
		default:
			out.violation = fmt.Sprintf("opcode %d from the server", op)
		}
		if want != nil && len(out.messages) >= len(want.messages) && len(out.pongs) >= len(want.pongs) {
			closeNow()
		}
	}
}

// tcpEnd names how a connection ended from the error that ended reading.
func tcpEnd(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "FIN"
	case errors.Is(err, syscall.ECONNRESET):
		return "RST"
	case errors.As(err, &ne) && ne.Timeout():
		return "open"
	}
	return "error: " + err.Error()
}

// wsconfCompare reports the differences RFC 6455 forbids between a
// target's outcome and the reference's.
func wsconfCompare(tc wsconfCase, ref, got wsconfOutcome) []string {
	var bad []string
	if got.violation != "" {
		bad = append(bad, "server frame breaks RFC 6455: "+got.violation)
	}
	if got.afterClose > 0 {
		bad = append(bad, fmt.Sprintf("%d frames after the close frame (5.5.1)", got.afterClose))
	}
	if got.closeCode != ref.closeCode && !slices.Contains(tc.codes, got.closeCode) {
		bad = append(bad, fmt.Sprintf("close code %d, reference %d", got.closeCode, ref.closeCode))
	}
	switch {
	case got.end == "open" && ref.end != "open":
		bad = append(bad, "the connection was not closed")
	case got.end == "RST" && ref.end == "FIN":
		// RFC 6455 does not name the TCP end, but a reset can destroy the
		// close frame before the client reads it (7.1.1: the server
		// closes the TCP connection after the closing handshake).
		bad = append(bad, "a reset where the reference ended with a FIN")
	}
	// A failed connection, or one the client closed, may end before echoes
	// or pongs came back through the upstream (nothing may follow the
	// close frame, 5.5.1): what came must be a prefix of the reference's.
	normal := !tc.closes && (ref.closeCode == 1000 || ref.closeCode == 1005 || ref.closeCode >= 3000)
	if normal && !slices.Equal(got.messages, ref.messages) || !normal && !isPrefix(got.messages, ref.messages) {
		bad = append(bad, fmt.Sprintf("messages differ: %d, reference %d", len(got.messages), len(ref.messages)))
	}
	if normal && !slices.Equal(got.pongs, ref.pongs) || !normal && !isPrefix(got.pongs, ref.pongs) {
		bad = append(bad, fmt.Sprintf("pongs %q, reference %q (5.5.3)", got.pongs, ref.pongs))
	}
	return bad
}

func isPrefix(a, b []string) bool { return len(a) <= len(b) && slices.Equal(a, b[:len(a)]) }

// TestWebSocketConformance runs every case on every target and compares
// each with the reference.
func TestWebSocketConformance(t *testing.T) {
	echo := wsconfEcho(t)
	targets := wsconfTargets(t, echo)
	cases := wsconfCases()
	refs := make([]wsconfOutcome, len(cases))
	for i, tc := range cases {
		refs[i] = wsconfRun(t, targets[0], i, tc, nil)
	}
	for _, target := range targets[1:] {
		t.Run(target.name, func(t *testing.T) {
			for i, tc := range cases {
				got := wsconfRun(t, target, i, tc, &refs[i])
				if bad := wsconfCompare(tc, refs[i], got); len(bad) > 0 {
					t.Errorf("case %s: %s\n\tgot       %v\n\treference %v", tc.id, strings.Join(bad, "; "), got, refs[i])
				} else if testing.Verbose() {
					t.Logf("case %s: %v (reference end %s)", tc.id, got, refs[i].end)
				}
			}
		})
	}
}
