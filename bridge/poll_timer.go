package bridge

import (
	"sync"
	"time"
)

// pollTimers recycles the one timer each held poll needs for poll_timeout:
// a poll is one request per delivery, and a fresh timer is two allocations
// (the timer and its channel). Since Go 1.23 a stopped timer's channel
// holds no stale tick, so a timer is reusable after Stop.
var pollTimers sync.Pool

// getPollTimer returns a running timer that fires after d.
func getPollTimer(d time.Duration) *time.Timer {
	if t, ok := pollTimers.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

// putPollTimer stops t and keeps it for the next poll.
func putPollTimer(t *time.Timer) {
	t.Stop()
	pollTimers.Put(t)
}
