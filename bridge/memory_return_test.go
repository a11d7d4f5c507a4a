package bridge_test

import (
	"runtime/metrics"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/config"
)

// forcedGCs is the process's count of collections forced by a call
// (debug.FreeOSMemory is one), as the runtime reports it.
func forcedGCs() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestJoinBurstReturnsMemory: once a burst of subscribers has joined and
// no more come, the gateway forces a collection that gives the burst's
// garbage back to the system (debug.FreeOSMemory). The burst is made of
// real SSE and WebSocket subscribers through the gateway; its size is
// lowered so the test needs few sockets.
func TestJoinBurstReturnsMemory(t *testing.T) {
	defer bridge.SetBurstMin(20)()
	defer bridge.SetBurstQuiet(time.Second)() // the test's joins in one burst, even on a loaded machine
	up := newUpstream(t)
	g := newGateway(t, broadcastRoute(up), config.Limits{})
	before := forcedGCs()
	for i := 0; i < 10; i++ {
		dialRaw(t, g, "/prices/ACME/sse", 0)
		mustDialWS(t, g.wsURL("/prices/ACME/ws"), nil)
	}
	waitFor(t, "subscribers", func() bool {
		return metricValue(t, g, "bridgeway_bridge_clients_connected", "sse") == 10 &&
			metricValue(t, g, "bridgeway_bridge_clients_connected", "websocket") == 10
	})
	waitFor(t, "a forced collection after the burst", func() bool { return forcedGCs() > before })
}

// TestSmallBurstKeepsMemory is the counterpart: one join short of a burst
// (19 subscribers, the burst lowered to 20) ends without the forced
// collection. The barrier is the end of the burst, when the gateway
// decides.
func TestSmallBurstKeepsMemory(t *testing.T) {
	defer bridge.SetBurstMin(20)()
	defer bridge.SetBurstQuiet(time.Second)() // the test's joins in one burst, even on a loaded machine
	up := newUpstream(t)
	g := newGateway(t, broadcastRoute(up), config.Limits{})
	waitFor(t, "earlier joins' burst to end", bridge.BurstIdle)
	ended, before := bridge.BurstsEnded(), forcedGCs()
	for i := 0; i < 10; i++ {
		dialRaw(t, g, "/prices/ACME/sse", 0)
		if i < 9 {
			mustDialWS(t, g.wsURL("/prices/ACME/ws"), nil)
		}
	}
	waitFor(t, "subscribers", func() bool {
		return metricValue(t, g, "bridgeway_bridge_clients_connected", "sse") == 10 &&
			metricValue(t, g, "bridgeway_bridge_clients_connected", "websocket") == 9
	})
	waitFor(t, "the burst to end", func() bool { return bridge.BurstsEnded() > ended && bridge.BurstIdle() })
	if n := forcedGCs() - before; n != 0 {
		t.Errorf("19 joins forced %d collections; a burst takes 20", n)
	}
}
