package bridge

import (
	"sync"
	"time"
)

// SetSlowClientWait shortens the flow-control wait for tests; it returns a
// func restoring the old value.
func SetSlowClientWait(d time.Duration) func() {
	old := slowClientWait
	slowClientWait = d
	return func() { slowClientWait = old }
}

// HoldTopicWaiters makes each subscriber that waited for its topic's dial
// go on only once the topic's log holds n entries (or 30 s passed): an
// upstream that speaks at once then always beats the subscriber to the log.
func HoldTopicWaiters(n int) (restore func()) {
	old := afterTopicReady
	afterTopicReady = func(t *topic) {
		if t.err != nil {
			return
		}
		giveUp := time.After(30 * time.Second)
		for _, last := t.log.Bounds(); last < t.readyAt.end+uint64(n); _, last = t.log.Bounds() {
			b := t.log.Read(last, nil, 1)
			if b.Closed {
				return
			}
			if b.Wait == nil {
				continue // an entry came in since Bounds
			}
			select {
			case <-b.Wait:
			case <-giveUp:
				return
			}
		}
	}
	return func() { afterTopicReady = old }
}

// OnHeartbeatRead runs f once, right after the next client WebSocket read
// its heartbeat; it returns a func removing the hook.
func OnHeartbeatRead(f func()) (restore func()) {
	var once sync.Once
	hook := func() { once.Do(f) }
	testHookBeatRead.Store(&hook)
	return func() { testHookBeatRead.Store(nil) }
}
