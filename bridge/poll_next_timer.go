package bridge

import (
	"sync/atomic"
	"time"
)

// pollTimer answers the polls that repark parks on one connection at
// poll_timeout, with the connection's one lazy timer (a timer per poll was
// a tenth of the bytes allocated per cycle): it is not stopped when a poll
// is answered, and a poll's timeout answers only a poll still parked
// (take).
type pollTimer struct {
	lazyTimer
	cur atomic.Pointer[parkedPoll] // the poll parked last
}

// timePoll times p, parked on nc's connection, out at the deadline. The
// connection's owner calls it.
func (nc *nextConn) timePoll(p *parkedPoll, deadline time.Time) {
	t := &nc.polls
	if !t.set(deadline) {
		t.start(deadline, t.fire)
	}
	t.cur.Store(p)
	t.arm()
}

// fire runs on the timer's goroutine.
func (t *pollTimer) fire() {
	p := t.cur.Load()
	if p != nil {
		if t.later() {
			return
		}
		p.timeout() // nothing when the poll was answered meanwhile (take)
	}
	t.disarm(func() bool { q := t.cur.Load(); return q != p && q != nil })
}

// stop ends the timer when the connection leaves.
func (t *pollTimer) stop() {
	t.cur.Store(nil)
	t.lazyTimer.stop()
}

// stopTimer stops p's own timer; a re-parked poll has none (pollTimer).
func (p *parkedPoll) stopTimer() {
	if p.timer != nil {
		p.timer.Stop()
	}
}
