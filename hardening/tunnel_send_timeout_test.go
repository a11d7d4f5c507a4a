package hardening

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/gorilla/websocket"
)

// TestTunnelSendTimeoutCutsNonReader: 20 WebSocket tunnels whose upstream
// floods while the client reads nothing. Each client takes no bytes for
// limits.send_timeout, so the gateway cuts its tunnel and closes the
// upstream connection: every flooding upstream write ends in an error,
// instead of the tunnels holding their socket buffers (tens of MB) for as
// long as the clients stay. The client's connection is reset, not closed:
// a closed socket would keep its full send queue (megabytes each) while
// the client keeps its window shut.
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
	clients := make([]*rawWS, tunnels)
	for i := range clients {
		clients[i] = dialRawWS(t, g, "/app/flood", "") // and never read
	}
	eventually(t, "every flooding upstream connection closed by the gateway", func() bool {
		return ended.Load() == tunnels
	})
	for i, c := range clients {
		_, err := io.Copy(io.Discard, c.br)
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("client %d: its connection ended with %v, want a reset", i, err)
		}
	}
}
