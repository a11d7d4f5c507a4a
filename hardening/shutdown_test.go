package hardening

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// loadYAML: a session route to an echo app and a broadcast route.
func loadYAML(app *wsApp) string {
	return "shutdown_timeout: 20s\n" + oneMachineLoad + "routes:\n" +
		"  - path: /s\n    upstream: {url: \"" + app.wsURL("/echo") + "\"}\n    poll_timeout: 60s\n" +
		"  - path: /b\n    mode: broadcast\n    upstream: {url: \"" + app.wsURL("/feed") + "\"}\n    poll_timeout: 60s\n"
}

// streamClient opens a GET whose body is read until its end; the result is
// the body and the read error.
type streamResult struct {
	kind string
	body string
	err  error
	code int
}

func openStreaming(_ testing.TB, ctx context.Context, url string, hdr http.Header) (*http.Response, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	return (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
}

// TestShutdownUnderLoad: with 1,000 clients over WebSocket, SSE, held
// long-polls and NDJSON streams in session and broadcast mode, Shutdown
// gives every one its farewell (WS 1001, SSE retry then EOF, the held poll
// an answer, the stream a clean end) and finishes without forcing anything
// before shutdown_timeout.
func TestShutdownUnderLoad(t *testing.T) {
	t.Parallel() // long waits; overlaps the other slow tests, after the soak
	app := newWSApp(t)
	g := startGateway(t, loadYAML(app))
	const perKind = 125 // x 4 transports x 2 routes = 1,000 clients
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	load := startLoad(ctx, g.addr, perKind)
	eventually(t, "every client attached", func() bool {
		return g.metric("bridgeway_bridge_clients_connected") == perKind*8
	})
	if err := g.stop(); err != nil {
		t.Errorf("shutdown had to force: %v", err)
	}
	load.check(t, perKind*2)
}

// clientLoad is perKind clients of each transport (WebSocket, SSE, NDJSON
// stream, held long-poll) on /s and /b, each reading until its end.
type clientLoad struct {
	wg      sync.WaitGroup
	results chan streamResult
}

func startLoad(ctx context.Context, addr string, perKind int) *clientLoad {
	l := &clientLoad{results: make(chan streamResult, perKind*8)}
	base := "http://" + addr
	for _, route := range []string{"/s", "/b"} {
		for range perKind {
			l.wg.Add(4)
			go func() { // WebSocket
				defer l.wg.Done()
				d := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
				ws, _, err := d.DialContext(ctx, "ws://"+addr+route+"/ws", nil)
				if err != nil {
					l.results <- streamResult{kind: "ws", err: err}
					return
				}
				defer ws.Close()
				_ = ws.SetReadDeadline(time.Now().Add(time.Minute))
				for {
					if _, _, err := ws.ReadMessage(); err != nil {
						code := 0
						var ce *websocket.CloseError
						if errors.As(err, &ce) {
							code = ce.Code
						}
						l.results <- streamResult{kind: "ws", code: code, err: err}
						return
					}
				}
			}()
			go func() { // SSE
				defer l.wg.Done()
				l.results <- readToEnd(ctx, "sse", base+route+"/sse")
			}()
			go func() { // NDJSON stream
				defer l.wg.Done()
				l.results <- readToEnd(ctx, "stream", base+route+"/stream")
			}()
			go func() { // long-poll: open, then hold a poll on the cursor
				defer l.wg.Done()
				open := readToEnd(ctx, "poll", base+route+"/poll")
				if open.err != nil || open.code != 200 {
					l.results <- open
					return
				}
				p := decodePollBody([]byte(open.body))
				l.results <- readToEnd(ctx, "poll", base+route+"/poll?cursor="+p.Cursor)
			}()
		}
	}
	return l
}

func readToEnd(ctx context.Context, kind, url string) streamResult {
	res, err := openStreaming(nil, ctx, url, nil)
	if err != nil {
		return streamResult{kind: kind, err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return streamResult{kind: kind, body: string(b), err: err, code: res.StatusCode}
}

// check waits for every client and asserts each got its farewell: WS
// 1001, SSE retry then EOF, the stream a clean end, the held poll an answer.
func (l *clientLoad) check(t *testing.T, perTransport int) {
	t.Helper()
	l.wg.Wait()
	close(l.results)
	counts := map[string]int{}
	for r := range l.results {
		counts[r.kind]++
		switch r.kind {
		case "ws":
			if r.code != 1001 {
				t.Errorf("websocket ended with %v, want close 1001", r.err)
			}
		case "sse":
			if r.err != nil || r.code != 200 || !strings.HasSuffix(r.body, "retry: 2000\n\n") {
				t.Errorf("sse ended %d %v with %q, want retry then EOF", r.code, r.err, tail(r.body))
			}
		case "stream":
			if r.err != nil || r.code != 200 {
				t.Errorf("stream ended %d %v", r.code, r.err)
			}
		case "poll":
			if r.err != nil || r.code != 200 || !strings.Contains(r.body, `"messages":`) {
				t.Errorf("held poll answered %d %v %q", r.code, r.err, r.body)
			}
		}
	}
	for _, k := range []string{"ws", "sse", "stream", "poll"} {
		if counts[k] != perTransport {
			t.Errorf("%s results %d, want %d", k, counts[k], perTransport)
		}
	}
}

func tail(s string) string {
	if len(s) > 80 {
		return s[len(s)-80:]
	}
	return s
}

func decodePollBody(b []byte) pollAnswer {
	var p pollAnswer
	_ = jsonUnmarshal(b, &p)
	return p
}

// TestReloadUnderLoad: sessions open over WebSocket, SSE and NDJSON stream
// survive a Reload that adds a route (their route is unchanged): each still
// gets the echo of a message sent after the reload, and the new route
// serves.
func TestReloadUnderLoad(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, loadYAML(app))
	const n = 30
	var wss []*websocket.Conn
	for range n {
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+g.addr+"/s/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		wss = append(wss, ws)
	}
	type sseSession struct {
		s  *sseStream
		id string
	}
	var sses []sseSession
	for range n {
		s := openSSE(t, g.URL+"/s/sse", nil)
		id, _ := sessionOf(t, s)
		sses = append(sses, sseSession{s, id})
	}
	type ndSession struct {
		br *bufio.Reader
		id string
	}
	var streams []ndSession
	for range n {
		res, err := openStreaming(t, context.Background(), g.URL+"/s/stream", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		br := bufio.NewReader(res.Body)
		line, _ := br.ReadString('\n')
		var info struct{ Session string }
		_ = jsonUnmarshal([]byte(line), &info)
		streams = append(streams, ndSession{br, info.Session})
	}
	eventually(t, "every session's upstream", func() bool { return app.accepted.Load() == 3*n })
	opened := app.accepted.Load()

	cfg := parseConfig(t, loadYAML(app)+"  - path: /new\n    upstream: {url: \""+app.wsURL("/echo")+"\"}\n")
	if err := g.srv.Reload(cfg); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if a := get(t, g.URL+"/new/poll", nil); a.status != 200 {
		t.Errorf("new route after reload: %d", a.status)
	}

	for i, ws := range wss {
		msg := fmt.Sprintf("ws %d", i)
		_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatalf("ws %d cut by the reload: %v", i, err)
		}
		if _, p, err := ws.ReadMessage(); err != nil || string(p) != msg {
			t.Fatalf("ws %d after reload: %q %v", i, p, err)
		}
	}
	for i, s := range sses {
		msg := fmt.Sprintf("sse %d", i)
		if a := do(t, "POST", g.URL+"/s/send?session="+s.id, nil, msg); a.status != 204 {
			t.Fatalf("send to sse session %d: %d", i, a.status)
		}
		if ev := s.s.nextEvent(t, "message"); ev.data != msg {
			t.Fatalf("sse %d after reload: %q", i, ev.data)
		}
	}
	for i, s := range streams {
		msg := fmt.Sprintf("stream %d", i)
		if a := do(t, "POST", g.URL+"/s/send?session="+s.id, nil, msg); a.status != 204 {
			t.Fatalf("send to stream session %d: %d", i, a.status)
		}
		for {
			line, err := s.br.ReadString('\n')
			if err != nil {
				t.Fatalf("stream %d cut by the reload", i)
			}
			if strings.TrimSpace(line) == "" {
				continue // heartbeat
			}
			var m struct{ Data string }
			_ = jsonUnmarshal([]byte(line), &m)
			if m.Data != msg {
				t.Fatalf("stream %d after reload: %q", i, line)
			}
			break
		}
	}
	// The app counts the /new poll's upstream after writing its 101, which
	// the gateway may have read and answered the poll on before.
	eventually(t, "the /new poll's upstream", func() bool { return app.accepted.Load() >= opened+1 })
	if got := app.accepted.Load(); got != opened+1 { // +1: the /new poll
		t.Errorf("upstream connections %d -> %d: sessions were re-opened", opened, got)
	}
}
