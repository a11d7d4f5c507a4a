package hardening

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"
)

// TestTunnelSendTimeoutCutsNonReader: 20 WebSocket tunnels whose upstream
// floods while the client reads nothing. Each client takes no bytes for
// limits.send_timeout, so the gateway cuts its tunnel and closes the
// upstream connection: every flooding upstream write ends in an error,
// instead of the tunnels holding their socket buffers (tens of MB) for as
// long as the clients stay.
func TestTunnelSendTimeoutCutsNonReader(t *testing.T) {
	var ended atomic.Int64
	var writers sync.WaitGroup
	upgrader := websocket.Upgrader{}
	chunk := make([]byte, 16<<10)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		writers.Add(1)
		defer writers.Done()
		defer ws.Close()
		for ws.WriteMessage(websocket.BinaryMessage, chunk) == nil {
		}
		ended.Add(1)
	}))
	t.Cleanup(func() {
		app.CloseClientConnections() // a gateway that never cuts must not hang the cleanup
		writers.Wait()
		app.Close()
	})
	g := startGateway(t, "limits: {send_timeout: 1s}\n"+passthroughYAML(app.URL))
	const tunnels = 20
	for range tunnels {
		dialRawWS(t, g, "/app/flood", "") // and never read
	}
	eventually(t, "every flooding upstream connection closed by the gateway", func() bool {
		return ended.Load() == tunnels
	})
}
