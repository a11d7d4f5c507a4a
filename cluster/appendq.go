package cluster

import (
	"context"
	"fmt"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
)

const (
	// appendQueueMax bounds the entries of one log waiting for Redis: a
	// faster upstream is held back (Append blocks) instead of buffering
	// without end.
	appendQueueMax = 1024
	// appendBatchMax is the most entries one script call stores.
	appendBatchMax = 64
)

// pendingAppend is one entry waiting to be stored.
type pendingAppend struct {
	fields     []any
	upstreamID string
	mk         func(seq uint64) *msglog.Entry // nil: a close marker
	done       chan error                     // nil: nobody waits
}

// enqueue queues p behind earlier entries and starts a flusher if none
// runs. With a ctx it waits for p's outcome.
func (l *StreamLog) enqueue(ctx context.Context, p *pendingAppend) error {
	if ctx != nil {
		p.done = make(chan error, 1)
	}
	l.qmu.Lock()
	for len(l.queue) >= appendQueueMax {
		l.qspace.Wait() // the flusher always progresses: each round trip is bounded
	}
	if l.isClosed() {
		l.qmu.Unlock()
		return ErrLogClosed
	}
	l.queue = append(l.queue, p)
	if !l.flushing {
		// Counted in the client's WaitGroup unless the client is closing.
		c := l.c
		c.mu.Lock()
		closing := c.closed
		if !closing {
			c.wg.Add(1)
		}
		c.mu.Unlock()
		if closing {
			l.queue = l.queue[:len(l.queue)-1]
			l.qmu.Unlock()
			return ErrClosed
		}
		l.flushing = true
		go l.flush()
	}
	l.qmu.Unlock()
	if p.done == nil {
		return nil
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err() // it may still be stored
	}
}

// Flush waits until every queued entry is stored (or failed): before a
// graceful handover, or to read Redis right after appending.
func (l *StreamLog) Flush() {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	for len(l.queue) > 0 || l.flushing {
		l.qspace.Wait() // bounded: each round trip has a timeout
	}
}

// flush stores queued entries, a batch per round trip, until the queue is
// empty.
func (l *StreamLog) flush() {
	defer l.c.wg.Done()
	for {
		l.qmu.Lock()
		if len(l.queue) == 0 {
			l.flushing = false
			l.qspace.Broadcast()
			l.qmu.Unlock()
			return
		}
		n := min(len(l.queue), appendBatchMax)
		for i, p := range l.queue[:n] {
			if p.mk == nil { // a close marker ends its batch
				n = i + 1
				break
			}
		}
		batch := append([]*pendingAppend(nil), l.queue[:n]...)
		clear(l.queue[:n])
		l.queue = l.queue[n:]
		l.qspace.Broadcast()
		l.qmu.Unlock()

		errs := l.store(batch)
		for i, p := range batch {
			if p.done != nil {
				p.done <- errs[i]
			}
		}
	}
}

// store runs one append script for batch and mirrors what directly follows
// the local mirror; it returns each entry's outcome.
func (l *StreamLog) store(batch []*pendingAppend) []error {
	errs := make([]error, len(batch))
	all := func(err error) []error {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	if l.isClosed() {
		return all(ErrLogClosed)
	}
	if l.c.down() {
		l.pendingGap = "cluster storage unavailable"
		return all(fmt.Errorf("cluster: append: %w", ErrUnavailable))
	}
	hint := l.position()
	args := make([]any, 0, 6+len(batch)*10)
	args = append(args, l.epoch, l.ttl.Milliseconds(), l.capacity, hint, l.pendingGap, len(batch))
	for _, p := range batch {
		args = append(args, p.upstreamID, len(p.fields))
		args = append(args, p.fields...)
	}
	octx, cancel := l.c.opContext(nil)
	defer cancel()
	ids, err := appendScript.Run(octx, l.c.rdb, []string{l.keys.meta, l.keys.log}, args...).StringSlice()
	switch {
	case err == nil:
	case scriptAnswer(err, answerEpoch):
		l.closeLocal(msg.CloseInfo{Code: CloseStateLost, Reason: "cluster state lost"})
		return all(ErrLogClosed)
	default:
		if l.pendingGap == "" {
			l.pendingGap = "cluster storage unavailable"
		}
		return all(fmt.Errorf("cluster: append: %w", l.c.fail(err)))
	}
	l.c.up()
	l.pendingGap = ""
	l.mu.Lock()
	changed := false
	for i, id := range ids {
		if i >= len(batch) {
			break
		}
		if id == "CLOSED" {
			errs[i] = ErrLogClosed // the marker reaches the mirror through the tailer
			continue
		}
		seq, _ := parseSeq(id)
		l.lastSeq = max(l.lastSeq, seq)
		p := batch[i]
		if p.upstreamID != "" {
			l.upstreamID = p.upstreamID
		}
		// Show it to local readers now when it directly follows the
		// mirror (a gap stored before it takes that place); otherwise the
		// tailer brings it. Close markers always come through the tailer.
		if p.mk != nil && seq == l.next && !l.closed {
			l.pushLocked(p.mk(seq))
			changed = true
		}
	}
	if changed {
		l.notifyLocked()
	}
	l.mu.Unlock()
	return errs
}
