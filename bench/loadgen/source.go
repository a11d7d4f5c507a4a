package loadgen

import (
	"fmt"
	"net"
	"time"
)

// newNetDialer dials subscriber connections; source, when not nil, is the
// local address they come from. Loopback has ~28,000 ephemeral ports per
// (source, destination) pair, so runs beyond that spread their
// connections over several 127/8 source addresses.
func newNetDialer(source net.IP) *net.Dialer {
	d := &net.Dialer{Timeout: 15 * time.Second, KeepAlive: -1}
	if source != nil {
		d.LocalAddr = &net.TCPAddr{IP: source}
		d.Control = bindNoPort
	}
	return d
}

// ParseSource reads a source address ("" is none: the system picks).
func ParseSource(s string) (net.IP, error) {
	if s == "" {
		return nil, nil
	}
	ip := net.ParseIP(s)
	if ip == nil {
		return nil, fmt.Errorf("source address: %q is not an IP address", s)
	}
	return ip, nil
}
