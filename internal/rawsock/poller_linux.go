package rawsock

import "syscall"

// Poller tells when sockets become readable, for many sockets with one
// goroutine: an epoll set of its own, whose descriptor waits in the Go
// runtime's netpoller like any socket (no thread blocks in epoll_wait).
// Sockets are registered one-shot: after Readable, nothing more is told
// about that socket until Rearm. The goroutine runs while a socket is
// registered and ends when the last is removed.
type Poller struct {
	sockSet[Readable]

	// Owned by the running goroutine.
	events [64]syscall.EpollEvent
	ready  int
}

const pollFlags = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

// Add registers fd; false when the poller cannot (the caller then reads
// the socket itself).
func (p *Poller) Add(fd uintptr, r Readable) bool {
	return p.add(fd, pollFlags, r, "rawsock-poller", p.run)
}

// Rearm asks to be told again when fd is readable (after Readable).
func (p *Poller) Rearm(fd uintptr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.socks[int32(fd)]; !ok {
		return
	}
	ev := syscall.EpollEvent{Events: pollFlags, Fd: int32(fd)}
	_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, int(fd), &ev)
}

// Remove unregisters fd; call it before the socket is closed (its number
// may then be reused).
func (p *Poller) Remove(fd uintptr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.socks[int32(fd)]; !ok {
		return
	}
	p.drop(fd)
}

// run waits for the epoll set to be readable and tells each socket's
// Readable, until no socket is registered.
func (p *Poller) run() {
	for p.wait(p.collect) {
		p.mu.Unlock()
		for i := range p.ready {
			p.mu.Lock()
			r := p.socks[p.events[i].Fd]
			p.mu.Unlock()
			// r may be one that took over a reused descriptor: Readable
			// must be harmless when nothing is to be read.
			if r != nil {
				r.Readable()
			}
		}
		p.ready = 0
	}
}

// collect takes the ready events without waiting; false parks the
// goroutine until the set is readable.
func (p *Poller) collect(epfd uintptr) bool {
	p.ready = waitNow(epfd, p.events[:])
	return p.ready > 0
}
