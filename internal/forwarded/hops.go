package forwarded

import (
	"net/http"
	"net/netip"
	"strings"
)

// forwardedFor is the X-Forwarded-For chain, oldest hop first, every
// header line in order; nil when the header is absent.
func forwardedFor(h http.Header) []string {
	var hops []string
	for _, line := range h.Values("X-Forwarded-For") {
		for _, hop := range strings.Split(line, ",") {
			hops = append(hops, strings.TrimSpace(hop))
		}
	}
	return hops
}

// parseHop reads one hop: an address, optionally with a port ("1.2.3.4:5",
// "[::1]:5") or in brackets ("[::1]"). ok is false for anything else
// ("unknown", obfuscated RFC 7239 names, garbage).
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// clientFromHops walks hops from the right (the hop nearest the gateway)
// past trusted proxies; the first untrusted hop is the client, as nginx's
// real_ip_recursive does. When every hop is trusted the oldest is the
// client. A hop that is not an address ends the walk: nothing left of it can
// be believed, so the hop to its right (a trusted proxy) is the answer, or
// the peer when there is none.
func clientFromHops(hops []string, trust *Trust, peer string) string {
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return client
		}
		client = a.String()
		if !trust.Contains(a) {
			return client
		}
	}
	return client
}
