package bridge

import (
	"net/http"

	"github.com/bridgeway/bridgeway/internal/jsonerr"
)

// apiError is an answer to bad or unserviceable input:
// {"error":"snake_code","message":"..."} with a status.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errorf(status int, code, message string) *apiError {
	return &apiError{status: status, code: code, message: message}
}

var (
	errSessionNotFound = errorf(http.StatusNotFound, "session_not_found", "no such session (it may have expired); open a new one")
	errBadCursor       = errorf(http.StatusBadRequest, "bad_cursor", "the cursor is malformed, from another session, or ahead of the stream")
	errForbiddenCreds  = errorf(http.StatusForbidden, "credentials_mismatch", "this session was opened with other credentials (Cookie/Authorization)")
	errOriginRefused   = errorf(http.StatusForbidden, "origin_not_allowed", "the request's Origin is not allowed on this route")
	errShuttingDown    = errorf(http.StatusServiceUnavailable, "shutting_down", "the gateway is shutting down; retry shortly")
	errTooManySessions = errorf(http.StatusServiceUnavailable, "too_many_sessions", "the route has too many open sessions; retry later")
	errSessionsPerIP   = errorf(http.StatusTooManyRequests, "too_many_sessions_per_ip", "this address has max_sessions_per_ip sessions open; close one or retry later")
	errUpstream        = errorf(http.StatusBadGateway, "upstream_unavailable", "the upstream could not be reached")
	errNotFound        = errorf(http.StatusNotFound, "not_found", "no such endpoint on this route; use /ws, /sse, /poll, /stream or /send")
	errTransportOff    = errorf(http.StatusNotFound, "transport_not_enabled", "this transport is not enabled on this route")
	errBadCallback     = errorf(http.StatusBadRequest, "bad_callback", "callback must match ^[A-Za-z_$][A-Za-z0-9_$.]{0,63}$")
	errSessionClosed   = errorf(http.StatusConflict, "session_closed", "the session's upstream has ended")
	errSendNotAllowed  = errorf(http.StatusMethodNotAllowed, "send_not_allowed", "this route does not accept client messages")
	errMissingSession  = errorf(http.StatusBadRequest, "missing_session", "the session query parameter is required")
	errBodyTooLarge    = errorf(http.StatusRequestEntityTooLarge, "body_too_large", "the request body exceeds max_body_bytes")
	errBodyTimeout     = errorf(http.StatusRequestTimeout, "body_timeout", "the request body did not arrive within read_header_timeout")
	errMessageTooLarge = errorf(http.StatusRequestEntityTooLarge, "message_too_large", "a message exceeds max_message_bytes")
	errBadLimit        = errorf(http.StatusBadRequest, "bad_limit", "max_bytes and max_messages must be positive integers")
	errBadSeq          = errorf(http.StatusBadRequest, "bad_seq", "seq must be a non-negative integer")
	errBadBody         = errorf(http.StatusBadRequest, "bad_body", `a JSON body must be {"messages":["...", ...]}`)
	errContentType     = errorf(http.StatusUnsupportedMediaType, "unsupported_content_type", "use text/plain, application/octet-stream or application/json")
	errMethod          = errorf(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this endpoint")
	errUpstreamDown    = errorf(http.StatusServiceUnavailable, "upstream_unavailable", "the upstream is reconnecting; retry shortly")
)

// writeError answers e as JSON, with Retry-After on the statuses that ask
// the client to come back and Allow on 405.
func writeError(w http.ResponseWriter, e *apiError) {
	h := w.Header()
	if e.status == http.StatusServiceUnavailable || e.status == http.StatusTooManyRequests {
		h.Set("Retry-After", "1")
	}
	if e.status == http.StatusMethodNotAllowed {
		h.Set("Allow", "GET, POST, OPTIONS")
	}
	jsonerr.Write(w, e.status, e.code, e.message)
}
