//go:build !linux

package bridge

import "net"

// peekSupported: without the raw socket peek, polls are not parked.
const peekSupported = false

type parkSock struct{ nb nbWriter }

func (*parkSock) init(net.Conn) bool { return false }

func (*parkSock) clientGone() bool { return false }

// Never reached: polls do not park here.
func (*parkSock) waitPeek() (*[]byte, int, error) { return nil, 0, net.ErrClosed }

func (*parkSock) readAll([]byte) bool { return false }
