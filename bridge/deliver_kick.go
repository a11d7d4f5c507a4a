package bridge

import (
	"context"
	"sync"
	"time"

	"github.com/bridgeway/bridgeway/bridge/msg"
)

// sessionPump writes a local session's log to one WebSocket client without
// a goroutine parked per client: the session kicks it after every change
// of its log (its upstream reader appends, the log closes), a timer kicks
// it for heartbeats and the route's shutdown watcher for the farewell. A
// kick runs pumpStep until nothing is left, at most one at a time (writes
// stay single-writer): inline when the kicker may block on the client
// (the session's upstream reader right after its append, which saves a
// goroutine hand-off per message and turns a stuck client into
// backpressure on its own upstream, as the flow-control wait does), else
// on a short-lived goroutine. Idle session-mode clients then cost their
// reader goroutine only.
//
// Cluster sessions (whose log is fed from Redis, not by this process's
// upstream reader) keep the goroutine pump: nothing here would kick them.
type sessionPump struct {
	c *wsClient
	s *session
	w *gorillaWriter
	// onEnd runs once when the pump ends by itself (log closed and said
	// so, write failed, slow client, shutdown), from the pump goroutine.
	onEnd func()

	mu       sync.Mutex
	running  bool // a pump goroutine is working
	again    bool // kicked while running: look once more before leaving
	beat     bool // a heartbeat is due
	finished bool
	hb       *time.Timer
	// every is the heartbeat the connection started with: its read
	// deadline (2 beats + closeGrace) was set from it, so a reload that
	// raises heartbeat must not stretch the pings past that deadline.
	every time.Duration
	wg    sync.WaitGroup // the running pump goroutine
}

// startSessionPump registers the pump with its session and writes what is
// already in the log.
// every is the heartbeat the connection's read deadline was set from.
func (c *wsClient) startSessionPump(every time.Duration, onEnd func()) *sessionPump {
	p := &sessionPump{c: c, s: c.a.sess, w: newGorillaWriter(c), onEnd: onEnd, every: every}
	c.h.watchShutdown()
	p.mu.Lock()
	p.hb = time.AfterFunc(p.every, p.heartbeatDue)
	p.mu.Unlock()
	p.s.addPump(p)
	p.kick(false)
	return p
}

func (p *sessionPump) heartbeatDue() {
	p.mu.Lock()
	p.beat = true
	p.mu.Unlock()
	p.kick(true) // a timer goroutine of its own
}

// kick makes sure the pump looks at the log (and the heartbeat and
// shutdown flags) after this call: in this goroutine when inline and no
// pump runs, else in the running one or a new one.
func (p *sessionPump) kick(inline bool) {
	p.mu.Lock()
	if p.finished {
		p.mu.Unlock()
		return
	}
	if p.running {
		p.again = true
		p.mu.Unlock()
		return
	}
	p.running = true
	p.wg.Add(1)
	p.mu.Unlock()
	if inline {
		p.run()
		return
	}
	go p.run()
}

func (p *sessionPump) run() {
	defer p.wg.Done()
	// On this goroutine's stack: an idle client holds no policy.
	rd := stepRound{policy: p.c.h.policy()}
	for {
		p.mu.Lock()
		if p.finished {
			p.running = false
			p.mu.Unlock()
			return
		}
		beat := p.beat
		p.beat, p.again = false, false
		p.mu.Unlock()

		end := false
		select {
		case <-rd.policy.shutdown:
			_ = p.w.goingAway()
			end = true
		default:
			if beat {
				if p.w.heartbeat() != nil {
					end = true
					break
				}
				p.mu.Lock()
				if !p.finished {
					p.hb.Reset(p.every)
				}
				p.mu.Unlock()
			}
			// pumpStep never waits for the log: kicks say when to look again.
			_, done, err := pumpStep(context.Background(), p.c.a, p.w, &rd)
			end = done || err != nil
		}

		p.mu.Lock()
		if end {
			p.finishLocked()
			p.running = false
			p.mu.Unlock()
			p.s.removePump(p)
			p.onEnd()
			return
		}
		if !p.again {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}

func (p *sessionPump) finishLocked() {
	p.finished = true
	p.hb.Stop()
}

// stop ends the pump (the client's reader is done) and waits for a pump
// goroutine that is still writing.
func (p *sessionPump) stop() {
	p.mu.Lock()
	if !p.finished {
		p.finishLocked()
	}
	p.mu.Unlock()
	p.s.removePump(p)
	p.wg.Wait()
}

// addPump and removePump keep the session's WebSocket pumps, kicked by
// kickPumps whenever the session's log changes.
func (s *session) addPump(p *sessionPump) {
	s.pumpMu.Lock()
	s.pumps = append(s.pumps, p)
	s.pumpMu.Unlock()
}

func (s *session) removePump(p *sessionPump) {
	s.pumpMu.Lock()
	for i, q := range s.pumps {
		if q == p {
			s.pumps = append(s.pumps[:i], s.pumps[i+1:]...)
			break
		}
	}
	if len(s.pumps) == 0 {
		s.pumps = nil
	}
	s.pumpMu.Unlock()
}

// kickPumps tells the pumps the log changed; inline runs a single idle
// pump in the calling goroutine (see sessionPump).
func (s *session) kickPumps(inline bool) {
	s.pumpMu.Lock()
	switch len(s.pumps) {
	case 0:
		s.pumpMu.Unlock()
	case 1:
		p := s.pumps[0]
		s.pumpMu.Unlock() // run may remove p: not under pumpMu
		p.kick(inline)
	default:
		for _, p := range s.pumps {
			p.kick(false) // several clients: none waits for another
		}
		s.pumpMu.Unlock()
	}
}

// sessionSink is what a local session's upstream appends to: the log, then
// a kick for the WebSocket pumps reading it.
type sessionSink struct{ s *session }

func (k sessionSink) Append(m msg.Message) {
	k.s.log.Append(m)
	k.s.kickPumps(true)
}

func (k sessionSink) Gap(reason string) {
	k.s.log.Gap(reason)
	k.s.kickPumps(true)
}

// watchShutdown starts, once per route, the goroutine that kicks every
// session pump when the route begins to shut down (the goroutine pump
// selects on h.shuttingDown itself). Owned by the route's runs: it ends
// with that signal, which Close gives before it waits for runs. Called
// from inside a request.
func (h *RouteHandler) watchShutdown() {
	h.watchOnce.Do(func() {
		h.runs.Add(1)
		go func() {
			defer h.runs.Done()
			<-h.shuttingDown()
			sessions, _ := h.openNow()
			// A pump started after the snapshot sees the signal on its
			// first step.
			for _, s := range sessions {
				s.kickPumps(false)
			}
		}()
	})
}

// frameBuffers hold session clients' frames while they are forwarded
// (io.ReadAll would allocate one per frame); larger ones are not kept.
var frameBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

const maxPooledFrame = 64 << 10
