package passthrough

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// A FIN that arrives with the last bytes (one TCP segment, or both queued
// before the read) signals readiness only once: the direction's goroutine
// reads until EAGAIN or EOF, never stopping at a short read, and the event
// loop, which does stop at one, sees the FIN in epoll's EPOLLRDHUP. Each test parks the relay first (a first message goes through and
// a short pause lets it wait for readiness), then sends a frame and the FIN
// together. A relay that misses the FIN leaves the other side waiting
// until testDeadline.

// TestTunnelUpstreamFINWithLastFrame: an upstream that writes a frame and
// closes gives the client the frame and then EOF.
func TestTunnelUpstreamFINWithLastFrame(t *testing.T) {
	up := newRawUpstream(t, func(conn net.Conn, req *http.Request) {
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: "+acceptKey(req.Header.Get("Sec-WebSocket-Key"))+"\r\n\r\n\x81\x01a")
		time.Sleep(50 * time.Millisecond) // the relay parks waiting for readiness
		conn.Write([]byte("\x81\x01b"))
		conn.Close()
	})
	gw := newGateway(t, route("/ws", up.url()), nil)
	for range 3 {
		conn, br := rawTunnel(t, gw)
		got, err := io.ReadAll(br)
		if err != nil || string(got) != "\x81\x01a\x81\x01b" {
			t.Fatalf("client read %q, %v; want both frames, then EOF", got, err)
		}
		conn.Close()
	}
}

// TestTunnelClientFINWithLastFrame: a client that sends a frame and shuts
// its write side: the upstream gets the frame and then EOF.
func TestTunnelClientFINWithLastFrame(t *testing.T) {
	type seen struct {
		data []byte
		err  error
	}
	got := make(chan seen, 4)
	up := newRawUpstream(t, func(conn net.Conn, req *http.Request) {
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: "+acceptKey(req.Header.Get("Sec-WebSocket-Key"))+"\r\n\r\n\x81\x01a")
		data, err := io.ReadAll(conn)
		got <- seen{data, err}
	})
	gw := newGateway(t, route("/ws", up.url()), nil)
	for range 3 {
		conn, br := rawTunnel(t, gw)
		first := make([]byte, 3)
		if _, err := io.ReadFull(br, first); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // the relay parks waiting for readiness
		conn.Write(maskedFrame("b"))
		conn.(*net.TCPConn).CloseWrite()
		s := recv(t, got)
		if s.err != nil || !bytes.Equal(s.data, maskedFrame("b")) {
			t.Fatalf("upstream read %q, %v; want the frame, then EOF", s.data, s.err)
		}
		conn.Close()
	}
}

// rawTunnel opens a tunnel on a raw connection and reads the 101.
func rawTunnel(t *testing.T, gw *gateway) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", hostOf(gw.srv))
	if err != nil {
		t.Fatal(err)
	}
	startHandshake(t, conn)
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", res, err)
	}
	return conn, br
}
