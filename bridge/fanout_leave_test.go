package bridge_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/config"
)

// Idle hijacked streams have no reader goroutine: the fan-out peeks at
// their sockets at each heartbeat. These tests use a short heartbeat so the
// peek comes soon; they wait for what a client and the upstream see.

// leaveRoute is a broadcast route whose heartbeat peeks soon and whose
// topic closes its upstream soon after its last subscriber.
func leaveRoute(up *testUpstream) config.Route {
	route := broadcastRoute(up)
	route.Heartbeat = config.Duration(100 * time.Millisecond)
	route.IdleClose = durationPtr(50 * time.Millisecond)
	return route
}

// TestHijackedStreamHalfClosedIsReleased: a client that shuts only its
// sending side still reads, so heartbeats to it go through and no write
// fails; the EOF on its socket is what must end it (SSE and NDJSON).
func TestHijackedStreamHalfClosedIsReleased(t *testing.T) {
	for _, transport := range []string{"sse", "stream"} {
		t.Run(transport, func(t *testing.T) {
			up := newUpstream(t)
			g := newGateway(t, leaveRoute(up), config.Limits{})
			s := dialRaw(t, g, "/prices/ACME/"+transport, 0)
			waitFor(t, "subscriber", func() bool {
				return metricValue(t, g, "bridgeway_bridge_clients_connected", transport) == 1
			})
			if err := s.conn.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "gauge", func() bool {
				return metricValue(t, g, "bridgeway_bridge_clients_connected", transport) == 0
			})
			waitFor(t, "upstream closed", func() bool { open, _, _ := up.stats(); return open == 0 })
			// The gateway closed the connection: the client reads to EOF.
			if _, err := io.Copy(io.Discard, s.conn); err != nil {
				t.Fatalf("reading to the end: %v", err)
			}
		})
	}
}

// TestHijackedStreamClientBytesEndIt: a stream's client has nothing to
// send after its request; bytes it sends anyway are a protocol error and
// the gateway drops the connection (it used to read and discard them,
// holding the subscriber forever).
func TestHijackedStreamClientBytesEndIt(t *testing.T) {
	up := newUpstream(t)
	g := newGateway(t, leaveRoute(up), config.Limits{})
	s := dialRaw(t, g, "/prices/ACME/sse", 0)
	waitFor(t, "subscriber", func() bool {
		return metricValue(t, g, "bridgeway_bridge_clients_connected", "sse") == 1
	})
	if _, err := s.conn.Write([]byte("GET /prices/ACME/sse HTTP/1.1\r\nHost: gw\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "gauge", func() bool {
		return metricValue(t, g, "bridgeway_bridge_clients_connected", "sse") == 0
	})
	waitFor(t, "upstream closed", func() bool { open, _, _ := up.stats(); return open == 0 })
	// Closed by the gateway (a reset is fine: the client's bytes were
	// unread), before the test's deadline.
	_, err := io.Copy(io.Discard, s.conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection still open: %v", err)
	}
}
