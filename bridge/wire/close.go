package wire

import "strconv"

// The end of a session or topic as each transport shows it: code and
// reason, as a WebSocket close frame would carry them.

// AppendCloseJSON appends the close object {"code":N,"reason":R}, as a
// poll answer's "closed" field carries it.
func AppendCloseJSON(dst []byte, code int, reason string) []byte {
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, `,"reason":`...)
	dst = AppendJSONString(dst, reason)
	return append(dst, '}')
}

// AppendClosedJSON appends {"closed":{"code":N,"reason":R}}, the last
// NDJSON line of a stream (and a lost session's JSONP answer).
func AppendClosedJSON(dst []byte, code int, reason string) []byte {
	dst = append(dst, `{"closed":`...)
	dst = AppendCloseJSON(dst, code, reason)
	return append(dst, '}')
}

// AppendCloseSSE appends the SSE event "close" with the close object as
// its data, and id when it is not "".
func AppendCloseSSE(dst []byte, id string, code int, reason string) []byte {
	return AppendSSE(dst, id, "close", AppendCloseJSON(nil, code, reason))
}
