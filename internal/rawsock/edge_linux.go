package rawsock

import (
	"runtime"
	"syscall"
	"time"
)

// EdgePoller tells when sockets become readable, edge-triggered and without
// one-shot: a socket stays registered from Add to Remove, so telling it
// costs no epoll_ctl per message. Like Poller, the epoll set waits in the
// Go runtime's netpoller and one goroutine runs while a socket is
// registered. Each event carries epoll's flags: a short read with no
// EdgeHup in them means the socket is drained.
type EdgePoller struct {
	sockSet[EdgeReady]
	// AfterBatch, when set before the first Add, is called on the poller's
	// goroutine once every socket of a batch was told: an owner that
	// gathers work in EdgeReady does it there, for all at once. Gather is
	// how long the goroutine then lets readiness gather before it looks
	// again (0: it only yields), so that batches grow under load.
	AfterBatch func()
	Gather     time.Duration

	// Owned by the running goroutine.
	events [128]syscall.EpollEvent
	told   [128]EdgeReady
	ready  int
}

// EdgeReady is told the epoll flags of its socket's readiness. It is called
// on the poller's goroutine and must not wait; it may come once more just
// after Remove, and must then do no harm.
type EdgeReady interface{ EdgeReady(events uint32) }

// Event flags told to EdgeReady: EdgeIn alone means bytes to read; any
// other bit (peer closed its end, hang-up, error) means the end is near.
const (
	EdgeIn  = uint32(syscall.EPOLLIN)
	EdgeHup = uint32(syscall.EPOLLRDHUP | syscall.EPOLLHUP | syscall.EPOLLERR)
)

const edgeFlags = uint32(syscall.EPOLLIN|syscall.EPOLLRDHUP) | 1<<31 // EPOLLET

// Add registers fd (readiness already there is told at once); false when
// the poller cannot, and the caller waits for the socket itself.
func (p *EdgePoller) Add(fd uintptr, r EdgeReady) bool {
	return p.add(fd, edgeFlags, r, "rawsock-edge-poller", p.run)
}

// Remove unregisters fd if r registered it (its number may have been
// closed and reused by another socket since).
func (p *EdgePoller) Remove(fd uintptr, r EdgeReady) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.socks[int32(fd)] == r {
		p.drop(fd)
	}
}

// run tells each ready socket, until no socket is registered.
func (p *EdgePoller) run() {
	for p.wait(p.collect) {
		for i := range p.ready {
			p.told[i] = p.socks[p.events[i].Fd]
		}
		p.mu.Unlock()
		for i := range p.ready {
			// A socket removed before the lookup above is not told; one
			// removed since may still be told once (EdgeReady allows it).
			if r := p.told[i]; r != nil {
				r.EdgeReady(p.events[i].Events)
				p.told[i] = nil
			}
		}
		p.ready = 0
		if p.AfterBatch != nil {
			p.AfterBatch()
		}
		// Under steady load the set never empties and the goroutine would
		// run for good: the runtime's sysmon then preempts it every 10 ms
		// and stops backing off. A yield per batch shows it progress.
		// (Parking without a last epoll_wait would lose readiness: each
		// RawConn.Read forgets what the netpoller told before it.)
		if p.Gather > 0 {
			time.Sleep(p.Gather)
		} else {
			runtime.Gosched()
		}
	}
}

// collect takes the ready events without waiting; false parks the
// goroutine until the set is readable.
func (p *EdgePoller) collect(epfd uintptr) bool {
	p.ready = waitNow(epfd, p.events[:])
	return p.ready > 0
}
