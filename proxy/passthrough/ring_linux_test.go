package passthrough

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bridgeway/bridgeway/internal/testdeps"
	"github.com/bridgeway/bridgeway/internal/uring"
)

// The io_uring loop (ring_linux.go) carries tunnels where the kernel allows
// it, which is the case on the machines this project is built and tested
// on: there these tests fail instead of skipping when io_uring is missing
// (BRIDGEWAY_REQUIRE_DEPS), so the ring's path is always the one tested.
// TestEpollLoopWithoutIOURing runs the package's tunnel tests again with
// the ring switched off, for the epoll loop every other host gets.

// useTestRing makes every tunnel of the test use a ring of its own with
// buffers relay buffers.
func useTestRing(t *testing.T, buffers int) *ringLoop {
	t.Helper()
	rl, err := newRingLoop(buffers)
	if errors.Is(err, uring.ErrUnsupported) {
		testdeps.Missing(t, err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	testRing.Store(rl)
	t.Cleanup(func() {
		testRing.Store(nil)
		eventually(t, "the ring's goroutine ends", func() bool {
			rl.mu.Lock()
			defer rl.mu.Unlock()
			return !rl.running
		})
		rl.close()
	})
	return rl
}

// TestRingCarriesTunnels: echoes through a tunnel are relayed by the ring,
// intact and in order, in both directions.
func TestRingCarriesTunnels(t *testing.T) {
	useTestRing(t, ringBuffers)
	relays := countLoopRelays(t)
	up := newEchoUpstream(t, false)
	gw := newGateway(t, route("/ws", up.srv.URL), nil)
	c := dialWS(t, wsURL(gw.srv, "/ws"))
	roundTrip := func() {
		kind, msg := message(7)
		if err := c.WriteMessage(kind, msg); err != nil {
			t.Fatal(err)
		}
		if gotKind, got, err := c.ReadMessage(); err != nil || gotKind != kind || !bytes.Equal(got, msg) {
			t.Fatalf("echo: kind %d, %d bytes, %v", gotKind, len(got), err)
		}
	}
	reachLoop(t, relays, roundTrip)
	before := relays.Load()
	for range 100 {
		roundTrip()
	}
	if relays.Load() < before+100 {
		t.Errorf("the ring relayed %d of 200 messages", relays.Load()-before)
	}
}

// TestRingStarvedOfBuffers: with one buffer for many busy tunnels, many
// receives find none and give the source back to its pump; every byte of
// frames of every size, split anywhere, still comes out as it went in.
// Rounds repeat until a receive was starved (the first usually is).
func TestRingStarvedOfBuffers(t *testing.T) {
	useTestRing(t, 1)
	relays := countLoopRelays(t)
	var starved atomic.Int64
	hook := func() { starved.Add(1) }
	testHookRingNoBuffer.Store(&hook)
	t.Cleanup(func() { testHookRingNoBuffer.Store(nil) })
	for round := 0; round < 10 && starved.Load() == 0 && !t.Failed(); round++ {
		exchangeFrameStreams(t, 8, uint64(round*100))
	}
	if relays.Load() == 0 || starved.Load() == 0 {
		t.Errorf("the ring relayed %d times and found no buffer %d times: the test did not reach what it is for",
			relays.Load(), starved.Load())
	}
}

// exchangeFrameStreams runs tunnels at once, each passing frameStreams
// both ways in pieces, and checks every byte.
func exchangeFrameStreams(t *testing.T, tunnels int, seed uint64) {
	var wg sync.WaitGroup
	for i := range tunnels {
		n := seed + uint64(i)
		up := frameStream(true, 10+n)
		down := frameStream(false, 20+n)
		upURL, gotUp := byteUpstream(t, down, len(up))
		conn := dialTunnel(t, route("/ws", upURL), false)
		wg.Go(func() {
			br := bufio.NewReader(conn)
			res, err := http.ReadResponse(br, nil)
			if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
				t.Errorf("tunnel %d handshake: %v %v", n, res, err)
				return
			}
			var writer sync.WaitGroup
			writer.Go(func() { _ = writeInPieces(conn, up, 30+n) })
			defer writer.Wait()
			gotDown := make([]byte, len(down))
			if _, err := io.ReadFull(br, gotDown); err != nil || !bytes.Equal(gotDown, down) {
				t.Errorf("tunnel %d upstream to client: bytes differ (%v)", n, err)
			}
			if got := recv(t, gotUp); !bytes.Equal(got, up) {
				t.Errorf("tunnel %d client to upstream: %d bytes, want %d, bytes differ", n, len(got), len(up))
			}
		})
	}
	wg.Wait()
}

// TestEpollLoopWithoutIOURing runs the package's tunnel tests again with
// BRIDGEWAY_IO_URING=off, on the epoll loop (the plain HTTP proxy's tests
// do not reach either loop).
func TestEpollLoopWithoutIOURing(t *testing.T) {
	testdeps.WithoutIOURing(t, "^(TestLoop|TestRelay|TestTunnel|TestWebSocket|TestGoAway|TestShutdown|TestCloseFrame)")
}
