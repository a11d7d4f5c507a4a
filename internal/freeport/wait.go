package freeport

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// WaitHeld waits until the process pid (or a child) listens on port. It
// returns an error wrapping ErrInUse when the process exits (exited is
// closed) and one of its logs (file names or glob patterns: a program's log
// folder) says a bind failed.
func WaitHeld(pid, port int, exited <-chan struct{}, timeout time.Duration, logs ...string) error {
	end := time.Now().Add(timeout)
	for {
		if ours, err := HeldBy(pid, port); err != nil || ours {
			return err
		}
		select {
		case <-exited:
			var out []byte
			for _, pattern := range logs {
				paths, _ := filepath.Glob(pattern)
				for _, path := range paths {
					b, _ := os.ReadFile(path)
					out = append(out, b...)
				}
			}
			if InUse(string(out)) {
				return fmt.Errorf("port %d: %w", port, ErrInUse)
			}
			return fmt.Errorf("exited before listening on port %d: %s", port, tail(out))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(end) {
			return fmt.Errorf("not listening on port %d within %v", port, timeout)
		}
	}
}

// tail is the end of a program's output, for an error message.
func tail(out []byte) []byte {
	if len(out) > 3000 {
		return out[len(out)-3000:]
	}
	return out
}
