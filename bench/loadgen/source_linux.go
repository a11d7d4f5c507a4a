package loadgen

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// bindNoPort lets a socket bound to a source address take its port at
// connect time (IP_BIND_ADDRESS_NO_PORT). Without it, bind reserves a port
// for that address alone, and connect(2) without a bind (a load balancer
// dialing its backends from 127.0.0.1) skips every port so reserved: at
// 45,000 generator sockets it found no free port left.
func bindNoPort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
