//go:build !linux

package bridge

import "net"

// peekSupported: without the raw socket peek, polls are not parked.
const peekSupported = false

type parkSock struct{ nb nbWriter }

func (*parkSock) init(net.Conn) bool { return false }

func (*parkSock) from(*parkSock) {}

func (*parkSock) clientGone() bool { return false }

// Never reached: polls do not park here.
type nextSock struct{ fd uintptr }

func (*nextSock) init(*parkSock) bool { return false }

func (*nextSock) read([]byte) (int, bool, bool) { return 0, false, true }
