package bridge

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
