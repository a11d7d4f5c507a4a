package uring

import (
	"bytes"
	"errors"
	"io"
	"syscall"
	"testing"

	"github.com/bridgeway/bridgeway/internal/testdeps"
)

// getSender is a Sender from the pool, given back at the test's end.
func getSender(t *testing.T) *Sender {
	t.Helper()
	s := GetSender()
	if s == nil {
		if err := SendersUnusable(); errors.Is(err, ErrUnsupported) {
			testdeps.Missing(t, err.Error())
		}
		t.Fatalf("no Sender: %v", SendersUnusable())
	}
	t.Cleanup(s.Release)
	return s
}

// TestSenderSendsEachToItsSocket: one batch to many sockets, more than one
// system call carries, reports each send's own outcome in queue order: all
// bytes, a short count on a socket nobody reads, an error on a socket shut
// for writing; and every socket got exactly its bytes.
func TestSenderSendsEachToItsSocket(t *testing.T) {
	s := getSender(t)
	const n = SenderBatch + 20 // two batches
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
		if !s.Queue(fd, p) {
			s.Flush(done)
			if !s.Queue(fd, p) {
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
		if want := 100 + k; r[0] != k%SenderBatch || r[1] != want || errs[k] != nil {
			t.Fatalf("send %d: index %d, %d bytes, %v; want index %d, %d bytes", k, r[0], r[1], errs[k], k%SenderBatch, want)
		}
		got := make([]byte, len(pairs[k].payload))
		if _, err := io.ReadFull(pairs[k].recv, got); err != nil || !bytes.Equal(got, pairs[k].payload) {
			t.Fatalf("socket %d received %q, %v", k, got, err)
		}
	}
	if r := results[n]; errs[n] != nil || r[1] >= len(big) {
		t.Fatalf("send to a full socket: %d bytes, %v; want a short count and no error", r[1], errs[n])
	}
	if !errors.Is(errs[n+1], syscall.EPIPE) {
		t.Fatalf("send on a socket shut for writing: %v, want EPIPE", errs[n+1])
	}
}
