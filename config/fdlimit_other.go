//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package config

// readFDLimit: no open-file limit is known on this system.
func readFDLimit() uint64 { return 0 }
