//go:build !linux

package rawsock

// Poller is Linux-only; elsewhere Add fails and the caller reads the
// socket itself.
type Poller struct{}

func (*Poller) Add(uintptr, Readable) bool { return false }

func (*Poller) Rearm(uintptr) {}

func (*Poller) Remove(uintptr) {}
