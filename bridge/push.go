package bridge

import (
	"net/http"
	"time"
)

// What the SSE and NDJSON handlers share: each parses its own query, then
// attaches, writes its headers and first bytes, and delivers (parse →
// attach → headers → deliver).

// attachPush attaches a push stream at cursor; nil when the request was
// answered instead: writeLost for a session that is gone (each transport
// says so in its own format), a JSON error otherwise.
func (h *RouteHandler) attachPush(req *request, transport, cursor string, writeLost func(http.ResponseWriter)) *attachment {
	a, aerr := h.attach(req, transport, cursor, false)
	if sessionLost(aerr) {
		writeLost(req.w)
		return nil
	}
	if aerr != nil {
		writeError(req.w, aerr)
		return nil
	}
	return a
}

// deliverPush writes the stream's headers and first bytes, then hands the
// subscriber to the topic's fan-out (hijacked, handOver) or pumps it on
// this goroutine until the stream ends. It owns a: a.done runs when the
// stream ends here, or is the fan-out's to call after a hand-over.
func (h *RouteHandler) deliverPush(req *request, a *attachment, contentType string, first []byte, newWriter func(wireOut) streamWriter) {
	writeStreamHeaders(req.w, contentType)
	out := &httpOut{w: req.w, rc: http.NewResponseController(req.w)}
	handed := false
	defer func() {
		if !handed { // after a hand-over the connection is not ours
			_ = out.rc.SetWriteDeadline(time.Time{})
			a.done()
		}
	}()
	// Headers out now, not at the first message.
	if (len(first) > 0 && out.write(first) != nil) || out.flush() != nil {
		return
	}
	a.connected()
	if h.handOver(req, a, newWriter) {
		handed = true
		return
	}
	h.pump(req.r.Context(), a, newWriter(out))
}

// writeStreamHeaders starts a long-lived push response (SSE or NDJSON):
// not stored by any cache (a session's stream is one client's data), not
// transformed, and not buffered by nginx-like proxies.
func writeStreamHeaders(w http.ResponseWriter, contentType string) {
	hdr := w.Header()
	hdr.Set("Content-Type", contentType)
	hdr.Set("Cache-Control", "no-store, no-transform")
	hdr.Set("X-Accel-Buffering", "no")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
}
