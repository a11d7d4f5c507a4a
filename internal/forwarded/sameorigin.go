package forwarded

import (
	"net"
	"net/url"
	"strings"
)

// SameOrigin reports whether origin (an Origin header, or the
// scheme://host[:port] of a Referer) is the gateway as this request's
// client addressed it: same scheme, host and port. When the gateway has
// names (Hosts), the origin's host must be one of them, which stops DNS
// rebinding (a foreign name pointed at the gateway). A Host that is not
// one of the names was rewritten on the way (nginx's default
// `proxy_set_header Host $proxy_host`): then the public port is taken to
// be the scheme's default.
func (i Info) SameOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.User != nil || !strings.EqualFold(u.Scheme, i.Scheme) {
		return false
	}
	oHost, oPort := hostPort(u.Host, i.Scheme)
	sHost, sPort := hostPort(i.Host, i.Scheme)
	if len(i.Hosts) > 0 {
		if !i.Hosts.Match(oHost) {
			return false
		}
		if !i.Hosts.Match(sHost) {
			return oPort == defaultPort(i.Scheme)
		}
	}
	return oHost == sHost && oPort == sPort
}

// hostPort splits an authority into its normalised host and its port (the
// scheme's default when absent).
func hostPort(authority, scheme string) (host, port string) {
	h, p, err := net.SplitHostPort(authority)
	if err != nil {
		h, p = authority, ""
	}
	if p == "" {
		p = defaultPort(scheme)
	}
	return normalHost(h), p
}

func defaultPort(scheme string) string {
	if strings.EqualFold(scheme, "https") {
		return "443"
	}
	return "80"
}
