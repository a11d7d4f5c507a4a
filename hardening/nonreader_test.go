package hardening

import (
	"cmp"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// flood pushes size-byte messages to every app connection every 2ms until
// stop is closed.
func flood(app *wsApp, size int, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		payload := strings.Repeat("f", size)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				app.push(payload)
			}
		}
	}()
	return &wg
}

// TestNeverReadingClientsAreDropped: clients that open an SSE stream, an
// NDJSON stream or a WebSocket on a flooding broadcast topic and never read
// are dropped by the write deadline (the gateway closes them and forgets
// them), while a client that reads keeps receiving.
func TestNeverReadingClientsAreDropped(t *testing.T) {
	t.Parallel() // long waits; overlaps the other slow tests, after the soak
	app := newWSApp(t)
	g := startGateway(t, "routes:\n  - path: /flood\n    mode: broadcast\n    buffer: 64\n    upstream: {url: \""+app.wsURL("/flood")+"\"}\n")
	healthy := openSSE(t, g.URL+"/flood/sse", nil)
	var received atomic.Int64
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			if _, err := healthy.next(); err != nil {
				return
			}
			received.Add(1)
		}
	}()
	eventually(t, "the topic's upstream", func() bool { return app.open() == 1 })

	requests := []string{
		"GET /flood/sse HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /flood/stream HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /flood/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + wsKey + "\r\n\r\n",
	}
	var stuck []net.Conn
	for _, req := range requests {
		c := g.nonReaderConn(t)
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		stuck = append(stuck, c)
	}
	eventually(t, "all four clients attached", func() bool {
		return g.metric("bridgeway_bridge_clients_connected", `route="/flood"`) == 4
	})
	stop := make(chan struct{})
	pusher := flood(app, 8<<10, stop)
	defer func() {
		close(stop)
		pusher.Wait()
	}()

	// writeWait (10 s), then for the WebSocket closeGrace (5 s): 15 s
	// unloaded, and twice that was seen on two loaded cores.
	eventuallyWithin(t, 90*time.Second, "the non-readers to be dropped", func() bool {
		return g.metric("bridgeway_bridge_clients_connected", `route="/flood"`) == 1
	})
	for _, c := range stuck {
		readAllUntilClosed(t, c) // the gateway closed it: EOF or reset
	}
	// The reader is still served.
	before := received.Load()
	eventually(t, "the reader to keep receiving", func() bool { return received.Load() > before+10 })
	if n := g.metric("bridgeway_bridge_clients_connected", `route="/flood"`, `transport="sse"`); n != 1 {
		t.Errorf("sse clients %v, want the reader only", n)
	}
	healthy.close()
	<-readerDone
}

// nonReaderConn dials the gateway with a small receive buffer: a client
// that never reads then fills up after a few KiB, not the megabytes
// loopback's autotuning allows, so when the gateway's writes start to
// block (and writeWait to run) depends less on the flood's pace.
func (g *gateway) nonReaderConn(t *testing.T) net.Conn {
	t.Helper()
	return g.dialWith(t, net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = setReceiveBuffer(fd, 4096) })
		return cmp.Or(err, serr)
	}})
}
