package bridge

import (
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/bridgeway/bridgeway/bridge/wire"
	"github.com/bridgeway/bridgeway/config"
)

// A client that comes back to a session the gateway no longer has (it
// expired after session_ttl, or the gateway restarted) must learn so in a
// form its transport can read: a <script> tag cannot read a 404, and an
// EventSource only reports "error". Those transports get a normal answer
// that carries the close, code 4404, as the session's own end would.

const (
	// closeSessionLost is the close code of a session that is gone.
	closeSessionLost = 4404
	// sseLostID is the id of the SSE close event for a lost session: an
	// EventSource that reconnects anyway sends it as Last-Event-ID and gets
	// 204, which stops it (it can never be a cursor: no "-<seq>").
	sseLostID = "end"
)

// sessionLost reports whether aerr means the session is gone.
func sessionLost(aerr *apiError) bool { return aerr == errSessionNotFound }

// writeSSELost answers an EventSource whose session is gone: a 200 stream
// holding only the close event, then EOF.
func writeSSELost(w http.ResponseWriter) {
	writeStreamHeaders(w, "text/event-stream; charset=utf-8")
	b := append([]byte(nil), sseRetry...) // not appended to in place: shared
	_, _ = w.Write(wire.AppendCloseSSE(b, sseLostID, closeSessionLost, errSessionNotFound.code))
}

// writeStreamLost answers an NDJSON stream whose session is gone: one
// closed line.
func writeStreamLost(w http.ResponseWriter) {
	writeStreamHeaders(w, "application/x-ndjson")
	b := wire.AppendClosedJSON(nil, closeSessionLost, errSessionNotFound.code)
	_, _ = w.Write(append(b, '\n'))
}

// writeJSONPLost answers a JSONP poll whose session is gone: the callback
// gets {"closed":{"code":4404,...}}, the same shape as a session's end.
func writeJSONPLost(req *request, callback string) {
	b := append([]byte("/**/"), callback...)
	b = wire.AppendClosedJSON(append(b, '('), closeSessionLost, errSessionNotFound.code)
	b = append(b, ");"...)
	hdr := req.w.Header()
	setPollHeaders(hdr, config.TransportJSONP)
	hdr["Content-Length"] = contentLength(len(b))
	req.w.WriteHeader(http.StatusOK)
	if req.r.Method != http.MethodHead {
		_, _ = req.w.Write(b)
	}
}

// writeWebSocketLost completes the handshake and closes with 4404: a
// refused handshake shows in a browser as 1006 only.
func writeWebSocketLost(req *request) {
	ws, err := upgrader.Upgrade(req.w, req.r, nil)
	if err != nil {
		return // the upgrade wrote its own error answer
	}
	defer ws.Close()
	frame := websocket.FormatCloseMessage(closeSessionLost, errSessionNotFound.code)
	if ws.WriteControl(websocket.CloseMessage, frame, time.Now().Add(writeWait)) != nil {
		return
	}
	// Give the client closeGrace to answer our close (a clean close).
	_ = ws.SetReadDeadline(time.Now().Add(closeGrace))
	for {
		if _, _, err := ws.NextReader(); err != nil {
			return
		}
	}
}
