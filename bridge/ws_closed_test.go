package bridge_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/config"
)

// A ?format=json WebSocket whose session ends gets the {"closed":...}
// object the other transports send, then the close frame: 1011 (like 1001
// and 1012-1014) also means "resume" on a WebSocket, and without the
// object a client could not tell the end from a drop. A raw connection gets
// the close frame alone.
func TestJSONWebSocketGetsClosedBeforeTheCloseFrame(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, sessionRoute(up), config.Limits{})
	for _, tc := range []struct {
		query string
		json  bool
	}{{"?format=json", true}, {"", false}} {
		ws := mustDialWS(t, g.wsURL("/chat/ws"+tc.query), nil)
		if err := ws.WriteMessage(websocket.TextMessage, []byte("close 1011 app failed")); err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(deadline))
		if tc.json {
			kind, data := readUntilClosedObject(t, ws)
			if kind != websocket.TextMessage || string(data) != `{"closed":{"code":1011,"reason":"app failed"}}` {
				t.Fatalf("json: last frame before the close %d %q", kind, data)
			}
		}
		_, _, err := ws.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 1011 || ce.Text != "app failed" {
			t.Fatalf("%q: want close 1011 app failed, got %v", tc.query, err)
		}
		ws.Close()
	}
}

// readUntilClosedObject reads past the session's own frames to the frame
// that says "closed".
func readUntilClosedObject(t *testing.T, ws *websocket.Conn) (int, []byte) {
	t.Helper()
	for {
		kind, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("before the closed object: %v", err)
		}
		if bytes.Contains(data, []byte(`"closed"`)) {
			return kind, data
		}
	}
}
