//go:build !linux

package freeport

import (
	"net"
	"testing"
)

// Refusing returns a loopback address nothing listens on (Linux holds the
// port for the test; here it is only a closed listener's).
func Refusing(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("freeport: %v", err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}
