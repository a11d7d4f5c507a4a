package config

import "reflect"

// SameUpstream reports whether o keeps r's upstream: same path, mode and
// upstream block (url, kind, headers, forward_headers, subprotocols,
// interval, timeout, reconnect, split), and the same sockjs block (its
// sessions are the protocol's: a route that changes them is replaced). A
// reload then keeps the route's live sessions and topics and only applies
// o's other settings.
func (r Route) SameUpstream(o Route) bool {
	return r.Path == o.Path && r.Mode == o.Mode && reflect.DeepEqual(r.Upstream, o.Upstream) &&
		reflect.DeepEqual(r.SockJS, o.SockJS)
}
