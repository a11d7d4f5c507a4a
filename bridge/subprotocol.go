package bridge

import (
	"net/http"
	"slices"

	"github.com/gorilla/websocket"
)

// WebSocket subprotocols between the client, the route's
// upstream.subprotocols and the upstream (docs/configuration.md): the
// upstream picks from what the gateway offers it, and a client only ever
// hears back a subprotocol it offered itself (RFC 6455 section 4.1: a
// browser fails a handshake that names any other).

var errNoCommonSubprotocol = errorf(http.StatusBadRequest, "no_common_subprotocol",
	"none of the WebSocket subprotocols the client offered is one this route offers its upstream (upstream.subprotocols)")

// clientSubprotocols is the list a WebSocket handshake offered, else nil.
func clientSubprotocols(r *http.Request) []string {
	if !isWebSocketUpgrade(r) {
		return nil
	}
	return websocket.Subprotocols(r)
}

// upstreamSubprotocols is what the upstream handshake offers for req. A
// shared (broadcast) upstream never takes one client's list: whoever
// subscribes first must not choose for everyone.
func (h *RouteHandler) upstreamSubprotocols(req *request, shared bool) []string {
	route := h.route.Upstream.Subprotocols
	if shared {
		return route
	}
	client := clientSubprotocols(req.r)
	if len(route) == 0 {
		return client
	}
	// A client list that shares nothing is refused on /ws
	// (checkSubprotocols); elsewhere the upstream still gets the route's.
	if both := commonSubprotocols(client, route); len(both) > 0 {
		return both
	}
	return route
}

// checkSubprotocols refuses, before anything is dialled, a WebSocket
// client whose list shares nothing with the route's: whatever the upstream
// picked, the client could not be told, and would speak another protocol.
func (h *RouteHandler) checkSubprotocols(r *http.Request) *apiError {
	route, client := h.route.Upstream.Subprotocols, clientSubprotocols(r)
	if len(route) == 0 || len(client) == 0 || len(commonSubprotocols(client, route)) > 0 {
		return nil
	}
	return errNoCommonSubprotocol
}

// answerSubprotocol is the Sec-WebSocket-Protocol answer for r when the
// upstream chose p: p if the client offered it, else none.
func answerSubprotocol(r *http.Request, p string) http.Header {
	if p == "" || !slices.Contains(websocket.Subprotocols(r), p) {
		return nil
	}
	return http.Header{"Sec-Websocket-Protocol": {p}}
}

// commonSubprotocols is client's list without those route lacks, in the
// client's order of preference.
func commonSubprotocols(client, route []string) []string {
	var both []string
	for _, p := range client {
		if slices.Contains(route, p) && !slices.Contains(both, p) {
			both = append(both, p)
		}
	}
	return both
}
