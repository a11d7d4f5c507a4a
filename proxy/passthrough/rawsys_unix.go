//go:build unix

package passthrough

import (
	"syscall"
	"unsafe"
)

// rawSockets: the relay may read and write sockets with raw syscalls.
const rawSockets = true

// sysWrite and sysRead are write(2) and read(2) on a non-blocking socket
// without the scheduler's syscall bookkeeping (see writeInCallback).
func sysWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	return int(n), e
}

func sysRead(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	return int(n), e
}
