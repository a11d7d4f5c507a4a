package hardening

import (
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestMalformedChunkedBodyIsClientError: a pass-through request whose
// chunked body is malformed is the client's fault: 400 bad_request as JSON,
// no upstream error counted and no warning logged (a client could
// otherwise raise the operator's alerts at will).
func TestMalformedChunkedBodyIsClientError(t *testing.T) {
	app := newHTTPApp(t)
	core, logs := observer.New(zapcore.WarnLevel)
	g := startGatewayLogged(t, parseConfig(t, passthroughYAML(app.srv.URL)), zap.New(core))
	for _, tc := range malformedChunkedBodies {
		res, rest := g.rawExchange(t, "POST /app/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"+tc.body)
		if res == nil {
			t.Errorf("%s: no answer", tc.name)
			continue
		}
		if a := (answer{status: res.StatusCode, header: res.Header, body: cutAtClose(rest)}); a.status != 400 || a.errorCode() != "bad_request" {
			t.Errorf("%s: %d %q, want 400 bad_request", tc.name, a.status, a.body)
		}
	}
	if n := g.metric("bridgeway_proxy_upstream_errors_total"); n != 0 {
		t.Errorf("upstream errors counted: %v", n)
	}
	for _, e := range logs.All() {
		t.Errorf("logged %s %q %v", e.Level, e.Message, e.ContextMap())
	}
}

// TestWebSocketUpgradeWithBodyRefused: a WebSocket handshake that carries a
// body (Content-Length or chunked) is refused with 400 on pass-through and
// bridged routes alike; no upstream is dialled, no tunnel opens.
func TestWebSocketUpgradeWithBodyRefused(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, "routes:\n"+
		"  - path: /pt\n    upstream: {url: \"http://"+app.hostPort()+"/echo\", kind: http}\n"+
		"  - path: /chat\n    upstream: {url: \""+app.wsURL("/echo")+"\"}\n")
	const handshake = "Host: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + wsKey + "\r\n"
	frame := "\x81\x85abcd" + string([]byte{'h' ^ 'a', 'e' ^ 'b', 'l' ^ 'c', 'l' ^ 'd', 'o' ^ 'a'})
	for _, path := range []string{"/pt", "/chat/ws"} {
		for name, framing := range map[string]string{
			"Content-Length": "Content-Length: 11\r\n\r\n" + frame,
			"chunked":        "Transfer-Encoding: chunked\r\n\r\nb\r\n" + frame + "\r\n0\r\n\r\n",
		} {
			res, rest := g.rawExchange(t, "GET "+path+" HTTP/1.1\r\n"+handshake+framing)
			if res == nil {
				t.Errorf("%s %s: no answer", path, name)
				continue
			}
			if a := (answer{status: res.StatusCode, header: res.Header, body: cutAtClose(rest)}); a.status != 400 || a.errorCode() != "bad_request" {
				t.Errorf("%s %s: %d %q, want 400 bad_request", path, name, a.status, a.body)
			}
		}
	}
	// A handshake without a body is the barrier: once its session's
	// upstream is counted, exactly one means the refused ones opened none.
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+g.addr+"/chat/ws", nil)
	if err != nil {
		t.Fatalf("handshake without a body: %v", err)
	}
	defer ws.Close()
	eventually(t, "the plain handshake's upstream", func() bool { return app.accepted.Load() >= 1 })
	if n := app.accepted.Load(); n != 1 {
		t.Errorf("the upstream accepted %d WebSocket connections for the refused handshakes", n-1)
	}
}

// cutAtClose is the answer's body from rawExchange, without what followed
// it before the close.
func cutAtClose(body string) string {
	answer, _, _ := strings.Cut(body, "\x00")
	return answer
}
