package bridge

import (
	"sync/atomic"
	"syscall"

	"github.com/bridgeway/bridgeway/internal/rawsock"
	"github.com/bridgeway/bridgeway/internal/uring"
)

// streamBatch sends what a fan-out part writes to its subscribers (SSE,
// NDJSON, WebSocket) in one round with one system call per
// uring.BatchSize subscribers, where each took a write(2) of its own: most
// of the fan-out's CPU at a few messages a second (docs/benchmarks.md,
// issue 18 goal 5). A subscriber's step builds its frames as before, but
// they go into its slot here (rawOut.queue) instead of to the socket, and
// the subscriber stays locked (s.mu) until the batch is sent and its
// outcome settled exactly as after a non-blocking write: a short send
// keeps the rest and hands the subscriber to a goroutine of its own, an
// error ends it. Anything else written to the socket meanwhile (a
// WebSocket reader's pong or close answer, through rawOut.control) goes
// into the slot too, behind what is there, and from the moment the slot
// is taken for sending until the outcome is applied, the subscriber's
// write lock (wmu) is held: no byte can overtake another, and no frame
// can follow a close frame. The sends are queued from inside each
// connection's RawConn.Write, nested, so no descriptor can be closed (and
// its number reused) before its send.
type streamBatch struct {
	b    *uring.Batch
	subs []*fanSub // queued, each still locked
	bufs [][]byte  // each one's bytes, in subs' order; kept for reuse
	outs []streamOutcome
	ops  []int // the Batch's operations: which subscriber each is
	// Bound once: a method value made per send would allocate.
	queueFn func(uintptr) bool
	sentFn  func(j, n int, err error)
	next    int // the subscriber the nested queueing is at
}

// streamOutcome is what a queued subscriber's step and send came to.
type streamOutcome struct {
	done, failed bool // from its step
	n            int
	err          error
}

// streamsBatched counts the stream frames sent through a Batch (tests).
var streamsBatched atomic.Int64

// slotKeep bounds the slot buffers kept from one round to the next: at
// most uring.BatchSize of them per part (512 KiB), where frames of a few
// hundred bytes are the usual.
const slotKeep = 4 << 10

// slotFor makes s's writes go into a slot of the batch (rawOut.queue) and
// returns it, or nil when s writes at once (no non-blocking writer,
// batches off or none free). The part's round calls it with s locked,
// before stepping s; after the step, keep tells whether s is held.
func (sb *streamBatch) slotFor(s *fanSub) *[]byte {
	if s.out.nb == nil || s.out.blocking {
		return nil
	}
	if takeBatch(&sb.b, s.h.log) == nil {
		return nil
	}
	i := len(sb.subs)
	if i == len(sb.bufs) {
		sb.bufs = append(sb.bufs, nil)
	}
	sb.bufs[i] = sb.bufs[i][:0]
	s.out.wmu.Lock()
	s.out.queue = &sb.bufs[i]
	s.out.wmu.Unlock()
	return &sb.bufs[i]
}

// keep holds s, whose step is over, for the batch when something went
// into its slot; the caller then must not unlock s. Otherwise s writes at
// once again and the caller settles it.
func (sb *streamBatch) keep(s *fanSub, slot *[]byte, done, failed bool) bool {
	s.out.wmu.Lock()
	defer s.out.wmu.Unlock()
	if len(*slot) == 0 {
		s.out.queue = nil
		return false
	}
	sb.subs = append(sb.subs, s)
	sb.outs = append(sb.outs, streamOutcome{done: done, failed: failed})
	return true
}

// full reports whether the batch must be sent before the next subscriber
// is stepped.
func (sb *streamBatch) full() bool { return len(sb.subs) == uring.BatchSize }

// send sends what is queued and settles each subscriber, in order.
func (sb *streamBatch) send(f *fanout) {
	if len(sb.subs) == 0 {
		return
	}
	if sb.queueFn == nil {
		sb.queueFn, sb.sentFn = sb.queueAt, sb.sent
	}
	for _, s := range sb.subs {
		s.out.wmu.Lock() // the slot's bytes are final: until the outcome is applied
		s.out.queue = nil
	}
	sb.next = 0
	sb.queueFrom()
	sb.ops = sb.ops[:0]
	for i, s := range sb.subs {
		o, out := s.out, &sb.outs[i]
		o.countRaw(out.n)
		if out.err == syscall.EAGAIN { // no room: all of it waits
			out.err = nil
		}
		if b := sb.bufs[i]; out.err == nil && out.n < len(b) {
			o.pending = append(o.pending[:0:0], b[out.n:]...)
			o.slow = true
		}
		o.wmu.Unlock()
		left, unowned := f.settle(s, out.done, out.failed || out.err != nil)
		s.mu.Unlock()
		if left && unowned {
			s.releaseStream()
		}
	}
	clear(sb.subs)
	sb.subs = sb.subs[:0]
	sb.outs = sb.outs[:0]
	for i, b := range sb.bufs {
		if cap(b) > slotKeep { // a large frame's: not kept for the next round
			sb.bufs[i] = nil
		}
	}
}

// queueFrom queues the sends from sb.next on, each from inside its
// connection's RawConn.Write (the descriptor stays this connection's until
// the callback returns), and flushes the Batch at the innermost call.
func (sb *streamBatch) queueFrom() {
	for sb.next < len(sb.subs) {
		i := sb.next
		err := sb.subs[i].out.nb.rc.Write(sb.queueFn)
		if sb.next > i {
			return // queueAt ran: the rest were queued, and sent, inside
		}
		sb.outs[i].err = err // closed here: as a failed write
		sb.next++
	}
	// Counted before any of it can reach a client (tests read it then).
	streamsBatched.Add(int64(len(sb.ops)))
	sb.b.Flush(sb.sentFn)
}

// queueAt queues subscriber sb.next's send on fd and goes on with the next.
func (sb *streamBatch) queueAt(fd uintptr) bool {
	i := sb.next
	if sb.b.Send(int32(fd), sb.bufs[i]) {
		sb.ops = append(sb.ops, i)
	} else { // the Batch was retired: write now, as without one
		n, e := rawsock.Write(fd, sb.bufs[i])
		sb.outs[i].n = max(n, 0)
		if e != 0 && e != syscall.EINTR {
			sb.outs[i].err = e
		}
	}
	sb.next++
	sb.queueFrom()
	return true
}

// sent records the outcome of the Batch's operation j.
func (sb *streamBatch) sent(j, n int, err error) {
	out := &sb.outs[sb.ops[j]]
	out.n, out.err = n, err
}

// end sends what is queued and gives the Batch back: at the end of the
// part's round, so no Batch is held between rounds.
func (sb *streamBatch) end(f *fanout) {
	if sb.b == nil {
		return
	}
	sb.send(f)
	sb.b.Release()
	sb.b = nil
}
