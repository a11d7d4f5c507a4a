package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/config"
)

func TestSessionLogLineAndMetrics(t *testing.T) {
	up := newUpstream(t)
	core, logs := observer.New(zapcore.InfoLevel)
	reg := prometheus.NewRegistry()
	b := bridge.New(bridge.Deps{Logger: zap.New(core), Registry: reg})
	route := sessionRoute(up)
	route.SessionTTL = durationPtr(time.Second) // no expiry between the first poll and the sends on a loaded machine
	rh, err := b.NewRoute(route)
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{srv: newServer(t, rh), rh: rh, reg: reg}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()

	secret := http.Header{"Cookie": {"sid=top-secret-cookie"}, "Authorization": {"Bearer top-secret-token"}}
	first, _ := g.poll(t, ctx, "", secret)
	for _, m := range []string{"a", "b", "c"} {
		resp := g.post(t, "/chat/send?session="+first.Session, "text/plain", []byte(m), secret)
		resp.Body.Close()
	}
	a, _ := g.poll(t, ctx, "?cursor="+first.Cursor, secret)
	for len(a.Messages) < 3 {
		more, _ := g.poll(t, ctx, "?cursor="+a.Cursor, secret)
		a.Messages = append(a.Messages, more.Messages...)
		a.Cursor = more.Cursor
	}
	waitFor(t, "session finished log line", func() bool { return logs.FilterMessage("session finished").Len() == 1 })
	entry := logs.FilterMessage("session finished").All()[0]
	fields := entry.ContextMap()
	if fields["messages_in"] != int64(3) || fields["messages_out"] != int64(3) || fields["route"] != "/chat" ||
		fields["reason"] != "session ttl expired" || !strings.HasPrefix(first.Session, fields["session"].(string)) {
		t.Fatalf("log fields %v", fields)
	}
	all, _ := json.Marshal(logs.All())
	if strings.Contains(string(all), "top-secret") || strings.Contains(string(all), first.Session) {
		t.Fatal("a credential or a full session id was logged")
	}
	for name, want := range map[string]float64{
		"bridgeway_bridge_sessions_total": 1,
		"bridgeway_bridge_sessions_open":  0,
	} {
		if got := metricValue(t, g, name, ""); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := metricValue(t, g, "bridgeway_bridge_messages_in_total", "send"); got != 3 {
		t.Errorf("messages_in_total{send} = %v, want 3", got)
	}
	if got := metricValue(t, g, "bridgeway_bridge_messages_out_total", "longpoll"); got != 3 {
		t.Errorf("messages_out_total{longpoll} = %v, want 3", got)
	}
}

func TestBroadcastUpstreamReconnectIsAGap(t *testing.T) {
	up := newUpstream(t)
	route := broadcastRoute(up)
	route.Upstream.Reconnect = config.Reconnect{Min: config.Duration(10 * time.Millisecond), Max: config.Duration(50 * time.Millisecond)}
	g := newGateway(t, route, config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	s := g.openSSE(t, ctx, "/prices/ACME/sse", nil)
	defer s.resp.Body.Close()
	s.start(t)
	first := g.bpoll(t, ctx, "ACME", "")
	waitFor(t, "topic connected", func() bool { open, _, _ := up.stats(); return open == 1 })
	up.publish("before")
	if ev := s.next(t); ev.Data != "before" {
		t.Fatalf("got %+v", ev)
	}
	// The upstream drops the connection; the topic reconnects and reports
	// the stretch it could not replay as a gap.
	up.dropAll()
	waitFor(t, "reconnect", func() bool { open, opened, _ := up.stats(); return open == 1 && opened == 2 })
	up.publish("after")
	ev := s.next(t)
	if ev.Type != "gap" {
		t.Fatalf("want a gap event after the reconnect, got %+v", ev)
	}
	if ev = s.next(t); ev.Data != "after" {
		t.Fatalf("got %+v", ev)
	}
	a := g.bpoll(t, ctx, "ACME", "?cursor="+first.Cursor)
	if len(a.Messages) != 1 || a.Messages[0].Data != "before" || a.Gap != nil {
		t.Fatalf("poll up to the gap: %+v", a)
	}
	b := g.bpoll(t, ctx, "ACME", "?cursor="+a.Cursor)
	if b.Gap == nil || b.Gap.From != a.Cursor || len(b.Messages) != 1 || b.Messages[0].Data != "after" {
		t.Fatalf("poll across the gap: %+v", b)
	}
}

// TestRawWebSocketClosedAtUpstreamGap: raw frames cannot carry a gap, so
// when a broadcast upstream reconnects without being able to resume, a
// raw WebSocket subscriber is closed with 1012 rather than skipping the
// lost stretch silently; a ?format=json one gets the gap in-band and goes
// on. A subscriber that arrives after the gap is not affected by it. Both
// the fan-out's writer and the per-connection one (hijack off).
func TestRawWebSocketClosedAtUpstreamGap(t *testing.T) {
	for _, hijack := range []bool{true, false} {
		t.Run(fmt.Sprintf("hijack=%v", hijack), func(t *testing.T) {
			t.Cleanup(bridge.SetHijackStreams(hijack)) // restored after the gateway closed
			up := newUpstream(t)
			route := broadcastRoute(up)
			route.Upstream.Reconnect = config.Reconnect{Min: config.Duration(10 * time.Millisecond), Max: config.Duration(50 * time.Millisecond)}
			g := newGateway(t, route, config.Limits{})
			raw := mustDialWS(t, g.wsURL("/prices/ACME/ws"), nil)
			js := mustDialWS(t, g.wsURL("/prices/ACME/ws?format=json"), nil)
			wsStart(t, js)
			waitFor(t, "subscribers", func() bool { return metricValue(t, g, "bridgeway_bridge_clients_connected", "websocket") == 2 })
			waitUpstream(t, up)
			up.publish("before")
			if _, data, err := raw.ReadMessage(); err != nil || string(data) != "before" {
				t.Fatalf("raw before: %q %v", data, err)
			}
			var m struct {
				Data string          `json:"data"`
				Gap  json.RawMessage `json:"gap"`
			}
			if err := js.ReadJSON(&m); err != nil || m.Data != "before" {
				t.Fatalf("json before: %+v %v", m, err)
			}

			up.dropAll()
			waitFor(t, "reconnect", func() bool { open, opened, _ := up.stats(); return open == 1 && opened == 2 })
			up.publish("after")

			_, data, err := raw.ReadMessage()
			if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 1012 {
				t.Fatalf("raw subscriber after the upstream gap: %q %v, want close 1012", data, err)
			}
			if err := js.ReadJSON(&m); err != nil || m.Gap == nil {
				t.Fatalf("json subscriber: %+v %v, want the gap", m, err)
			}
			m.Gap = nil
			if err := js.ReadJSON(&m); err != nil || m.Data != "after" {
				t.Fatalf("json after the gap: %+v %v", m, err)
			}

			late := mustDialWS(t, g.wsURL("/prices/ACME/ws"), nil)
			if _, data, err := late.ReadMessage(); err != nil || string(data) != "after" {
				t.Fatalf("a later subscriber's snapshot: %q %v", data, err)
			}
			up.publish("later")
			if _, data, err := late.ReadMessage(); err != nil || string(data) != "later" {
				t.Fatalf("a later subscriber: %q %v", data, err)
			}
		})
	}
}
