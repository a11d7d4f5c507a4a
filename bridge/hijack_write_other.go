//go:build unix && !linux

package bridge

import "syscall"

// socketWrite writes to a non-blocking socket (see the Linux version).
func socketWrite(fd int, p []byte) (int, error) { return syscall.Write(fd, p) }
