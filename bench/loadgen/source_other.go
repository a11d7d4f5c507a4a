//go:build !linux

package loadgen

import "syscall"

// bindNoPort: IP_BIND_ADDRESS_NO_PORT is Linux's; elsewhere bind as usual.
func bindNoPort(_, _ string, _ syscall.RawConn) error { return nil }
