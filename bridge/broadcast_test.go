package bridge_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/config"
)

func broadcastRoute(up *testUpstream) config.Route {
	return config.Route{
		Path:        "/prices/{symbol}",
		Upstream:    config.Upstream{URL: up.url("/feed?s={symbol}"), Kind: config.KindWebSocket},
		Mode:        config.ModeBroadcast,
		Buffer:      1024,
		Heartbeat:   config.Duration(15 * time.Second),
		PollTimeout: config.Duration(25 * time.Second),
		IdleClose:   durationPtr(30 * time.Second),
	}
}

// pollPath builds a poll URL on a broadcast route.
func (g *gateway) bpoll(t *testing.T, ctx context.Context, symbol, query string) pollAnswer {
	t.Helper()
	resp := g.get(t, ctx, "/prices/"+symbol+"/poll"+query, nil)
	defer resp.Body.Close()
	var a pollAnswer
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("poll: %d %s", resp.StatusCode, readAll(t, resp))
	}
	if err := jsonDecode(resp, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestBroadcastFanOutOverMixedTransports(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, broadcastRoute(up), config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*deadline)
	defer cancel()
	const perTransport = 500 // 2,000 subscribers (+1 stuck)
	const messages = 100

	// A subscriber that never reads: it must not delay anyone.
	stuck, err := net.Dial("tcp", g.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	fmt.Fprintf(stuck, "GET /prices/ACME/sse HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")

	var ready, done sync.WaitGroup
	results := make(chan []string, 4*perTransport)
	subscribe := func(read func() []string) {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			results <- read()
		}()
	}
	for range perTransport {
		subscribe(func() []string { // SSE
			s := g.openSSE(t, ctx, "/prices/ACME/sse", nil)
			defer s.resp.Body.Close()
			ready.Done()
			var got []string
			for len(got) < messages {
				ev, err := s.p.Next()
				if err != nil {
					return got
				}
				if ev.Type == "heartbeat" {
					continue // a slow run outlasts the heartbeat interval
				}
				if ev.Type != "" && ev.Type != "message" {
					ev.Data = strings.ToUpper(ev.Type) // a gap or close says so in the failure
				}
				got = append(got, ev.Data)
			}
			return got
		})
		subscribe(func() []string { // NDJSON
			resp := g.get(t, ctx, "/prices/ACME/stream", nil)
			st := &ndjson{resp: resp, sc: newScanner(resp)}
			defer resp.Body.Close()
			ready.Done()
			var got []string
			for len(got) < messages && st.sc.Scan() {
				if l := strings.TrimSpace(st.sc.Text()); l != "" && !isStartLine(l) {
					var m streamLine
					_ = jsonUnmarshal(l, &m)
					if !strings.Contains(l, `"data"`) {
						m.Data = l // a gap or close line says so in the failure
					}
					got = append(got, m.Data)
				}
			}
			return got
		})
		subscribe(func() []string { // WebSocket
			ws, _, err := websocket.DefaultDialer.Dial(g.wsURL("/prices/ACME"), nil)
			ready.Done()
			if err != nil {
				return nil
			}
			defer ws.Close()
			_ = ws.SetReadDeadline(time.Now().Add(2 * deadline))
			var got []string
			for len(got) < messages {
				_, data, err := ws.ReadMessage()
				if err != nil {
					return got
				}
				got = append(got, string(data))
			}
			return got
		})
		subscribe(func() []string { // long-poll
			a := g.bpoll(t, ctx, "ACME", "")
			ready.Done()
			got := []string{}
			for _, m := range a.Messages {
				got = append(got, m.Data)
			}
			cursor := a.Cursor
			for len(got) < messages {
				a := g.bpoll(t, ctx, "ACME", "?cursor="+cursor)
				if a.Gap != nil {
					return append(got, "GAP")
				}
				for _, m := range a.Messages {
					got = append(got, m.Data)
				}
				cursor = a.Cursor
			}
			return got
		})
	}
	start := time.Now()
	ready.Wait()
	t.Logf("ready after %v", time.Since(start))
	waitFor(t, "every subscriber attached", func() bool {
		n := 0.0
		for _, tr := range []string{"sse", "stream", "websocket"} {
			n += metricValue(t, g, "bridgeway_bridge_clients_connected", tr)
		}
		return n == 3*perTransport+1
	})
	waitFor(t, "the shared upstream", func() bool { open, _, _ := up.stats(); return open == 1 })
	if open, opened, _ := up.stats(); open != 1 || opened != 1 {
		t.Fatalf("upstream connections open=%d opened=%d, want one shared", open, opened)
	}
	t.Logf("attached after %v", time.Since(start))
	for i := range messages {
		up.publish(wantText(i))
	}
	t.Logf("published after %v", time.Since(start))
	done.Wait()
	t.Logf("done after %v", time.Since(start))
	close(results)
	for got := range results {
		checkSeq(t, got, messages, "subscriber")
	}
	up.mu.Lock()
	path := up.paths[0]
	up.mu.Unlock()
	if path != "/feed?s=ACME" {
		t.Fatalf("upstream path %q", path)
	}
}

func TestBroadcastTopicLifecycle(t *testing.T) {
	up := newUpstream(t)
	route := broadcastRoute(up)
	route.IdleClose = durationPtr(100 * time.Millisecond)
	route.Buffer = 5
	g := newGateway(t, route, config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()

	// An SSE subscriber keeps the topic open while we poll around it.
	keep := g.openSSE(t, ctx, "/prices/AAA/sse", nil)
	a := g.bpoll(t, ctx, "AAA", "")
	if a.Session != "" || len(a.Messages) != 0 {
		t.Fatalf("first subscribe %+v", a)
	}
	waitFor(t, "topic connected", func() bool { open, _, _ := up.stats(); return open == 1 })
	for i := range 3 {
		up.publish(wantText(i))
	}
	waitFor(t, "messages in the topic", func() bool {
		return len(g.bpoll(t, ctx, "AAA", "?wait=0&cursor="+a.Cursor).Messages) == 3
	})
	// Snapshot: a new subscriber with no cursor gets the latest message.
	if s := g.bpoll(t, ctx, "AAA", ""); len(s.Messages) != 1 || s.Messages[0].Data != "m2" {
		t.Fatalf("snapshot %+v", s)
	}
	// Another placeholder value is another topic with its own upstream.
	g.bpoll(t, ctx, "BBB", "")
	waitFor(t, "second topic", func() bool { _, opened, _ := up.stats(); return opened == 2 })
	up.mu.Lock()
	paths := append([]string(nil), up.paths...)
	up.mu.Unlock()
	if paths[0] != "/feed?s=AAA" || paths[1] != "/feed?s=BBB" {
		t.Fatalf("upstream paths %v", paths)
	}
	// A subscriber away past the buffer gets a gap when it comes back.
	waitFor(t, "BBB idle close", func() bool { open, _, _ := up.stats(); return open == 1 })
	for i := 3; i < 20; i++ {
		up.publish(wantText(i))
	}
	var b pollAnswer
	waitFor(t, "overrun", func() bool {
		b = g.bpoll(t, ctx, "AAA", "?wait=0&cursor="+a.Cursor)
		return len(b.Messages) > 0 && b.Messages[len(b.Messages)-1].Data == "m19"
	})
	if b.Gap == nil || b.Gap.From != a.Cursor || len(b.Messages) != 5 || b.Messages[0].Data != "m15" {
		t.Fatalf("after overrun: %+v", b)
	}
	// No subscriber for idle_close: the upstream closes.
	keep.resp.Body.Close()
	waitFor(t, "idle close", func() bool { open, _, _ := up.stats(); return open == 0 })
	// The topic reopens on demand with a new epoch: an old cursor is a gap.
	c := g.bpoll(t, ctx, "AAA", "?wait=0&cursor="+b.Cursor)
	if c.Gap == nil || c.Gap.From != b.Cursor {
		t.Fatalf("stale cursor after reopen: %+v", c)
	}
	waitFor(t, "the topic's upstream reopened", func() bool { _, opened, _ := up.stats(); return opened == 3 })
}

func TestBroadcastSend(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, broadcastRoute(up), config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	expectError(t, g.post(t, "/prices/X/send", "text/plain", []byte("hi"), nil), http.StatusMethodNotAllowed, "send_not_allowed")

	route := broadcastRoute(up)
	route.ClientSend = true
	g2 := newGateway(t, route, config.Limits{})
	a := g2.bpoll(t, ctx, "X", "")
	waitFor(t, "topic connected", func() bool { open, _, _ := up.stats(); return open == 1 })
	resp := g2.post(t, "/prices/X/send", "text/plain", []byte("hello all"), nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("send: %d", resp.StatusCode)
	}
	// The test upstream echoes: every subscriber sees it.
	if b := g2.bpoll(t, ctx, "X", "?cursor="+a.Cursor); len(b.Messages) != 1 || b.Messages[0].Data != "hello all" {
		t.Fatalf("echo %+v", b)
	}
}

// TestBroadcastStartCursor: a subscriber that comes without a cursor is
// first told where it starts (docs/protocol.md 2): on SSE a heartbeat
// whose id is that cursor, on NDJSON and WebSocket ?format=json a
// {"cursor":C}. Resuming from it gets exactly what the subscriber would
// have received, the snapshot included, so a client cut before its first
// message loses nothing. A subscriber that comes with a cursor gets no
// start, and neither does a raw WebSocket.
func TestBroadcastStartCursor(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, broadcastRoute(up), config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	first := g.bpoll(t, ctx, "ACME", "")
	waitUpstream(t, up)
	up.publish("snap")
	snap := g.bpoll(t, ctx, "ACME", "?cursor="+first.Cursor)
	if len(snap.Messages) != 1 {
		t.Fatalf("the snapshot message: %+v", snap)
	}

	s := g.openSSE(t, ctx, "/prices/ACME/sse", nil)
	defer s.resp.Body.Close()
	starts := map[string]string{"sse": s.start(t)}
	resp := g.get(t, ctx, "/prices/ACME/stream", nil)
	defer resp.Body.Close()
	sc := newScanner(resp)
	var line struct {
		Cursor string `json:"cursor"`
	}
	if !sc.Scan() || !isStartLine(sc.Text()) || jsonUnmarshal(sc.Text(), &line) != nil {
		t.Fatalf("NDJSON first line %q, want the start", sc.Text())
	}
	starts["stream"] = line.Cursor
	ws := mustDialWS(t, g.wsURL("/prices/ACME/ws?format=json"), nil)
	starts["websocket"] = wsStart(t, ws)
	for transport, start := range starts {
		if start != first.Cursor {
			t.Errorf("%s starts at %q, want %q: just before the snapshot message", transport, start, first.Cursor)
		}
	}

	// Resumed with a cursor: messages only.
	up.publish("later")
	r := g.openSSE(t, ctx, "/prices/ACME/sse?lastEventId="+snap.Cursor, nil)
	defer r.resp.Body.Close()
	if ev := r.next(t); ev.Data != "later" {
		t.Fatalf("SSE resumed with a cursor: first event %+v, want the message", ev)
	}
	if b := g.bpoll(t, ctx, "ACME", "?wait=0&cursor="+first.Cursor); len(b.Messages) != 2 || b.Messages[0].Data != "snap" || b.Messages[1].Data != "later" || b.Gap != nil {
		t.Fatalf("resumed from the start: %+v, want the snapshot message and the next", b)
	}
	resp2 := g.get(t, ctx, "/prices/ACME/stream?cursor="+snap.Cursor, nil)
	defer resp2.Body.Close()
	if sc := newScanner(resp2); !sc.Scan() || !strings.Contains(sc.Text(), `"data":"later"`) {
		t.Fatalf("NDJSON resumed with a cursor: first line %q, want the message", sc.Text())
	}
	ws2 := mustDialWS(t, g.wsURL("/prices/ACME/ws?format=json&cursor="+snap.Cursor), nil)
	if _, data, err := ws2.ReadMessage(); err != nil || !strings.Contains(string(data), `"data":"later"`) {
		t.Fatalf("WebSocket resumed with a cursor: first frame %q %v, want the message", data, err)
	}
	raw := mustDialWS(t, g.wsURL("/prices/ACME/ws"), nil)
	if _, data, err := raw.ReadMessage(); err != nil || string(data) != "later" {
		t.Fatalf("raw WebSocket: first frame %q %v, want the snapshot message", data, err)
	}
}
