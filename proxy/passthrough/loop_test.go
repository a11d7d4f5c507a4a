package passthrough

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/bridgeway/bridgeway/internal/rawsock"
)

// The event loop (loop.go) relays established tunnels; these tests drive
// each edge of it through real sockets and the assembled handler. Each
// proves (testHookLoopRelay) that the loop carried the tunnel, so the edge
// tested is the loop's and not only the pump's.

// countLoopRelays counts the loop's relays until the test ends.
func countLoopRelays(t *testing.T) *atomic.Int64 {
	t.Helper()
	if !rawsock.Supported {
		t.Skip("the event loop is Linux-only")
	}
	n := new(atomic.Int64)
	hook := func() { n.Add(1) }
	testHookLoopRelay.Store(&hook)
	t.Cleanup(func() { testHookLoopRelay.Store(nil) })
	return n
}

// reachLoop repeats a round trip (bytes sent one way and read at the other
// end) until the loop carried one: a tunnel's first bytes may still find
// its pump reading, before it handed the source to the loop.
func reachLoop(t *testing.T, relays *atomic.Int64, roundTrip func()) {
	t.Helper()
	for range 100 {
		before := relays.Load()
		roundTrip()
		for range 200 {
			if relays.Load() > before {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	t.Fatal("the loop never carried the tunnel")
}

// stepUpstream answers the upgrade, then runs on the connection each
// function the test sends on the connection's channel (one channel per
// connection, taken from conns in order, closed by the test).
func stepUpstream(t *testing.T) (url string, conns chan chan func(net.Conn)) {
	conns = make(chan chan func(net.Conn), 16)
	up := newRawUpstream(t, func(conn net.Conn, req *http.Request) {
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: "+acceptKey(req.Header.Get("Sec-WebSocket-Key"))+"\r\n\r\n")
		for step := range <-conns {
			step(conn)
		}
	})
	return up.url(), conns
}

// upstreamSteps gives the next connection of stepUpstream its steps; the
// channel is closed when the test ends.
func upstreamSteps(t *testing.T, conns chan chan func(net.Conn)) chan func(net.Conn) {
	next := make(chan func(net.Conn))
	conns <- next
	t.Cleanup(func() { close(next) })
	return next
}

func writeStep(b []byte) func(net.Conn) { return func(c net.Conn) { _, _ = c.Write(b) } }

// TestLoopUpstreamFIN: an upstream's FIN reaches the client through the
// loop, sent right behind its last frame (one write and a shutdown, often
// one segment) or alone once the loop holds the source: epoll's EPOLLRDHUP
// tells the loop, which never reads until EAGAIN.
func TestLoopUpstreamFIN(t *testing.T) {
	relays := countLoopRelays(t)
	url, conns := stepUpstream(t)
	gw := newGateway(t, route("/ws", url), nil)
	for i := range 20 {
		together := i%2 == 0
		next := upstreamSteps(t, conns)
		conn, br := rawTunnel(t, gw)
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(testDeadline))
		reachLoop(t, relays, func() {
			next <- writeStep([]byte("\x81\x01a"))
			expectRead(t, br, "\x81\x01a")
		})
		if together {
			next <- func(c net.Conn) {
				writeStep([]byte("\x81\x01b"))(c)
				closeWrite(c)
			}
			expectRead(t, br, "\x81\x01b")
		} else {
			next <- closeWrite
		}
		if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
			t.Fatalf("FIN with the last frame %v: read %q, %v; want EOF", together, rest, err)
		}
	}
}

// TestLoopClientFIN: the same for a client's FIN towards the upstream.
func TestLoopClientFIN(t *testing.T) {
	relays := countLoopRelays(t)
	url, conns := stepUpstream(t)
	gw := newGateway(t, route("/ws", url), nil)
	for i := range 20 {
		together := i%2 == 0
		next := upstreamSteps(t, conns)
		conn, _ := rawTunnel(t, gw)
		defer conn.Close()
		got := make(chan []byte, 1)
		reachLoop(t, relays, func() {
			conn.Write(maskedFrame("a"))
			next <- func(c net.Conn) {
				b := make([]byte, len(maskedFrame("a")))
				_, _ = io.ReadFull(c, b)
				got <- b
			}
			if b := recv(t, got); !bytes.Equal(b, maskedFrame("a")) {
				t.Fatalf("upstream read %q", b)
			}
		})
		if together {
			conn.Write(maskedFrame("b"))
		}
		closeWrite(conn)
		next <- func(c net.Conn) {
			b, _ := io.ReadAll(c) // the deadline fails a missed FIN
			got <- b
		}
		want := []byte{}
		if together {
			want = maskedFrame("b")
		}
		if b := recv(t, got); !bytes.Equal(b, want) {
			t.Fatalf("FIN with the last frame %v: upstream read %q; want %q, then EOF", together, b, want)
		}
	}
}

// TestLoopDestinationStopsReading: a client that stops reading fills its
// socket; the loop hands the direction to its pump, which finishes the
// write once the client reads again; every byte arrives in order, and the
// loop carries the tunnel again afterwards.
func TestLoopDestinationStopsReading(t *testing.T) {
	relays := countLoopRelays(t)
	stalled := make(chan struct{}, 1)
	testHookStall = func() { trySend(stalled, struct{}{}) }
	t.Cleanup(func() { testHookStall = nil })

	url, conns := stepUpstream(t)
	gw := newGateway(t, route("/ws", url), nil)
	next := upstreamSteps(t, conns)
	conn, br := rawTunnel(t, gw)
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(testDeadline))
	roundTrip := func() {
		next <- writeStep([]byte("\x81\x01a"))
		expectRead(t, br, "\x81\x01a")
	}
	reachLoop(t, relays, roundTrip)

	down := stallStream()
	before := relays.Load()
	next <- writeStep(down) // 12 MiB the client does not read yet
	recv(t, stalled)
	if relays.Load() == before {
		t.Error("the loop relayed nothing before the stall")
	}
	got := make([]byte, len(down))
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatalf("client read: %v", err)
	}
	if !bytes.Equal(got, down) {
		t.Fatal("bytes differ after the stall")
	}
	reachLoop(t, relays, roundTrip)
}

// TestLoopManyTunnels: more tunnels than epoll sets echo at once; every
// message comes back intact and in order on its own tunnel.
func TestLoopManyTunnels(t *testing.T) {
	relays := countLoopRelays(t)
	up := newEchoUpstream(t, false)
	gw := newGateway(t, route("/ws", up.srv.URL), nil)
	tunnels := 4*runtime.GOMAXPROCS(0) + 3
	errs := make(chan error, tunnels)
	var wg sync.WaitGroup
	for n := range tunnels {
		c := dialWS(t, wsURL(gw.srv, "/ws"))
		wg.Go(func() {
			for i := range 200 {
				kind, msg := message(n*1000 + i)
				if err := c.WriteMessage(kind, msg); err != nil {
					errs <- err
					return
				}
				gotKind, got, err := c.ReadMessage()
				if err != nil || gotKind != kind || !bytes.Equal(got, msg) {
					errs <- fmt.Errorf("tunnel %d message %d: kind %d, %d bytes, %v", n, i, gotKind, len(got), err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if relays.Load() == 0 {
		t.Error("the loop relayed nothing")
	}
}

// TestLoopShutdownCut: tunnels sitting on the loop with clients that never
// answer the close are cut when Shutdown's context ends; every pump ends
// (goleak in TestMain checks that none still waits for the loop).
func TestLoopShutdownCut(t *testing.T) {
	relays := countLoopRelays(t)
	up := newEchoUpstream(t, false)
	gw := newGateway(t, route("/ws", up.srv.URL), nil)
	const tunnels = 12
	for range tunnels {
		conn, br := rawTunnel(t, gw)
		defer conn.Close()
		reachLoop(t, relays, func() {
			conn.Write(maskedFrame("ping"))
			expectRead(t, br, "\x81\x04ping")
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := gw.h.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want deadline exceeded", err)
	}
	if n := gw.h.Tunnels(); n != 0 {
		t.Errorf("Tunnels() after Shutdown = %d", n)
	}
}

// expectRead reads len(want) bytes and compares them.
func expectRead(t *testing.T, r io.Reader, want string) {
	t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r, got); err != nil || string(got) != want {
		t.Fatalf("read %q, %v; want %q", got, err, want)
	}
}

// TestLoopSendTimeoutCut: a client that takes nothing for send_timeout is
// cut while the tunnel's other direction waits on the loop: both pumps
// end (the one on the loop is woken to see the closed socket), the
// upstream sees its connection end, and the tunnel is gone.
func TestLoopSendTimeoutCut(t *testing.T) {
	relays := countLoopRelays(t)
	url, conns := stepUpstream(t)
	rt := route("/ws", url)
	h, err := New(Options{Route: rt, Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		SendTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	gw := &gateway{h: h, srv: srv}
	next := upstreamSteps(t, conns)
	conn, _ := rawTunnel(t, gw)
	defer conn.Close()
	// The client to upstream direction goes on the loop.
	got := make(chan []byte, 1)
	reachLoop(t, relays, func() {
		conn.Write(maskedFrame("a"))
		next <- func(c net.Conn) {
			b := make([]byte, len(maskedFrame("a")))
			_, _ = io.ReadFull(c, b)
			got <- b
		}
		recv(t, got)
	})
	next <- writeStep(stallStream()) // the client reads none of it
	next <- func(c net.Conn) {
		b, _ := io.ReadAll(c) // the gateway closes the upstream connection
		got <- b
	}
	recv(t, got)
	eventually(t, "the tunnel to end", func() bool { return h.Tunnels() == 0 })
}
