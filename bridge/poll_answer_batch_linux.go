package bridge

import (
	"sync"
	"sync/atomic"
	"syscall"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/internal/uring"
)

// answerBatch sends the answers a fan-out part gives parked polls in one
// round with one system call per uring.BatchSize polls, where each poll
// took one send(2) of its own: at a message to 10,000 long-pollers that was
// 10,000 entries into the kernel, at about 1.2 µs each on the machines we
// measure on (issue 18, goal 3). Sends never wait (a socket that takes
// less goes on as after a short write: parkedPoll.sent); without io_uring,
// or with every Batch taken, a poll is answered at once as before.
type answerBatch struct {
	s      *uring.Batch
	polls  []*parkedPoll // queued, in the Batch's order
	doneFn func(i, n int, err error)
}

// batchIO switches the batches of poll answers, of next reads
// (poll_next_batch_linux.go) and of stream frames (stream_batch_linux.go;
// tests compare both ways); answersBatched
// counts the answers sent through a Batch (tests).
var (
	batchIO        atomic.Bool
	answersBatched atomic.Int64
)

func init() { batchIO.Store(true) }

// takeBatch returns the Batch *b holds, taking one from the pool when it
// holds none; nil when batches are off or none is free (the caller then
// does its one operation alone). The first call logs which way it is.
func takeBatch(b **uring.Batch, log *zap.Logger) *uring.Batch {
	if *b == nil && batchIO.Load() {
		*b = uring.GetBatch()
		batchesLogged.Do(func() {
			if err := uring.BatchesUnusable(); err != nil {
				log.Info("fan-out writes and long-poll reads take a system call each", zap.String("io_uring", err.Error()))
			} else {
				log.Info("fan-out writes and long-poll reads go in io_uring batches")
			}
		})
	}
	return *b
}

var batchesLogged sync.Once

// add answers p in the batch (the caller took p and took it off the list).
func (b *answerBatch) add(p *parkedPoll) {
	if b.s == nil {
		if takeBatch(&b.s, p.h.log) == nil {
			p.answer()
			return
		}
		b.doneFn = b.done
	}
	p.prepare()
	// The descriptor stays this socket's: whoever took the poll (here)
	// is the only one to close its connection.
	if b.s.Full() {
		b.send()
	}
	if !b.s.Send(int32(p.sock.fd), *p.out) { // the Batch was retired
		p.sendNow()
		return
	}
	b.polls = append(b.polls, p)
}

// send sends what is queued and goes on with each poll.
func (b *answerBatch) send() {
	answersBatched.Add(int64(len(b.polls)))
	b.s.Flush(b.doneFn)
	clear(b.polls)
	b.polls = b.polls[:0]
}

func (b *answerBatch) done(i, n int, err error) {
	if err == syscall.EAGAIN { // no room: the rest goes on as after a short write
		err = nil
	}
	b.polls[i].sent(n, err)
}

// end sends what is queued and gives the Batch back: at the end of the
// part's round, so no Batch is held between rounds.
func (b *answerBatch) end() {
	if b.s == nil {
		return
	}
	b.send()
	b.s.Release()
	b.s = nil
}
