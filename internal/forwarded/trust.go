package forwarded

import (
	"net"
	"net/netip"
)

// Trust is the set of peers whose forwarding headers are believed. The zero
// value (and nil) trusts nobody.
type Trust struct {
	prefixes []netip.Prefix
}

// NewTrust trusts the given networks.
func NewTrust(prefixes []netip.Prefix) *Trust {
	return &Trust{prefixes: prefixes}
}

// Contains reports whether ip is trusted. IPv4-mapped IPv6 counts as
// IPv4, and a zone is ignored (netip.Prefix never contains a zoned address).
func (t *Trust) Contains(ip netip.Addr) bool {
	if t == nil || !ip.IsValid() {
		return false
	}
	ip = ip.Unmap().WithZone("")
	for _, p := range t.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ContainsAddr is Contains for a textual address ("" or garbage: false).
func (t *Trust) ContainsAddr(ip string) bool {
	a, err := netip.ParseAddr(ip)
	return err == nil && t.Contains(a)
}

// Empty reports whether nobody is trusted.
func (t *Trust) Empty() bool { return t == nil || len(t.prefixes) == 0 }

// peerIP is the address part of a RemoteAddr ("ip:port").
func peerIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}
