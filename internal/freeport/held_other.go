//go:build !linux

package freeport

import (
	"net"
	"strconv"
	"time"
)

// HeldBy cannot look at other processes' sockets here: it takes whoever
// accepts on the port for pid (the strict check is Linux's, where CI runs).
func HeldBy(pid, port int) (bool, error) {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err != nil {
		return false, nil
	}
	_ = c.Close()
	return true, nil
}

// HeldByItself is HeldBy: here no process's sockets can be told apart.
func HeldByItself(pid, port int) (bool, error) { return HeldBy(pid, port) }

// holders is HeldBy; another process's listener cannot be told from
// pid's here, so it never counts as theirs.
func holders(pid, port int) (ours, theirs bool, err error) {
	ours, err = HeldBy(pid, port)
	return ours, false, err
}
