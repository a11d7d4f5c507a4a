package bridge

import (
	"runtime/debug"
	"sync/atomic"
	"time"
)

// After a burst of joins (a reconnect storm: thousands of subscribers
// within seconds), the memory their handshakes used is garbage the runtime
// keeps: the heap grew to twice what stays live, and the background
// scavenger gives it back to the system slowly. Once no one joined for
// burstQuiet, one debug.FreeOSMemory (a collection, then everything free
// back to the system) brings the process down to what its subscribers
// hold. A steady trickle of joins never triggers it.
type joinBurst struct {
	joins atomic.Int64 // since the last look
	armed atomic.Bool  // a look is scheduled
	total int64        // joins in the burst so far (the look's own)
	ended atomic.Int64 // bursts over and decided, whatever their size (tests wait for it)
}

// burstMin joins make a burst worth a full collection (1,000; tests
// lower it while timers of other tests' bursts may read it).
var burstMin = func() *atomic.Int64 { var n atomic.Int64; n.Store(1000); return &n }()

// burstQuiet without a join ends a burst (200 ms; tests that need every
// join of theirs in one burst on a loaded machine lengthen it).
var burstQuiet = func() *atomic.Int64 { var d atomic.Int64; d.Store(int64(200 * time.Millisecond)); return &d }()

// quiet is burstQuiet as a duration.
func quiet() time.Duration { return time.Duration(burstQuiet.Load()) }

var joins joinBurst

// joined counts a subscriber in, scheduling a look when none is.
func (b *joinBurst) joined() {
	b.joins.Add(1)
	if b.armed.CompareAndSwap(false, true) {
		time.AfterFunc(quiet(), b.look)
	}
}

// look runs on the timer: while joins keep coming it looks again later;
// after a quiet spell it returns a large burst's garbage.
func (b *joinBurst) look() {
	if n := b.joins.Swap(0); n > 0 {
		b.total += n
		time.AfterFunc(quiet(), b.look)
		return
	}
	total := b.total
	b.total = 0
	b.armed.Store(false)
	if b.joins.Load() > 0 && b.armed.CompareAndSwap(false, true) {
		// A join between the swap and disarming: keep counting this burst.
		b.total = total
		time.AfterFunc(quiet(), b.look)
		return
	}
	if total >= burstMin.Load() {
		debug.FreeOSMemory()
	}
	b.ended.Add(1)
}
