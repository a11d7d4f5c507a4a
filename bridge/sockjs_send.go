package bridge

import (
	"mime"
	"net/http"
	"net/url"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/wire"
)

// sockjsSend is xhr_send and jsonp_send: a JSON array of strings (for
// jsonp_send also as the form field d) for the session's upstream. The
// protocol fixes the answers: 204 (xhr_send) or 200 "ok" (jsonp_send);
// 404 for an unknown session; 500 "Payload expected." and "Broken JSON
// encoding.", and nothing of such a body is forwarded.
func (h *RouteHandler) sockjsSend(req *request, sid string, jsonp bool) {
	w, r := req.w, req.r
	store := h.bridge.logs.sockjs()
	sj, aerr := store.lookup(h, req, sid)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	set := h.set()
	form := jsonp && isFormBody(r)
	body, aerr := h.sockjsBody(req)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if form {
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			sockjsText(w, http.StatusInternalServerError, "Payload expected.")
			return
		}
		body = []byte(vals.Get("d"))
	}
	if len(body) == 0 {
		sockjsText(w, http.StatusInternalServerError, "Payload expected.")
		return
	}
	texts, err := wire.ParseSockJSMessages(body)
	if err != nil {
		sockjsText(w, http.StatusInternalServerError, "Broken JSON encoding.")
		return
	}
	msgs, bytes, aerr := sockjsMessages(set, texts)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if aerr = store.send(h, req, sid, sj, msgs, bytes); aerr != nil {
		writeError(w, aerr)
		return
	}
	tm := h.metrics.transports[sendLabel]
	tm.messagesIn.Add(float64(len(msgs)))
	tm.bytesIn.Add(float64(bytes))
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	if jsonp {
		_, _ = w.Write([]byte("ok"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func isFormBody(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded"
}

// sockjsMessages makes the messages of one send body or WebSocket frame
// (bytes: their payload size) within the batch and max_message_bytes
// bounds.
func sockjsMessages(set *settings, texts []string) (msgs []msg.Message, bytes int, aerr *apiError) {
	return textMessages(texts, sockjsMaxBatch(set), set.maxMessageBytes, errTooManyMessages, errMessageTooLarge)
}

// sockjsMaxBatch bounds the messages of one send: sockjs-client sends
// everything queued while the previous send was in flight in one body,
// so the bound is per body byte budget rather than the library's batch of
// 100: at least max_batch_messages, at most one message per 16 bytes of
// max_body_bytes.
func sockjsMaxBatch(set *settings) int {
	return max(set.maxBatch, int(set.maxBodyBytes/16))
}

// sockjsForward sends to the session's upstream, or a broadcast topic's
// when client_send allows it.
func (h *RouteHandler) sockjsForward(req *request, a *attachment, msgs []msg.Message) *apiError {
	if len(msgs) == 0 {
		return nil
	}
	var err error
	switch {
	case a.sess != nil:
		err = a.sess.send(req.r.Context(), -1, batchOf(msgs))
	case !h.set().clientSend:
		return errSendNotAllowed
	default:
		err = h.bridge.logs.sendTopic(req.r.Context(), a.top, batchOf(msgs))
	}
	if err != nil {
		return sendError(err)
	}
	return nil
}

// sockjsBody reads a send's body as POST /send reads a text/plain one:
// within max_body_bytes, max_message_bytes and the body timeout (slow
// POST). req is the request's own copy (sockjsRequest).
func (h *RouteHandler) sockjsBody(req *request) ([]byte, *apiError) {
	req.r.Header.Set("Content-Type", "text/plain")
	msgs, _, aerr := h.readSendBody(req)
	if aerr != nil {
		return nil, aerr
	}
	return msgs[0].Data, nil
}
