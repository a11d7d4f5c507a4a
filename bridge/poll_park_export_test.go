package bridge

// SetParkPolls turns parking of held broadcast long-polls on or off; it
// returns a func restoring the old value.
func SetParkPolls(on bool) func() {
	old := parkPolls.Swap(on)
	return func() { parkPolls.Store(old) }
}

// SetReadNextPolls turns reading a parked poll's next request in the
// bridge (poll_next.go) on or off; it returns a func restoring the old value.
func SetReadNextPolls(on bool) func() {
	old := readNextPolls.Swap(on)
	return func() { readNextPolls.Store(old) }
}

// SetMatchRawPolls turns matching next polls by their bytes
// (poll_next_raw.go) on or off; it returns a func restoring the old value.
func SetMatchRawPolls(on bool) func() {
	old := matchRawPolls.Swap(on)
	return func() { matchRawPolls.Store(old) }
}

// NextPollsParked counts the polls read by the bridge on an answered
// poll's connection (poll_next.go) that parked, since the process started.
func NextPollsParked() int64 { return nextPollsParked.Load() }

// ParkedPolls counts the polls parked in h's fan-outs.
func ParkedPolls(h *RouteHandler) int {
	n := 0
	for _, t := range topicsOf(h) {
		t.mu.Lock()
		f := t.fan
		t.mu.Unlock()
		if f != nil {
			f.mu.Lock()
			for _, m := range f.members {
				if _, ok := m.(*parkedPoll); ok {
					n++
				}
			}
			f.mu.Unlock()
		}
	}
	return n
}

// TopicSubscribers counts the subscribers attached to h's topics.
func TopicSubscribers(h *RouteHandler) int {
	n := 0
	for _, t := range topicsOf(h) {
		t.mu.Lock()
		n += t.idle.clients
		t.mu.Unlock()
	}
	return n
}

func topicsOf(h *RouteHandler) []*topic {
	h.mu.Lock()
	defer h.mu.Unlock()
	ts := make([]*topic, 0, len(h.topics))
	for _, t := range h.topics {
		ts = append(ts, t)
	}
	return ts
}

// NextPollsRaw counts the next polls matched by their bytes and parked
// again without the route's handler (poll_next_raw.go), since the process
// started.
func NextPollsRaw() int64 { return nextPollsRaw.Load() }
