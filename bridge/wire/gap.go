package wire

// A gap marker says the messages after cursor from up to cursor to were
// lost (an upstream that reconnected and could not resume, or a slow
// client's dropped messages). These are its encodings, one per format.

// AppendGapJSON appends the gap object {"from":F,"to":T}, as a poll answer
// carries it.
func AppendGapJSON(dst []byte, from, to string) []byte {
	dst = append(dst, `{"from":`...)
	dst = AppendJSONString(dst, from)
	dst = append(dst, `,"to":`...)
	dst = AppendJSONString(dst, to)
	return append(dst, '}')
}

// AppendGapMessageJSON appends the gap in a message stream (NDJSON lines,
// WebSocket ?format=json, a poll's messages array):
// {"id":T,"gap":{"from":F,"to":T}}; its id is where to resume.
func AppendGapMessageJSON(dst []byte, from, to string) []byte {
	dst = append(dst, `{"id":`...)
	dst = AppendJSONString(dst, to)
	dst = append(dst, `,"gap":`...)
	dst = AppendGapJSON(dst, from, to)
	return append(dst, '}')
}

// AppendGapSSE appends the SSE event "gap" with id T and the gap object as
// its data.
func AppendGapSSE(dst []byte, from, to string) []byte {
	return AppendSSE(dst, to, "gap", AppendGapJSON(nil, from, to))
}
