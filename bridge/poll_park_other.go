//go:build !linux

package bridge

import "net"

// peekSupported: without the raw socket peek, polls are not parked.
const peekSupported = false

type parkSock struct{ nb nbWriter }

func (*parkSock) init(net.Conn) bool { return false }

func (*parkSock) clientGone() bool { return false }
