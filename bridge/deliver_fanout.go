package bridge

import (
	"context"
	"sync"
	"time"
)

// fanout serves a topic's hijacked SSE and stream subscribers from one
// goroutine: at each change of the log it runs every subscriber's
// pumpStep, writing all pending entries (cached encodings) in one
// non-blocking write per connection; one ticker sends everyone's
// heartbeats. Idle subscribers cost no goroutine of their own beyond the
// one parked reading their socket (fanSub.watch), which notices a client
// leaving at once, as net/http did. A subscriber whose socket does not take
// a write at once leaves for a goroutine of its own (handOff) that writes
// with writeWait and applies slow_client like any other pump, so it never
// delays the others.
type fanout struct {
	kick     chan struct{} // a subscriber was added
	pollKick chan struct{} // a poll was parked (poll_park_fan.go)

	mu      sync.Mutex
	subs    []*fanSub
	running bool
	// polls are the topic's parked long-polls; newPolls those parked since
	// the fan-out last looked.
	polls, newPolls []*parkedPoll

	// Owned by the running goroutine.
	round     []*fanSub
	pollRound []*parkedPoll
	scratch   []byte
	step      stepRound // its policy is the route's (heartbeat, slow_client, shutdown, runs)
}

// fanout returns the topic's fan-out, made on first use.
func (t *topic) fanout() *fanout {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fan == nil {
		t.fan = &fanout{kick: make(chan struct{}, 1), pollKick: make(chan struct{}, 1)}
		t.fan.step.policy = t.h.policy()
	}
	return t.fan
}

// fanSub is one hijacked subscriber.
type fanSub struct {
	h   *RouteHandler
	a   *attachment
	out *rawOut
	w   streamWriter

	// idx is the position in fan.subs, -1 when not there (fan.mu).
	idx int
	fan *fanout // set before watch starts

	mu       sync.Mutex
	gone     bool // the client left: nobody writes any more
	finished bool // the fan-out ended the response and closed the conn
	handed   bool // a goroutine of its own serves it (handOff)
	cancel   context.CancelFunc
	pumpDone chan struct{}
	// done ends the request at the host (outliveHandler); nil when the
	// caller ends it itself.
	done func()
}

func (f *fanout) add(s *fanSub) {
	f.mu.Lock()
	f.subs = listAdd(f.subs, s)
	f.startOrKick(f.kick) // unlocks
}

func (f *fanout) remove(s *fanSub) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs = listRemove(f.subs, s)
}

// startOrKick starts the fan-out's goroutine, or wakes it with kick when it
// runs. Called with f.mu held, which it releases.
func (f *fanout) startOrKick(kick chan struct{}) {
	start := !f.running
	f.running = true
	f.mu.Unlock()
	if start {
		f.step.policy.runs.Add(1)
		go f.run()
		return
	}
	select {
	case kick <- struct{}{}:
	default:
	}
}

// listed is an element of a fan-out list that keeps its own position
// (-1 when not in the list), so leaving the list is O(1).
type listed interface{ slot() *int }

func (s *fanSub) slot() *int { return &s.idx }

// listAdd appends x and records its position (f.mu held).
func listAdd[T listed](l []T, x T) []T {
	*x.slot() = len(l)
	return append(l, x)
}

// listRemove takes x out by moving the last element into its place; a no-op
// when x is not in the list (f.mu held).
func listRemove[T listed](l []T, x T) []T {
	i := *x.slot()
	if i < 0 {
		return l
	}
	last := len(l) - 1
	l[i] = l[last]
	*l[i].slot() = i
	var none T
	l[last] = none
	*x.slot() = -1
	return l[:last]
}

func (f *fanout) run() {
	pol := &f.step.policy
	defer pol.runs.Done()
	heartbeat := time.NewTicker(pol.heartbeat())
	defer heartbeat.Stop()
	for {
		f.mu.Lock()
		if len(f.subs) == 0 && len(f.polls) == 0 {
			f.running = false
			f.mu.Unlock()
			return
		}
		f.round = append(f.round[:0], f.subs...)
		f.mu.Unlock()
		wait, again := f.deliver()
		clear(f.round)
		pollWait := f.answerPolls(true)
		// Checked before looping on: an upstream that floods keeps the log
		// moving, and shutdown must still end every subscriber.
		select {
		case <-pol.shutdown:
			f.goAway()
			continue
		default:
		}
		if again {
			continue
		}
		f.idle(wait, pollWait, heartbeat.C)
	}
}

// idle waits for the next thing to do: a change of the log, a new
// subscriber, a heartbeat or shutdown. Newly parked polls are looked at
// here without a round of every subscriber.
func (f *fanout) idle(wait, pollWait <-chan struct{}, heartbeat <-chan time.Time) {
	for {
		select {
		case <-f.pollKick:
			if w := f.answerPolls(false); pollWait == nil {
				pollWait = w
			}
			continue
		case <-wait:
		case <-pollWait:
		case <-f.kick:
		case <-heartbeat:
			f.each(func(s *fanSub) error {
				if err := s.w.heartbeat(); err != nil {
					return err
				}
				return s.w.flush()
			}, false)
			f.sweepPolls()
		case <-f.step.policy.shutdown:
			f.goAway()
		}
		return
	}
}

// goAway tells every subscriber the gateway is going away and ends them,
// and answers every parked poll.
func (f *fanout) goAway() {
	f.answerAllPolls()
	f.each(func(s *fanSub) error {
		_ = s.w.goingAway()
		return s.w.flush()
	}, true)
}

// deliver runs every subscriber's step. again is set when the log moved
// on during the round (subscribers wait on different changes).
func (f *fanout) deliver() (wait <-chan struct{}, again bool) {
	f.step.wait = nil
	if len(f.round) > 0 {
		// Taken before any subscriber reads: closed by any later change.
		lg := f.round[0].a.log()
		_, last := lg.Bounds()
		f.step.wait = lg.Read(last, nil, 0).Wait
	}
	defer f.step.tally.flush()
	for _, s := range f.round {
		s.mu.Lock()
		if s.gone || s.finished || s.handed {
			s.mu.Unlock()
			continue
		}
		s.out.buf = f.scratch[:0]
		w, done, err := pumpStep(context.Background(), s.a, s.w, &f.step)
		f.scratch, s.out.buf = s.out.buf[:0], nil
		if !f.settle(s, done, err != nil) {
			if wait != nil && w != wait {
				// The log changed during the round: go again if the
				// change others wait for already happened.
				select {
				case <-wait:
					again = true
				default:
				}
			}
			wait = w
		}
		s.mu.Unlock()
	}
	return wait, again
}

// each writes something to every subscriber; end finishes them all.
func (f *fanout) each(write func(*fanSub) error, end bool) {
	f.mu.Lock()
	f.round = append(f.round[:0], f.subs...)
	f.mu.Unlock()
	for _, s := range f.round {
		s.mu.Lock()
		if !s.gone && !s.finished && !s.handed {
			s.out.buf = f.scratch[:0]
			err := write(s)
			f.scratch, s.out.buf = s.out.buf[:0], nil
			f.settle(s, end, err != nil)
		}
		s.mu.Unlock()
	}
	clear(f.round)
}

// settle acts on a step's outcome (s.mu held): a subscriber whose socket
// is full goes to its own goroutine (to finish the response when done),
// a finished or failed one is ended. It reports whether s left the
// fan-out.
func (f *fanout) settle(s *fanSub, done, failed bool) bool {
	switch {
	case s.out.slow:
		f.remove(s)
		s.handOff(done)
	case done || failed:
		f.remove(s)
		s.out.finish()
		s.finished = true
	default:
		return false
	}
	return true
}

// handOff gives s a goroutine of its own with blocking writes: first what
// the socket did not take, then (unless the response is over) the usual
// pump. Called with s.mu held and s not gone.
func (s *fanSub) handOff(over bool) {
	ctx, cancel := context.WithCancel(context.Background())
	s.handed = true
	s.cancel = cancel
	s.pumpDone = make(chan struct{})
	s.out.blocking = true
	pol := s.h.policy()
	pol.runs.Add(1)
	go func() {
		defer pol.runs.Done()
		defer close(s.pumpDone)
		defer cancel()
		if s.out.flush() == nil && !over {
			pumpLoop(ctx, pol, s.a, s.w)
		}
		s.out.finish()
	}()
}

// watch owns the subscriber's lifetime: it parks reading the socket (a
// client sends nothing more after its request) and, once the client left
// or the response ended (the conn was closed), releases everything.
func (s *fanSub) watch() {
	defer s.h.runs.Done()
	defer s.h.exit()
	var b [16]byte
	for {
		if _, err := s.out.conn.Read(b[:]); err != nil {
			break
		}
	}
	s.release()
}

// release ends the subscriber once its reader is done (s.mu not held). A
// WebSocket's socket is only shut for writing (serveShared lingers, then
// closes it).
func (s *fanSub) release() {
	s.mu.Lock()
	s.gone = true
	cancel, pumpDone := s.cancel, s.pumpDone
	s.mu.Unlock()
	// Either unblocks a handed-off pump's write.
	if !s.out.ws || !shutWrite(bareConn(s.out.conn)) {
		_ = s.out.conn.Close()
	}
	if cancel != nil {
		cancel()
		<-pumpDone
	}
	if s.fan != nil {
		s.fan.remove(s)
	}
	s.a.done()
	if s.done != nil {
		s.done()
	}
}
