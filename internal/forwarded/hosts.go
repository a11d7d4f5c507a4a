package forwarded

import "strings"

// Hosts are the names the gateway answers to (config hosts, or the TLS
// certificate's names), lower-case, IPv6 without brackets. A name may start
// with "*." to match any one label there, as in a certificate. Empty: any
// name.
type Hosts []string

// NewHosts normalises names.
func NewHosts(names []string) Hosts {
	h := make(Hosts, 0, len(names))
	for _, n := range names {
		h = append(h, normalHost(n))
	}
	return h
}

// Match reports whether host (no port) is one of the names.
func (h Hosts) Match(host string) bool {
	host = normalHost(host)
	for _, n := range h {
		if n == host {
			return true
		}
		if rest, ok := strings.CutPrefix(n, "*."); ok {
			label, parent, found := strings.Cut(host, ".")
			if found && label != "" && parent == rest {
				return true
			}
		}
	}
	return false
}

// First is the first name without a wildcard ("" when there is none).
func (h Hosts) First() string {
	for _, n := range h {
		if !strings.HasPrefix(n, "*.") {
			return n
		}
	}
	return ""
}

func normalHost(h string) string {
	return strings.ToLower(strings.TrimSuffix(strings.Trim(h, "[]"), "."))
}
