//go:build !linux || !(amd64 || arm64)

package rawsock

import "syscall"

// NetpollEntry is a socket's entry in the runtime's epoll set; sockets are
// never taken out of it here (netpoll_detach_linux.go).
type NetpollEntry struct{}

func Detachable() bool { return false }

func NetpollEntryOf(syscall.RawConn) (NetpollEntry, bool) { return NetpollEntry{}, false }

func Detach(NetpollEntry) error { return nil }

func Attach(NetpollEntry) error { return nil }

func EpollEntries(int) map[int]string { return nil }
