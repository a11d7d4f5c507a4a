package config

import (
	"net/url"
	"strings"
	"time"
)

// SockJS makes a bridged route speak the SockJS protocol (sockjs-client
// 1.x) under its path instead of bridgeway's own endpoints
// (docs/sockjs.md). The route's mode, upstream, buffer, heartbeat (the
// SockJS "h" frame interval), origins and limits apply as on any route;
// its transports list is not used (SockJS has its own).
type SockJS struct {
	// ClientURL is the sockjs-client script the iframe page loads (the
	// iframe-based transports need it; bridgeway ships no third-party
	// script). An absolute http(s) URL or a path starting with "/".
	// Default "": the iframe page answers 404 and sockjs-client uses the
	// transports that need no iframe.
	ClientURL string `yaml:"client_url"`
	// WebSocket serves the SockJS and raw WebSocket endpoints and says so
	// in /info. Default true.
	WebSocket *bool `yaml:"websocket"`
	// CookieNeeded sets JSESSIONID on session requests and says so in
	// /info, for load balancers that stick on it; bridgeway itself needs no
	// stickiness. Default false.
	CookieNeeded bool `yaml:"cookie_needed"`
	// DisconnectDelay is how long a session lives with no receiving
	// request (between two polls, or after a stream ended); then it is
	// closed and its upstream with it. Default 5s, SockJS's own.
	DisconnectDelay Duration `yaml:"disconnect_delay"`
	// ResponseLimit is how many bytes one streaming response
	// (xhr_streaming, eventsource, htmlfile) carries before it ends and
	// the client opens the next one, so the browser can free what it
	// buffered. Default 128KiB, SockJS's own. 1KiB to 16MiB.
	ResponseLimit Size `yaml:"response_limit"`
}

// SockJS defaults and bounds (docs/configuration.md, routes[].sockjs).
const (
	DefaultSockJSDisconnectDelay = Duration(5 * time.Second)
	DefaultSockJSResponseLimit   = Size(128 << 10)
	MinSockJSResponseLimit       = Size(1 << 10)
	MaxSockJSResponseLimit       = Size(16 << 20)
)

func applySockJSDefaults(s *SockJS, prefix string, set func(string) bool) {
	if s.WebSocket == nil {
		s.WebSocket = ptr(true)
	}
	if !set(prefix + "disconnect_delay") {
		s.DisconnectDelay = DefaultSockJSDisconnectDelay
	}
	if !set(prefix + "response_limit") {
		s.ResponseLimit = DefaultSockJSResponseLimit
	}
}

func (v *validator) sockjs(prefix string, r *Route) {
	s := r.SockJS
	if r.Upstream.Kind == KindHTTP {
		v.errorf(prefix, "sockjs needs a bridged upstream (kind websocket, sse, longpoll or poll), not kind http")
	}
	if s.DisconnectDelay <= 0 {
		v.errorf(prefix+".disconnect_delay", "must be greater than 0")
	}
	if s.ResponseLimit < MinSockJSResponseLimit || s.ResponseLimit > MaxSockJSResponseLimit {
		v.errorf(prefix+".response_limit", "must be between %d and %d bytes, got %d", MinSockJSResponseLimit, MaxSockJSResponseLimit, s.ResponseLimit)
	}
	if s.ClientURL != "" && !validClientURL(s.ClientURL) {
		v.errorf(prefix+".client_url", "bad URL %q (want http(s)://host/path or /path, without quotes, <, > or spaces)", s.ClientURL)
	}
}

// validClientURL accepts what may stand in the iframe page's
// <script src="..."> as it is: no character that could leave the
// attribute.
func validClientURL(raw string) bool {
	if strings.ContainsAny(raw, "\"'<>` \t\r\n\\") {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil {
		return false
	}
	if u.Scheme == "" {
		return u.Host == "" && strings.HasPrefix(raw, "/") && !strings.HasPrefix(raw, "//")
	}
	return (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
