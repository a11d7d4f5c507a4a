package bridge

// The fan-out's side of parked polls (poll_park.go): a list per topic,
// looked at as a whole at each change of the log, and for new arrivals
// alone when they park.

func (p *parkedPoll) slot() *int { return &p.idx }

// addPoll parks p in the fan-out, starting it if needed.
func (f *fanout) addPoll(p *parkedPoll) {
	f.mu.Lock()
	f.polls = listAdd(f.polls, p)
	f.newPolls = append(f.newPolls, p)
	f.startOrKick(f.pollKick) // unlocks
}

// removePoll takes p off the list (whoever answers it, or its watcher).
func (f *fanout) removePoll(p *parkedPoll) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.polls = listRemove(f.polls, p)
}

// answerPolls answers the parked polls the log moved past: all of them, or
// only the newly parked. It returns the channel closed at the log's next
// change after the look (nil when no poll is left waiting on it).
func (f *fanout) answerPolls(all bool) <-chan struct{} {
	f.mu.Lock()
	if all {
		f.pollRound = append(f.pollRound[:0], f.polls...)
	} else {
		f.pollRound = append(f.pollRound[:0], f.newPolls...)
	}
	clear(f.newPolls)
	f.newPolls = f.newPolls[:0]
	f.mu.Unlock()
	if len(f.pollRound) == 0 {
		return nil
	}
	// The wait channel is taken before the bounds: anything appended after
	// it closes it, anything before is in last.
	lg := f.pollRound[0].a.log()
	_, last := lg.Bounds()
	b := lg.Read(last, nil, 0)
	if !b.Closed {
		_, last = lg.Bounds()
	}
	for _, p := range f.pollRound {
		if (b.Closed || p.pos < last) && p.take() {
			f.removePoll(p)
			p.answer()
		}
	}
	clear(f.pollRound)
	return b.Wait
}

// answerAllPolls answers every parked poll (shutdown).
func (f *fanout) answerAllPolls() {
	f.mu.Lock()
	f.pollRound = append(f.pollRound[:0], f.polls...)
	clear(f.newPolls)
	f.newPolls = f.newPolls[:0]
	f.mu.Unlock()
	for _, p := range f.pollRound {
		if p.take() {
			f.removePoll(p)
			p.answer()
		}
	}
	clear(f.pollRound)
}

// sweepPolls lets go of the parked polls whose client left (at each
// heartbeat: a parked poll has no goroutine to notice it at once).
func (f *fanout) sweepPolls() {
	f.mu.Lock()
	f.pollRound = append(f.pollRound[:0], f.polls...)
	f.mu.Unlock()
	for _, p := range f.pollRound {
		if p.sock.clientGone() && p.take() {
			f.removePoll(p)
			p.drop()
		}
	}
	clear(f.pollRound)
}
