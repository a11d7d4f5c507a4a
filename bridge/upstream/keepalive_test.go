package upstream

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/config"
)

// Session mode runs a connection on a context that is never cancelled:
// pings still go out on the heartbeat (timers, no goroutine), an answering
// upstream stays connected past several pong waits, and Close alone ends
// Run with 1000 and a close frame to the upstream.
func TestWebSocketKeepaliveWithoutContext(t *testing.T) {
	var pings atomic.Int32
	closeCode := make(chan int, 1)
	srv, _ := wsServer(t, nil, func(ws *websocket.Conn, _ *http.Request, _ int) {
		ws.SetPingHandler(func(data string) error {
			pings.Add(1)
			return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				if ce, ok := err.(*websocket.CloseError); ok {
					closeCode <- ce.Code
				}
				return
			}
		}
	})
	opts := testOptions(t, config.KindWebSocket, wsURL(srv))
	// A pong wait of 2 heartbeats: long enough that a loaded machine's
	// scheduling never reads as a silent upstream.
	opts.Route.Heartbeat = config.Duration(150 * time.Millisecond)
	conn := dial(t, opts)
	done := make(chan msg.CloseInfo, 1)
	go func() { done <- conn.Run(context.Background(), newRecSink()) }()

	// Ten pings span five pong waits (2 heartbeats): answered pings keep it up.
	waitFor(t, "ten pings", func() bool { return pings.Load() >= 10 }, nil)
	select {
	case info := <-done:
		t.Fatalf("Run ended while the upstream answered pings: %+v", info)
	default:
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case info := <-done:
		if info.Code != CloseNormal {
			t.Errorf("CloseInfo = %+v, want 1000", info)
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not return after Close")
	}
	select {
	case code := <-closeCode:
		if code != websocket.CloseNormalClosure {
			t.Errorf("upstream got close %d, want 1000", code)
		}
	case <-time.After(waitLimit):
		t.Fatal("upstream got no close frame")
	}
}
