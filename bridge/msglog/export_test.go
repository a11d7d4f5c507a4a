package msglog

// AppendWaiting reports whether an Append is parked in flow control,
// waiting for an Ack to make space (a test's barrier).
func AppendWaiting(l *Log) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.space != nil
}
