package bridge

import (
	"sync/atomic"
	"time"
)

// lazyTimer times a deadline that moves with every cycle of a kept
// connection (the header timeout while it waits for its next poll, the
// poll_timeout of a poll parked on it) with one timer for the connection's
// life: it is never stopped or reset per cycle (a timer per cycle cost more
// than the rest of a wait). Armed, it fires at an earlier deadline at most
// once per wait and then sleeps until the current one (later); finding
// nothing to wait for, it disarms, and the next wait arms it again.
type lazyTimer struct {
	deadline atomic.Int64 // UnixNano; 0: none
	timer    *time.Timer
	armed    atomic.Bool
}

// set moves the deadline to at; false when there is no timer yet, and
// the caller makes it (start). The connection's owner calls it, then arm
// once the wait has begun.
func (t *lazyTimer) set(at time.Time) bool {
	t.deadline.Store(at.UnixNano())
	return t.timer != nil
}

// start makes the timer, armed for at, running fire at each firing (a
// method value made per set would be an allocation per cycle).
func (t *lazyTimer) start(at time.Time, fire func()) {
	t.armed.Store(true)
	t.timer = time.AfterFunc(time.Until(at), fire)
}

// clear leaves no deadline: a firing finds nothing to do.
func (t *lazyTimer) clear() { t.deadline.Store(0) }

// arm sets a disarmed timer for the deadline (none: nothing).
func (t *lazyTimer) arm() {
	if dl := t.deadline.Load(); dl != 0 && t.armed.CompareAndSwap(false, true) {
		t.timer.Reset(time.Duration(max(dl-time.Now().UnixNano(), 0)))
	}
}

// later, on the timer's goroutine, reports a deadline still ahead and sets
// the timer for it: the firing has nothing to do yet.
func (t *lazyTimer) later() bool {
	dl := t.deadline.Load()
	if left := dl - time.Now().UnixNano(); dl != 0 && left > 0 {
		t.timer.Reset(time.Duration(left))
		return true
	}
	return false
}

// disarm ends a firing that leaves nothing to wait for. A wait begun
// meanwhile may have seen the timer still armed and not armed it: waiting
// tells, and the timer is armed for it.
func (t *lazyTimer) disarm(waiting func() bool) {
	t.armed.Store(false)
	if waiting() {
		t.arm()
	}
}

// stop ends the timer when the connection leaves.
func (t *lazyTimer) stop() {
	if t.timer != nil {
		t.timer.Stop()
	}
}
