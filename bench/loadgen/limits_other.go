//go:build !unix

package loadgen

import "time"

// ensureFDs has nothing to raise here (see limits.go); the run fails at
// dial time if the system refuses connections.
func ensureFDs(int) error { return nil }

// selfCPU is not measured on this system.
func selfCPU() time.Duration { return 0 }
