//go:build !unix

package passthrough

import "syscall"

// rawSockets is false here: the relay reads through the buffered path and
// writes through the connection, so these are never called.
const rawSockets = false

func sysWrite(uintptr, []byte) (int, syscall.Errno) { return 0, syscall.EINVAL }

func sysRead(uintptr, []byte) (int, syscall.Errno) { return 0, syscall.EINVAL }
