package bridge_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/config"
)

// WebSocket endpoints (sockjs-protocol: WebsocketHttpErrors, Websocket,
// RawWebsocket).

func TestSockJSWebSocketHTTPErrors(t *testing.T) {
	s := newSockJSServices(t)
	url := s.echo.base + "/0/0/websocket"
	if resp, _ := do(t, "GET", url, "", nil); resp.StatusCode != 400 {
		t.Fatalf("plain GET: %d, want 400", resp.StatusCode)
	}
	if resp, _ := do(t, "GET", url, "", hdr("Upgrade", "WebSocket", "Connection", "close")); resp.StatusCode != 400 {
		t.Fatalf("Connection: close: %d, want 400", resp.StatusCode)
	}
	for _, h := range []http.Header{hdr("Upgrade", "WebSocket", "Connection", "Upgrade"), nil} {
		resp, body := do(t, "POST", url, "", h)
		if resp.StatusCode != 405 || resp.Header.Get("Content-Type") != "" || resp.Header.Get("Allow") == "" || body != "" {
			t.Fatalf("POST: %d %v %q", resp.StatusCode, resp.Header, body)
		}
	}
	if resp, _ := do(t, "GET", s.wsOff.base+"/0/0/websocket", "", nil); resp.StatusCode != 404 {
		t.Fatalf("websocket off: %d, want 404", resp.StatusCode)
	}
}

func dialSockJS(t *testing.T, base string) *websocket.Conn {
	t.Helper()
	ws := mustDialWS(t, wsURL(base)+"/000/"+newSID()+"/websocket", nil)
	expectWS(t, ws, "o")
	return ws
}

func expectWS(t *testing.T, ws *websocket.Conn, want string) {
	t.Helper()
	_, b, err := ws.ReadMessage()
	if err != nil || string(b) != want {
		t.Fatalf("websocket: got %q (%v), want %q", b, err, want)
	}
}

func TestSockJSWebSocket(t *testing.T) {
	s := newSockJSServices(t)
	ws := dialSockJS(t, s.echo.base)
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`["a"]`))
	expectWS(t, ws, `a["a"]`)
	// Empty frames and frames without messages are ignored.
	_ = ws.WriteMessage(websocket.TextMessage, nil)
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`[]`))
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`["b"]`))
	expectWS(t, ws, `a["b"]`)
}

func TestSockJSWebSocketClose(t *testing.T) {
	s := newSockJSServices(t)
	ws := dialSockJS(t, s.close.base)
	expectWS(t, ws, `c[3000,"Go away!"]`)
	_, _, err := ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 3000 || ce.Text != "Go away!" {
		t.Fatalf("after the close frame: %v", err)
	}
}

// TestSockJSWebSocketLongCloseReasonCutAtRune: the close frame after
// c[...] carries at most 120 bytes of the upstream's reason, cut before a
// character rather than inside it (invalid UTF-8 fails the connection).
func TestSockJSWebSocketLongCloseReasonCutAtRune(t *testing.T) {
	s := newSockJSServices(t)
	ws := dialSockJS(t, s.echo.base)
	reason := strings.Repeat("x", 119) + "€"
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`["close 4001 `+reason+`"]`))
	expectWS(t, ws, `c[4001,"`+reason+`"]`)
	_, _, err := ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4001 || ce.Text != strings.Repeat("x", 119) {
		t.Fatalf("after the close frame: %v, want 4001 and the reason's 119 bytes before the euro sign", err)
	}
}

// TestSockJSWebSocketHeaders is the RFC 6455 handshake as the protocol
// checks it, byte for byte on a raw socket.
func TestSockJSWebSocketHeaders(t *testing.T) {
	s := newSockJSServices(t)
	_, br := rawRequest(t, s.echo, "GET /echo/000/"+newSID()+"/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"+
		"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Sec-Websocket-Accept") != "HSmrc0sMlYUkAGmm5OPpG2HaGWk=" ||
		strings.ToLower(resp.Header.Get("Connection")) != "upgrade" || strings.ToLower(resp.Header.Get("Upgrade")) != "websocket" ||
		resp.Header.Get("Content-Length") != "" {
		t.Fatalf("handshake: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestSockJSWebSocketReuseSessionID: over WebSocket the connection is the
// session, so two may share an id, and an id may be used again.
func TestSockJSWebSocketReuseSessionID(t *testing.T) {
	s := newSockJSServices(t)
	url := wsURL(s.echo.base) + "/000/" + newSID() + "/websocket"
	ws1 := mustDialWS(t, url, nil)
	expectWS(t, ws1, "o")
	ws2 := mustDialWS(t, url, nil)
	expectWS(t, ws2, "o")
	_ = ws1.WriteMessage(websocket.TextMessage, []byte(`["a"]`))
	expectWS(t, ws1, `a["a"]`)
	_ = ws2.WriteMessage(websocket.TextMessage, []byte(`["b"]`))
	expectWS(t, ws2, `a["b"]`)
	ws1.Close()
	ws2.Close()
	ws3 := mustDialWS(t, url, nil)
	expectWS(t, ws3, "o")
	_ = ws3.WriteMessage(websocket.TextMessage, []byte(`["a"]`))
	expectWS(t, ws3, `a["a"]`)
}

// TestSockJSWebSocketBrokenJSON: broken JSON ends the connection at once
// and nothing of it reaches the upstream.
func TestSockJSWebSocketBrokenJSON(t *testing.T) {
	s := newSockJSServices(t)
	ws := dialSockJS(t, s.echo.base)
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`["a`))
	if _, b, err := ws.ReadMessage(); err == nil {
		t.Fatalf("connection still open, got %q", b)
	}
	if _, _, received := s.up.stats(); received != 0 {
		t.Fatalf("upstream received %d messages", received)
	}
}

func TestSockJSRawWebSocket(t *testing.T) {
	s := newSockJSServices(t)
	ws := mustDialWS(t, wsURL(s.echo.base)+"/websocket", nil)
	_ = ws.WriteMessage(websocket.TextMessage, []byte("Hello world!\uffff"))
	expectWS(t, ws, "Hello world!\uffff")

	ws = mustDialWS(t, wsURL(s.close.base)+"/websocket", nil)
	_, _, err := ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Text != "Go away!" {
		t.Fatalf("raw close: %v", err)
	}
	if _, resp := dialWS(t, wsURL(s.wsOff.base)+"/websocket", nil); resp == nil || resp.StatusCode != 404 {
		t.Fatalf("raw websocket while off: %v", resp)
	}
}

// TestSockJSWebSocketDeadClient: a client that stops answering (no pong
// to the pings sent with each heartbeat) is dropped and its session's
// upstream closed, instead of being held while heartbeats still fit in
// the socket's buffers.
func TestSockJSWebSocketDeadClient(t *testing.T) {
	up := newUpstream(t)
	r := sockjsRoute("/echo", up.url("/echo"))
	r.Heartbeat = config.Duration(time.Second) // the upstream stays healthy meanwhile
	s := newSockJS(t, r, zeroSockJSLimits())
	ws := mustDialWS(t, wsURL(s.base)+"/000/"+newSID()+"/websocket", nil)
	expectWS(t, ws, "o")
	waitFor(t, "the upstream", func() bool { open, _, _ := up.stats(); return open == 1 })
	// From here the client reads nothing, so gorilla answers no ping.
	waitFor(t, "the dead client's session to end", func() bool { open, _, _ := up.stats(); return open == 0 })
}

// TestSockJSWebSocketKeepsItsHeartbeatAcrossUpdate: a reload that raises
// the route's heartbeat right after a SockJS WebSocket read it (for its read
// deadline) does not leave its pings at the new, longer heartbeat against
// the old deadline: the client, answering every ping, stays connected past
// that deadline.
func TestSockJSWebSocketKeepsItsHeartbeatAcrossUpdate(t *testing.T) {
	up := newUpstream(t)
	r := sockjsRoute("/echo", up.url("/echo"))
	r.Heartbeat = config.Duration(2 * time.Second) // the upstream stays healthy meanwhile
	s := newSockJS(t, r, zeroSockJSLimits())
	raised := r
	raised.Heartbeat = config.Duration(time.Minute)
	reloaded := make(chan struct{})
	defer bridge.OnHeartbeatRead(func() { s.g.rh.Update(raised); close(reloaded) })()
	ws := mustDialWS(t, wsURL(s.base)+"/000/"+newSID()+"/websocket", nil)
	<-reloaded
	expectWS(t, ws, "o")
	// Past the connection's read deadline (2 × 2 s + 5 s).
	expectStillPinged(t, ws, 11*time.Second, "the SockJS WebSocket ended after the reload")
}
