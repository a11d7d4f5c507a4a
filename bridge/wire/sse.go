package wire

// AppendSSE appends one SSE event: "id:" (when id is set), "event:" (when
// event is set and not "message"), one "data:" line per line of data, and the
// blank line that dispatches it. CR, LF and CRLF in data all end a line, so
// upstream content can never start a field of its own; id and event lose any
// CR, LF or NUL for the same reason.
func AppendSSE(dst []byte, id, event string, data []byte) []byte {
	if id != "" {
		dst = append(dst, "id: "...)
		dst = appendFieldValue(dst, id)
		dst = append(dst, '\n')
	}
	if event != "" && event != "message" {
		dst = append(dst, "event: "...)
		dst = appendFieldValue(dst, event)
		dst = append(dst, '\n')
	}
	start := 0
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c != '\n' && c != '\r' {
			continue
		}
		dst = append(dst, "data: "...)
		dst = append(dst, data[start:i]...)
		dst = append(dst, '\n')
		if c == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		start = i + 1
	}
	dst = append(dst, "data: "...)
	dst = append(dst, data[start:]...)
	return append(dst, '\n', '\n')
}

// appendFieldValue appends s without CR, LF and NUL (NUL makes browsers
// ignore an id).
func appendFieldValue(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\r', '\n', 0:
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
