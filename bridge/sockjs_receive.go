package bridge

import (
	"net/http"
	"strings"

	"github.com/bridgeway/bridgeway/bridge/wire"
	"github.com/bridgeway/bridgeway/config"
)

// sjReceiver is one receiving transport of SockJS: how it is asked for
// and how it wraps frames. Metrics count it under the bridgeway transport
// it resembles.
type sjReceiver struct {
	method      string
	label       string
	stream      bool // else polling: one frame per answer
	callback    bool // needs ?c=
	contentType string
	prelude     func(callback string) []byte
	wrap        func(callback string) func(dst, frame []byte) []byte
}

func lineFrame(string) func(dst, frame []byte) []byte {
	return func(dst, frame []byte) []byte { return append(append(dst, frame...), '\n') }
}

var sjReceivers = map[string]*sjReceiver{
	"xhr": {method: http.MethodPost, label: config.TransportLongPoll,
		contentType: "application/javascript;charset=UTF-8", wrap: lineFrame},
	"xhr_streaming": {method: http.MethodPost, label: config.TransportStream, stream: true,
		contentType: "application/javascript;charset=UTF-8", wrap: lineFrame,
		prelude: func(string) []byte { return append([]byte(strings.Repeat("h", 2048)), '\n') }},
	"eventsource": {method: http.MethodGet, label: config.TransportSSE, stream: true,
		contentType: "text/event-stream", prelude: func(string) []byte { return []byte("\r\n") },
		wrap: func(string) func(dst, frame []byte) []byte { return wire.AppendSockJSEventSource }},
	"htmlfile": {method: http.MethodGet, label: config.TransportStream, stream: true, callback: true,
		contentType: "text/html;charset=UTF-8", prelude: wire.SockJSHtmlfileHead,
		wrap: func(string) func(dst, frame []byte) []byte { return wire.AppendSockJSHtmlfile }},
	"jsonp": {method: http.MethodGet, label: config.TransportJSONP, callback: true,
		contentType: "application/javascript;charset=UTF-8",
		wrap: func(cb string) func(dst, frame []byte) []byte {
			return func(dst, frame []byte) []byte { return wire.AppendSockJSJSONP(dst, cb, frame) }
		}},
}

// sockjsSessionRequest serves /<server>/<session>/<transport>.
func (h *RouteHandler) sockjsSessionRequest(req *request, sid, transport string) {
	if transport == "websocket" {
		h.sockjsWebSocket(req)
		return
	}
	rc := sjReceivers[transport]
	send := transport == "xhr_send" || transport == "jsonp_send"
	if rc == nil && !send {
		writeError(req.w, errNotFound)
		return
	}
	method := http.MethodPost
	if rc != nil {
		method = rc.method
	}
	if req.r.Method == http.MethodOptions && method == http.MethodPost {
		h.sockjsPreflight(req, "OPTIONS, POST")
		return
	}
	if req.r.Method != method {
		sockjsMethod(req.w, method)
		return
	}
	if !h.sockjsCORS(req) {
		return
	}
	if h.route.SockJS.CookieNeeded {
		setJSESSIONID(req.w, req.r)
	}
	req.w.Header().Set("Cache-Control", sockjsNoCache)
	if send {
		h.sockjsSend(h.sockjsRequest(req), sid, transport == "jsonp_send")
		return
	}
	h.sockjsReceive(req, sid, rc)
}

// sockjsReceive serves a receiving request: the open frame for a new
// session, then what the session's log holds past the position delivered
// so far (one frame for polling; a stream until response_limit), the
// close frame once the session ended.
func (h *RouteHandler) sockjsReceive(req *request, sid string, rc *sjReceiver) {
	w := req.w
	cb := ""
	if rc.callback {
		q := req.r.URL.Query()
		if cb = q.Get("c"); cb == "" {
			cb = q.Get("callback")
		}
		if cb == "" {
			sockjsText(w, http.StatusInternalServerError, `"callback" parameter required`)
			return
		}
		if !wire.ValidSockJSCallback(cb) {
			sockjsText(w, http.StatusInternalServerError, `invalid "callback" parameter`)
			return
		}
	}
	sj, busy, aerr := h.bridge.logs.sockjs().receiver(h, h.sockjsRequest(req), sid, rc.label)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	w.Header().Set("Content-Type", rc.contentType)
	w.WriteHeader(http.StatusOK)
	out := &httpOut{w: w, rc: http.NewResponseController(w)}
	sw := &sockjsWriter{out: out, wrap: rc.wrap(cb), oneShot: !rc.stream}
	if rc.stream {
		sw.limit = int(orSize(h.route.SockJS.ResponseLimit, config.DefaultSockJSResponseLimit))
	}
	if rc.prelude != nil {
		if out.write(rc.prelude(cb)) != nil {
			if sj != nil {
				h.sockjsRelease(sj, sockjsInterrupted)
			}
			return
		}
	}
	if busy {
		sw.frame(wire.AppendSockJSClose(nil, 2010, "Another connection still open"))
		_ = sw.flush()
		return
	}
	h.sockjsDeliver(req, sj, sw)
}

// sockjsDeliver drives one receiving request with the bridge's pump.
func (h *RouteHandler) sockjsDeliver(req *request, sj *sjSession, sw *sockjsWriter) {
	if info := sj.closeInfo(); info != nil {
		sw.frame(wire.AppendSockJSClose(nil, info.Code, info.Reason))
		_ = sw.flush()
		h.sockjsRelease(sj, nil)
		return
	}
	sw.onClose = sj.setClosed
	sw.onFlush = h.bridge.logs.sockjs().afterFlush(h, sj)
	sj.mu.Lock()
	fresh := !sj.opened
	sj.opened = true
	sj.mu.Unlock()
	if fresh {
		sw.frame([]byte(wire.SockJSOpen))
		if sw.flush() != nil {
			h.sockjsRelease(sj, sw.ending(true))
			return
		}
	}
	if !sw.finished {
		h.pump(req.r.Context(), sj.a, sw)
		// A completed answer returns from flush with errSockJSDone,
		// before the pump acknowledged what it wrote.
		sj.a.log().Ack(sj.a.rd.Pos())
	}
	h.sockjsRelease(sj, sw.ending(req.r.Context().Err() != nil))
}
