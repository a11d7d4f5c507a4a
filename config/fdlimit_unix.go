//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package config

import "syscall"

// readFDLimit is the process's open-file limit (RLIMIT_NOFILE, soft), as Go's
// os package left it at start (it raises the soft limit to the hard one);
// 0 when unknown. Unlimited reads as a huge number, which no budget reaches.
func readFDLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return uint64(rl.Cur)
}
