package passthrough

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/internal/rawsock"
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
	rl, err := newRingLoop(buffers, zap.NewNop())
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
	rt := echoOnTestRing(t, 7)
	relays, roundTrip := rt.relays, rt.roundTrip
	before := relays.Load()
	for range 100 {
		roundTrip()
	}
	if relays.Load() < before+100 {
		t.Errorf("the ring relayed %d of 200 messages", relays.Load()-before)
	}
}

// ringEcho is a tunnel to an echo upstream carried by a test ring.
type ringEcho struct {
	c         *websocket.Conn
	up        *echoUpstream
	relays    *atomic.Int64 // the ring's relays
	roundTrip func()        // the same message there and back, checked
}

// echoOnTestRing opens a tunnel through a ring of the test's own and
// round-trips until the ring carries it.
func echoOnTestRing(t *testing.T, i int) ringEcho {
	useTestRing(t, ringBuffers)
	e := ringEcho{relays: countLoopRelays(t), up: newEchoUpstream(t, false)}
	gw := newGateway(t, route("/ws", e.up.srv.URL), nil)
	e.c = dialWS(t, wsURL(gw.srv, "/ws"))
	e.roundTrip = func() {
		kind, msg := message(i)
		if err := e.c.WriteMessage(kind, msg); err != nil {
			t.Fatal(err)
		}
		if gotKind, got, err := e.c.ReadMessage(); err != nil || gotKind != kind || !bytes.Equal(got, msg) {
			t.Fatalf("echo: kind %d, %d bytes, %v", gotKind, len(got), err)
		}
	}
	reachLoop(t, e.relays, e.roundTrip)
	return e
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

// TestRingTakesTunnelSocketsOutOfTheRuntimesEpollSet: while both directions
// of a tunnel are on the ring, the gateway's two sockets of it are in no
// epoll set (each segment would otherwise wake the runtime's netpoller for
// nothing); stop-the-world collections meanwhile do not wait on the ring's
// goroutine, which waits in the kernel; the tunnel still echoes after them,
// and after the ring turned quiet for want of traffic.
// (That the sockets go back before a pump waits for them is what the
// stall tests prove: without it their pumps' writes are never woken.)
func TestRingTakesTunnelSocketsOutOfTheRuntimesEpollSet(t *testing.T) {
	rt := echoOnTestRing(t, 3)
	c, up, roundTrip := rt.c, rt.up, rt.roundTrip
	fromClient := socketsWithPeerPort(t, c.LocalAddr().(*net.TCPAddr).Port)
	toUpstream := socketsWithPeerPort(t, up.srv.Listener.Addr().(*net.TCPAddr).Port)
	if len(fromClient) != 1 || len(toUpstream) != 1 {
		t.Fatalf("found the gateway's sockets %v (client) and %v (upstream), want one each", fromClient, toUpstream)
	}
	eventually(t, "the tunnel's sockets leave the runtime's epoll set", func() bool {
		roundTrip()
		return len(rawsock.EpollEntries(fromClient[0])) == 0 && len(rawsock.EpollEntries(toUpstream[0])) == 0
	})
	for range 3 {
		runtime.GC()
	}
	roundTrip()

	// Idle, the ring's waits turn quiet (they give the P up); bytes still
	// wake it.
	quiet := make(chan struct{}, 1)
	hook := func() { trySend(quiet, struct{}{}) }
	testHookRingQuiet.Store(&hook)
	t.Cleanup(func() { testHookRingQuiet.Store(nil) })
	recv(t, quiet)
	roundTrip()
}

// socketsWithPeerPort lists the process's sockets connected to port on
// the loopback.
func socketsWithPeerPort(t *testing.T, port int) []int {
	t.Helper()
	dir, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var fds []int
	for _, d := range dir {
		fd, _ := strconv.Atoi(d.Name())
		if sa, err := syscall.Getpeername(fd); err == nil {
			if in, ok := sa.(*syscall.SockaddrInet4); ok && in.Port == port {
				fds = append(fds, fd)
			}
		}
	}
	return fds
}

// TestOpenRingsAddsTheirPs: each ring's goroutine keeps its P while it
// waits in the kernel, so openRings adds one P per ring.
func TestOpenRingsAddsTheirPs(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(before) })
	rs, err := openRings(zap.NewNop())
	if errors.Is(err, uring.ErrUnsupported) {
		testdeps.Missing(t, err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, rl := range rs {
		rl.close()
	}
	if got := runtime.GOMAXPROCS(0); got != before+len(rs) || len(rs) != min(before, 4) {
		t.Errorf("GOMAXPROCS %d with %d rings, was %d", got, len(rs), before)
	}
}
