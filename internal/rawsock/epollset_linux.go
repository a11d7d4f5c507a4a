package rawsock

import (
	"os"
	"sync"
	"syscall"
	"time"
)

// sockSet is what Poller and EdgePoller share: an epoll set, opened on
// first use, whose descriptor waits in the Go runtime's netpoller like a
// socket (no thread blocks in epoll_wait), the sockets registered in it,
// and a goroutine that runs while there is one.
type sockSet[T comparable] struct {
	mu      sync.Mutex
	file    *os.File // the epoll set, in the netpoller; nil until first use
	epfd    int      // its descriptor (File.Fd would make it blocking)
	rc      syscall.RawConn
	running bool
	socks   map[int32]T
}

// add registers fd with flags, starting run if it is not running; false
// when the set cannot be made or fd added.
func (s *sockSet[T]) add(fd uintptr, flags uint32, r T, name string, run func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil && !s.open(name) {
		return false
	}
	ev := syscall.EpollEvent{Events: flags, Fd: int32(fd)}
	if syscall.EpollCtl(s.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev) != nil {
		return false
	}
	s.socks[int32(fd)] = r
	if !s.running {
		s.running = true
		go run()
	}
	return true
}

// open makes the epoll set (s.mu held).
func (s *sockSet[T]) open(name string) bool {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return false
	}
	f, rc, err := InNetpoller(epfd, name)
	if err != nil {
		return false
	}
	s.file, s.epfd, s.rc, s.socks = f, epfd, rc, make(map[int32]T)
	return true
}

// drop unregisters fd (s.mu held); removing the last socket wakes the
// goroutine so that it ends.
func (s *sockSet[T]) drop(fd uintptr) {
	delete(s.socks, int32(fd))
	_ = syscall.EpollCtl(s.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	if len(s.socks) == 0 {
		_ = s.file.SetReadDeadline(time.Unix(1, 0))
	}
}

// wait parks until collect finds events. false: no socket is left and the
// goroutine must end; true: s.mu is held, for the caller to look up the
// sockets of the events.
func (s *sockSet[T]) wait(collect func(uintptr) bool) bool {
	err := s.rc.Read(collect)
	s.mu.Lock()
	if len(s.socks) == 0 {
		s.running = false
		s.mu.Unlock()
		return false
	}
	if err != nil {
		// Woken by drop, and a socket was added since.
		_ = s.file.SetReadDeadline(time.Time{})
	}
	return true
}

// waitNow takes the ready events without waiting: 0 when there are none
// (or epoll_wait failed).
func waitNow(epfd uintptr, events []syscall.EpollEvent) int {
	n, err := syscall.EpollWait(int(epfd), events, 0)
	for err == syscall.EINTR {
		n, err = syscall.EpollWait(int(epfd), events, 0)
	}
	if err != nil || n <= 0 {
		return 0
	}
	return n
}
