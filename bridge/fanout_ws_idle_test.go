package bridge_test

import (
	"encoding/binary"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/config"
)

// A broadcast WebSocket subscriber whose client is silent has no reader
// goroutine: its pongs and pings are read as they arrive (one epoll set
// for all idle subscribers), and anything else starts its reader. These
// tests use leaveRoute's short heartbeat (pings to answer soon) and look
// at what the client and the upstream see.

// answerPings reads server frames up to the next ping and answers it with
// a pong, as a browser does: rounds times.
func (c *frameConn) answerPings(rounds int) {
	c.t.Helper()
	for range rounds {
		c.until(0x9)
		c.frame(true, 0xA, nil, true)
	}
}

func wsGauge(t *testing.T, g *gateway) float64 {
	return metricValue(t, g, "bridgeway_bridge_clients_connected", "websocket")
}

// silentSubscriber is one broadcast WebSocket subscriber of leaveRoute
// (client_send as asked), its topic's upstream connected.
func silentSubscriber(t *testing.T, clientSend bool) (*gateway, *testUpstream, *frameConn) {
	up := newUpstream(t)
	route := leaveRoute(up)
	route.ClientSend = clientSend
	g := newGateway(t, route, config.Limits{})
	c := dialFrames(t, g, "/prices/ACME/ws")
	waitFor(t, "subscriber", func() bool { return wsGauge(t, g) == 1 })
	waitUpstream(t, up)
	return g, up, c
}

// TestSilentWebSocketSubscribersHoldNoGoroutine: subscribers that only
// answer the gateway's pings cost no goroutine each, and keep receiving.
func TestSilentWebSocketSubscribersHoldNoGoroutine(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, leaveRoute(up), config.Limits{})
	first := dialFrames(t, g, "/prices/ACME/ws")
	waitFor(t, "subscriber", func() bool { return wsGauge(t, g) == 1 })
	waitUpstream(t, up)
	first.answerPings(2)
	base := runtime.NumGoroutine()
	const n = 40
	subs := make([]*frameConn, n)
	for i := range subs {
		subs[i] = dialFrames(t, g, "/prices/ACME/ws")
	}
	waitFor(t, "subscribers", func() bool { return wsGauge(t, g) == n+1 })
	// Each round every client answers one ping (read by the gateway
	// without a reader), then the goroutines are counted with every
	// subscriber still there.
	extra := 0
	for round := range 20 {
		for _, c := range append(subs, first) {
			c.answerPings(1)
		}
		extra = runtime.NumGoroutine() - base
		if round > 0 && extra < n/4 && wsGauge(t, g) == n+1 {
			break
		}
	}
	if extra >= n/4 {
		t.Fatalf("%d more goroutines for %d idle subscribers", extra, n)
	}
	up.publish("after pongs")
	for i, c := range append(subs, first) {
		if p := c.until(0x1); string(p) != "after pongs" {
			t.Fatalf("subscriber %d: %q", i, p)
		}
	}
}

// TestSilentWebSocketPingAnswered: a client's ping gets its pong with the
// same payload, also when the ping arrives in two pieces.
func TestSilentWebSocketPingAnswered(t *testing.T) {
	_, _, c := silentSubscriber(t, false)
	c.answerPings(1)
	c.frame(true, 0x9, []byte("are you there"), true)
	if p := c.until(0xA); string(p) != "are you there" {
		t.Fatalf("pong %q", p)
	}
	// The first two bytes of a ping, a heartbeat, then the rest.
	ping := []byte{0x89, 0x80 | 4, 0, 0, 0, 0, 'h', 'a', 'l', 'f'}
	if _, err := c.conn.Write(ping[:2]); err != nil {
		t.Fatal(err)
	}
	c.until(0x9)
	if _, err := c.conn.Write(ping[2:]); err != nil {
		t.Fatal(err)
	}
	if p := c.until(0xA); string(p) != "half" {
		t.Fatalf("pong %q", p)
	}
}

// TestSilentWebSocketCloseAnswered: a client's close frame is answered
// with its code, the connection ends and the subscriber is released.
func TestSilentWebSocketCloseAnswered(t *testing.T) {
	g, up, c := silentSubscriber(t, false)
	c.answerPings(1)
	c.frame(true, 0x8, binary.BigEndian.AppendUint16(nil, 4001), true)
	if code := c.closeCode(); code != 4001 {
		t.Fatalf("close code %d, want 4001", code)
	}
	waitFor(t, "gauge", func() bool { return wsGauge(t, g) == 0 })
	waitFor(t, "upstream closed", func() bool { open, _, _ := up.stats(); return open == 0 })
}

// TestSilentWebSocketLeaverReleased: a client that drops its connection
// without a close frame is released.
func TestSilentWebSocketLeaverReleased(t *testing.T) {
	g, up, c := silentSubscriber(t, false)
	c.answerPings(1)
	_ = c.conn.Close()
	waitFor(t, "gauge", func() bool { return wsGauge(t, g) == 0 })
	waitFor(t, "upstream closed", func() bool { open, _, _ := up.stats(); return open == 0 })
}

// TestSilentWebSocketMessagesForwarded: a client that was silent and then
// sends messages (client_send) has each of them reach the upstream, and
// receives the upstream's echo of each to the topic.
func TestSilentWebSocketMessagesForwarded(t *testing.T) {
	_, up, c := silentSubscriber(t, true)
	c.answerPings(2)
	for i := range 3 {
		text := "up" + strconv.Itoa(i)
		c.frame(true, 0x1, []byte(text), true)
		waitFor(t, "message at the upstream", func() bool { _, _, got := up.stats(); return got == i+1 })
		if p := c.until(0x1); string(p) != text {
			t.Fatalf("got %q, want the echo %q", p, text)
		}
	}
}

// TestSharedWebSocketKeptAfterLongerHeartbeat: a topic's fan-out pings at
// the route's heartbeat and follows a reload, but a WebSocket keeps the
// allowance it joined with (2 × heartbeat + 5 s). After a reload lengthens
// heartbeat (500 ms → 7 s: its allowance stays 6 s), the pings come 7 s
// apart, and answering each must keep it: silence is also allowed two of
// the gaps between pings + 5 s. Without that it is dropped as silent at
// the first ping after the reload.
func TestSharedWebSocketKeptAfterLongerHeartbeat(t *testing.T) {
	up := newUpstream(t)
	route := withHeartbeat(broadcastRoute(up), 500*time.Millisecond)
	g := newGateway(t, route, config.Limits{})
	ws := mustDialWS(t, g.wsURL("/prices/abc/ws"), nil)
	defer ws.Close()
	waitFor(t, "the subscriber", func() bool { return wsGauge(t, g) == 1 })
	waitUpstream(t, up) // the fan-out runs: its pings are 500 ms apart
	g.rh.Update(withHeartbeat(route, 7*time.Second))
	// Past two of the fan-out's pings.
	expectStillPinged(t, ws, 17*time.Second, "the WebSocket was dropped after the reload lengthened heartbeat")
}
