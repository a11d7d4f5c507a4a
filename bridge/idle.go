package bridge

import (
	"sync"
	"time"
)

// idleTimer counts the clients of a session or topic and, when the last
// one leaves, lets the owner end it after a delay unless a client came
// back meanwhile (session_ttl, idle_close). Its methods are called with
// the owner's mutex held.
type idleTimer struct {
	clients int
	gen     int // invalidates an armed timer
	timer   *time.Timer
}

// join counts a client in and disarms the timer.
func (t *idleTimer) join() {
	t.clients++
	t.gen++
	t.stop()
	t.timer = nil
}

// leave counts a client out and reports whether none is left.
func (t *idleTimer) leave() bool {
	t.clients--
	return t.clients <= 0
}

// arm starts an idle period (mu held): after d, end runs unless a client
// joined meanwhile. The timer's goroutine takes mu to look, and releases it
// before end, which takes mu itself.
func (t *idleTimer) arm(mu *sync.Mutex, d time.Duration, end func()) {
	t.gen++
	gen := t.gen
	t.timer = time.AfterFunc(d, func() {
		mu.Lock()
		still := gen == t.gen && t.clients <= 0
		mu.Unlock()
		if still {
			end()
		}
	})
}

// stop disarms the timer for good (the owner ended).
func (t *idleTimer) stop() {
	if t.timer != nil {
		t.timer.Stop()
	}
}
