package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// docUpstream is a JSON document for a poll route; while failing it answers
// 500. It counts the requests it answered in each state.
type docUpstream struct {
	*httptest.Server
	failing        atomic.Bool
	served, failed atomic.Int64
}

func newDocUpstream(t *testing.T) *docUpstream {
	u := &docUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u.failing.Load() {
			u.failed.Add(1)
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		n := u.served.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"n":%d}`, n)
	}))
	t.Cleanup(u.Close)
	return u
}

// pollRouteYAML is a broadcast route polling doc quickly.
func pollRouteYAML(path, url string) string {
	return "  - path: " + path + "\n    mode: broadcast\n    heartbeat: 1s\n    upstream:\n      url: \"" + url +
		"\"\n      kind: poll\n      interval: 20ms\n      reconnect: {min: 10ms, max: 20ms}\n"
}

// logLines are the JSON log lines with message msg.
func logLines(logs, msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(logs, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// TestBroadcastUpstreamOutageLoggedOnce: a polled upstream that answers 500
// for a while logs one warning when it starts failing and one info line
// when it recovers, with route and upstream, however many retries there
// were; poll requests have their own result counts and no connects series.
func TestBroadcastUpstreamOutageLoggedOnce(t *testing.T) {
	doc := newDocUpstream(t)
	g := startGateway(t, writeFile(t, t.TempDir(), "gw.yaml", gatewayYAML()+pollRouteYAML("/clock", doc.URL+"/doc")))
	// A long-poll opens the topic (kept for idle_close, 30 s).
	if code, body := fetch(t, "http://"+g.srv.Addr()+"/clock/poll"); code != 200 {
		t.Fatalf("first poll: %d %q", code, body)
	}
	doc.failing.Store(true)
	eventually(t, "several failed polls", func() bool { return doc.failed.Load() >= 4 })
	before := doc.served.Load()
	doc.failing.Store(false)
	eventually(t, "the recovery to be logged", func() bool {
		return len(logLines(g.logs.String(), "upstream recovered")) > 0 && doc.served.Load() > before
	})

	failing := logLines(g.logs.String(), "upstream failing, retrying with backoff")
	recovered := logLines(g.logs.String(), "upstream recovered")
	if len(failing) != 1 || len(recovered) != 1 {
		t.Fatalf("%d failing and %d recovered lines for one outage of %d failed polls, want 1 and 1:\n%s",
			len(failing), len(recovered), doc.failed.Load(), g.logs.String())
	}
	for _, l := range []map[string]any{failing[0], recovered[0]} {
		if l["route"] != "/clock" || l["upstream"] != doc.URL+"/doc" {
			t.Errorf("line without route or upstream: %v", l)
		}
	}
	if failing[0]["level"] != "warn" || !strings.Contains(fmt.Sprint(failing[0]["error"]), "500") {
		t.Errorf("failing line: %v", failing[0])
	}

	if got := g.metric(t, "bridgeway_upstream_requests_total", `kind="poll"`, `result="error"`); got < 4 {
		t.Errorf(`upstream_requests_total{result="error"} = %v, want at least 4`, got)
	}
	// The poller logs the recovery before it counts the answer as changed.
	eventually(t, `upstream_requests_total{result="changed"} at least 2`, func() bool {
		return g.metric(t, "bridgeway_upstream_requests_total", `kind="poll"`, `result="changed"`) >= 2
	})
	if got := g.metric(t, "bridgeway_upstream_connects_total", `kind="poll"`); got != -1 {
		t.Errorf(`upstream_connects_total{kind="poll"} exists (%v): polls are not connections`, got)
	}
	if got := g.metric(t, "bridgeway_bridge_clients_connected", `transport="send"`); got != -1 {
		t.Errorf(`clients_connected{transport="send"} exists: a send is never a connected client`)
	}
}

// TestHijackedStreamsCountedUntilTheyEnd: broadcast SSE, NDJSON and
// WebSocket clients, which the bridge serves on after their handler
// returned, count in proxy_active_connections{kind="bridged"} while open,
// and their access line is written when they end, with the bytes sent.
func TestHijackedStreamsCountedUntilTheyEnd(t *testing.T) {
	doc := newDocUpstream(t)
	g := startGateway(t, writeFile(t, t.TempDir(), "gw.yaml", gatewayYAML()+pollRouteYAML("/clock", doc.URL+"/doc")))
	addr := g.srv.Addr()

	sse, sseBody := rawStream(t, addr, "/clock/sse", "text/event-stream", "data:")
	stream, streamBody := rawStream(t, addr, "/clock/stream", "application/x-ndjson", `"n\"`)
	d := websocket.Dialer{HandshakeTimeout: testTimeout}
	ws, _, err := d.Dial("ws://"+addr+"/clock/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(testTimeout))
	if _, _, err := ws.ReadMessage(); err != nil {
		t.Fatal(err)
	}

	eventually(t, `active_connections{kind="bridged"} = 3 with three streams open`, func() bool {
		return g.metric(t, "bridgeway_proxy_active_connections", `route="/clock"`, `kind="bridged"`) == 3
	})
	for _, p := range []string{"/clock/sse", "/clock/stream", "/clock/ws"} {
		if l := accessLine(g.logs.String(), p); l != nil {
			t.Errorf("access line for %s written while it is open: %v", p, l)
		}
	}

	sse.Close()
	stream.Close()
	ws.Close()
	eventually(t, "three access lines", func() bool {
		return accessLine(g.logs.String(), "/clock/sse") != nil && accessLine(g.logs.String(), "/clock/stream") != nil &&
			accessLine(g.logs.String(), "/clock/ws") != nil
	})
	// The gauge goes down just after each access line is written.
	eventually(t, `active_connections{kind="bridged"} = 0 after the streams ended`, func() bool {
		return g.metric(t, "bridgeway_proxy_active_connections", `route="/clock"`, `kind="bridged"`) == 0
	})
	for p, min := range map[string]int{"/clock/sse": sseBody, "/clock/stream": streamBody} {
		l := accessLine(g.logs.String(), p)
		if b, _ := l["bytes"].(float64); int(b) < min || l["status"] != float64(200) {
			t.Errorf("%s: access line says %v bytes (status %v); the client read %d body bytes", p, l["bytes"], l["status"], min)
		}
	}
	if l := accessLine(g.logs.String(), "/clock/ws"); l["status"] != float64(101) || l["bytes"].(float64) < 10 {
		t.Errorf("/clock/ws access line: %v", l)
	}
}

// rawStream opens path over a plain HTTP/1.1 connection (the kind the
// bridge hijacks) and reads until the body holds want twice. It returns the
// connection and the body bytes read so far (chunk framing included).
func rawStream(t *testing.T, addr, path, accept, want string) (net.Conn, int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(testTimeout))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: %s\r\n\r\n", path, addr, accept)
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: head: %v", path, err)
		}
		if line == "\r\n" {
			break
		}
	}
	var body strings.Builder
	buf := make([]byte, 512)
	for strings.Count(body.String(), want) < 2 {
		n, err := r.Read(buf)
		body.Write(buf[:n])
		if err == io.EOF || err != nil && n == 0 {
			t.Fatalf("%s: body so far %q: %v", path, body.String(), err)
		}
	}
	return c, body.Len()
}

// accessLine is the access log line of path, or nil.
func accessLine(logs, path string) map[string]any {
	for _, l := range logLines(logs, "request") {
		if l["logger"] == "access" && l["path"] == path {
			return l
		}
	}
	return nil
}

// TestBroadcastWebSocketUpstreamLossLogged: a broadcast WebSocket upstream
// that drops its connection logs one warning and, once redialled, one
// recovery line, with route and upstream.
func TestBroadcastWebSocketUpstreamLossLogged(t *testing.T) {
	up := newWSEchoUpstream(t)
	yaml := gatewayYAML() + "  - path: /room\n    mode: broadcast\n    client_send: true\n    upstream:\n      url: \"" + up.wsURL() +
		"\"\n      reconnect: {min: 10ms, max: 20ms}\n"
	g := startGateway(t, writeFile(t, t.TempDir(), "gw.yaml", yaml))
	room := openSSE(t, "http://"+g.srv.Addr()+"/room/sse") // opens the topic
	publish(t, "http://"+g.srv.Addr(), "before")
	if got := room.nextData(t); got != "before" {
		t.Fatalf("before the drop: %q", got)
	}
	up.drop()
	eventually(t, "the redial", func() bool {
		return up.accepted.Load() == 2 && len(logLines(g.logs.String(), "upstream recovered")) == 1
	})
	failing := logLines(g.logs.String(), "upstream failing, retrying with backoff")
	if len(failing) != 1 || failing[0]["route"] != "/room" || failing[0]["upstream"] != up.wsURL() {
		t.Fatalf("failing lines for one drop: %v", failing)
	}
}
