package bridge_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/internal/testdeps"
)

// TestStreamFramesGoInBatches: the fan-out's frames to hijacked SSE and
// NDJSON subscribers go through io_uring batches, and the subscribers get
// exactly the headers and bytes they get with one write each; so do its
// frames to WebSocket subscribers, every message in order.
func TestStreamFramesGoInBatches(t *testing.T) {
	if os.Getenv("BRIDGEWAY_IO_URING") == "off" {
		t.Skip("this is the run without io_uring (TestHijackedStreamsWithoutIOURing)")
	}
	if err := bridge.BatchesUnusable(); err != nil {
		testdeps.Missing(t, "io_uring: "+err.Error())
	}
	before := bridge.StreamsBatched()
	hdr, body := transcript(t, true, false)
	// Each subscriber's start and messages went out in the fan-out's
	// rounds (its heartbeats and its last chunk are written at once).
	if got := bridge.StreamsBatched() - before; got < 2 {
		t.Fatalf("%d stream frames sent in batches, want at least one per subscriber", got)
	}
	restore := bridge.SetBatchIO(false)
	before = bridge.StreamsBatched()
	wantHdr, want := transcript(t, true, false)
	if got := bridge.StreamsBatched() - before; got != 0 {
		t.Fatalf("%d stream frames sent in batches with batches off", got)
	}
	restore()
	t.Run("websocket", func(t *testing.T) {
		before := bridge.StreamsBatched()
		sharedWebSocketsInOrder(t)
		if got := bridge.StreamsBatched() - before; got < 3 {
			t.Fatalf("%d WebSocket frames sent in batches, want at least one per subscriber", got)
		}
	})
	for i := range want {
		if fmt.Sprint(hdr[i]) != fmt.Sprint(wantHdr[i]) || body[i] != want[i] {
			t.Errorf("subscriber %d, batched:\n%v %.300q\none write each:\n%v %.300q", i, hdr[i], body[i], wantHdr[i], want[i])
		}
	}
}

// TestHijackedStreamsWithoutIOURing runs the fan-out's stream and
// WebSocket tests again with BRIDGEWAY_IO_URING=off: each frame then takes
// a write of its own, as on hosts without io_uring.
func TestHijackedStreamsWithoutIOURing(t *testing.T) {
	testdeps.WithoutIOURing(t, "^(TestHijacked|TestSharedWebSocket|TestBroadcastFanOutOverMixedTransports)")
}

// sharedWebSocketsInOrder: three WebSocket subscribers of one topic get
// 20 messages each, in order.
func sharedWebSocketsInOrder(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, broadcastRoute(up), config.Limits{})
	var subs []*websocket.Conn
	for range 3 {
		subs = append(subs, mustDialWS(t, g.wsURL("/prices/ACME/ws"), nil))
	}
	waitFor(t, "subscribers", func() bool { return metricValue(t, g, "bridgeway_bridge_clients_connected", "websocket") == 3 })
	waitUpstream(t, up)
	const n = 20
	for i := range n {
		up.publish(wantText(i))
	}
	for k, ws := range subs {
		_ = ws.SetReadDeadline(time.Now().Add(deadline))
		var got []string
		for range n {
			_, data, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("subscriber %d after %d messages: %v", k, len(got), err)
			}
			got = append(got, string(data))
		}
		checkSeq(t, got, n, fmt.Sprintf("subscriber %d", k))
	}
}
