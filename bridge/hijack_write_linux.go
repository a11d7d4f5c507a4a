package bridge

import (
	"syscall"
	"unsafe"
)

// socketWrite writes to a non-blocking socket without entering the
// scheduler's syscall state: such a write never waits (EAGAIN instead), and
// syscall.Write's entersyscall/exitsyscall pair, thousands of times per
// message in a fan-out, kept waking the runtime's sysmon thread (the
// pass-through tunnel measured a fifth of its CPU there).
func socketWrite(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}
