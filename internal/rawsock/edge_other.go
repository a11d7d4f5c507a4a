//go:build !linux

package rawsock

import "time"

// EdgePoller is Linux-only; elsewhere Add fails and the caller waits for
// the socket itself.
type EdgePoller struct {
	AfterBatch func()
	Gather     time.Duration
}

// EdgeReady is told the epoll flags of its socket's readiness.
type EdgeReady interface{ EdgeReady(events uint32) }

// Event flags (unused where Add fails).
const (
	EdgeIn  = uint32(1)
	EdgeHup = uint32(0x2000 | 0x10 | 0x8)
)

func (*EdgePoller) Add(uintptr, EdgeReady) bool { return false }

func (*EdgePoller) Remove(uintptr, EdgeReady) {}
