package bridge

import (
	"net/http"
	"strconv"

	"github.com/bridgeway/bridgeway/bridge/wire"
)

// maxStreamPadding bounds ?padding=.
const maxStreamPadding = 64 << 10

// serveStream is GET /stream: chunked NDJSON, one JSON object a line.
// Lines: a session line first in session mode, message objects, gap and
// closed lines; a bare newline is a heartbeat.
func (h *RouteHandler) serveStream(req *request, transport string) {
	q := req.r.URL.Query()
	padding := 0
	if p := q.Get("padding"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			writeError(req.w, errorf(http.StatusBadRequest, "bad_padding", "padding must be a non-negative integer"))
			return
		}
		padding = min(n, maxStreamPadding)
	}
	a := h.attachPush(req, transport, q.Get("cursor"), writeStreamLost)
	if a == nil {
		return
	}
	var b []byte
	if padding > 0 {
		b = make([]byte, padding, padding+1)
		for i := range b {
			b[i] = ' '
		}
		b = append(b, '\n')
	}
	if id := a.sessionID(); id != "" {
		b = wire.AppendSessionJSON(b, id, req.prefix, a.rd.Cursor())
		b = append(b, '\n')
	} else if start := a.startCursor(); start != "" {
		b = append(wire.AppendStartJSON(b, start), '\n')
	}
	h.deliverPush(req, a, "application/x-ndjson", b, newNDJSONWriter)
}
