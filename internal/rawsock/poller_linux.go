package rawsock

import (
	"os"
	"sync"
	"syscall"
	"time"
)

// Poller tells when sockets become readable, for many sockets with one
// goroutine: an epoll set of its own, whose descriptor waits in the Go
// runtime's netpoller like any socket (no thread blocks in epoll_wait).
// Sockets are registered one-shot: after Readable, nothing more is told
// about that socket until Rearm. The goroutine runs while a socket is
// registered and ends when the last is removed.
type Poller struct {
	mu      sync.Mutex
	file    *os.File // the epoll set, in the netpoller; nil until first use
	epfd    int      // its descriptor (File.Fd would make it blocking)
	rc      syscall.RawConn
	running bool
	socks   map[int32]Readable

	// Owned by the running goroutine.
	events [64]syscall.EpollEvent
	ready  int
}

const pollFlags = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

// Add registers fd; false when the poller cannot (the caller then reads
// the socket itself).
func (p *Poller) Add(fd uintptr, r Readable) bool { return p.add(fd, r, pollFlags) }

// add registers fd with the epoll flags given (EdgePoller's differ).
func (p *Poller) add(fd uintptr, r Readable, flags uint32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.file == nil && !p.open() {
		return false
	}
	ev := syscall.EpollEvent{Events: flags, Fd: int32(fd)}
	if syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev) != nil {
		return false
	}
	p.socks[int32(fd)] = r
	if !p.running {
		p.running = true
		go p.run()
	}
	return true
}

// open makes the epoll set (p.mu held).
func (p *Poller) open() bool {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return false
	}
	if syscall.SetNonblock(epfd, true) != nil {
		_ = syscall.Close(epfd)
		return false
	}
	f := os.NewFile(uintptr(epfd), "rawsock-poller") // non-blocking: in the netpoller
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return false
	}
	p.file, p.epfd, p.rc, p.socks = f, epfd, rc, make(map[int32]Readable)
	return true
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
	delete(p.socks, int32(fd))
	_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	if len(p.socks) == 0 {
		// Wake the goroutine so that it ends.
		_ = p.file.SetReadDeadline(time.Unix(1, 0))
	}
}

// run waits for the epoll set to be readable and tells each socket's
// Readable, until no socket is registered.
func (p *Poller) run() {
	for {
		err := p.rc.Read(p.collect)
		p.mu.Lock()
		if len(p.socks) == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		if err != nil {
			// Woken by Remove, and a socket was added since.
			_ = p.file.SetReadDeadline(time.Time{})
		}
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
	n, err := syscall.EpollWait(int(epfd), p.events[:], 0)
	for err == syscall.EINTR {
		n, err = syscall.EpollWait(int(epfd), p.events[:], 0)
	}
	if err != nil || n <= 0 {
		p.ready = 0
		return false
	}
	p.ready = n
	return true
}
