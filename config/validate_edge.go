package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// edge checks the keys that say how the gateway is reached: hosts and
// trusted_proxies.
func (v *validator) edge() {
	seen := map[string]bool{}
	for i, h := range v.cfg.Hosts {
		path := fmt.Sprintf("hosts[%d]", i)
		if h == "*" {
			v.errorf(path, "a bare * is not a host name (leave hosts out to answer to any name, or write *.example.com)")
			continue
		}
		if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err != nil && !validDomain(h) {
			v.errorf(path, "bad host name %q (want a name such as app.example.com or an IP address, no scheme or port; a leading *. label is allowed)", h)
			continue
		}
		if seen[strings.ToLower(h)] {
			v.errorf(path, "duplicate host %q", h)
		}
		seen[strings.ToLower(h)] = true
	}
	for i, p := range v.cfg.TrustedProxies {
		path := fmt.Sprintf("trusted_proxies[%d]", i)
		prefix, err := ParsePrefix(p)
		if err != nil {
			v.errorf(path, "bad address %q (want a CIDR such as 10.0.0.0/8 or a single address such as 192.0.2.7)", p)
			continue
		}
		if prefix.Bits() == 0 {
			v.warnf(path, "%q trusts every address: any client can choose the address the gateway logs and limits (list your proxies only)", p)
		}
	}
}

// ParsePrefix reads one trusted_proxies entry: a CIDR, or a single address
// (a /32 or /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// warnf records a warning at path: the file still loads.
func (v *validator) warnf(path, format string, args ...any) {
	p := v.at(path)
	v.cfg.Warnings = append(v.cfg.Warnings, &Error{File: v.d.file, Line: p.line, Col: p.col,
		Msg: "warning: " + path + ": " + fmt.Sprintf(format, args...)})
}
