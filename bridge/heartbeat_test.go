package bridge_test

import (
	"bufio"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/config"
)

func TestHeartbeatsAndPadding(t *testing.T) {
	up := newUpstream(t)
	route := sessionRoute(up)
	route.Heartbeat = config.Duration(20 * time.Millisecond)
	route.SSEPadding = 2048
	g := newGateway(t, route, config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()

	resp := g.get(t, ctx, "/chat/sse", nil)
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	pad, _ := br.ReadString('\n')
	if len(pad) != 2048+2 || pad[0] != ':' || strings.Trim(pad[1:], " \n") != "" {
		t.Fatalf("padding line: %d bytes", len(pad))
	}
	rest, _ := br.ReadString('\n')
	if rest != "retry: 2000\n" {
		t.Fatalf("after padding: %q", rest)
	}
	heartbeats := 0
	for heartbeats < 3 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == ":\n" {
			heartbeats++
		}
	}

	st := g.openStream(t, ctx, "", nil)
	defer st.resp.Body.Close()
	st.next(t) // session line
	blank := 0
	for blank < 3 && st.sc.Scan() {
		if st.sc.Text() == "" {
			blank++
		}
	}
	if blank < 3 {
		t.Fatal("no newline heartbeats on the stream")
	}

	ws, _ := dialWS(t, g.wsURL("/chat"), nil)
	pings := make(chan struct{}, 10)
	ws.SetPingHandler(func(string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return nil
	})
	go func() { _, _, _ = ws.ReadMessage() }()
	for range 3 {
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
	// A WebSocket may attach to an existing session from a cursor.
	ws, _ := dialWS(t, g.wsURL("/chat/ws?format=json&cursor="+first.Session+"-1"), nil)
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
