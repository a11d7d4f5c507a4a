package config

import "fmt"

// subprotocols checks upstream.subprotocols: RFC 6455 section 4.1 wants each
// an HTTP token (the same syntax as a header name), listed once, and only a
// WebSocket upstream has a handshake to offer them on. A pass-through route
// forwards the client's Sec-WebSocket-Protocol as it comes.
func (v *validator) subprotocols(key string, u *Upstream) {
	if len(u.Subprotocols) == 0 {
		return
	}
	if u.Kind != KindWebSocket {
		v.errorf(key, "subprotocols are only offered by kind websocket (kind %s has no WebSocket handshake to offer them on)", u.Kind)
		return
	}
	seen := map[string]bool{}
	for i, p := range u.Subprotocols {
		item := fmt.Sprintf("%s[%d]", key, i)
		switch {
		case !validHeaderName(p):
			v.errorf(item, "bad subprotocol %q: use a token (letters, digits and !#$%%&'*+-.^_`|~, no spaces or commas)", p)
		case seen[p]:
			v.errorf(item, "duplicate subprotocol %q", p)
		}
		seen[p] = true
	}
}
