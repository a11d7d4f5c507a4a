//go:build !linux

package rawsock

// EdgePoller is Linux-only; elsewhere Add fails and the caller reads the
// socket itself.
type EdgePoller struct{}

func (*EdgePoller) Add(uintptr, Readable) bool { return false }

func (*EdgePoller) Remove(uintptr) {}
