package bridge_test

import (
	"testing"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/config"
)

// BenchmarkSessionEcho is one round trip through a session route over
// WebSocket: client frame -> session -> upstream WebSocket -> echo ->
// session log -> client frame. The client and the echoing test upstream
// run in the same process, so B/op and allocs/op include their share;
// compare runs of this benchmark, not with nginx.
func BenchmarkSessionEcho(b *testing.B) {
	up := newUpstream(b)
	g := newGateway(b, sessionRoute(up), config.Limits{})
	ws := mustDialWS(b, g.wsURL("/chat/ws"), nil)
	payload := []byte("bench 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := ws.WriteMessage(websocket.TextMessage, payload); err != nil {
			b.Fatal(err)
		}
		if _, _, err := ws.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}
