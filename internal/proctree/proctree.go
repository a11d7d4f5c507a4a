// Package proctree finds a program's processes in /proc (Linux): the ones
// it started hold its sockets and use its CPU too (a start script's Erlang
// VM, nginx's workers, pushpin's condure), so tests and the load generator
// look at the whole tree below a pid, read in one place.
package proctree

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// WithDescendants returns roots and every process below one of them, each
// once, roots first. It fails only when /proc cannot be listed; a process
// that exits while it is read is left out.
func WithDescendants(roots ...int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("proctree: %w", err)
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if ppid, ok := parent(string(stat)); ok {
			children[ppid] = append(children[ppid], pid)
		}
	}
	seen := map[int]bool{}
	var out []int
	for queue := append([]int(nil), roots...); len(queue) > 0; queue = queue[1:] {
		pid := queue[0]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		out = append(out, pid)
		queue = append(queue, children[pid]...)
	}
	return out, nil
}

// parent reads the ppid from /proc/PID/stat: "pid (comm) state ppid ...",
// where comm may hold spaces and parentheses, so fields count after the
// last ')'.
func parent(stat string) (int, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}
