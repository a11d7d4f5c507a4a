package config

import (
	"slices"
	"strings"
)

// kindFromURL is the default upstream kind for a URL's scheme, or "" when
// the scheme says nothing (validation then reports it).
func kindFromURL(raw string) string {
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	switch strings.ToLower(scheme) {
	case "ws", "wss":
		return KindWebSocket
	case "http", "https":
		return KindHTTP
	}
	return ""
}

// Serves reports whether the route serves clients over transport.
func (r Route) Serves(transport string) bool {
	return slices.Contains(r.Transports, transport)
}

// PassThrough reports whether the route is a plain reverse proxy (kind http).
func (r Route) PassThrough() bool { return r.Upstream.Kind == KindHTTP }

// Broadcast reports whether the route shares one upstream among subscribers.
func (r Route) Broadcast() bool { return r.Mode == ModeBroadcast }

// AdminListen is the admin address, "" when the admin listener is off.
func (c *Config) AdminListen() string {
	if c.Admin.Listen == nil {
		return DefaultAdminListen
	}
	return *c.Admin.Listen
}
