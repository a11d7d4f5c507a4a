package rawsock

import "syscall"

// EdgePoller is a Poller whose sockets stay armed from Add to Remove,
// edge-triggered: Readable is told each time something new arrives (bytes,
// EOF, an error), with no system call per wait to re-arm, whether or not
// the owner is waiting for it then. An owner that is not waiting must note
// it (a flag) and read when it waits again: the event is not repeated.
// Rearm is not needed.
type EdgePoller struct{ p Poller }

const edgeFlags = syscall.EPOLLIN | syscall.EPOLLRDHUP | 1<<31 // EPOLLET

// Add registers fd; false when the poller cannot (the caller then reads
// the socket itself).
func (e *EdgePoller) Add(fd uintptr, r Readable) bool { return e.p.add(fd, r, edgeFlags) }

// Remove unregisters fd; call it before the socket is closed (its number
// may then be reused).
func (e *EdgePoller) Remove(fd uintptr) { e.p.Remove(fd) }
