package hardening

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// dialTLS opens a TLS connection to the gateway's HTTPS listener offering
// only the given ALPN protocol.
func dialTLS(t *testing.T, g *gateway, proto string) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", g.srv.TLSAddr(),
		&tls.Config{InsecureSkipVerify: true, NextProtos: []string{proto}})
	if err != nil {
		t.Fatalf("tls dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return c
}

// TestTLSRequestSmugglingRefused: every smuggling shape of
// TestRequestSmugglingRefused over TLS with HTTP/1.1. A request with both
// Content-Length and Transfer-Encoding gets 400 ambiguous_length and the
// connection is closed, so the request behind it is never served; the
// errors net/http answers itself are JSON here too.
func TestTLSRequestSmugglingRefused(t *testing.T) {
	app := newHTTPApp(t)
	g := tlsGateway(t, "", passthroughYAML(app.srv.URL))
	expectSmugglingRefused(t, app, func(t *testing.T) net.Conn { return dialTLS(t, g, "http/1.1") })
}

// TestPlainHTTPOnTLSListener: a plain HTTP request to the HTTPS listener
// gets 400 as JSON and the connection is closed.
func TestPlainHTTPOnTLSListener(t *testing.T) {
	app := newHTTPApp(t)
	g := tlsGateway(t, "", passthroughYAML(app.srv.URL))
	c, err := net.DialTimeout("tcp", g.srv.TLSAddr(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	res, body := exchangeOn(t, c, "GET /app/x HTTP/1.1\r\nHost: x\r\n\r\n")
	if res == nil {
		t.Fatal("no answer")
	}
	if a := (answer{status: res.StatusCode, header: res.Header, body: cutAtClose(body)}); a.status != 400 || a.errorCode() != "bad_request" {
		t.Errorf("%d %q, want 400 bad_request", a.status, a.body)
	}
	if len(app.seen()) != 0 {
		t.Errorf("the upstream was asked: %v", app.seen())
	}
}

// TestWebSocketsOverTLSListener: the connections the TLS listener hands to
// the server (its own handshakes, the wire guard) still become WebSockets:
// a pass-through tunnel, a bridged session and a broadcast subscriber over
// wss:// each carry messages both ways or from the topic.
func TestWebSocketsOverTLSListener(t *testing.T) {
	app := newWSApp(t)
	g := tlsGateway(t, "", "routes:\n"+
		"  - path: /pt\n    upstream: {url: \"http://"+app.hostPort()+"/echo\", kind: http}\n"+
		"  - path: /chat\n    upstream: {url: \""+app.wsURL("/echo")+"\"}\n"+
		"  - path: /feed\n    mode: broadcast\n    upstream: {url: \""+app.wsURL("/feed")+"\"}\n")
	dialer := websocket.Dialer{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, HandshakeTimeout: 10 * time.Second}
	for _, path := range []string{"/pt", "/chat/ws"} {
		ws, _, err := dialer.Dial("wss://"+g.srv.TLSAddr()+path, nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		if err := ws.WriteMessage(websocket.TextMessage, []byte("hello "+path)); err != nil {
			t.Fatal(err)
		}
		_, got, err := ws.ReadMessage()
		if err != nil || string(got) != "hello "+path {
			t.Errorf("%s: echo %q, %v", path, got, err)
		}
		_ = ws.Close()
	}
	ws, _, err := dialer.Dial("wss://"+g.srv.TLSAddr()+"/feed/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	eventually(t, "the topic's upstream", func() bool { return app.openOn("/feed") == 1 })
	app.pushTo("/feed", "news")
	if _, got, err := ws.ReadMessage(); err != nil || string(got) != "news" {
		t.Errorf("broadcast: %q, %v", got, err)
	}
}
