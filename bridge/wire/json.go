package wire

import (
	"encoding/base64"
	"unicode/utf8"
)

// AppendMessageJSON appends the client-facing message object
// {"id":C,"event":E,"data":D,"binary":B}; binary data is base64 (standard
// alphabet, padded).
func AppendMessageJSON(dst []byte, id, event string, data []byte, binary bool) []byte {
	if event == "" {
		event = "message"
	}
	dst = append(dst, `{"id":`...)
	dst = AppendJSONString(dst, id)
	dst = append(dst, `,"event":`...)
	dst = AppendJSONString(dst, event)
	dst = append(dst, `,"data":`...)
	if binary {
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, data)
		dst = append(dst, `","binary":true}`...)
		return dst
	}
	dst = appendJSONBytes(dst, data)
	return append(dst, `,"binary":false}`...)
}

// AppendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD;
// U+2028 and U+2029 are escaped so the output is also safe inside JSONP.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s, nil)
	return append(dst, '"')
}

func appendJSONBytes(dst []byte, b []byte) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, "", b)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// appendEscaped escapes s, or b when s is empty and b is not; one body for
// both so that neither converts (and allocates).
func appendEscaped(dst []byte, s string, b []byte) []byte {
	n := len(s)
	if b != nil {
		n = len(b)
	}
	at := func(i int) byte {
		if b != nil {
			return b[i]
		}
		return s[i]
	}
	for i := 0; i < n; {
		c := at(i)
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c >= 0x20:
				dst = append(dst, c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			continue
		}
		var r rune
		var size int
		if b != nil {
			r, size = utf8.DecodeRune(b[i:])
		} else {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			if b != nil {
				dst = append(dst, b[i:i+size]...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
		}
		i += size
	}
	return dst
}
