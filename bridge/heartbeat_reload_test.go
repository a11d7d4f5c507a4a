package bridge_test

import (
	"bufio"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/config"
)

// A reload that shortens heartbeat reaches streams already open. Both
// start at 1 h, so any heartbeat seen within the test's deadline is the
// reloaded 100 ms one.

// TestFanoutTakesReloadedHeartbeat: a topic's fan-out (hijacked SSE and
// NDJSON subscribers) beats at the new heartbeat after the reload alone,
// with nothing published after it: the reload wakes it. It kept the
// heartbeat it started with for as long as the topic lived.
func TestFanoutTakesReloadedHeartbeat(t *testing.T) {
	t.Cleanup(bridge.SetHijackStreams(true))
	g, _, route, sse, stream := reloadHeartbeatSubscribers(t)
	g.rh.Update(withHeartbeat(route, 100*time.Millisecond))
	expectLine(t, sse, "event: heartbeat\n", "the SSE subscriber's heartbeat")
	expectLine(t, stream, "\n", "the NDJSON subscriber's heartbeat")
}

// TestStreamPumpTakesReloadedHeartbeat: a stream served by its own pump
// (net/http's handler) takes the new heartbeat at its next wake, here
// the next message.
func TestStreamPumpTakesReloadedHeartbeat(t *testing.T) {
	t.Cleanup(bridge.SetHijackStreams(false))
	g, up, route, sse, _ := reloadHeartbeatSubscribers(t)
	g.rh.Update(withHeartbeat(route, 100*time.Millisecond))
	up.publish("after")
	expectLine(t, sse, "data: after\n", "the message after the reload")
	expectLine(t, sse, "event: heartbeat\n", "the SSE subscriber's heartbeat")
}

// reloadHeartbeatSubscribers opens an SSE and an NDJSON subscriber of one
// broadcast topic whose heartbeat is 1 h, and reads a first message on
// each: their delivery loops are running.
func reloadHeartbeatSubscribers(t *testing.T) (g *gateway, up *testUpstream, route config.Route, sse, stream *bufio.Reader) {
	up = newUpstream(t)
	route = withHeartbeat(broadcastRoute(up), time.Hour)
	g = newGateway(t, route, config.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	t.Cleanup(cancel)
	resp := g.get(t, ctx, "/prices/HB/sse", nil)
	t.Cleanup(func() { resp.Body.Close() })
	st := g.get(t, ctx, "/prices/HB/stream", nil)
	t.Cleanup(func() { st.Body.Close() })
	waitUpstream(t, up)
	waitFor(t, "both subscribers", func() bool {
		return metricValue(t, g, "bridgeway_bridge_clients_connected", "sse") == 1 &&
			metricValue(t, g, "bridgeway_bridge_clients_connected", "stream") == 1
	})
	up.publish("before")
	sse, stream = bufio.NewReader(resp.Body), bufio.NewReader(st.Body)
	expectLine(t, sse, "data: before\n", "the SSE subscriber's first message")
	expectMatch(t, stream, func(line string) bool { return strings.Contains(line, "before") }, "the NDJSON subscriber's first message")
	return g, up, route, sse, stream
}

func withHeartbeat(r config.Route, d time.Duration) config.Route {
	r.Heartbeat = config.Duration(d)
	return r
}
