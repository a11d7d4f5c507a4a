package freeport

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bridgeway/bridgeway/internal/proctree"
)

// HeldBy reports whether the process pid, or one of its descendants, holds
// a listening TCP socket on port: the socket inodes listening there
// (/proc/net/tcp, tcp6) against the processes' open files.
func HeldBy(pid, port int) (bool, error) {
	ours, _, err := holders(pid, port)
	return ours, err
}

// HeldByItself is HeldBy without the descendants: whether this very
// process (a test's own listeners, or a library inside it) holds port.
func HeldByItself(pid, port int) (bool, error) {
	inodes, err := listening(port)
	if err != nil {
		return false, err
	}
	return holds([]int{pid}, inodes), nil
}

// holders reports whether pid's tree listens on port (ours), and else
// whether another process does (theirs: the program cannot bind it).
func holders(pid, port int) (ours, theirs bool, err error) {
	// The sockets first, the tree after: a process the program starts in
	// between is in the tree, and a socket bound in between is not counted
	// as anyone's.
	inodes, err := listening(port)
	if err != nil || len(inodes) == 0 {
		return false, false, err
	}
	pids, _ := proctree.WithDescendants(pid)
	if holds(pids, inodes) {
		return true, false, nil
	}
	return false, true, nil
}

// holds reports whether one of pids has one of inodes open.
func holds(pids []int, inodes map[string]bool) bool {
	for _, p := range pids {
		fds, _ := os.ReadDir(filepath.Join("/proc", strconv.Itoa(p), "fd"))
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(p), "fd", fd.Name()))
			if err == nil && strings.HasPrefix(link, "socket:[") && inodes[strings.Trim(link[len("socket:"):], "[]")] {
				return true
			}
		}
	}
	return false
}

// listening returns the inodes of the sockets listening on port.
func listening(port int) (map[string]bool, error) {
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if err := listeningInodes(table, port, inodes); err != nil {
			return nil, err
		}
	}
	return inodes, nil
}

// listeningInodes adds the inodes of the sockets in LISTEN state (0A) on
// port from one /proc/net table.
func listeningInodes(table string, port int, into map[string]bool) error {
	f, err := os.Open(table)
	if os.IsNotExist(err) {
		return nil // no IPv6
	}
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	want := fmt.Sprintf(":%04X", port)
	for sc := bufio.NewScanner(f); sc.Scan(); {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) >= 10 && fields[3] == "0A" && strings.HasSuffix(fields[1], want) {
			into[fields[9]] = true
		}
	}
	return nil
}
