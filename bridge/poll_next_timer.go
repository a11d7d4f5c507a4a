package bridge

import (
	"sync/atomic"
	"time"
)

// pollTimer answers the polls that repark parks on one connection at
// poll_timeout: one timer for the connection's life instead of one per
// poll (a timer per poll was a tenth of the bytes allocated per cycle).
// It is not stopped when a poll is answered: armed, it fires at most once
// per poll_timeout and then waits for the current poll's deadline, or
// disarms when there is none; a poll's timeout answers only a poll still
// parked (take).
type pollTimer struct {
	cur      atomic.Pointer[parkedPoll] // the poll parked last
	deadline atomic.Int64               // its poll_timeout (UnixNano)
	timer    *time.Timer
	armed    atomic.Bool
}

// timePoll times p, parked on nc's connection, out after wait. The
// connection's owner calls it.
func (nc *nextConn) timePoll(p *parkedPoll, wait time.Duration) {
	t := &nc.polls
	t.deadline.Store(time.Now().Add(wait).UnixNano())
	t.cur.Store(p)
	if t.timer == nil {
		t.armed.Store(true)
		t.timer = time.AfterFunc(wait, t.fire)
		return
	}
	if t.armed.CompareAndSwap(false, true) {
		t.timer.Reset(wait)
	}
}

// fire runs on the timer's goroutine.
func (t *pollTimer) fire() {
	p := t.cur.Load()
	left := t.deadline.Load() - time.Now().UnixNano()
	switch {
	case p == nil:
	case left > 0:
		t.timer.Reset(time.Duration(left))
		return
	default:
		p.timeout() // nothing when the poll was answered meanwhile (take)
	}
	t.armed.Store(false)
	// A poll parked meanwhile may have seen armed still set.
	if q := t.cur.Load(); q != p && q != nil && t.armed.CompareAndSwap(false, true) {
		t.timer.Reset(time.Duration(max(t.deadline.Load()-time.Now().UnixNano(), 0)))
	}
}

// stop ends the timer when the connection leaves.
func (t *pollTimer) stop() {
	t.cur.Store(nil)
	if t.timer != nil {
		t.timer.Stop()
	}
}

// stopTimer stops p's own timer; a re-parked poll has none (pollTimer).
func (p *parkedPoll) stopTimer() {
	if p.timer != nil {
		p.timer.Stop()
	}
}
