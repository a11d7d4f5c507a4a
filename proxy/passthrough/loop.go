package passthrough

import (
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/bridgeway/bridgeway/internal/rawsock"
)

// The event loop: an established tunnel's directions wait on one of a few
// edge-triggered epoll sets (one per P) instead of in Go's netpoller each
// with a goroutine of its own. On an event the loop's goroutine reads the
// source until a short read (one read per message), scans the frames and
// writes them to the destination with raw non-blocking calls (relaySoft);
// a short read without a hang-up flag means drained, so no read returns
// EAGAIN and no goroutine is woken per message. Whatever cannot finish at once (the destination's buffer full, a
// frame the pump must act on, the direction's lock held by an injector, an
// end of stream) goes back to the direction's pump, which runs the
// goroutine path (relay.go) until the socket is drained and then gives it
// back. Grace, close injection and closing take a direction off the loop
// for good (evict): deadlines and blocking writes are the pump's.

// loopState is a direction's share in the loop, guarded by its mutex: who
// reads the source now, and what the other side must know at a hand-over.
type loopState struct {
	mu         sync.Mutex
	poller     *rawsock.EdgePoller // nil: the direction never uses the epoll loop
	ring       *ringShare          // nil: the direction never uses an io_uring loop (ring_linux.go)
	fd         uintptr
	registered bool
	onLoop     bool // the loop reads the source; the pump waits on wake
	busy       bool // the loop is inside an event of this direction
	missed     bool // an event came while the pump read: read again before handing back
	evicted    bool // the pump keeps the source to the end
	wake       chan struct{}

	// Owned by whoever reads the source (the loop inside an event).
	inLoop   bool // relaySoft runs on the loop: never wait
	loopStay bool // the event ended with the socket drained
	readFn   func(uintptr)
}

var (
	loopsOnce sync.Once
	loops     []rawsock.EdgePoller
	loopNext  atomic.Uint32
	// testHookLoopRelay, when a test sets it, runs each time the loop
	// relayed bytes (tests prove the path they mean is the one taken).
	testHookLoopRelay atomic.Pointer[func()]
)

// pickLoop spreads tunnels over the epoll sets, both directions of a
// tunnel on the same one.
func pickLoop() *rawsock.EdgePoller {
	loopsOnce.Do(func() { loops = make([]rawsock.EdgePoller, runtime.GOMAXPROCS(0)) })
	return &loops[int(loopNext.Add(1))%len(loops)]
}

// useLoop makes d eligible when both its ends are plain sockets read and
// written with raw calls (no wrapper that must see each write, no TLS).
func (d *direction) useLoop(p *rawsock.EdgePoller) {
	if !d.loopable() {
		return
	}
	d.loop.poller = p
	d.loop.wake = make(chan struct{}, 1)
	d.loop.readFn = d.loopRead
}

// loopable: both ends of d are plain sockets read and written with raw
// calls (no wrapper that must see each write, no TLS).
func (d *direction) loopable() bool {
	return rawsock.Supported && d.raw != nil && d.dstRaw != nil
}

// toLoop offers the source, just read to EAGAIN, to the loop. handed: the
// pump now waits on wake; again: an event came meanwhile, read once more.
func (d *direction) toLoop(fd uintptr) (handed, again bool) {
	l := &d.loop
	if l.poller == nil && l.ring == nil {
		return false, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.evicted {
		return false, false
	}
	if l.ring != nil {
		return d.ringArm(), false
	}
	if l.missed {
		l.missed = false
		return false, true
	}
	if !l.registered {
		// Readiness that came after the EAGAIN is told at once, and
		// waits on l.mu until onLoop is set.
		if !l.poller.Add(fd, d) {
			l.poller = nil
			return false, false
		}
		l.registered, l.fd = true, fd
	}
	l.onLoop = true
	return true, false
}

// EdgeReady handles one readiness of d's source on the loop's goroutine.
func (d *direction) EdgeReady(events uint32) {
	l := &d.loop
	l.mu.Lock()
	if !l.onLoop {
		l.missed = true
		l.mu.Unlock()
		return
	}
	l.busy = true
	l.mu.Unlock()
	l.loopStay = false
	if events&^rawsock.EdgeIn == 0 {
		l.inLoop = true
		_ = d.raw.Control(l.readFn) // a closed socket runs nothing: loopStay stays false
		l.inLoop = false
	}
	l.mu.Lock()
	l.busy = false
	if l.loopStay && !l.evicted {
		l.mu.Unlock()
		return
	}
	l.onLoop, l.missed = false, false
	l.mu.Unlock()
	l.wake <- struct{}{}
}

// loopRead reads and forwards until a short read; loopStay tells whether
// the loop keeps the source. Anything else (EOF, an error, a stall) is left
// for the pump, which reads again and sees it.
func (d *direction) loopRead(fd uintptr) {
	for {
		data, n, err := d.readSource(fd)
		if err != nil || n == 0 {
			d.putBuffer()
			d.loop.loopStay = err == syscall.EAGAIN
			return
		}
		if done := d.relaySoft(data); done {
			if !d.stalled {
				d.putBuffer()
			}
			return
		}
		if hook := testHookLoopRelay.Load(); hook != nil {
			(*hook)()
		}
		if len(data) < relayBufferSize {
			// Short, and the event had no hang-up flag: drained. A FIN or
			// bytes arriving from now on are a new event.
			d.putBuffer()
			d.loop.loopStay = true
			return
		}
	}
}

// evict takes d off the loop for good: its pump reads the source from now
// on (with the deadlines and blocking writes the loop never does).
func (d *direction) evict() {
	l := &d.loop
	if l.ring != nil {
		d.ringEvict()
		return
	}
	l.mu.Lock()
	l.evicted = true
	wake := l.onLoop && !l.busy
	if wake {
		l.onLoop = false
	}
	l.mu.Unlock()
	if wake {
		l.wake <- struct{}{}
	}
}

// leaveLoop unregisters d's source; its pump is ending.
func (d *direction) leaveLoop() {
	l := &d.loop
	l.mu.Lock()
	l.evicted = true // on a ring: the pump ending has it, nothing to undo
	reg := l.registered
	l.registered = false
	l.mu.Unlock()
	if reg {
		l.poller.Remove(l.fd, d)
	}
}

// isEvicted: evict was called; the loop gives the source back.
func (l *loopState) isEvicted() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.evicted
}

// loopHandOff is a span the pump must act on (an end, a broken frame, a
// close frame): the loop leaves it, unwritten, to the pump.
func (sp span) loopHandOff() bool {
	return sp.err != nil || sp.broke != nil || sp.srcClosed || sp.closeDone
}
