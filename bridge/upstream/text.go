package upstream

import (
	"bytes"
	"unicode/utf8"
)

// replacement is U+FFFD, which stands for each run of invalid bytes.
var replacement = []byte("\uFFFD")

// validText returns a text message's data as valid UTF-8, replacing
// invalid bytes with U+FFFD the way an EventSource decodes a stream and the
// JSON transports encode a string. Done once, where the message enters the
// gateway, so every transport shows the same text, and a WebSocket client
// never gets a text frame it must fail with 1007 (a browser would, then
// resume from its cursor into the same message, for ever).
func validText(data []byte, cnt counters) []byte {
	if utf8.Valid(data) {
		return data
	}
	inc(cnt.invalidText)
	return bytes.ToValidUTF8(data, replacement)
}
