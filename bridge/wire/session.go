package wire

// The fields that tell a session-mode client its session: the session id,
// the URL to POST its messages to, and the cursor to resume from.

// AppendSessionJSON appends {"session":ID,"send":URL,"cursor":C}, the
// first SSE event and NDJSON line of a session-mode stream; URL is
// prefix+"/send?session="+ID.
func AppendSessionJSON(dst []byte, id, prefix, cursor string) []byte {
	dst = append(dst, '{')
	dst = AppendSessionFields(dst, id, prefix)
	dst = append(dst, `"cursor":`...)
	dst = AppendJSONString(dst, cursor)
	return append(dst, '}')
}

// AppendStartJSON appends {"cursor":C}, the first NDJSON line and
// WebSocket ?format=json frame of a broadcast subscriber that came without
// a cursor: where it starts reading the topic.
func AppendStartJSON(dst []byte, cursor string) []byte {
	dst = append(dst, `{"cursor":`...)
	dst = AppendJSONString(dst, cursor)
	return append(dst, '}')
}

// AppendSessionFields appends `"session":ID,"send":URL,`, which open a
// session-mode poll answer (its cursor follows).
func AppendSessionFields(dst []byte, id, prefix string) []byte {
	dst = append(dst, `"session":`...)
	dst = AppendJSONString(dst, id)
	dst = append(dst, `,"send":`...)
	if jsonPlain(prefix) && jsonPlain(id) {
		// Written in place: no string prefix+"/send?session="+id per answer.
		dst = append(dst, '"')
		dst = append(dst, prefix...)
		dst = append(dst, "/send?session="...)
		dst = append(dst, id...)
		dst = append(dst, '"')
	} else {
		dst = AppendJSONString(dst, prefix+"/send?session="+id)
	}
	return append(dst, ',')
}

// AppendCursorJSON appends the cursor "<epoch>-<seq>" as a JSON string,
// without making the cursor's string first when the epoch needs no escape
// (the gateway's epochs never do).
func AppendCursorJSON(dst []byte, epoch string, seq uint64) []byte {
	if !jsonPlain(epoch) {
		return AppendJSONString(dst, string(AppendCursor(nil, epoch, seq)))
	}
	dst = append(dst, '"')
	dst = AppendCursor(dst, epoch, seq)
	return append(dst, '"')
}

// jsonPlain reports whether s is printable ASCII that a JSON string holds
// unescaped.
func jsonPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
