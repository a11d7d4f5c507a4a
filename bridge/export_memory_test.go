package bridge

import "time"

// SetBurstMin sets how many joins make a burst whose garbage is returned to
// the system; it returns a func restoring the old value.
func SetBurstMin(n int64) func() {
	old := burstMin.Swap(n)
	return func() { burstMin.Store(old) }
}

// BurstsEnded is how many bursts of joins are over and decided (their
// garbage returned or not): a test's barrier before it looks.
func BurstsEnded() int64 { return joins.ended.Load() }

// BurstIdle reports that no burst is being counted (no look scheduled).
func BurstIdle() bool { return !joins.armed.Load() }

// SetBurstQuiet sets the quiet spell that ends a burst; it returns a func
// restoring the old value.
func SetBurstQuiet(d time.Duration) func() {
	old := burstQuiet.Swap(int64(d))
	return func() { burstQuiet.Store(old) }
}
