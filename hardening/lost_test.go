package hardening

import (
	"errors"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// lostClose is the close every streaming transport reads for a session
// the gateway does not have (docs/protocol.md, "A lost session").
const lostClose = `{"code":4404,"reason":"session_not_found"}`

// expectLost checks an SSE or NDJSON answer for a session that does not
// exist: a 200 stream that holds only the 4404 close.
func expectLost(t *testing.T, what string, a answer) {
	t.Helper()
	if a.status != 200 || !strings.Contains(a.body, lostClose) {
		t.Errorf("%s: %d %q, want 200 with the close %s", what, a.status, a.body, lostClose)
	}
}

// expectLostWS checks that a WebSocket to a session that does not exist is
// closed with 4404 right after its handshake.
func expectLostWS(t *testing.T, what, url string) {
	t.Helper()
	ws, res, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Errorf("%s: handshake %v %v, want it completed and then closed 4404", what, res, err)
		return
	}
	defer ws.Close()
	_, _, err = ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4404 {
		t.Errorf("%s: %v, want close 4404", what, err)
	}
}
