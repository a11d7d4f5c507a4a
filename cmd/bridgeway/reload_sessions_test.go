package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"
)

// wsEchoUpstream is a WebSocket upstream that echoes every message and
// counts the connections it accepted.
type wsEchoUpstream struct {
	*httptest.Server
	accepted atomic.Int64
	mu       sync.Mutex
	conns    []*websocket.Conn
}

// drop cuts every open connection (an upstream restart).
func (u *wsEchoUpstream) drop() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, c := range u.conns {
		c.Close()
	}
	u.conns = nil
}

func newWSEchoUpstream(t *testing.T) *wsEchoUpstream {
	u := &wsEchoUpstream{}
	upgrader := websocket.Upgrader{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		u.accepted.Add(1)
		u.mu.Lock()
		u.conns = append(u.conns, c)
		u.mu.Unlock()
		defer c.Close()
		for {
			kind, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(kind, data); err != nil {
				return
			}
		}
	}))
	t.Cleanup(func() {
		u.CloseClientConnections()
		u.Close()
	})
	return u
}

func (u *wsEchoUpstream) wsURL() string { return "ws" + strings.TrimPrefix(u.URL, "http") + "/chat" }

// sessionRouteYAML is a session route /chat and a broadcast route /room
// (client_send, so its clients can make the echo upstream publish).
func sessionRouteYAML(url, heartbeat string) string {
	return gatewayYAML() + "  - path: /chat\n    heartbeat: " + heartbeat + "\n    upstream:\n      url: \"" + url + "\"\n" +
		"  - path: /room\n    mode: broadcast\n    client_send: true\n    heartbeat: " + heartbeat +
		"\n    upstream:\n      url: \"" + url + "\"\n"
}

func publish(t *testing.T, base, text string) { postText(t, base+"/room/send", text) }

// postText POSTs one text message and expects 204.
func postText(t *testing.T, url, text string) {
	t.Helper()
	resp, err := http.Post(url, "text/plain", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST %s %q: status %d", url, text, resp.StatusCode)
	}
}

// pollAnswer is a long-poll answer.
type pollAnswer struct {
	Session  string `json:"session"`
	Cursor   string `json:"cursor"`
	Messages []struct {
		Data string `json:"data"`
	} `json:"messages"`
}

func pollJSON(t *testing.T, url string) (int, pollAnswer) {
	t.Helper()
	code, body := fetch(t, url)
	var a pollAnswer
	if code == 200 {
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			t.Fatalf("poll answer %q: %v", body, err)
		}
	}
	return code, a
}

func sendTo(t *testing.T, base, session, text string) {
	t.Helper()
	postText(t, base+"/chat/send?session="+session, text)
}

// sseClient reads one SSE response event by event.
type sseClient struct {
	resp *http.Response
	r    *bufio.Reader
}

func openSSE(t *testing.T, url string) *sseClient {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := (&http.Client{Timeout: testTimeout}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		t.Fatalf("SSE %s: status %d", url, resp.StatusCode)
	}
	return &sseClient{resp: resp, r: bufio.NewReader(resp.Body)}
}

// next returns the next event's name and data (comments and retry lines
// skipped); ok is false at the end of the stream.
func (c *sseClient) next() (event, data string, ok bool) {
	var buf bytes.Buffer
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return "", "", false
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && (event != "" || buf.Len() > 0):
			return event, buf.String(), true
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			buf.WriteString(strings.TrimPrefix(line, "data: "))
		}
	}
}

// nextData skips to the next plain message and returns its data.
func (c *sseClient) nextData(t *testing.T) string {
	t.Helper()
	for {
		event, data, ok := c.next()
		if !ok {
			t.Fatal("the SSE stream ended")
		}
		if event == "" {
			return data
		}
		if event == "close" {
			t.Fatalf("the SSE stream was closed: %s", data)
		}
	}
}

func (c *sseClient) session(t *testing.T) string {
	t.Helper()
	event, data, ok := c.next()
	var s struct{ Session string }
	if !ok || event != "session" || json.Unmarshal([]byte(data), &s) != nil {
		t.Fatalf("first SSE event %q %q", event, data)
	}
	return s.Session
}

// TestReloadKeepsSessionsWhenUpstreamUnchanged: a reload that changes only
// heartbeat keeps the routes' sessions and topics: a long-poll resumes its
// session with its cursor, open SSE streams (session and broadcast) go on,
// no message is lost and no upstream is dialled again.
func TestReloadKeepsSessionsWhenUpstreamUnchanged(t *testing.T) {
	up := newWSEchoUpstream(t)
	g := startGateway(t, writeFile(t, t.TempDir(), "gw.yaml", sessionRouteYAML(up.wsURL(), "15s")))
	base := "http://" + g.srv.Addr()

	code, p := pollJSON(t, base+"/chat/poll")
	if code != 200 || p.Session == "" {
		t.Fatalf("opening a long-poll session: %d %+v", code, p)
	}
	sse := openSSE(t, base+"/chat/sse")
	sseSession := sse.session(t)
	room := openSSE(t, base+"/room/sse")
	publish(t, base, "room-1")
	if got := room.nextData(t); got != "room-1" {
		t.Fatalf("broadcast SSE before the reload: %q", got)
	}
	sendTo(t, base, p.Session, "poll-1")
	sendTo(t, base, sseSession, "sse-1")
	code, p1 := pollJSON(t, base+"/chat/poll?cursor="+p.Cursor)
	if code != 200 || len(p1.Messages) != 1 || p1.Messages[0].Data != "poll-1" {
		t.Fatalf("before the reload: %d %+v", code, p1)
	}
	if got := sse.nextData(t); got != "sse-1" {
		t.Fatalf("SSE before the reload: %q", got)
	}
	if n := up.accepted.Load(); n != 3 {
		t.Fatalf("%d upstream connections for two sessions and a topic", n)
	}

	g.reload(t, sessionRouteYAML(up.wsURL(), "5s"))
	sendTo(t, base, p.Session, "poll-2")
	sendTo(t, base, sseSession, "sse-2")
	code, p2 := pollJSON(t, base+"/chat/poll?cursor="+p1.Cursor)
	if code != 200 || p2.Session != p.Session || len(p2.Messages) != 1 || p2.Messages[0].Data != "poll-2" {
		t.Fatalf("long-poll after a heartbeat-only reload: %d %+v", code, p2)
	}
	if got := sse.nextData(t); got != "sse-2" {
		t.Fatalf("SSE after the reload: %q", got)
	}
	publish(t, base, "room-2")
	if got := room.nextData(t); got != "room-2" {
		t.Fatalf("broadcast SSE after the reload: %q", got)
	}
	if n := up.accepted.Load(); n != 3 {
		t.Fatalf("%d upstream connections after the reload, want the same 3", n)
	}
	// New sessions get the new settings (the route is the reloaded one).
	if code, p3 := pollJSON(t, base+"/chat/poll"); code != 200 || p3.Session == "" {
		t.Fatalf("a new session after the reload: %d", code)
	}
}

// TestReloadWithNewUpstreamClosesWith4012: when a reload points the routes
// at another upstream, clients of their sessions and topics get close 4012
// "route reconfigured" on their own transport: an SSE close event (session
// and broadcast), "closed" in a held long-poll's and JSONP poll's answer,
// an NDJSON closed line, a WebSocket close frame.
func TestReloadWithNewUpstreamClosesWith4012(t *testing.T) {
	up, other := newWSEchoUpstream(t), newWSEchoUpstream(t)
	g := startGateway(t, writeFile(t, t.TempDir(), "gw.yaml", sessionRouteYAML(up.wsURL(), "15s")))
	base := "http://" + g.srv.Addr()

	sse := openSSE(t, base+"/chat/sse")
	sse.session(t)
	room := openSSE(t, base+"/room/sse")
	publish(t, base, "room-1")
	if got := room.nextData(t); got != "room-1" {
		t.Fatalf("broadcast SSE: %q", got)
	}
	ws, _, err := (&websocket.Dialer{HandshakeTimeout: testTimeout}).Dial("ws://"+g.srv.Addr()+"/chat/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	stream := openStream(t, base+"/chat/stream")
	// A long-poll and a JSONP poll, each on a session of its own, held.
	_, p := pollJSON(t, base+"/chat/poll")
	_, jsonp := fetch(t, base+"/chat/poll?callback=cb")
	var j pollAnswer
	if err := json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimPrefix(jsonp, "/**/cb("), ");")), &j); err != nil {
		t.Fatalf("JSONP answer %q: %v", jsonp, err)
	}
	held, heldJSONP := holdGet(base+"/chat/poll?cursor="+p.Cursor), holdGet(base+"/chat/poll?callback=cb&cursor="+j.Cursor)
	eventually(t, "the long-poll and the JSONP poll to be held", func() bool {
		return g.metric(t, "bridgeway_bridge_clients_connected", `route="/chat"`, `transport="longpoll"`) == 1 &&
			g.metric(t, "bridgeway_bridge_clients_connected", `route="/chat"`, `transport="jsonp"`) == 1
	})

	g.reload(t, sessionRouteYAML(other.wsURL(), "15s"))

	for name, c := range map[string]*sseClient{"session": sse, "broadcast": room} {
		for {
			event, data, ok := c.next()
			if !ok {
				t.Fatalf("%s SSE stream ended without a close event", name)
			}
			if event == "close" {
				if !strings.Contains(data, `"code":4012`) || !strings.Contains(data, "route reconfigured") {
					t.Fatalf("%s SSE close event %q", name, data)
				}
				break
			}
		}
	}
	const closed = `"closed":{"code":4012,"reason":"route reconfigured"}`
	for name, answer := range map[string]chan string{"long-poll": held, "JSONP": heldJSONP} {
		if body := <-answer; !strings.Contains(body, closed) {
			t.Errorf("held %s answer %q, want %s", name, body, closed)
		}
	}
	for {
		line, err := stream.ReadString('\n')
		if err != nil {
			t.Fatalf("NDJSON stream ended without a closed line: %v", err)
		}
		if strings.Contains(line, `"closed"`) {
			if !strings.Contains(line, closed) {
				t.Fatalf("NDJSON closed line %q", line)
			}
			break
		}
	}
	_, _, err = ws.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 4012 || ce.Text != "route reconfigured" {
		t.Fatalf("WebSocket: %v, want close 4012 route reconfigured", err)
	}
	// New sessions use the new upstream. The upstream counts a connection
	// after its 101 is written, so the gateway may answer the poll first.
	if code, _ := pollJSON(t, base+"/chat/poll"); code != 200 {
		t.Fatalf("new session after the reload: %d", code)
	}
	eventually(t, "the new session's connection on the new upstream", func() bool { return other.accepted.Load() > 0 })
}

// TestReloadClosesPassThroughTunnelsWith1012: the WebSocket tunnels of a
// pass-through route whose upstream a reload changed get close 1012
// "route reconfigured" (not 1001 "gateway shutting down": the gateway
// goes on, the client should reconnect).
func TestReloadClosesPassThroughTunnelsWith1012(t *testing.T) {
	up, other := newWSEchoUpstream(t), newWSEchoUpstream(t)
	route := func(url string) string { return gatewayYAML([2]string{"/pt", url}) }
	g := startGateway(t, writeFile(t, t.TempDir(), "gw.yaml", route(up.URL)))
	ws, _, err := (&websocket.Dialer{HandshakeTimeout: testTimeout}).Dial("ws://"+g.srv.Addr()+"/pt/chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := ws.ReadMessage(); err != nil || string(p) != "hi" {
		t.Fatalf("through the tunnel: %q %v", p, err)
	}

	g.reload(t, route(other.URL))
	_, _, err = ws.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 1012 || ce.Text != "route reconfigured" {
		t.Fatalf("tunnel after the reload: %v, want close 1012 route reconfigured", err)
	}
}

// holdGet GETs url in the background (a poll that will be held); the
// channel gets the body, or the error's text.
func holdGet(url string) chan string {
	body := make(chan string, 1)
	go func() {
		resp, err := (&http.Client{Timeout: testTimeout}).Get(url)
		if err != nil {
			body <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body <- string(b)
	}()
	return body
}

// openStream opens an NDJSON stream and reads its first (session) line.
func openStream(t *testing.T, url string) *bufio.Reader {
	t.Helper()
	resp, err := (&http.Client{Timeout: testTimeout}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	r := bufio.NewReader(resp.Body)
	if line, err := r.ReadString('\n'); err != nil || !strings.Contains(line, `"session"`) {
		t.Fatalf("NDJSON first line %q: %v", line, err)
	}
	return r
}
