package bridge

import (
	"context"
	"sync"

	"github.com/bridgeway/bridgeway/bridge/msglog"
)

// fanout serves a topic's hijacked subscribers from one goroutine, in one
// list: streams and WebSockets (fanSub), which stay, and parked polls
// (parkedPoll, poll_park.go), which are answered once and leave, as in
// nchan. At each change of the log it steps every member: a stream's
// pumpStep writes all pending entries (cached encodings) in one
// non-blocking write per connection; a poll the log moved past is
// answered. One ticker sends everyone's heartbeats (a parked poll's is a
// peek: did its client leave?). Idle streams cost no goroutine of their
// own: a stream's client sends nothing after its request, so the heartbeat
// peeks at its socket like a parked poll's (EOF, an error or any byte ends
// it: bytes after the request are a protocol error for a stream), and a
// failed write ends it too; the fan-out then releases it. A stream whose
// socket does not take a write at once leaves for a goroutine of its own
// (handOff) that writes with writeWait and applies slow_client like any
// other pump, so it never delays the others; a reader (watch) then
// notices its client leaving. An idle WebSocket has no goroutine either:
// its socket waits in one epoll set, pongs and pings are read from there,
// and anything else starts its reader (serveShared, fanout_ws.go).
type fanout struct {
	kick chan struct{} // a member was added

	mu      sync.Mutex
	members []fanMember
	running bool
	// fresh are the polls parked since the fan-out last looked: looked at
	// alone, without a round of everyone (a poll parks once per message).
	// roundDue: a stream joined, the next round is due at once.
	fresh    []fanMember
	roundDue bool

	// Owned by the running goroutine.
	round []fanMember
	fanShard
	// shards step parts of a large round on goroutines of their own
	// (deliver_shard.go).
	shards []fanShard
	// last and closed are the log's state at the round's start (taken
	// after step.wait): a parked poll before last, or any once closed, is
	// answered.
	last   uint64
	closed bool
}

// fanMember is one entry of the fan-out's list.
type fanMember interface {
	listed
	log() msglog.Store
	// step delivers what the log has for the member in this round; it
	// returns the channel closed at the change it waits for next, or
	// waiting false when it left (or was not the fan-out's to step).
	step(f *fanout, sh *fanShard) (wait <-chan struct{}, waiting bool)
	// beat is the heartbeat: a ping or comment, or for a poll a check
	// that its client is still there.
	beat(f *fanout)
	// goAway is shutdown: the farewell, or a poll's answer.
	goAway(f *fanout)
}

// fanout returns the topic's fan-out, made on first use.
func (t *topic) fanout() *fanout {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fan == nil {
		t.fan = &fanout{kick: make(chan struct{}, 1)}
		t.fan.step.policy = t.h.policy()
		t.fan.step.tally = &t.fan.tally
	}
	return t.fan
}

// fanSub is one hijacked subscriber.
type fanSub struct {
	h   *RouteHandler
	a   *attachment
	out *rawOut
	w   streamWriter

	// idx is the position in fan.members, -1 when not there (fan.mu).
	idx int
	fan *fanout // set before watch starts

	mu       sync.Mutex
	gone     bool // the client left: nobody writes any more
	finished bool // the fan-out ended the response and closed the conn
	handed   bool // a goroutine of its own serves it (handOff)
	// watched: a goroutine reads the stream's socket (watch) and releases
	// it; else the fan-out does (a WebSocket's reader, once started, is
	// serveShared).
	watched  bool
	cancel   context.CancelFunc
	pumpDone chan struct{}
	// done ends the request at the host (outliveHandler); nil when the
	// caller ends it itself.
	done func()

	// A WebSocket's client; its socket waiting in idleSockets (polled,
	// pollFD) or its reader started (reading; fanout_ws.go); the host's
	// done, which its reader calls.
	wsc     *wsClient
	wsDone  func()
	pollFD  uintptr
	polled  bool
	reading bool
}

// add puts a stream or WebSocket in the list and has a round run for it,
// starting the fan-out if needed.
func (f *fanout) add(s *fanSub) {
	joins.joined()
	f.mu.Lock()
	f.members = listAdd(f.members, fanMember(s))
	f.roundDue = true
	f.startOrKick() // unlocks
}

// addPoll parks p in the list; it is looked at alone.
func (f *fanout) addPoll(p *parkedPoll) {
	f.mu.Lock()
	f.members = listAdd(f.members, fanMember(p))
	f.fresh = append(f.fresh, p)
	f.startOrKick() // unlocks
}

// remove takes m off the list (whoever answers or ends it).
func (f *fanout) remove(m fanMember) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.members = listRemove(f.members, m)
}

// startOrKick starts the fan-out's goroutine, or wakes it when it runs.
// Called with f.mu held, which it releases.
func (f *fanout) startOrKick() {
	start := !f.running
	f.running = true
	f.mu.Unlock()
	if start {
		f.step.policy.runs.Add(1)
		go f.run()
		return
	}
	f.wake()
}

// wake kicks the running goroutine; a kick while it is busy is kept.
func (f *fanout) wake() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// listed is an element of the fan-out's list that keeps its own position
// (-1 when not in the list), so leaving the list is O(1).
type listed interface{ slot() *int }

func (s *fanSub) slot() *int     { return &s.idx }
func (p *parkedPoll) slot() *int { return &p.idx }

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
	heartbeat := newBeatTicker(pol)
	defer heartbeat.Stop()
	for {
		f.mu.Lock()
		if len(f.members) == 0 {
			f.running = false
			f.mu.Unlock()
			return
		}
		f.round = append(f.round[:0], f.members...)
		clear(f.fresh) // the round looks at them too
		f.fresh = f.fresh[:0]
		f.roundDue = false
		f.mu.Unlock()
		wait, again := f.deliver()
		// Checked before looping on: an upstream that floods keeps the log
		// moving, and shutdown must still end every member.
		select {
		case <-pol.shutdown:
			f.goAway()
			continue
		default:
		}
		if again {
			continue
		}
		f.idle(wait, &heartbeat)
	}
}

// idle waits for the next thing to do: a change of the log, a new
// stream, a heartbeat or shutdown. Newly parked polls are looked at here
// without a round of everyone. A reload that changed the heartbeat kicks
// it (retune), so the ticker follows.
func (f *fanout) idle(wait <-chan struct{}, heartbeat *beatTicker) {
	for {
		heartbeat.retune()
		select {
		case <-f.kick:
			f.mu.Lock()
			due := f.roundDue
			f.round = append(f.round[:0], f.fresh...)
			clear(f.fresh)
			f.fresh = f.fresh[:0]
			f.mu.Unlock()
			if due {
				clear(f.round)
				return // run's round looks at everyone
			}
			// The older wait stays: closed by any change after it, it
			// covers the members that were here before.
			if w, _ := f.deliver(); wait == nil {
				wait = w
			}
			continue
		case <-wait:
		case <-heartbeat.C:
			f.each(fanMember.beat)
		case <-f.step.policy.shutdown:
			f.goAway()
		}
		return
	}
}

// goAway tells every member the gateway is going away.
func (f *fanout) goAway() { f.each(fanMember.goAway) }

// each runs do for every member.
func (f *fanout) each(do func(fanMember, *fanout)) {
	f.mu.Lock()
	f.round = append(f.round[:0], f.members...)
	f.mu.Unlock()
	for _, m := range f.round {
		do(m, f)
	}
	clear(f.round)
}

// deliver steps every member of the round (which it empties). again is
// set when the log moved on during the round (members wait on different
// changes).
func (f *fanout) deliver() (wait <-chan struct{}, again bool) {
	defer clear(f.round)
	if len(f.round) == 0 {
		return nil, false
	}
	// The wait channel is taken before any member reads, and before the
	// bounds: anything appended after it closes it, anything before is in
	// last.
	lg := f.round[0].log()
	_, last := lg.Bounds()
	b := lg.Read(last, nil, 0)
	if !b.Closed {
		_, last = lg.Bounds()
	}
	f.step.wait, f.last, f.closed = b.Wait, last, b.Closed
	if n := shardsFor(len(f.round)); n > 1 {
		return f.deliverSharded(n)
	}
	f.fanShard.deliver(f, f.round)
	return f.fanShard.wait, f.fanShard.again
}

// fanShard is what stepping members needs of its own: the write buffer
// lent to each, the round's step settings and its delivery tally, and
// the outcome of its part of a round.
type fanShard struct {
	scratch []byte
	step    stepRound // its policy is the route's (heartbeat, slow_client, shutdown, runs)
	tally   outTally  // step.tally
	answers answerBatch
	streams streamBatch
	wait    <-chan struct{}
	again   bool
}

// deliver steps members: wait is the change the last waiting one waits
// for, again set when the log moved on during the round (members wait on
// different changes).
func (sh *fanShard) deliver(f *fanout, members []fanMember) {
	defer sh.tally.flush()
	sh.wait, sh.again = nil, false
	for _, m := range members {
		w, waiting := m.step(f, sh)
		if !waiting {
			continue
		}
		sh.merge(w)
	}
	sh.streams.end(f)
	sh.answers.end()
}

// merge takes one more waiting member's (or part's) wait channel.
func (sh *fanShard) merge(w <-chan struct{}) {
	if sh.wait != nil && w != sh.wait {
		// The log changed during the round: go again if the change
		// others wait for already happened.
		select {
		case <-sh.wait:
			sh.again = true
		default:
		}
	}
	sh.wait = w
}

// step runs the stream's pumpStep for the round.
func (s *fanSub) step(f *fanout, sh *fanShard) (<-chan struct{}, bool) {
	if sh.streams.full() {
		sh.streams.send(f)
	}
	s.mu.Lock()
	if s.gone || s.finished || s.handed {
		s.mu.Unlock()
		return nil, false
	}
	s.out.buf = sh.scratch[:0]
	slot := sh.streams.slotFor(s)
	w, done, err := pumpStep(context.Background(), s.a, s.w, &sh.step)
	sh.scratch, s.out.buf = s.out.buf[:0], nil
	if slot != nil && sh.streams.keep(s, slot, done, err != nil) {
		// Settled once the batch is sent; s stays locked until then.
		if w == nil {
			w = sh.step.wait
		}
		return w, true
	}
	left, unowned := f.settle(s, done, err != nil)
	s.mu.Unlock()
	if left {
		if unowned {
			s.releaseStream()
		}
		return nil, false
	}
	if w == nil {
		w = sh.step.wait // what the round's wait tells of
	}
	return w, true
}

func (s *fanSub) beat(f *fanout) {
	if s.leftQuietly(f) {
		return
	}
	s.write(f, false, func(w streamWriter) error {
		if err := w.heartbeat(); err != nil {
			return err
		}
		return w.flush()
	})
}

func (s *fanSub) goAway(f *fanout) {
	s.write(f, true, func(w streamWriter) error {
		_ = w.goingAway()
		return w.flush()
	})
}

// write writes something outside a step with the fan-out's scratch; end
// finishes the response.
func (s *fanSub) write(f *fanout, end bool, do func(streamWriter) error) {
	s.mu.Lock()
	if s.gone || s.finished || s.handed {
		s.mu.Unlock()
		return
	}
	s.out.buf = f.scratch[:0]
	err := do(s.w)
	f.scratch, s.out.buf = s.out.buf[:0], nil
	_, unowned := f.settle(s, end, err != nil)
	s.mu.Unlock()
	if unowned {
		s.releaseStream()
	}
}

// leftQuietly ends a stream, at its heartbeat, whose socket has something
// to read: the client closed it, it failed, or the client sent bytes after
// its request (a protocol error for a stream). No goroutine waits on an
// idle stream's socket, so this is where a silent leaver is noticed.
func (s *fanSub) leftQuietly(f *fanout) bool {
	s.mu.Lock()
	if s.out.ws || s.watched || s.gone || s.finished || s.handed || !s.out.nb.readable() {
		s.mu.Unlock()
		return false
	}
	f.remove(s)
	s.finished = true
	s.mu.Unlock()
	s.releaseStream()
	return true
}

// step answers the poll when the log moved past its cursor (or closed);
// else it waits with the round.
func (p *parkedPoll) step(f *fanout, sh *fanShard) (<-chan struct{}, bool) {
	if (f.closed || p.pos < f.last) && p.take() {
		f.remove(p)
		sh.answers.add(p)
		return nil, false
	}
	return f.step.wait, true
}

// beat lets go of a poll whose client left: a parked poll has no
// goroutine to notice it at once.
func (p *parkedPoll) beat(f *fanout) {
	if p.sock.clientGone() && p.take() {
		f.remove(p)
		p.drop()
	}
}

// goAway answers the poll now.
func (p *parkedPoll) goAway(f *fanout) {
	if p.take() {
		f.remove(p)
		p.answer()
	}
}

func (s *fanSub) log() msglog.Store     { return s.a.log() }
func (p *parkedPoll) log() msglog.Store { return p.a.log() }

// settle acts on a step's outcome (s.mu held): a subscriber whose socket
// is full goes to its own goroutine (to finish the response when done),
// a finished or failed one is ended. It reports whether s left the
// fan-out, and unowned when it ended with no reader to release it: the
// caller calls releaseStream once s.mu is unlocked.
func (f *fanout) settle(s *fanSub, done, failed bool) (left, unowned bool) {
	switch {
	case s.out.slow:
		f.remove(s)
		s.handOff(done)
		return true, false
	case done || failed:
		f.remove(s)
		s.out.finish()
		s.finished = true
		if s.out.ws {
			s.startReader() // it waits for the client's close answer, then releases
		}
		return true, !s.out.ws && !s.watched
	}
	return false, false
}

// handOff gives s a goroutine of its own with blocking writes: first what
// the socket did not take, then (unless the response is over) the usual
// pump. A stream also gets its reader (watch) to notice its client leaving
// while the pump waits. Called with s.mu held and s not gone.
func (s *fanSub) handOff(over bool) {
	ctx, cancel := context.WithCancel(context.Background())
	s.handed = true
	if s.out.ws {
		s.startReader()
	} else if !s.watched {
		s.watched = true
		go s.watch()
	}
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

// watch owns a handed-off stream's lifetime: it parks reading the socket
// (a client sends nothing more after its request) and, once the client
// left or the response ended (the conn was closed), releases everything.
func (s *fanSub) watch() {
	var b [16]byte
	for {
		if _, err := s.out.conn.Read(b[:]); err != nil {
			break
		}
	}
	s.releaseStream()
}

// releaseStream releases a hijacked stream and ends what handOver counted
// for it (hold, runs): by watch, or by the fan-out when it had none.
func (s *fanSub) releaseStream() {
	s.release()
	s.h.exit()
	s.h.runs.Done()
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
