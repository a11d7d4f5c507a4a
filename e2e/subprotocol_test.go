package e2e

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// A pass-through WebSocket route (kind http) forwards Sec-WebSocket-Protocol
// both ways as it comes: the client's list to the upstream, the upstream's
// choice back; a broker that requires a subprotocol works through it.
func TestPassThroughWebSocketForwardsSubprotocolBothWays(t *testing.T) {
	offers := make(chan string, 4)
	up := websocket.Upgrader{Subprotocols: []string{"v12.stomp"}}
	broker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		offers <- r.Header.Get("Sec-WebSocket-Protocol")
		if !strings.Contains(r.Header.Get("Sec-WebSocket-Protocol"), "v12.stomp") {
			http.Error(w, "v12.stomp required", http.StatusBadRequest)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			_, data, err := ws.ReadMessage()
			if err != nil || ws.WriteMessage(websocket.TextMessage, append([]byte(ws.Subprotocol()+":"), data...)) != nil {
				return
			}
		}
	}))
	defer broker.Close()
	addr, _ := startAssembledGateway(t, "routes:\n  - path: /broker\n    upstream: {url: \""+broker.URL+"/ws\"}\n")

	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: []string{"v11.stomp", "v12.stomp"}}
	ws, resp, err := d.Dial("ws://"+addr+"/broker", nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	defer ws.Close()
	if got := <-offers; got != "v11.stomp, v12.stomp" {
		t.Fatalf("upstream was offered %q", got)
	}
	if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "v12.stomp" {
		t.Fatalf("client was answered %q, want the upstream's v12.stomp", p)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, []byte("CONNECT")); err != nil {
		t.Fatal(err)
	}
	if _, data, err := ws.ReadMessage(); err != nil || string(data) != "v12.stomp:CONNECT" {
		t.Fatalf("echo %q, %v", data, err)
	}
}
