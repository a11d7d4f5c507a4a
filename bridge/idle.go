package bridge

import (
	"sync"
	"time"
)

// idleTimer counts the clients of a session or topic and, when the last
// one leaves, runs a function after a delay unless a client came back
// meanwhile (session_ttl, idle_close). Its methods are called with the
// owner's mutex held, the one passed to arm.
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

// arm runs fire after d (without mu) unless a client joins meanwhile.
func (t *idleTimer) arm(d time.Duration, mu *sync.Mutex, fire func()) {
	t.gen++
	gen := t.gen
	t.timer = time.AfterFunc(d, func() {
		mu.Lock()
		stale := gen != t.gen || t.clients > 0
		mu.Unlock()
		if !stale {
			fire()
		}
	})
}

// stop disarms the timer for good (the owner ended).
func (t *idleTimer) stop() {
	if t.timer != nil {
		t.timer.Stop()
	}
}
