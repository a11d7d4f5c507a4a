package loadgen

import (
	"context"
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSourceDialerLeavesPortsToConnect: a subscriber dialed from a source
// address connects from it, and its socket carries IP_BIND_ADDRESS_NO_PORT,
// so its port is not reserved away from other processes' connect(2) (the
// load balancer's dials to its backends ran out of ports without it).
func TestSourceDialerLeavesPortsToConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conn, err := newNetDialer(net.IPv4(127, 0, 0, 3)).DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if ip := conn.LocalAddr().(*net.TCPAddr).IP; !ip.Equal(net.IPv4(127, 0, 0, 3)) {
		t.Fatalf("connected from %v, want 127.0.0.3", ip)
	}
	raw, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := raw.Control(func(fd uintptr) {
		v, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT)
	}); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	if v != 1 {
		t.Fatalf("IP_BIND_ADDRESS_NO_PORT = %d, want 1", v)
	}
}
