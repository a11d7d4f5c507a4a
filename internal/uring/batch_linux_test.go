package uring

import (
	"bytes"
	"errors"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/bridgeway/bridgeway/internal/rawsock"
	"github.com/bridgeway/bridgeway/internal/testdeps"
)

// getBatch is a Batch from the pool, given back at the test's end.
func getBatch(t *testing.T) *Batch {
	t.Helper()
	s := GetBatch()
	if s == nil {
		if err := BatchesUnusable(); errors.Is(err, ErrUnsupported) {
			testdeps.Missing(t, err.Error())
		}
		t.Fatalf("no Batch: %v", BatchesUnusable())
	}
	t.Cleanup(s.Release)
	return s
}

// TestBatchSendsEachToItsSocket: one batch to many sockets, more than one
// system call carries, reports each send's own outcome in queue order: all
// bytes, a short count on a socket nobody reads, an error on a socket shut
// for writing; and every socket got exactly its bytes.
func TestBatchSendsEachToItsSocket(t *testing.T) {
	s := getBatch(t)
	const n = BatchSize + 20 // two batches
	type pair struct {
		payload []byte
		recv    io.Reader
	}
	var pairs []pair
	var results [][2]int
	var errs []error
	done := func(i, n int, err error) {
		results = append(results, [2]int{i, n})
		errs = append(errs, err)
	}
	queue := func(fd int32, p []byte) {
		if !s.Send(fd, p) {
			s.Flush(done)
			if !s.Send(fd, p) {
				t.Fatal("Queue refused on an empty batch")
			}
		}
	}
	for i := range n {
		a, _, _, bfd := socketPair(t)
		p := bytes.Repeat([]byte{byte('a' + i%26)}, 100+i)
		pairs = append(pairs, pair{p, a})
		queue(bfd, p)
	}
	// A socket nobody reads, its buffer small: the send takes what fits.
	_, full, _, fullFD := socketPair(t)
	_ = full.SetWriteBuffer(4096)
	big := make([]byte, 8<<20)
	queue(fullFD, big)
	// A socket shut for writing: the send fails (EPIPE), no signal.
	_, shut, _, shutFD := socketPair(t)
	_ = shut.CloseWrite()
	queue(shutFD, []byte("late"))
	s.Flush(done)

	if len(results) != n+2 {
		t.Fatalf("%d results, want %d", len(results), n+2)
	}
	for k, r := range results[:n] {
		if want := 100 + k; r[0] != k%BatchSize || r[1] != want || errs[k] != nil {
			t.Fatalf("send %d: index %d, %d bytes, %v; want index %d, %d bytes", k, r[0], r[1], errs[k], k%BatchSize, want)
		}
		got := make([]byte, len(pairs[k].payload))
		if _, err := io.ReadFull(pairs[k].recv, got); err != nil || !bytes.Equal(got, pairs[k].payload) {
			t.Fatalf("socket %d received %q, %v", k, got, err)
		}
	}
	if r := results[n]; !(errs[n] == nil && r[1] < len(big)) && !errors.Is(errs[n], syscall.EAGAIN) {
		t.Fatalf("send to a full socket: %d bytes, %v; want a short count or EAGAIN", r[1], errs[n])
	}
	if !errors.Is(errs[n+1], syscall.EPIPE) {
		t.Fatalf("send on a socket shut for writing: %v, want EPIPE", errs[n+1])
	}
}

// TestBatchRecvNeverWaits: receives in one batch bring what each socket
// has: its bytes, EAGAIN when nothing came (no wait), 0 when the peer
// closed.
func TestBatchRecvNeverWaits(t *testing.T) {
	s := getBatch(t)
	a1, _, _, fd1 := socketPair(t)
	_, _, _, fd2 := socketPair(t)
	a3, _, _, fd3 := socketPair(t)
	if _, err := a1.Write([]byte("GET /next")); err != nil {
		t.Fatal(err)
	}
	a3.Close()
	// Loopback delivers at once, unless softirqs are left to ksoftirqd
	// under load: wait until the bytes and the FIN are there.
	for _, fd := range []int32{fd1, fd3} {
		for deadline := time.Now().Add(10 * time.Second); !rawsock.Ready(uintptr(fd)); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the peer's bytes or FIN never arrived")
			}
		}
	}
	bufs := [3][]byte{make([]byte, 64), make([]byte, 64), make([]byte, 64)}
	for i, fd := range []int32{fd1, fd2, fd3} {
		if !s.Recv(fd, bufs[i]) {
			t.Fatal("Recv refused on a batch with room")
		}
	}
	type result struct {
		n   int
		err error
	}
	var got []result
	s.Flush(func(i, n int, err error) { got = append(got, result{n, err}) })
	if len(got) != 3 || got[0].err != nil || string(bufs[0][:got[0].n]) != "GET /next" {
		t.Fatalf("receives: %+v, first buffer %q", got, bufs[0])
	}
	if !errors.Is(got[1].err, syscall.EAGAIN) {
		t.Fatalf("receive with nothing sent: %+v, want EAGAIN", got[1])
	}
	if got[2] != (result{0, nil}) {
		t.Fatalf("receive after the peer closed: %+v, want 0 bytes", got[2])
	}
}
