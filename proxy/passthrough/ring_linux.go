package passthrough

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/internal/rawsock"
	"github.com/bridgeway/bridgeway/internal/uring"
)

// The io_uring loop: where the kernel has io_uring (and BRIDGEWAY_IO_URING
// is not "off"), an established tunnel's directions wait on a ring instead
// of an epoll set. A direction on the ring always has one operation in
// flight: a receive on its source into a buffer the kernel picks when
// bytes arrive (an idle tunnel holds none), or the send of what that
// receive brought, made without waiting (MSG_DONTWAIT); or, when its
// receive found every buffer taken, it waits for the batch's buffers to
// come back. The ring's
// goroutine scans the frames of each receive exactly as the epoll loop
// does and queues the send; one io_uring_enter then submits every send and
// receive of a batch, collects the next completions, and waits for one
// when there are none. That is what makes the relay cheaper than nginx's
// recv, send and epoll_wait per message.
//
// The ring is its goroutine's thread's own (uring.NewOwned): the goroutine
// is locked to its thread, makes the ring when it starts and closes it when
// no direction is left. An operation that had to wait then completes only
// when that thread asks, and a receive's bytes wake that thread alone, and
// only while it waits in the kernel, as an nginx worker waits in
// epoll_wait: no other thread is woken to complete it, and none for the
// netpoller (docs/benchmarks.md, *Pass-through on a thread's own ring*).
// It waits without giving up its P (uring.WaitHeld), so openRings adds one
// P per ring to GOMAXPROCS. While both directions of a tunnel are on the
// ring, its sockets are out of the runtime's epoll set (rawsock.Detach):
// nothing of Go waits for them then, and each segment would otherwise
// wake the runtime's netpoller thread for nothing.
//
// The hand-overs are the epoll loop's (loop.go): the pump offers the source
// after reading to EAGAIN (toLoop), and gets it back, with whatever must be
// written or acted on in d.stall, on anything the ring does not finish at
// once: a send the destination did not take whole, a span the pump must
// act on (a close frame, a broken frame, a header cut by the buffer's end),
// the direction's lock held by an injector, an end of stream, an error,
// or evict.
//
// Descriptor numbers are used after the calls that made them valid: evict
// returns only once the ring gave the direction back (no operation of it
// left, none to come), and tunnels close their sockets only after evict
// (closeBoth) or after both pumps ended, so a number is never reused while
// the ring may still name it.

const (
	ringEntries = 1024
	// Receive buffers per ring: 512 of 4 KiB, 2 MiB mapped at first use. A
	// batch of completions holds one per receive until its send is done
	// (the same batch), so about one per busy tunnel of the ring; a
	// receive that finds none waits on the ring for the next batch.
	ringBuffers    = 512
	ringBufferSize = 4 << 10
	ringGroup      = 1

	// user data: slot << 3 | kind
	kindWake   = 1
	kindCancel = 2
	kindRecv   = 3
	kindSend   = 4
)

// ringLoop is one ring shared by many tunnels, with the goroutine that runs
// it while a direction is on it.
type ringLoop struct {
	mu       sync.Mutex
	running  bool
	failed   bool      // the goroutine could not make its ring: directions stay with their pumps
	attached int       // directions on the ring
	reqs     []ringReq // for the goroutine: arm or give back

	efd     int // eventfd: wakes the goroutine for reqs
	buffers int
	log     *zap.Logger

	// Owned by the running goroutine (one at a time: running); ring and
	// bufs exist while it runs.
	ring      *uring.Ring
	bufs      *uring.BufRing
	slots     []*direction
	free      []uint64
	starved   []*direction // receives that found no buffer: queued again next batch
	wakeBuf   [8]byte
	wakeArmed bool
	// Bound once: a method value or closure made per batch would allocate.
	completeFn func(*uring.CQE)
}

type ringReq struct {
	d   *direction
	arm bool // false: give d back (evict)
}

// ringShare is a direction's share in a ring. Set up once (useRing); the
// rest is owned by the ring's goroutine while the direction is on it.
type ringShare struct {
	rl      *ringLoop
	srcFD   int32
	dstFD   int32
	slot    uint64
	inRecv  bool   // a receive is in flight
	cancel  bool   // and its cancel was queued
	starved bool   // its receive found no buffer: in rl.starved
	sendID  uint16 // the send in flight: its buffer, length and span
	sendN   int
	sendSp  span
	gone    *sync.Cond // on d.loop.mu: evict waits for the hand-back

	np       rawsock.NetpollEntry // the source's entry in the runtime's epoll set
	npOK     bool                 // np can be detached
	armed    bool                 // on the ring (the ring's goroutine's)
	detached bool                 // np is out of the runtime's set (both directions are)
}

var (
	ringsOnce sync.Once
	rings     []*ringLoop
	ringsErr  error // why there are none
	ringNext  atomic.Uint32
	// testRing, when a test sets it, is the ring every new tunnel uses;
	// testHookRingNoBuffer runs when a receive found no free buffer.
	testRing             atomic.Pointer[ringLoop]
	testHookRingNoBuffer atomic.Pointer[func()]
	// testHookRingQuiet runs when the ring's waits turn quiet.
	testHookRingQuiet atomic.Pointer[func()]
)

// pickRing spreads tunnels over the rings, both directions of a tunnel on
// the same one; nil when io_uring cannot be used here. The first call
// logs which loop tunnels use, and why not io_uring when it is not.
func pickRing(log *zap.Logger) *ringLoop {
	if rl := testRing.Load(); rl != nil {
		return rl
	}
	ringsOnce.Do(func() {
		rings, ringsErr = openRings(log)
		if ringsErr != nil {
			log.Info("websocket tunnels relay on the epoll loop", zap.String("io_uring", ringsErr.Error()))
		} else {
			log.Info("websocket tunnels relay on io_uring", zap.Int("rings", len(rings)), zap.Int("gomaxprocs", runtime.GOMAXPROCS(0)))
		}
	})
	if len(rings) == 0 {
		return nil
	}
	return rings[int(ringNext.Add(1))%len(rings)]
}

// openRings makes one ring loop per P, at most four, once a ring of the
// kind they use could be made here, and adds as many Ps to GOMAXPROCS: a
// loop's goroutine keeps its P while it waits in the kernel, and the rest
// of the gateway keeps the Ps it had.
func openRings(log *zap.Logger) ([]*ringLoop, error) {
	if uring.Off() {
		return nil, errors.New("off (BRIDGEWAY_IO_URING)")
	}
	if err := probeRing(); err != nil {
		return nil, err
	}
	var rs []*ringLoop
	for range min(runtime.GOMAXPROCS(0), 4) {
		rl, err := newRingLoop(ringBuffers, log)
		if err != nil {
			for _, r := range rs {
				r.close()
			}
			return nil, err
		}
		rs = append(rs, rl)
	}
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + len(rs))
	return rs, nil
}

// probeRing makes and closes a ring as the loops make theirs.
func probeRing() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, bufs, err := openOwnedRing(ringBuffers)
	if err == nil {
		r.Close()
		bufs.Close()
	}
	return err
}

// openOwnedRing makes a ring for the calling thread, with buffers relay
// buffers.
func openOwnedRing(buffers int) (*uring.Ring, *uring.BufRing, error) {
	r, err := uring.NewOwned(ringEntries)
	if err != nil {
		return nil, nil, err
	}
	bufs, err := r.RegisterBufRing(ringGroup, buffers, ringBufferSize)
	if err != nil {
		r.Close()
		return nil, nil, err
	}
	return r, bufs, nil
}

// newRingLoop is a loop whose rings get buffers relay buffers; its
// goroutine starts with the first direction.
func newRingLoop(buffers int, log *zap.Logger) (*ringLoop, error) {
	efd, _, e := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC, 0)
	if e != 0 {
		return nil, e
	}
	rl := &ringLoop{efd: int(efd), buffers: buffers, log: log, slots: []*direction{nil}}
	rl.completeFn = rl.complete
	return rl, nil
}

// close (tests) frees a loop whose goroutine has ended.
func (rl *ringLoop) close() { _ = syscall.Close(rl.efd) }

// useRing makes d relay on rl when both its ends are plain sockets (as
// useLoop); false leaves d to the epoll loop.
func (d *direction) useRing(rl *ringLoop) bool {
	if rl == nil || !d.loopable() {
		return false
	}
	src, dst := fdOf(d.raw), fdOf(d.dstRaw)
	if src < 0 || dst < 0 {
		return false
	}
	d.loop.ring = &ringShare{rl: rl, srcFD: src, dstFD: dst, gone: sync.NewCond(&d.loop.mu)}
	d.loop.ring.np, d.loop.ring.npOK = rawsock.NetpollEntryOf(d.raw)
	d.loop.wake = make(chan struct{}, 1)
	return true
}

func fdOf(rc syscall.RawConn) int32 {
	fd := int32(-1)
	_ = rc.Control(func(f uintptr) { fd = int32(f) })
	return fd
}

// ringArm is toLoop on a ring (d.loop.mu held): the source, read to EAGAIN
// with no partial header kept, goes to the ring.
func (d *direction) ringArm() bool {
	if d.pendingLen > 0 {
		return false // the next read must follow those bytes: the pump's
	}
	if !d.loop.ring.rl.request(ringReq{d: d, arm: true}) {
		return false // no ring here after all: the pump keeps the source
	}
	d.loop.onLoop = true // before the ring can hand it back: that takes d.loop.mu, held here
	return true
}

// ringEvict is evict on a ring: it returns once the ring gave d back.
func (d *direction) ringEvict() {
	l := &d.loop
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evicted = true
	if !l.onLoop {
		return
	}
	l.ring.rl.request(ringReq{d: d})
	for l.onLoop {
		l.ring.gone.Wait()
	}
}

// request queues r for the goroutine, starting it or waking it; false
// when the loop has no ring (and never will).
func (rl *ringLoop) request(r ringReq) bool {
	rl.mu.Lock()
	if rl.failed {
		rl.mu.Unlock()
		return false
	}
	rl.reqs = append(rl.reqs, r)
	if r.arm {
		rl.attached++
	}
	start := !rl.running
	rl.running = true
	rl.mu.Unlock()
	if start {
		go rl.run()
		return true
	}
	one := uint64(1)
	_, _, _ = syscall.RawSyscall(syscall.SYS_WRITE, uintptr(rl.efd), uintptr(unsafe.Pointer(&one)), 8)
	return true
}

// run submits and completes until no direction is on the ring, on a ring
// it makes for its thread and closes before it ends. It waits in the
// kernel (WaitHeld) only when nothing is left to complete.
func (rl *ringLoop) run() {
	// Never unlocked: the ring may be used from this thread alone, and a
	// goroutine that ends locked ends its thread with it.
	runtime.LockOSThread()
	ring, bufs, err := openOwnedRing(rl.buffers)
	if err != nil {
		rl.refuse(err)
		return
	}
	rl.ring, rl.bufs, rl.wakeArmed = ring, bufs, false
	quiet := false
	for {
		for _, r := range rl.takeReqs() {
			if r.arm {
				rl.arm(r.d)
			} else {
				rl.giveBack(r.d) // may come late, for a direction given back since: nothing to do
			}
		}
		rl.mu.Lock()
		if rl.attached == 0 && len(rl.reqs) == 0 {
			// Nothing is in flight but the wake's read, which closing
			// cancels; a request from now on starts another goroutine
			// with a ring of its own.
			rl.ring.Close()
			rl.bufs.Close()
			rl.ring, rl.bufs = nil, nil
			rl.running = false
			rl.mu.Unlock()
			return
		}
		rl.mu.Unlock()
		if !rl.wakeArmed {
			rl.wakeArmed = rl.ring.Read(int32(rl.efd), rl.wakeBuf[:], kindWake)
		}
		quiet = rl.waitAndComplete(quiet)
		rl.bufs.Publish()
		rl.retryStarved()
	}
}

// takeReqs hands the queued requests to the goroutine.
func (rl *ringLoop) takeReqs() []ringReq {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	reqs := rl.reqs
	rl.reqs = nil
	return reqs
}

// waitAndComplete submits what is queued, waits for completions if there
// are none (holding the P, or through the scheduler when quiet) and makes
// them; it reports whether the ring is quiet from now on.
func (rl *ringLoop) waitAndComplete(quiet bool) bool {
	var err error
	timedOut := false
	if quiet {
		err = rl.ring.Submit(1)
	} else {
		timedOut, err = rl.ring.WaitHeld(ringWaitBound)
	}
	if err != nil {
		panic(err) // EFAULT, EBADF: a broken ring, never expected
	}
	if rl.ring.Completions(rl.completeFn) > 0 {
		return false
	}
	if timedOut {
		if hook := testHookRingQuiet.Load(); hook != nil {
			(*hook)()
		}
	}
	return quiet || timedOut
}

// ringWaitBound is the longest wait that keeps the P. The runtime's
// preemption signal ends such a wait at once, and where that signal is
// switched off this is as long as a stop of the world can wait for the
// ring's goroutine. A wait that reaches its bound with nothing to
// complete makes the ring quiet until something completes: its waits go through
// the scheduler's syscall state (Submit), which lets the runtime use the
// P and neither wakes nor preempts the goroutine while nothing comes: with
// 1,000 idle tunnels, held waits cost 2-3% of a core in timeouts and the
// runtime's preemptions (every 10 ms of a goroutine that never yields),
// quiet waits nothing.
const ringWaitBound = 20 * time.Millisecond

// refuse is run's end when no ring could be made: the directions already
// handed over go back to their pumps, and the loop takes no more.
func (rl *ringLoop) refuse(err error) {
	rl.log.Error("websocket tunnels: an io_uring ring could not be made; its tunnels relay without it", zap.Error(err))
	rl.mu.Lock()
	rl.failed, rl.running = true, false // no request is queued from here
	rl.mu.Unlock()
	for _, r := range rl.takeReqs() {
		if r.arm {
			rl.release(r.d)
		}
	}
}

// arm gives d a slot and queues its first receive.
func (rl *ringLoop) arm(d *direction) {
	s := d.loop.ring
	if n := len(rl.free); n > 0 {
		s.slot, rl.free = rl.free[n-1], rl.free[:n-1]
		rl.slots[s.slot] = d
	} else {
		s.slot = uint64(len(rl.slots))
		rl.slots = append(rl.slots, d)
	}
	s.armed = true
	rl.detach(d)
	rl.recv(d)
}

// detach takes a tunnel's sockets out of the runtime's epoll set once both
// its directions are on the ring: no goroutine waits for them in the
// netpoller then (the pumps wait on their wake; an injector evicts first).
func (rl *ringLoop) detach(d *direction) {
	s, o := d.loop.ring, d.other.loop.ring
	if o == nil || !o.armed || s.detached || !s.npOK || !o.npOK {
		return
	}
	if rawsock.Detach(s.np) != nil {
		return
	}
	if rawsock.Detach(o.np) != nil {
		rl.reattach(s.np)
		return
	}
	s.detached, o.detached = true, true
}

// attach puts d's tunnel's sockets back in the runtime's epoll set, before
// d's pump (or an injector, or closing) can wait for either of them there.
func (rl *ringLoop) attach(d *direction) {
	s := d.loop.ring
	if !s.detached {
		return
	}
	o := d.other.loop.ring
	rl.reattach(s.np)
	rl.reattach(o.np)
	s.detached, o.detached = false, false
}

func (rl *ringLoop) reattach(e rawsock.NetpollEntry) {
	if err := rawsock.Attach(e); err != nil {
		// Never expected (ENOMEM, or the user's epoll watch limit reached
		// in between): a goroutine waiting for this socket is then woken
		// only by its deadline.
		rl.log.Error("websocket tunnel: a socket could not go back to the runtime's epoll set", zap.Error(err))
	}
}

func (rl *ringLoop) recv(d *direction) {
	s := d.loop.ring
	s.inRecv, s.cancel = true, false
	rl.ring.Recv(s.srcFD, ringGroup, s.slot<<3|kindRecv)
}

// giveBack asks for d's receive to end; the send in flight ends by itself
// (it never waits). Either completion hands d back; a starved receive
// (none in flight) is handed back at once.
func (rl *ringLoop) giveBack(d *direction) {
	s := d.loop.ring
	switch {
	case s.starved:
		s.starved = false // left in rl.starved, skipped there
		rl.handBack(d)
	case s.inRecv && !s.cancel:
		s.cancel = true
		rl.ring.Cancel(s.slot<<3|kindRecv, kindCancel)
	}
}

// retryStarved queues again the receives that found no buffer, now that
// the last batch's buffers are back.
func (rl *ringLoop) retryStarved() {
	for _, d := range rl.starved {
		if s := d.loop.ring; s.starved {
			s.starved = false
			rl.recv(d)
		}
	}
	clear(rl.starved)
	rl.starved = rl.starved[:0]
}

func (rl *ringLoop) complete(c *uring.CQE) {
	switch c.UserData & 7 {
	case kindWake:
		rl.wakeArmed = false
		return
	case kindCancel:
		return
	}
	d := rl.slots[c.UserData>>3]
	if d == nil {
		return // never expected: every operation of a direction ends before its slot is freed
	}
	s := d.loop.ring
	if c.UserData&7 == kindSend {
		rl.sent(d, s, c)
		return
	}
	s.inRecv = false
	id, ok := c.Buffer()
	if errors.Is(c.Err(), syscall.ENOBUFS) && !s.cancel {
		// The bytes wait in the socket; the batch's buffers come back at
		// its end.
		if hook := testHookRingNoBuffer.Load(); hook != nil {
			(*hook)()
		}
		s.starved = true
		rl.starved = append(rl.starved, d)
		return
	}
	if c.Res <= 0 {
		// EOF: the pump reads it again (it tells a cut frame from a clean
		// end). An error is the pump's to return; ECANCELED (and ENOBUFS
		// while giving back) only give the source back.
		if err := c.Err(); err != nil && !errors.Is(err, syscall.ECANCELED) && !errors.Is(err, syscall.ENOBUFS) {
			d.rerr = os.NewSyscallError("read", err)
		}
		rl.handBack(d)
		return
	}
	if !ok {
		rl.handBack(d) // never expected: a receive without its buffer
		return
	}
	data := rl.bufs.Bytes(id, int(c.Res))
	if d.loop.isEvicted() {
		rl.handBackData(d, id, span{}, nil, data)
		return
	}
	rl.relay(d, s, data, id)
}

// relay scans what a receive brought and queues its send, or gives it to
// the pump when it is not one plain span to forward whole.
func (rl *ringLoop) relay(d *direction, s *ringShare, data []byte, id uint16) {
	if !d.held {
		if !d.mu.TryLock() { // an injector has it: the pump waits for it
			rl.handBackData(d, id, span{}, nil, data)
			return
		}
		d.held = true
	}
	sp := d.scanLocked(data)
	if sp.loopHandOff() || sp.short || sp.write == 0 || sp.write != len(data) {
		rl.handBackData(d, id, sp, data[:sp.write], data[sp.consumed:])
		return
	}
	s.sendID, s.sendN, s.sendSp = id, sp.write, sp
	rl.ring.Send(s.dstFD, data[:sp.write], syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL, s.slot<<3|kindSend)
}

// sent completes a send: the span is finished and the next receive queued,
// or what the destination did not take goes to the pump with the span.
func (rl *ringLoop) sent(d *direction, s *ringShare, c *uring.CQE) {
	n := max(int(c.Res), 0)
	if d.dstCounter != nil && n > 0 {
		d.dstCounter.AddWritten(int64(n))
	}
	switch err := c.Err(); {
	case n == s.sendN:
		rl.bufs.Recycle(s.sendID)
	case err == nil || errors.Is(err, syscall.EAGAIN):
		// The destination's buffer is full: the pump finishes the span
		// with a write that may block (send_timeout, the grace).
		rl.handBackData(d, s.sendID, s.sendSp, rl.bufs.Bytes(s.sendID, s.sendN)[n:], nil)
		if testHookStall != nil {
			testHookStall()
		}
		return
	default:
		rl.bufs.Recycle(s.sendID)
		d.writeFailed()
		d.rerr = os.NewSyscallError("write", err)
		rl.handBack(d)
		return
	}
	if hook := testHookLoopRelay.Load(); hook != nil {
		(*hook)()
	}
	if err := d.finish(s.sendSp); err != nil {
		d.rerr = err
		rl.handBack(d)
		return
	}
	if d.loop.isEvicted() {
		rl.handBack(d)
		return
	}
	rl.recv(d)
}

// handBackData gives d back with a span to finish: its unwritten bytes and
// what was received after it, copied out of the ring's buffer id (which
// goes back to the kernel) into the pump's.
func (rl *ringLoop) handBackData(d *direction, id uint16, sp span, unwritten, after []byte) {
	d.bufp = relayPool.Get().(*[]byte)
	buf := *d.bufp
	n := copy(buf, unwritten)
	m := copy(buf[n:], after)
	rl.bufs.Recycle(id)
	d.stallAt(sp, buf[:n], buf[n:n+m])
	rl.handBack(d)
}

// handBack ends d's turn on the ring: its pump reads the source again.
func (rl *ringLoop) handBack(d *direction) {
	s := d.loop.ring
	rl.slots[s.slot] = nil
	rl.free = append(rl.free, s.slot)
	s.armed = false
	rl.attach(d)
	rl.release(d)
}

// release gives d back to its pump.
func (rl *ringLoop) release(d *direction) {
	rl.mu.Lock()
	rl.attached--
	rl.mu.Unlock()
	l := &d.loop
	l.mu.Lock()
	l.onLoop = false
	l.ring.gone.Broadcast()
	l.mu.Unlock()
	l.wake <- struct{}{}
}
