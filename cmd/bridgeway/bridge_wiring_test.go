package main

import (
	"bufio"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/proxy"
)

// TestBridgeWiring runs the gateway with the real bridge: a bridged
// WebSocket route in session mode echoes through a real upstream, and the
// client library is served.
func TestBridgeWiring(t *testing.T) {
	echo := newWSEchoUpstream(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "gw.yaml")
	yaml := gatewayYAML() + "  - path: /chat\n    upstream:\n      url: \"" + echo.wsURL() + "\"\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	signals := make(chan os.Signal, 1)
	servers := make(chan *proxy.Server, 1)
	exit := make(chan int, 1)
	logs := &syncBuffer{}
	go func() { exit <- runGateway(path, logs, signals, func(s *proxy.Server) { servers <- s }) }()
	var srv *proxy.Server
	select {
	case srv = <-servers:
	case code := <-exit:
		t.Fatalf("gateway exited %d: %s", code, logs.String())
	}
	defer func() {
		signals <- syscall.SIGTERM
		select {
		case <-exit:
		case <-time.After(testTimeout):
			t.Error("gateway did not exit")
		}
	}()

	if code, body := fetch(t, "http://"+srv.Addr()+"/_bridgeway/client.js"); code != 200 || !strings.Contains(body, "bridgeway") {
		t.Fatalf("client.js: %d (%d bytes)", code, len(body))
	}

	d := websocket.Dialer{HandshakeTimeout: testTimeout}
	conn, resp, err := d.Dial("ws://"+srv.Addr()+"/chat/ws", http.Header{"Origin": {"http://" + srv.Addr()}})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial bridged route: %v (status %d)", err, status)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(testTimeout))
	if err := conn.WriteMessage(websocket.TextMessage, []byte("hello bridge")); err != nil {
		t.Fatal(err)
	}
	kind, data, err := conn.ReadMessage()
	if err != nil || kind != websocket.TextMessage || string(data) != "hello bridge" {
		t.Fatalf("echo through the bridge: kind %d data %q err %v", kind, data, err)
	}

	// SSE streams through the proxy's response wrapper without buffering:
	// the session event arrives while the stream stays open.
	client := &http.Client{Timeout: testTimeout}
	sse, err := client.Get("http://" + srv.Addr() + "/chat/sse")
	if err != nil {
		t.Fatal(err)
	}
	defer sse.Body.Close()
	if ct := sse.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("SSE content type %q", ct)
	}
	sc := bufio.NewScanner(sse.Body)
	for sc.Scan() {
		if sc.Text() == "event: session" {
			return
		}
	}
	t.Fatalf("SSE stream ended without a session event: %v", sc.Err())
}
