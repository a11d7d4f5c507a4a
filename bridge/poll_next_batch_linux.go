package bridge

import (
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bridgeway/bridgeway/internal/uring"
)

// nextReads reads the next requests of the connections one wait of
// nextSockets found readable with one system call per uring.BatchSize
// (internal/uring), where each took a recv(2) of its own: with 10,000
// long-pollers each message brings 10,000 next polls (issue 18, goal 3).
// Reads never wait (nothing there after all is a retry, as for take).
// Owned by nextSockets' goroutine: EdgeReady queues, AfterBatch reads.
var nextReads readBatch

// nextReadGather is how long nextSockets' goroutine lets next requests
// gather after a batch: under load a batch then holds dozens instead of a
// few, and each io_uring_enter carries as many reads (a next poll waits
// that much longer at most).
const nextReadGather = 200 * time.Microsecond

func init() {
	nextReads.doneFn = nextReads.done
	nextSockets.AfterBatch = nextReads.flush
	nextSockets.Gather = nextReadGather
}

type readBatch struct {
	b      *uring.Batch
	conns  []*nextConn
	bufs   []*[]byte
	start  time.Time // when the batch's first connection was told
	doneFn func(i, n int, err error)
}

// nextReadsBatched counts the next requests read in batches (tests).
var nextReadsBatched atomic.Int64

// add reads nc's next request with the batch (the caller made nc busy).
func (rb *readBatch) add(nc *nextConn) {
	if rb.b == nil {
		if takeBatch(&rb.b, nc.h.log) == nil {
			nc.take()
			return
		}
		rb.start = time.Now()
	}
	if rb.b.Full() {
		rb.read()
	}
	buf := nextReadBuffers.Get().(*[]byte)
	if !rb.b.Recv(int32(nc.sock.fd), *buf) { // the Batch was retired
		nextReadBuffers.Put(buf)
		nc.take()
		return
	}
	rb.conns = append(rb.conns, nc)
	rb.bufs = append(rb.bufs, buf)
}

// read makes the queued reads and goes on with each connection.
func (rb *readBatch) read() {
	nextReadsBatched.Add(int64(len(rb.conns)))
	rb.b.Flush(rb.doneFn)
	clear(rb.conns)
	clear(rb.bufs)
	rb.conns, rb.bufs = rb.conns[:0], rb.bufs[:0]
}

func (rb *readBatch) done(i, n int, err error) {
	retry := err == syscall.EAGAIN || err == syscall.EINTR
	rb.conns[i].took(rb.bufs[i], n, retry, err != nil && !retry, rb.start)
}

// flush reads what the batch holds and gives the Batch back: after each
// wait of nextSockets, so no Batch is held while it sleeps.
func (rb *readBatch) flush() {
	if rb.b == nil {
		return
	}
	rb.read()
	rb.b.Release()
	rb.b = nil
}
