package bridge

import (
	"net/http"

	"github.com/bridgeway/bridgeway/bridge/wire"
)

// serveSSE is GET /sse (or the route path with Accept: text/event-stream).
func (h *RouteHandler) serveSSE(req *request, transport string) {
	r := req.r
	headerID := r.Header.Get("Last-Event-ID")
	cursor := headerID
	if cursor == "" {
		cursor = r.URL.Query().Get("lastEventId")
	}
	if cursor == sseLostID {
		// An EventSource told its session is gone: 204 stops it.
		req.w.WriteHeader(http.StatusNoContent)
		return
	}
	a := h.attachPush(req, transport, cursor, writeSSELost)
	if a == nil {
		return
	}
	if headerID != "" && a.atClosedEnd() {
		// An EventSource reconnecting by itself at the end: 204 tells it
		// to stop. A resume asked with ?lastEventId= (the browser
		// library's, which may have missed the close after its last
		// message) gets the close event again instead.
		a.done()
		req.w.WriteHeader(http.StatusNoContent)
		return
	}
	b := make([]byte, 0, 512)
	if n := h.set().ssePadding; n > 0 {
		b = append(b, ':')
		for range n {
			b = append(b, ' ')
		}
		b = append(b, '\n')
	}
	b = append(b, "retry: 2000\n\n"...)
	if id := a.sessionID(); id != "" {
		b = append(b, "event: session\ndata: "...)
		b = wire.AppendSessionJSON(b, id, req.prefix, a.rd.Cursor())
		b = append(b, "\n\n"...)
	} else if start := a.startCursor(); start != "" {
		// A heartbeat with the subscriber's start as its id: EventSource
		// keeps the id (its reconnect sends it) and shows it on the event.
		b = append(b, "id: "...)
		b = append(b, start...)
		b = append(b, '\n')
		b = append(b, sseHeartbeat...)
	}
	h.deliverPush(req, a, "text/event-stream; charset=utf-8", b, newSSEWriter)
}
