package bridge

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/bridge/upstream"
	"github.com/bridgeway/bridgeway/cluster"
	"github.com/bridgeway/bridgeway/config"
)

// errTooManyMessages refuses a JSON batch beyond max_batch_messages: each
// message is an upstream frame, so the count bounds what one body costs.
var errTooManyMessages = errorf(http.StatusRequestEntityTooLarge, "too_many_messages", "a JSON batch holds more than max_batch_messages messages")

// serveSend is POST /send?session=ID[&seq=N]: client messages for the
// upstream from transports that cannot send (SSE, polls, stream).
func (h *RouteHandler) serveSend(req *request) {
	r, w := req.r, req.w
	set := h.set() // one load of the live settings per request
	if r.Method == http.MethodOptions {
		set.origins.servePreflight(w, r)
		return
	}
	if !set.origins.admit(w, r) {
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, errMethod)
		return
	}
	if set.broadcast && !set.clientSend {
		writeError(w, errSendNotAllowed)
		return
	}
	seq := int64(-1)
	if v := r.URL.Query().Get("seq"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, errBadSeq)
			return
		}
		seq = n
	}
	var s *session
	if !set.broadcast {
		id := r.URL.Query().Get("session")
		if id == "" {
			writeError(w, errMissingSession)
			return
		}
		var aerr *apiError
		if s, aerr = h.lookupSession(req, id); aerr != nil {
			writeError(w, aerr)
			return
		}
		if closed, _ := s.log.Closed(); closed {
			writeError(w, errSessionClosed)
			return
		}
		if s.home.queued() && h.route.Upstream.Kind != config.KindWebSocket {
			// Queued sends would be dropped by the owner: say so now.
			writeError(w, sendError(upstream.ErrSendUnsupported))
			return
		}
	}
	msgs, bytes, aerr := h.readSendBody(req)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	tm := h.metrics.transports[sendLabel]

	var err error
	if s == nil {
		t, _, aerr := h.subscribe(req)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		err = h.bridge.logs.sendTopic(r.Context(), t, batchOf(msgs))
		t.detach()
	} else {
		err = s.send(r.Context(), seq, batchOf(msgs))
		if err == nil {
			s.countIn(len(msgs), bytes)
		}
	}
	if err != nil {
		writeError(w, sendError(err))
		return
	}
	tm.messagesIn.Add(float64(len(msgs)))
	tm.bytesIn.Add(float64(bytes))
	w.WriteHeader(http.StatusNoContent)
}

func sendError(err error) *apiError {
	switch {
	case errors.Is(err, cluster.ErrSessionNotFound), errors.Is(err, cluster.ErrInboxFull),
		errors.Is(err, cluster.ErrUnavailable), errors.Is(err, cluster.ErrClosed):
		return clusterError(err)
	case errors.Is(err, upstream.ErrSendUnsupported):
		return errorf(http.StatusMethodNotAllowed, "send_unsupported", "this route's upstream does not accept messages")
	case errors.Is(err, upstream.ErrClosed):
		return errSessionClosed
	case errors.Is(err, upstream.ErrNotConnected):
		return errUpstreamDown
	case errors.Is(err, upstream.ErrMessageTooLarge):
		return errMessageTooLarge
	default:
		return errorf(http.StatusBadGateway, "upstream_send_failed", "the message could not be sent upstream")
	}
}

// readSendBody turns the body into messages by Content-Type; bytes is
// their payload size.
func (h *RouteHandler) readSendBody(req *request) (msgs []msg.Message, bytes int, aerr *apiError) {
	// A body that trickles in is cut at sendBodyTimeout (slow POST). After a
	// complete read the deadline is lifted: net/http's background read of
	// the connection must not time out while the upstream write runs.
	// After a timeout it stays, so net/http's drain of the unread body
	// fails at once and the connection is closed.
	set := h.set()
	rc := http.NewResponseController(req.w)
	_ = rc.SetReadDeadline(time.Now().Add(set.sendBodyTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(req.w, req.r.Body, set.maxBodyBytes))
	if err == nil {
		_ = rc.SetReadDeadline(time.Time{})
	}
	if err != nil {
		var mbe *http.MaxBytesError
		var ne net.Error
		switch {
		case errors.As(err, &mbe):
			return nil, 0, errBodyTooLarge
		case errors.As(err, &ne) && ne.Timeout():
			req.w.Header().Set("Connection", "close")
			return nil, 0, errBodyTimeout
		}
		return nil, 0, errorf(http.StatusBadRequest, "bad_body", "the request body could not be read")
	}
	ct := req.r.Header.Get("Content-Type")
	mediaType := "text/plain"
	if ct != "" {
		if mediaType, _, err = mime.ParseMediaType(ct); err != nil {
			return nil, 0, errContentType
		}
	}
	switch mediaType {
	case "text/plain", "application/octet-stream":
		if int64(len(body)) > set.maxMessageBytes {
			return nil, 0, errMessageTooLarge
		}
		return []msg.Message{{Data: body, Binary: mediaType != "text/plain"}}, len(body), nil
	case "application/json":
		var batch struct {
			Messages []string `json:"messages"`
		}
		if json.Unmarshal(body, &batch) != nil || batch.Messages == nil {
			return nil, 0, errBadBody
		}
		return textMessages(batch.Messages, set.maxBatch, set.maxMessageBytes, errTooManyMessages, errMessageTooLarge)
	}
	return nil, 0, errContentType
}
