//go:build unix

package loadgen

import (
	"fmt"
	"syscall"
	"time"
)

// fdHeadroom is what a run needs besides one descriptor per subscriber:
// publisher, upstream server, /proc reads, stdio.
const fdHeadroom = 64

// ensureFDs raises the soft open-file limit to the hard one and checks that
// conns connections fit. Clients and server share the machine but not the
// per-process limit, so a run beyond it needs several generator processes.
func ensureFDs(conns int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("limits: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("limits: raise open files to %d: %w", lim.Max, err)
		}
	}
	if need := uint64(conns + fdHeadroom); need > uint64(lim.Cur) {
		return fmt.Errorf("limits: %d connections need %d open files, this process may have %d: split the load over several generator processes", conns, need, lim.Cur)
	}
	return nil
}

// selfCPU is this process's user+system CPU time: the generator's own cost,
// reported so a run whose client saturated the machine can be told apart.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
