package demo

import (
	"sync"
	"time"
)

// clock is the demo's heartbeat: tick N drives the WebSocket ticker, the SSE
// feed's event N and version N of the JSON document.
type clock struct {
	interval time.Duration

	mu      sync.Mutex
	n       int
	at      time.Time
	history []tickAt      // recent ticks, oldest first, for SSE resume
	changed chan struct{} // closed and replaced at every tick
}

type tickAt struct {
	n  int
	at time.Time
}

// historySize bounds the ticks kept for SSE resume (5 minutes at 1/s).
const historySize = 300

func newClock(interval time.Duration) *clock {
	c := &clock{interval: interval, changed: make(chan struct{})}
	c.advance(time.Now())
	return c
}

func (c *clock) run(done <-chan struct{}, onTick func(n int, at time.Time)) {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			n := c.advance(now)
			onTick(n, now)
		}
	}
}

func (c *clock) advance(now time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	c.at = now
	c.history = append(c.history, tickAt{c.n, now})
	if len(c.history) > historySize {
		c.history = append(c.history[:0], c.history[len(c.history)-historySize:]...)
	}
	close(c.changed)
	c.changed = make(chan struct{})
	return c.n
}

// current is the latest tick and a channel closed at the next one.
func (c *clock) current() (tickAt, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return tickAt{c.n, c.at}, c.changed
}

// since returns the kept ticks after n, oldest first, and a channel closed at
// the next tick.
func (c *clock) since(n int) ([]tickAt, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []tickAt
	for _, t := range c.history {
		if t.n > n {
			out = append(out, t)
		}
	}
	return out, c.changed
}
