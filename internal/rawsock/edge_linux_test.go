package rawsock_test

import (
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/internal/rawsock"
)

type edgeTold chan uint32

func (e edgeTold) EdgeReady(events uint32) { e <- events }

// TestEdgePollerTellsFlags: bytes are told with EdgeIn, again for new bytes
// without any rearming (edge-triggered, not one-shot), and the peer's FIN
// with a hang-up flag; Remove by another owner is ignored; removing the
// last socket ends the goroutine (goleak in TestMain).
func TestEdgePollerTellsFlags(t *testing.T) {
	var p rawsock.EdgePoller
	edgePollerTellsFlags(t, &p)
}

// TestEdgePollerGathers: with Gather set, the goroutine sleeps between
// batches and still tells every readiness, and AfterBatch follows each
// batch.
func TestEdgePollerGathers(t *testing.T) {
	batches := make(chan struct{}, 16)
	p := rawsock.EdgePoller{Gather: time.Millisecond, AfterBatch: func() { batches <- struct{}{} }}
	edgePollerTellsFlags(t, &p)
	for i := range 3 { // the last may come just after its socket was told
		select {
		case <-batches:
		case <-time.After(10 * time.Second):
			t.Fatalf("AfterBatch called %d times, want one per batch (3)", i)
		}
	}
}

func edgePollerTellsFlags(t *testing.T, p *rawsock.EdgePoller) {
	fd, server, client := pair(t)
	defer server.Close()
	told := make(edgeTold, 8)
	if !p.Add(fd, told) {
		t.Fatal("Add failed")
	}
	for range 2 {
		if _, err := client.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if ev := <-told; ev != rawsock.EdgeIn {
			t.Fatalf("events %#x, want EdgeIn alone", ev)
		}
		var b [1]byte
		if n, e := rawsock.Read(fd, b[:]); n != 1 || e != 0 {
			t.Fatalf("read %d, %v", n, e)
		}
	}
	p.Remove(fd, make(edgeTold)) // not its owner: still registered
	client.Close()
	if ev := <-told; ev&rawsock.EdgeHup == 0 {
		t.Fatalf("events %#x after FIN, want a hang-up flag", ev)
	}
	p.Remove(fd, told)
}
