package bridge

// SetParkPolls turns parking of held broadcast long-polls on or off; it
// returns a func restoring the old value.
func SetParkPolls(on bool) func() {
	old := parkPolls.Swap(on)
	return func() { parkPolls.Store(old) }
}
