package config

import "testing"

// TestSockJSBlockDefaultsAndIdentity: a sockjs block gets its defaults,
// and a reload that adds, drops or changes it replaces the route (the
// handler reads it once).
func TestSockJSBlockDefaultsAndIdentity(t *testing.T) {
	parse := func(block string) Route {
		t.Helper()
		c, err := Parse("sockjs.yaml", []byte("routes:\n  - path: /s\n    upstream: {url: \"ws://127.0.0.1:9/\"}\n"+block))
		if err != nil {
			t.Fatal(err)
		}
		return c.Routes[0]
	}
	plain, def, other := parse(""), parse("    sockjs: {}\n"), parse("    sockjs: {cookie_needed: true}\n")
	s := def.SockJS
	if s == nil || !Bool(s.WebSocket, false) || s.CookieNeeded || s.ClientURL != "" ||
		s.DisconnectDelay != DefaultSockJSDisconnectDelay || s.ResponseLimit != DefaultSockJSResponseLimit {
		t.Fatalf("defaults: %+v", s)
	}
	if plain.SameUpstream(def) || def.SameUpstream(other) || !def.SameUpstream(parse("    sockjs: {}\n")) {
		t.Fatal("SameUpstream does not follow the sockjs block")
	}
}
