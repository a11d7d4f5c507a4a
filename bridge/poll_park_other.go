//go:build !linux

package bridge

import "net"

// peekSupported: without the raw socket peek, polls are not parked.
const peekSupported = false

type peekWaiter struct{}

func newPeekWaiter(net.Conn) *peekWaiter { return nil }

func (*peekWaiter) clientGone() bool { return false }
