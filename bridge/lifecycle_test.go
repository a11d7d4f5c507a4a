package bridge_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/config"
)

func TestSecondPollEndsHeldOne(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, sessionRoute(up), config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	first, _ := g.poll(t, ctx, "", nil)
	held := make(chan pollAnswer, 1)
	go func() {
		a, _ := g.poll(t, ctx, "?cursor="+first.Cursor, nil)
		held <- a
	}()
	// Wait until the first poll is held (the route counts it as a client).
	waitFor(t, "held poll", func() bool {
		return metricValue(t, g, "bridgeway_bridge_clients_connected", "longpoll") == 1
	})
	second := make(chan pollAnswer, 1)
	go func() {
		a, _ := g.poll(t, ctx, "?cursor="+first.Cursor, nil)
		second <- a
	}()
	select {
	case a := <-held:
		if len(a.Messages) != 0 || a.Cursor != first.Cursor {
			t.Fatalf("superseded poll answered %+v", a)
		}
	case <-ctx.Done():
		t.Fatal("the held poll was not ended by the second one")
	}
	g.send(t, first.Session, "say hi")
	if a := <-second; len(a.Messages) != 1 || a.Messages[0].Data != "hi" {
		t.Fatalf("second poll %+v", a)
	}
}

// metricValue reads one series (route label implied) from the gateway's
// registry; 0 when absent.
func metricValue(t testing.TB, g *gateway, name, transport string) float64 {
	t.Helper()
	families, err := g.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			match := transport == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "transport" && l.GetValue() == transport {
					match = true
				}
			}
			if !match {
				continue
			}
			switch {
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Counter != nil:
				return m.Counter.GetValue()
			}
		}
	}
	return 0
}

func TestUpstreamCloseReachesEveryTransport(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, sessionRoute(up), config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	s := g.openSSE(t, ctx, "/chat/sse", nil)
	defer s.resp.Body.Close()
	session, _ := s.session(t)
	g.send(t, session, "say last words")
	g.send(t, session, "close 4002 done")
	if ev := s.next(t); ev.Data != "last words" {
		t.Fatalf("got %+v", ev)
	}
	ev := s.next(t)
	var ci closeInfo
	if ev.Type != "close" || json.Unmarshal([]byte(ev.Data), &ci) != nil || ci.Code != 4002 || ci.Reason != "done" {
		t.Fatalf("close event %+v", ev)
	}
	if _, err := s.p.Next(); err == nil {
		t.Fatal("stream did not end after the close event")
	}
	// An EventSource reconnecting after the end is told to stop (204).
	resp := g.get(t, ctx, "/chat/sse", http.Header{"Last-Event-ID": {s.p.LastEventID()}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("resume after the end: %d, want 204", resp.StatusCode)
	}
	// A resume asked with ?lastEventId= (the browser library's, which may
	// have been cut between the last message and the close) gets the close
	// again; a 204 read as a failure had it retry until session_ttl.
	again := g.openSSE(t, ctx, "/chat/sse?lastEventId="+s.p.LastEventID(), nil)
	defer again.resp.Body.Close()
	again.session(t)
	if ev := again.next(t); ev.Type != "close" || json.Unmarshal([]byte(ev.Data), &ci) != nil || ci.Code != 4002 {
		t.Fatalf("?lastEventId= after the end: %+v, want the close event", ev)
	}
	// A poll from the start sees the message then the close.
	a, _ := g.poll(t, ctx, "?wait=0&cursor="+session+"-0", nil)
	if len(a.Messages) != 1 || a.Closed != nil {
		t.Fatalf("poll %+v", a)
	}
	a, _ = g.poll(t, ctx, "?cursor="+a.Cursor, nil)
	if a.Closed == nil || a.Closed.Code != 4002 {
		t.Fatalf("poll after the end %+v", a)
	}
	expectError(t, g.post(t, "/chat/send?session="+session, "text/plain", []byte("x"), nil), http.StatusConflict, "session_closed")
}

func TestSessionExpiresAfterTTL(t *testing.T) {
	up := newUpstream(t)
	route := sessionRoute(up)
	route.SessionTTL = durationPtr(200 * time.Millisecond)
	g := newGateway(t, route, config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	first, _ := g.poll(t, ctx, "", nil)
	waitFor(t, "upstream connected", func() bool { _, opened, _ := up.stats(); return opened == 1 })
	waitFor(t, "session expiry closes the upstream", func() bool { open, _, _ := up.stats(); return open == 0 })
	expectError(t, g.get(t, ctx, "/chat/poll?cursor="+first.Cursor, nil), http.StatusNotFound, "session_not_found")
}

func TestSlowClientDropOldestGivesGap(t *testing.T) {
	defer bridge.SetSlowClientWait(50 * time.Millisecond)()
	up := newUpstream(t)
	route := sessionRoute(up)
	route.Buffer = 10
	g := newGateway(t, route, config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	first, _ := g.poll(t, ctx, "", nil)
	g.send(t, first.Session, "flood 100")
	// The client is away: after the flow-control wait the oldest go.
	waitFor(t, "the upstream flood to be read", func() bool {
		a, _ := g.poll(t, ctx, "?wait=0&cursor="+first.Session+"-99", nil)
		return len(a.Messages) == 1
	})
	a, _ := g.poll(t, ctx, "?cursor="+first.Cursor, nil)
	if a.Gap == nil || a.Gap.From != first.Cursor || a.Gap.To != first.Session+"-90" {
		t.Fatalf("want a gap to -90, got %+v", a)
	}
	if len(a.Messages) != 10 || a.Messages[0].Data != "m90" || a.Messages[9].Data != "m99" {
		t.Fatalf("messages after the gap: %+v", a.Messages)
	}
	// SSE resuming from the same old cursor sees the gap as an event.
	s := g.openSSE(t, ctx, "/chat/sse", http.Header{"Last-Event-ID": {first.Cursor}})
	defer s.resp.Body.Close()
	s.session(t)
	ev := s.next(t)
	if ev.Type != "gap" || ev.ID != first.Session+"-90" || !strings.Contains(ev.Data, `"to":"`+first.Session+`-90"`) {
		t.Fatalf("SSE gap %+v", ev)
	}
}

func TestSlowClientDisconnect(t *testing.T) {
	defer bridge.SetSlowClientWait(50 * time.Millisecond)()
	up := newUpstream(t)
	route := sessionRoute(up)
	route.Buffer = 10
	route.SlowClient = config.SlowDisconnect
	g := newGateway(t, route, config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	first, _ := g.poll(t, ctx, "", nil)
	g.send(t, first.Session, "flood 100")
	waitFor(t, "the flood to overrun the buffer", func() bool {
		a, _ := g.poll(t, ctx, "?wait=0&cursor="+first.Session+"-99", nil)
		return len(a.Messages) == 1
	})
	a, _ := g.poll(t, ctx, "?cursor="+first.Cursor, nil)
	if a.Closed == nil || a.Closed.Code != 1008 {
		t.Fatalf("want closed 1008, got %+v", a)
	}
	waitFor(t, "the session's upstream to close", func() bool { open, _, _ := up.stats(); return open == 0 })
}

func TestUpstreamDownIs502(t *testing.T) {
	up := newUpstream(t)
	route := sessionRoute(up)
	route.Upstream.URL = "ws://127.0.0.1:1/nothing"
	g := newGateway(t, route, config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	expectError(t, g.get(t, ctx, "/chat/poll", nil), http.StatusBadGateway, "upstream_unavailable")
}

func TestShutdown(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, sessionRoute(up), config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	ws := mustDialWS(t, g.wsURL("/chat"), nil)
	s := g.openSSE(t, ctx, "/chat/sse", nil)
	defer s.resp.Body.Close()
	s.session(t)
	first, _ := g.poll(t, ctx, "", nil)
	held := make(chan pollAnswer, 1)
	go func() { a, _ := g.poll(t, ctx, "?cursor="+first.Cursor, nil); held <- a }()
	waitFor(t, "three upstream connections", func() bool { open, _, _ := up.stats(); return open == 3 })
	waitFor(t, "held poll", func() bool { return metricValue(t, g, "bridgeway_bridge_clients_connected", "longpoll") == 1 })
	wsErr := make(chan error, 1)
	go func() { _, _, err := ws.ReadMessage(); wsErr <- err }()

	if err := g.rh.Close(ctx); err != nil {
		t.Fatal(err)
	}
	err := <-wsErr
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.CloseGoingAway {
		t.Fatalf("websocket: want 1001, got %v", err)
	}
	if _, err := s.p.Next(); err == nil {
		t.Fatal("SSE stream did not end")
	}
	if s.p.Retry() != 2000 {
		t.Fatalf("retry %d", s.p.Retry())
	}
	if a := <-held; a.Cursor != first.Cursor || len(a.Messages) != 0 {
		t.Fatalf("held poll answer %+v", a)
	}
	waitFor(t, "upstreams closed", func() bool { open, _, _ := up.stats(); return open == 0 })
	expectError(t, g.get(t, ctx, "/chat/poll", nil), http.StatusServiceUnavailable, "shutting_down")
}
