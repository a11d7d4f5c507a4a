package bridge_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/config"
)

// The heartbeat test uses a broadcast route: its upstream reconnects, so a
// short heartbeat (which also paces the upstream keepalive) cannot end the
// client streams on a loaded machine.
// Both ways of serving a stream (hijacked into the fan-out, and net/http's
// handler) write the same heartbeats.
func TestHeartbeatsAndPadding(t *testing.T) {
	for _, hijack := range []bool{true, false} {
		t.Run(fmt.Sprintf("hijack=%v", hijack), func(t *testing.T) {
			t.Cleanup(bridge.SetHijackStreams(hijack)) // restored after the gateway closed
			heartbeatsAndPadding(t)
		})
	}
}

func heartbeatsAndPadding(t *testing.T) {
	up := newUpstream(t)
	route := broadcastRoute(up)
	route.Heartbeat = config.Duration(100 * time.Millisecond)
	route.SSEPadding = 2048
	g := newGateway(t, route, config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()

	resp := g.get(t, ctx, "/prices/HB/sse", nil)
	defer resp.Body.Close()
	st := g.get(t, ctx, "/prices/HB/stream", nil)
	defer st.Body.Close()
	ws := mustDialWS(t, g.wsURL("/prices/HB"), nil)
	pings := make(chan struct{}, 10)
	ws.SetPingHandler(func(string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return nil
	})
	go func() { _, _, _ = ws.ReadMessage() }()

	br := bufio.NewReader(resp.Body)
	pad, _ := br.ReadString('\n')
	if len(pad) != 2048+2 || pad[0] != ':' || strings.Trim(pad[1:], " \n") != "" {
		t.Fatalf("padding line: %d bytes", len(pad))
	}
	if rest, _ := br.ReadString('\n'); rest != "retry: 2000\n" {
		t.Fatalf("after padding: %q", rest)
	}
	// SSE heartbeats are named events, which EventSource shows to
	// JavaScript (a comment it never shows).
	for range 2 {
		expectLine(t, br, "event: heartbeat\n", "an SSE heartbeat")
		if data, _ := br.ReadString('\n'); data != "data:\n" {
			t.Fatalf("heartbeat event data line %q", data)
		}
	}

	sr := bufio.NewReader(st.Body)
	for range 2 {
		expectLine(t, sr, "\n", "a stream heartbeat")
	}

	for range 2 {
		select {
		case <-pings:
		case <-ctx.Done():
			t.Fatal("no websocket pings")
		}
	}
}

func TestWebSocketJSONFormatAndAttach(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, sessionRoute(up), config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	first, _ := g.poll(t, ctx, "", nil)
	g.send(t, first.Session, "flood 3")
	waitFor(t, "three messages", func() bool {
		a, _ := g.poll(t, ctx, "?wait=0&cursor="+first.Cursor, nil)
		return len(a.Messages) == 3
	})
	// A WebSocket may attach to an existing session from a cursor.
	ws := mustDialWS(t, g.wsURL("/chat/ws?format=json&cursor="+first.Session+"-1"), nil)
	for i := 1; i < 3; i++ {
		kind, data, err := ws.ReadMessage()
		var m message
		if err != nil || kind != websocket.TextMessage || json.Unmarshal(data, &m) != nil || m.Data != wantText(i) || m.Event != "message" {
			t.Fatalf("json frame %d: %v %s", i, err, data)
		}
	}
	// Its frames go to the same session's upstream.
	_ = ws.WriteMessage(websocket.TextMessage, []byte("from ws"))
	a, _ := g.poll(t, ctx, "?cursor="+first.Session+"-3", nil)
	if len(a.Messages) != 1 || a.Messages[0].Data != "from ws" {
		t.Fatalf("poll after ws send: %+v", a)
	}
	ws.Close()
	// Leaving does not end an attached (not owned) session.
	if _, resp := g.poll(t, ctx, "?wait=0&cursor="+a.Cursor, nil); resp.StatusCode != 200 {
		t.Fatalf("session gone after the websocket left: %d", resp.StatusCode)
	}
}
