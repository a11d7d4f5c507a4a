package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/gorilla/websocket"
)

// dialWS opens a WebSocket through the gateway and checks the echo works.
func dialWS(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: testTimeout}
	conn, resp, err := d.Dial(url, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", url, err, status)
	}
	t.Cleanup(func() { _ = conn.Close() })
	assertEcho(t, conn, "ping")
	return conn
}

func assertEcho(t *testing.T, conn *websocket.Conn, text string) {
	t.Helper()
	if err := conn.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		t.Fatalf("write: %v", err)
	}
	kind, data, err := conn.ReadMessage()
	if err != nil || kind != websocket.TextMessage || string(data) != text {
		t.Fatalf("echo: kind %d data %q err %v", kind, data, err)
	}
}

// readUntilClose returns the close error the peer sent.
func readUntilClose(conn *websocket.Conn) error {
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			return err
		}
	}
}

func TestDrainClosesTunnelsAndTurnsNotReady(t *testing.T) {
	up := startUpstream(t, "app")
	s := startServer(t, baseYAML+"routes:\n"+route("/app", up.URL)+route("/chat", "ws://127.0.0.1:1/chat"), Deps{})
	c := newClient(t)
	tunnel := dialWS(t, "ws://"+s.Addr()+"/app/ws")

	// An in-flight request that the upstream holds until we say so.
	inflight := make(chan string, 1)
	go func() {
		resp, err := c.Get("http://" + s.Addr() + "/app/slow")
		if err != nil {
			inflight <- "error: " + err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		inflight <- string(body)
	}()
	eventually(t, "the slow request to reach the upstream", func() bool { return up.requests.Load() >= 2 })
	if got := gaugeValue(t, s, "bridgeway_proxy_active_connections", map[string]string{"route": "/app", "kind": "websocket"}); got != 1 {
		t.Errorf("active websocket tunnels = %v, want 1", got)
	}

	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- s.Shutdown(context.Background()) }()

	// The tunnel gets a 1001 close frame.
	err := readUntilClose(tunnel)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Fatalf("tunnel ended with %v, want close 1001", err)
	}
	// /readyz is 503 while draining (the admin listener stays up to say so).
	resp, body := get(t, c, "http://"+s.AdminAddr()+"/readyz")
	if resp.StatusCode != http.StatusServiceUnavailable || decodeError(t, body) != "not_ready" {
		t.Fatalf("readyz while draining: %d %s", resp.StatusCode, body)
	}
	// New connections are refused once the listener is closed (it closes
	// concurrently with the tunnels, so poll).
	eventually(t, "new connections to be refused", func() bool {
		resp, err := c.Get("http://" + s.Addr() + "/app")
		if err == nil {
			resp.Body.Close()
		}
		return err != nil
	})
	// The in-flight request finishes normally once its upstream answers.
	close(up.release)
	if got := <-inflight; got != "slow done" {
		t.Fatalf("in-flight request: %q", got)
	}
	if err := <-shutdownDone; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, closed := s.bridge.counts("/chat"); closed != 1 {
		t.Errorf("bridged route closed %d times, want 1", closed)
	}
}

func TestDrainForcesAtDeadline(t *testing.T) {
	up := startUpstream(t, "app")
	s := startServer(t, `
listen: "127.0.0.1:0"
admin:
  listen: ""
shutdown_timeout: 300ms
routes:
`+route("/app", up.URL), Deps{})
	c := newClient(t)
	inflight := make(chan error, 1)
	go func() {
		resp, err := c.Get("http://" + s.Addr() + "/app/slow")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		inflight <- err
	}()
	eventually(t, "the slow request to reach the upstream", func() bool { return up.requests.Load() >= 1 })
	if err := s.Shutdown(context.Background()); err == nil {
		t.Errorf("Shutdown reported a clean drain though a request was still running")
	}
	if err := <-inflight; err == nil {
		t.Errorf("the stuck request completed; want it cut at the deadline")
	}
	close(up.release)
}
