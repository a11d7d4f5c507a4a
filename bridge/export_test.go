package bridge

import "time"

// SetSlowClientWait shortens the flow-control wait for tests; it returns a
// func restoring the old value.
func SetSlowClientWait(d time.Duration) func() {
	old := slowClientWait
	slowClientWait = d
	return func() { slowClientWait = old }
}
