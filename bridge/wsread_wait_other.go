//go:build !linux

package bridge

import "net"

// readWaiter is Linux-only (see wsread_wait_linux.go); elsewhere the reader
// parks in its read.
type readWaiter struct{}

func newReadWaiter(net.Conn) *readWaiter { return nil }

func (*readWaiter) wait() error { return nil }
