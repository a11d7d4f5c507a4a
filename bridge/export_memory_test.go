package bridge

// SetBurstMin sets how many joins make a burst whose garbage is returned to
// the system; it returns a func restoring the old value.
func SetBurstMin(n int64) func() {
	old := burstMin.Swap(n)
	return func() { burstMin.Store(old) }
}
