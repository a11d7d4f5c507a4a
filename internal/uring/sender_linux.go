package uring

import (
	"errors"
	"runtime"
	"sync"
	"syscall"
)

// Sender sends many buffers, each to its own socket, with one system call
// per batch instead of one per socket: a fan-out's answers to thousands of
// clients at one message. Every send is made with MSG_DONTWAIT, so each
// completes at once with what its socket took (EAGAIN when nothing): a
// Sender never waits for a client. One goroutine uses a Sender at a time,
// from GetSender to Release.
type Sender struct {
	r    *Ring
	bufs [][]byte // queued, kept here until their completions are in
	res  []int32
	in   []bool // completion in
	got  int
	dead bool // retired: its ring is closed
	// completeFn is complete, bound once so a batch allocates nothing.
	completeFn func(*CQE)
}

// SenderBatch is how many sends one system call carries at most.
const SenderBatch = 128

// Queue adds a send of p to the socket fd; false when the batch is full
// (Flush first, and write p another way if it is false again). p must stay untouched until Flush returns.
func (s *Sender) Queue(fd int32, p []byte) bool {
	if s.dead || len(s.bufs) == SenderBatch || !s.r.Send(fd, p, syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL, uint64(len(s.bufs))) {
		return false
	}
	s.bufs = append(s.bufs, p)
	return true
}

// Len is how many sends are queued.
func (s *Sender) Len() int { return len(s.bufs) }

// ErrBatchRefused is what the sends of a batch the kernel refused report.
var ErrBatchRefused = errors.New("io_uring: batch of sends refused")

func (s *Sender) complete(c *CQE) {
	if c.UserData < uint64(len(s.bufs)) && !s.in[c.UserData] {
		s.res[c.UserData], s.in[c.UserData] = c.Res, true
		s.got++
	}
}

// Flush sends what is queued and then calls done for each send, in the
// order queued, with how many bytes its socket took and the send's error
// (EAGAIN is not an error: n is 0). If the kernel refuses the batch (it
// should not), the ring is retired and every send not completed reports
// ErrBatchRefused: the caller closes those connections, as after a failed
// write.
func (s *Sender) Flush(done func(i, n int, err error)) {
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
		// A send not made inline (rare with MSG_DONTWAIT) completes on
		// the kernel's side: its buffer is in use until then.
		err = s.r.Submit(uint32(len(s.bufs) - s.got))
	}
	for i := range s.bufs {
		switch r := s.res[i]; {
		case !s.in[i]:
			done(i, 0, ErrBatchRefused)
		case r >= 0:
			done(i, int(r), nil)
		case syscall.Errno(-r) == syscall.EAGAIN:
			done(i, 0, nil)
		default:
			done(i, 0, syscall.Errno(-r))
		}
	}
	if err != nil {
		senders.retire(s) // keeps s.bufs: the kernel may still hold them
		return
	}
	clear(s.bufs)
	s.bufs = s.bufs[:0]
}

// senders are the process's Senders, made on demand up to a bound: a
// fan-out part holds one for a round.
var senders senderPool

type senderPool struct {
	mu      sync.Mutex
	free    []*Sender
	made    int
	err     error // why there are none: io_uring unusable here
	retired []*Sender
}

// GetSender returns a Sender, or nil when io_uring cannot be used here or
// every Sender is taken (the caller then writes one socket at a time).
func GetSender() *Sender {
	p := &senders
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
	r, err := New(SenderBatch)
	if err != nil {
		p.err = err
		return nil
	}
	p.made++
	s := &Sender{r: r, bufs: make([][]byte, 0, SenderBatch), res: make([]int32, SenderBatch), in: make([]bool, SenderBatch)}
	s.completeFn = s.complete
	return s
}

// Release gives s back; whatever was queued and not flushed is flushed
// first (its results unseen: callers flush before they release).
func (s *Sender) Release() {
	s.Flush(func(int, int, error) {})
	p := &senders
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.dead {
		return
	}
	p.free = append(p.free, s)
}

func (p *senderPool) retire(s *Sender) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retired = append(p.retired, s)
	s.dead = true
	s.r.Close()
}

// SendersUnusable says why GetSender returns nil for good, or nil.
func SendersUnusable() error {
	senders.mu.Lock()
	defer senders.mu.Unlock()
	return senders.err
}
