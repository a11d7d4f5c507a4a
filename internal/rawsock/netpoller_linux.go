package rawsock

import (
	"os"
	"syscall"
)

// InNetpoller puts a pollable descriptor (an epoll set, an io_uring) in Go's
// netpoller, so that a goroutine waits for it to be readable without a
// thread of its own: made non-blocking, wrapped in an *os.File (which then
// owns fd; fd is closed on failure). The RawConn's Read calls its callback
// and, while the callback returns false, parks until fd is readable.
func InNetpoller(fd int, name string) (*os.File, syscall.RawConn, error) {
	if err := syscall.SetNonblock(fd, true); err != nil {
		_ = syscall.Close(fd)
		return nil, nil, err
	}
	f := os.NewFile(uintptr(fd), name) // non-blocking: in the netpoller
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	return f, rc, nil
}
