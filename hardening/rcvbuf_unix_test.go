//go:build unix

package hardening

import "syscall"

// setReceiveBuffer sets a socket's SO_RCVBUF (the descriptor's type is the
// one thing that differs between Unix and Windows).
func setReceiveBuffer(fd uintptr, n int) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}
