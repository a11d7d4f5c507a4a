//go:build amd64 || arm64

package rawsock

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// Taking a socket out of the runtime's epoll set while nothing of Go waits
// for it, and putting it back exactly as the runtime made it.
//
// Why: a socket relayed on an io_uring ring (the pass-through tunnels) stays
// in the runtime's edge-triggered epoll set, and every segment that reaches
// it wakes whichever thread of the runtime sleeps in that set, to find no
// goroutine waiting: 15% of the gateway's CPU in the echo benchmark
// (docs/benchmarks.md, *Pass-through on a thread's own ring*). The runtime
// has no call for this, so the entry is rebuilt from its private layout
// (Go 1.26; the same since 1.21): the pollDesc behind net's poll.FD, whose
// second word is the descriptor and third its reuse count, packed into the
// epoll data as the runtime's tagged pointer. Once per process the rebuilt
// entry of a socket of our own is compared with what the kernel shows for
// it (/proc/self/fdinfo of each epoll descriptor); if anything differs (a
// Go release changed the layout), Detachable is false and sockets stay
// where they are: slower, never wrong. Each entry is checked again against
// its descriptor when it is made.

// runtimeEvents are the flags the runtime registers every descriptor with
// (runtime/netpoll_epoll.go, netpollopen); package syscall declares
// EPOLLET negative, hence its minus.
const runtimeEvents = syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP | -syscall.EPOLLET

// The runtime's tagged pointer on Linux amd64 and arm64: the address
// (49 bits) shifted left by 64 - 49, and 64 - 49 + 9 bits of tag
// (runtime/tagptr_64bit.go).
const (
	tagShift = 64 - 49
	tagMask  = 1<<(64-49+9) - 1
)

// NetpollEntry is a socket's entry in the runtime's epoll set.
type NetpollEntry struct {
	fd   int32
	data uint64
}

var netpollSet struct {
	once sync.Once
	epfd int // the runtime's epoll descriptor; -1: not detachable
}

// Detachable reports whether sockets can be taken out of the runtime's
// epoll set here (the check above passed).
func Detachable() bool {
	netpollSet.once.Do(func() { netpollSet.epfd = findRuntimeEpoll() })
	return netpollSet.epfd >= 0
}

// NetpollEntryOf is the runtime's entry for the socket under rc (a RawConn
// of a net connection); false when Detachable is false or rc is not one.
func NetpollEntryOf(rc syscall.RawConn) (NetpollEntry, bool) {
	if !Detachable() {
		return NetpollEntry{}, false
	}
	return entryOf(rc)
}

// Detach takes e's socket out of the runtime's set. No goroutine may wait
// for it in the netpoller until Attach.
func Detach(e NetpollEntry) error {
	return syscall.EpollCtl(netpollSet.epfd, syscall.EPOLL_CTL_DEL, int(e.fd), nil)
}

// Attach puts e's socket back with the runtime's flags and data. epoll
// reports the socket's readiness at once, so a goroutine that starts
// waiting right after is woken as usual.
func Attach(e NetpollEntry) error {
	ev := syscall.EpollEvent{Events: runtimeEvents, Fd: int32(e.data), Pad: int32(e.data >> 32)}
	return syscall.EpollCtl(netpollSet.epfd, syscall.EPOLL_CTL_ADD, int(e.fd), &ev)
}

// entryOf reads rc's pollDesc: *net.rawConn{fd *netFD}, netFD{pfd
// poll.FD}, poll.FD{Sysfd int, pd pollDesc{runtimeCtx uintptr}}.
func entryOf(rc syscall.RawConn) (NetpollEntry, bool) {
	v := reflect.ValueOf(rc)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return NetpollEntry{}, false
	}
	fd := v.Elem().FieldByName("fd")
	if fd.Kind() != reflect.Pointer || fd.IsNil() || fd.Elem().Kind() != reflect.Struct {
		return NetpollEntry{}, false
	}
	pfd := fd.Elem().FieldByName("pfd")
	if pfd.Kind() != reflect.Struct {
		return NetpollEntry{}, false
	}
	sysfd, pd := pfd.FieldByName("Sysfd"), pfd.FieldByName("pd")
	if sysfd.Kind() != reflect.Int || pd.Kind() != reflect.Struct {
		return NetpollEntry{}, false
	}
	ctx := pd.FieldByName("runtimeCtx")
	if ctx.Kind() != reflect.Uintptr || ctx.Uint() == 0 {
		return NetpollEntry{}, false
	}
	addr := uintptr(ctx.Uint())
	p := *(*unsafe.Pointer)(unsafe.Pointer(&addr)) // the runtime's pollDesc, never moved nor freed while rc's socket is open
	if *(*uintptr)(unsafe.Add(p, 8)) != uintptr(sysfd.Int()) {
		return NetpollEntry{}, false // pollDesc.fd is not where it was
	}
	seq := atomic.LoadUintptr((*uintptr)(unsafe.Add(p, 16)))
	return NetpollEntry{fd: int32(sysfd.Int()), data: uint64(addr)<<tagShift | uint64(seq)&tagMask}, true
}

// findRuntimeEpoll is the runtime's epoll descriptor, found as the one
// whose entry for a listening socket of our own is the entry rebuilt for
// it; -1 when there is none.
func findRuntimeEpoll() int {
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return -1
	}
	defer l.Close()
	rc, err := l.SyscallConn()
	if err != nil {
		return -1
	}
	e, ok := entryOf(rc)
	if !ok {
		return -1
	}
	// The kernel adds EPOLLERR and EPOLLHUP to every entry.
	want := fmt.Sprintf("%x %x", uint32(runtimeEvents|syscall.EPOLLERR|syscall.EPOLLHUP), e.data)
	for epfd, entry := range EpollEntries(int(e.fd)) {
		if entry == want {
			return epfd
		}
	}
	return -1
}

// EpollEntries lists fd's entries in the process's epoll sets as the
// kernel shows them (/proc/self/fdinfo): "events data" in hex, by epoll
// descriptor.
func EpollEntries(fd int) map[int]string {
	found := map[int]string{}
	dir, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return found
	}
	for _, d := range dir {
		if link, _ := os.Readlink("/proc/self/fd/" + d.Name()); link != "anon_inode:[eventpoll]" {
			continue
		}
		epfd, _ := strconv.Atoi(d.Name())
		if entry, ok := epollEntry(epfd, fd); ok {
			found[epfd] = entry
		}
	}
	return found
}

func epollEntry(epfd, fd int) (string, bool) {
	f, err := os.Open("/proc/self/fdinfo/" + strconv.Itoa(epfd))
	if err != nil {
		return "", false // closed meanwhile
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// tfd:        5 events: 8000201d data:     7f...  pos:0 ino:... sdev:...
		w := strings.Fields(sc.Text())
		if len(w) >= 6 && w[0] == "tfd:" && w[1] == strconv.Itoa(fd) && w[2] == "events:" && w[4] == "data:" {
			return w[3] + " " + w[5], true
		}
	}
	return "", false
}
