package uring

import (
	"errors"
	"runtime"
	"sync"
	"syscall"
)

// Batch makes many sends and receives, each on its own socket, with one
// system call per batch instead of one per socket: a fan-out's answers to
// thousands of clients at one message, or the next requests of the clients
// one epoll wait found readable. Every operation is made with
// MSG_DONTWAIT, so each completes at once with what its socket took or had
// (EAGAIN when nothing): a Batch never waits for a client. One goroutine
// uses a Batch at a time, from GetBatch to Release.
type Batch struct {
	r    *Ring
	bufs [][]byte // queued, kept here until their completions are in
	res  []int32
	in   []bool // completion in
	got  int
	dead bool // retired: its ring is closed
	// completeFn is complete, bound once so a batch allocates nothing.
	completeFn func(*CQE)
}

// BatchSize is how many operations one system call carries at most.
const BatchSize = 128

// Full reports whether the batch must be flushed before the next Send or
// Recv.
func (s *Batch) Full() bool { return len(s.bufs) == BatchSize }

// Send adds a send of p to the socket fd; false when the batch is full or
// was retired (the caller then writes p another way). p must stay
// untouched until Flush returns.
func (s *Batch) Send(fd int32, p []byte) bool {
	if s.dead || len(s.bufs) == BatchSize || !s.r.Send(fd, p, syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL, uint64(len(s.bufs))) {
		return false
	}
	s.bufs = append(s.bufs, p)
	return true
}

// Recv adds a receive into p from the socket fd, as Send (false when full
// or retired); its result is the bytes read (0 at the end of the stream).
func (s *Batch) Recv(fd int32, p []byte) bool {
	if s.dead || len(s.bufs) == BatchSize || !s.r.RecvInto(fd, p, syscall.MSG_DONTWAIT, uint64(len(s.bufs))) {
		return false
	}
	s.bufs = append(s.bufs, p)
	return true
}

// ErrBatchRefused is what the operations of a batch the kernel refused
// report.
var ErrBatchRefused = errors.New("io_uring: batch refused")

func (s *Batch) complete(c *CQE) {
	if c.UserData < uint64(len(s.bufs)) && !s.in[c.UserData] {
		s.res[c.UserData], s.in[c.UserData] = c.Res, true
		s.got++
	}
}

// Flush makes what is queued and then calls done for each operation, in
// the order queued, with how many bytes were sent or received and its
// error (syscall.EAGAIN: the socket had no room, or nothing to read). If
// the kernel refuses the batch (it should not), the ring is retired and
// every operation not completed reports ErrBatchRefused: the caller closes
// those connections, as after a failed write or read.
func (s *Batch) Flush(done func(i, n int, err error)) {
	if len(s.bufs) == 0 {
		return
	}
	s.got = 0
	clear(s.in[:len(s.bufs)])
	err := s.r.Submit(0)
	for err == nil {
		s.r.Completions(s.completeFn)
		if s.got == len(s.bufs) {
			break
		}
		// An operation not made inline (rare with MSG_DONTWAIT) completes on
		// the kernel's side: its buffer is in use until then.
		err = s.r.Submit(uint32(len(s.bufs) - s.got))
	}
	for i := range s.bufs {
		switch r := s.res[i]; {
		case !s.in[i]:
			done(i, 0, ErrBatchRefused)
		case r >= 0:
			done(i, int(r), nil)
		default:
			done(i, 0, syscall.Errno(-r))
		}
	}
	if err != nil {
		batches.retire(s) // keeps s.bufs: the kernel may still hold them
		return
	}
	clear(s.bufs)
	s.bufs = s.bufs[:0]
}

// batches are the process's Batches, made on demand up to a bound: a
// fan-out part holds one for a round.
var batches batchPool

type batchPool struct {
	mu      sync.Mutex
	free    []*Batch
	made    int
	err     error // why there are none: io_uring unusable here
	retired []*Batch
}

// GetBatch returns a Batch, or nil when io_uring cannot be used here or
// every Batch is taken (the caller then uses one socket at a time).
func GetBatch() *Batch {
	p := &batches
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		s := p.free[n-1]
		p.free = p.free[:n-1]
		return s
	}
	if p.err != nil || p.made >= 4*runtime.GOMAXPROCS(0) {
		return nil
	}
	if Off() {
		p.err = errors.New("off (BRIDGEWAY_IO_URING)")
		return nil
	}
	r, err := New(BatchSize)
	if err != nil {
		p.err = err
		return nil
	}
	p.made++
	s := &Batch{r: r, bufs: make([][]byte, 0, BatchSize), res: make([]int32, BatchSize), in: make([]bool, BatchSize)}
	s.completeFn = s.complete
	return s
}

// Release gives s back; whatever was queued and not flushed is flushed
// first (its results unseen: callers flush before they release).
func (s *Batch) Release() {
	s.Flush(func(int, int, error) {})
	p := &batches
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.dead {
		return
	}
	p.free = append(p.free, s)
}

func (p *batchPool) retire(s *Batch) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retired = append(p.retired, s)
	s.dead = true
	s.r.Close()
}

// BatchesUnusable says why GetBatch returns nil for good, or nil.
func BatchesUnusable() error {
	batches.mu.Lock()
	defer batches.mu.Unlock()
	return batches.err
}
