package proxy

import (
	"net/http"
	"net/netip"

	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/internal/forwarded"
)

// edgePolicy is how requests of cfg are resolved (internal/forwarded): the
// trusted proxies, and the gateway's names (hosts, or without them the TLS
// certificate's names once certs are loaded).
func (s *Server) edgePolicy(cfg *config.Config) *forwarded.Policy {
	var prefixes []netip.Prefix
	for _, p := range cfg.TrustedProxies {
		if prefix, err := config.ParsePrefix(p); err == nil { // validated by config
			prefixes = append(prefixes, prefix)
		}
	}
	names := cfg.Hosts
	if len(names) == 0 && s.certs != nil {
		names = s.certs.Names()
	}
	return &forwarded.Policy{Trust: forwarded.NewTrust(prefixes), Hosts: forwarded.NewHosts(names)}
}

// setEdge applies the policy to new requests and to the connection limits.
func (s *Server) setEdge(p *forwarded.Policy) {
	s.edge.Store(p)
	s.limiter.setTrust(p.Trust)
}

// resolve gives r its client (forwarded.Of), once, as it arrives. With no
// trusted proxy and no names there is nothing to add: forwarded.Of reads
// the same answer from r itself, so the request is not copied.
func (s *Server) resolve(r *http.Request) *http.Request {
	p := s.edge.Load()
	if p.Trust.Empty() && len(p.Hosts) == 0 {
		return r
	}
	return forwarded.With(r, p.Resolve(r))
}
