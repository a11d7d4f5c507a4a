package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/config"
)

// halfClosingRoute hijacks the connection as a WebSocket tunnel does,
// writes a last message, half-closes (CloseWrite, the tunnel's end of a
// closing handshake) and reports what the client sent after that.
type halfClosingRoute struct{ afterHalfClose chan string }

func (r *halfClosingRoute) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		r.afterHalfClose <- "hijack: " + err.Error()
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(testTimeout))
	_, _ = io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nbye")
	// As the tunnel's closeWrite: a connection that cannot half-close is
	// left open, and the client waits.
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	rest, err := io.ReadAll(brw.Reader)
	if err != nil {
		r.afterHalfClose <- "read after CloseWrite: " + err.Error()
		return
	}
	r.afterHalfClose <- string(rest)
}

func (r *halfClosingRoute) Close(context.Context) error { return nil }

// TestTLSHijackedConnectionHalfCloses: a hijacked HTTP/1.1 connection on
// the HTTPS listener half-closes like one on the plain listener. The client
// reads the last bytes and EOF while the gateway keeps the connection open
// for reading, and the gateway still gets what the client sends after.
// Before, the listener's wire-guard wrapper hid tls.Conn's CloseWrite: a
// pass-through tunnel's client waited for the tunnel's grace after every
// closing handshake (5 s per conformance case). Here the handler waits for
// the client, so without the half-close the client's read runs into its
// guard.
func TestTLSHijackedConnectionHalfCloses(t *testing.T) {
	certFile, keyFile, pool := selfSignedPair(t)
	hc := &halfClosingRoute{afterHalfClose: make(chan string, 1)}
	s := startServer(t, tlsYAML(certFile, keyFile, "  redirect_http: false\nroutes:\n"+route("/ws", "ws://127.0.0.1:1/ws")),
		Deps{Bridge: func(config.Route) (RouteHandler, error) { return hc, nil }})

	c, err := tls.Dial("tcp", s.TLSAddr(), &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second)) // the guard of a hung read
	_, _ = io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	last, err := io.ReadAll(br)
	if err != nil {
		if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("no EOF after the gateway's half-close (read %q): the connection was left open", last)
		}
		t.Fatalf("read after the upgrade: %v (read %q)", err, last)
	}
	if string(last) != "bye" {
		t.Fatalf("read %q before EOF, want %q", last, "bye")
	}
	// The gateway's side is closed, the client's is not: it can still send.
	if _, err := io.WriteString(c, "after"); err != nil {
		t.Fatalf("write after the gateway's half-close: %v", err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if got := <-hc.afterHalfClose; got != "after" {
		t.Fatalf("the gateway read %q after its half-close, want %q", got, "after")
	}
}
