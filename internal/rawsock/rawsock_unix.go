//go:build unix && !linux

package rawsock

import (
	"errors"
	"syscall"
)

// Supported is false here: callers take their portable path (see doc.go).
const Supported = false

// Write is the ordinary write(2).
func Write(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Write(int(fd), p)
	var e syscall.Errno
	if err != nil && !errors.As(err, &e) {
		e = syscall.EIO
	}
	return n, e
}

// Read is not used where Supported is false.
func Read(uintptr, []byte) (int, syscall.Errno) { return 0, syscall.EINVAL }

// Ready is not used where Supported is false.
func Ready(uintptr) bool { return true }

// Gone is not used where Supported is false.
func Gone(uintptr) bool { return false }

// Peek is not used where Supported is false.
func Peek(uintptr, []byte) (int, syscall.Errno) { return 0, syscall.EINVAL }
