//go:build !unix

package rawsock

import "syscall"

// Supported is false here: callers take their portable path (see doc.go).
const Supported = false

// Write, Read and Ready are not used where Supported is false and the
// caller has no raw socket (Windows).
func Write(uintptr, []byte) (int, syscall.Errno) { return 0, syscall.EINVAL }

func Read(uintptr, []byte) (int, syscall.Errno) { return 0, syscall.EINVAL }

func Ready(uintptr) bool { return true }

func Gone(uintptr) bool { return false }

// Peek is not used where Supported is false.
func Peek(uintptr, []byte) (int, syscall.Errno) { return 0, syscall.EINVAL }
