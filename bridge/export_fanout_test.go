package bridge

// SetHijackStreams turns the hijacked fan-out for SSE/stream subscribers on
// or off; it returns a func restoring the old value.
func SetHijackStreams(on bool) func() {
	old := hijackStreams
	hijackStreams = on
	return func() { hijackStreams = old }
}

// SetShardMin sets the fewest members per part of a sharded fan-out
// round; it returns a func restoring the old value.
func SetShardMin(n int) func() {
	old := shardMin
	shardMin = n
	return func() { shardMin = old }
}
