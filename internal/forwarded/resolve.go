package forwarded

import (
	"context"
	"net/http"
	"strings"
)

// Info is what the gateway knows of one request's client.
type Info struct {
	// IP is the client's address: the peer's, or what a trusted proxy says.
	IP string
	// Scheme is "http" or "https", as the client used it.
	Scheme string
	// Host is the host[:port] the client asked for.
	Host string
	// Hosts are the gateway's own names (empty: any).
	Hosts Hosts
}

// Policy is how requests are resolved: whom to trust, which names are ours.
type Policy struct {
	Trust *Trust
	Hosts Hosts
}

// Resolve reads the request's client. Forwarding headers count only when
// the peer is trusted. The address comes from X-Forwarded-For, or, when a
// request has none, from Forwarded's for=; scheme and host from
// X-Forwarded-Proto / X-Forwarded-Host, else Forwarded's proto= / host=
// (the right-most value: the one the nearest proxy wrote).
func (p *Policy) Resolve(r *http.Request) Info {
	peer := peerIP(r.RemoteAddr)
	info := Info{IP: peer, Scheme: "http", Host: r.Host, Hosts: p.Hosts}
	if r.TLS != nil {
		info.Scheme = "https"
	}
	if !p.Trust.ContainsAddr(peer) {
		return info
	}
	elements := parseForwarded(r.Header)
	if hops := forwardedFor(r.Header); hops != nil {
		info.IP = clientFromHops(hops, p.Trust, peer)
	} else if len(elements) > 0 {
		fors := make([]string, len(elements))
		for i, e := range elements {
			fors[i] = e.forAddr
		}
		info.IP = clientFromHops(fors, p.Trust, peer)
	}
	proto, host := lastValue(r.Header, "X-Forwarded-Proto"), lastValue(r.Header, "X-Forwarded-Host")
	if n := len(elements); n > 0 {
		if proto == "" {
			proto = elements[n-1].proto
		}
		if host == "" {
			host = elements[n-1].host
		}
	}
	if proto = strings.ToLower(proto); proto == "http" || proto == "https" {
		info.Scheme = proto
	}
	if validAuthority(host) {
		info.Host = host
	}
	return info
}

// validAuthority accepts host[:port] made of the characters names, IPv4
// and bracketed IPv6 addresses use; nothing that could change a URL built
// from it (no "/", "@", "?", "#", spaces).
func validAuthority(s string) bool {
	if s == "" || len(s) > 261 {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']'
		if !ok {
			return false
		}
	}
	return true
}

// lastValue is the right-most comma-separated value of a header.
func lastValue(h http.Header, name string) string {
	values := h.Values(name)
	if len(values) == 0 {
		return ""
	}
	v := values[len(values)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

type ctxKey struct{}

// With returns r carrying info, for Of.
func With(r *http.Request, info Info) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), ctxKey{}, info))
}

// Of is the request's client as the gateway resolved it when the request
// arrived; a request that did not come through the gateway (a handler
// called directly) is its own peer, with no trusted proxy and no names.
func Of(r *http.Request) Info {
	if info, ok := r.Context().Value(ctxKey{}).(Info); ok {
		return info
	}
	var none Policy
	return none.Resolve(r)
}

// SetHeaders writes the X-Forwarded-For/-Host/-Proto an upstream gets: the
// client's address, and the host and scheme it used. The client's own
// forwarding headers must be removed first; these replace them.
func (i Info) SetHeaders(h http.Header) {
	if i.IP != "" {
		h.Set("X-Forwarded-For", i.IP)
	}
	h.Set("X-Forwarded-Host", i.Host)
	h.Set("X-Forwarded-Proto", i.Scheme)
}
