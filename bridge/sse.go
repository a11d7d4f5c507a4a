package bridge

import (
	"net/http"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/msglog"
	"github.com/bridgeway/bridgeway/bridge/wire"
)

// serveSSE is GET /sse (or the route path with Accept: text/event-stream).
func (h *RouteHandler) serveSSE(req *request, transport string) {
	r := req.r
	cursor := r.Header.Get("Last-Event-ID")
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
	if cursor != "" && a.atClosedEnd() {
		// The client has everything, the end included: 204 tells an
		// EventSource to stop reconnecting.
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
	}
	h.deliverPush(req, a, "text/event-stream; charset=utf-8", b, newSSEWriter)
}

func newSSEWriter(o wireOut) streamWriter { return &sseWriter{out: o} }

// sseWriter writes SSE events; message events are the log's cached bytes.
type sseWriter struct {
	out wireOut
}

var (
	// sseHeartbeat is a named event, not a comment: EventSource shows
	// events to JavaScript and never comments, and the library watches
	// for silence (a buffering proxy holding the stream).
	sseHeartbeat = []byte("event: heartbeat\ndata:\n\n")
	sseRetry     = []byte("retry: 2000\n\n")
)

func (s *sseWriter) write(b []byte) error { return s.out.write(b) }

func (s *sseWriter) entry(e *msglog.Entry) (int, error) {
	return len(e.Msg.Data), s.write(e.Encoded(msglog.FormatSSE, encodeSSE))
}

func (s *sseWriter) gap(g *msglog.Gap) error {
	return s.write(wire.AppendGapSSE(nil, g.From, g.To))
}

func (s *sseWriter) close(info msg.CloseInfo) error {
	return s.write(wire.AppendCloseSSE(nil, "", info.Code, info.Reason))
}

func (s *sseWriter) heartbeat() error { return s.write(sseHeartbeat) }
func (s *sseWriter) goingAway() error { return s.write(sseRetry) }
func (s *sseWriter) flush() error     { return s.out.flush() }

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
