// Package freeport gives tests loopback ports for programs that bind them
// themselves (redis-server, Pebble, RabbitMQ, nginx, squid, pushpin). A port
// free when it is picked can be taken by another process before the program
// binds it, so a start is retried with fresh ports when the program says it
// could not bind, and a program is only taken as up once its own process
// holds the port (a stranger answering there must not pass for it):
// StartHeld starts one that way, Retry tries again with new ports.
package freeport

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// Tries bounds how many sets of ports one start tries.
const Tries = 5

// ErrInUse says a program could not bind a port it was given; Retry tries
// again with fresh ports.
var ErrInUse = errors.New("port already in use")

// Picker returns n distinct loopback ports. Helpers keep one in a variable
// so that a test can hand them a port that is already taken (Busy).
type Picker func(n int) ([]int, error)

// Pick returns n distinct loopback ports that were free a moment ago (held
// together while picking, so that they differ).
func Pick(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer func() { _ = ln.Close() }()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Retry calls start with n ports from pick until it succeeds or fails for
// another reason than ErrInUse, at most Tries times.
func Retry(pick Picker, n int, start func(ports []int) error) error {
	var err error
	for range Tries {
		var ports []int
		if ports, err = pick(n); err != nil {
			return err
		}
		if err = start(ports); !errors.Is(err, ErrInUse) {
			return err
		}
	}
	return fmt.Errorf("%d sets of ports tried: %w", Tries, err)
}

// InUse reports whether a program's output says a bind failed: the C
// library's message (redis-server, nginx, squid), Go's, Erlang's reason,
// RabbitMQ's for its distribution port (it checks that port before
// binding it), or epmd's (run with -d: without it epmd exits silently).
func InUse(output string) bool {
	out := strings.ToLower(output)
	return strings.Contains(out, "address already in use") || strings.Contains(out, "eaddrinuse") ||
		strings.Contains(out, "dist_port_already_used") || strings.Contains(out, "there is already a epmd running")
}

// Mark wraps ErrInUse into err when its text says a bind failed (an
// in-process server's start error), so that Retry tries new ports.
func Mark(err error) error {
	if err != nil && InUse(err.Error()) {
		return fmt.Errorf("%w: %w", err, ErrInUse)
	}
	return err
}
