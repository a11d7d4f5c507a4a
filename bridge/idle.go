package bridge

import (
	"sync"
	"time"
)

// idleTimer counts the clients of a session or topic and, when the last
// one leaves, lets the owner end it after a delay unless a client came
// back meanwhile (session_ttl, idle_close). Its methods but still are
// called with the owner's mutex held.
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

// next starts an idle period and returns its number. The owner sets
// timer to a func that asks still(gen) before it ends anything (the owner
// makes that one closure: it is made at every last leave, once per poll).
func (t *idleTimer) next() int {
	t.gen++
	return t.gen
}

// still reports, from the timer's goroutine, whether idle period gen is
// still on: no client came back since.
func (t *idleTimer) still(mu *sync.Mutex, gen int) bool {
	mu.Lock()
	defer mu.Unlock()
	return gen == t.gen && t.clients <= 0
}

// stop disarms the timer for good (the owner ended).
func (t *idleTimer) stop() {
	if t.timer != nil {
		t.timer.Stop()
	}
}
