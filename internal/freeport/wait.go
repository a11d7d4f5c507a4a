package freeport

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// waitHeld waits until the process pid (or a child) listens on every port.
// Its error wraps ErrInUse when another process listens on one first, or
// when the process exits (exited is closed) and its logs say a bind
// failed.
func waitHeld(pid int, ports []int, exited <-chan struct{}, timeout time.Duration, logs []string) error {
	end := time.Now().Add(timeout)
	for waiting := ports; ; {
		var err error
		if waiting, err = notHeld(pid, waiting); err != nil || len(waiting) == 0 {
			return err
		}
		select {
		case <-exited:
			out := readLogs(logs)
			if InUse(string(out)) {
				return fmt.Errorf("port %d: %w", waiting[0], ErrInUse)
			}
			return fmt.Errorf("exited before listening on port %d: %s", waiting[0], tail(out))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(end) {
			return fmt.Errorf("not listening on port %d within %v: %s", waiting[0], timeout, tail(readLogs(logs)))
		}
	}
}

// notHeld returns the ports pid's tree does not listen on yet, or an error
// wrapping ErrInUse when another process listens on one of them: the
// program cannot bind it, whether or not it exits saying so.
func notHeld(pid int, ports []int) ([]int, error) {
	var left []int
	for _, port := range ports {
		ours, theirs, err := holders(pid, port)
		switch {
		case err != nil:
			return nil, err
		case theirs:
			return nil, fmt.Errorf("another process listens on port %d: %w", port, ErrInUse)
		case !ours:
			left = append(left, port)
		}
	}
	return left, nil
}

// readLogs is the content of every file the patterns name, in order.
func readLogs(patterns []string) []byte {
	var out []byte
	for _, path := range logFiles(patterns) {
		b, _ := os.ReadFile(path)
		out = append(out, b...)
	}
	return out
}

// logFiles are the files the patterns (paths or globs) name, in order.
func logFiles(patterns []string) []string {
	var paths []string
	for _, pattern := range patterns {
		matched, _ := filepath.Glob(pattern)
		paths = append(paths, matched...)
	}
	return paths
}

// tail is the end of a program's output, for an error message.
func tail(out []byte) []byte {
	if len(out) > 3000 {
		return out[len(out)-3000:]
	}
	return out
}
