package wire

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// SockJS frames (the sockjs-protocol definition): "o" opens a session,
// "h" is a heartbeat, a[...] carries messages as JSON strings,
// c[code,"reason"] closes. Each transport wraps a frame its own way.
const (
	SockJSOpen      = "o"
	SockJSHeartbeat = "h"
)

// AppendSockJSString appends s as a JSON string escaped as SockJS servers
// must: control characters and the ranges browsers mangle
// (U+200C-U+200F, U+2028-U+202F, U+2060-U+206F, U+FFF0-U+FFFF) as
// lower-case \uXXXX, and <, > and & too, so that no message can end the
// <script> an htmlfile or JSONP frame travels in. Invalid UTF-8 becomes
// U+FFFD.
func AppendSockJSString(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			dst = appendSockJSASCII(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case sockjsEscaped(r):
			dst = appendU4(dst, r)
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// sockjsShort are the two-character escapes JSON.stringify uses.
var sockjsShort = [0x80]byte{'"': '"', '\\': '\\', '\n': 'n', '\r': 'r', '\t': 't', '\b': 'b', '\f': 'f'}

func appendSockJSASCII(dst []byte, c byte) []byte {
	if e := sockjsShort[c]; e != 0 {
		return append(dst, '\\', e)
	}
	if c < 0x20 || c == '<' || c == '>' || c == '&' {
		return appendU4(dst, rune(c))
	}
	return append(dst, c)
}

func sockjsEscaped(r rune) bool {
	return r >= 0x200c && r <= 0x200f || r >= 0x2028 && r <= 0x202f ||
		r >= 0x2060 && r <= 0x206f || r >= 0xfff0 && r <= 0xffff
}

func appendU4(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// AppendSockJSClose appends the close frame c[code,"reason"].
func AppendSockJSClose(dst []byte, code int, reason string) []byte {
	dst = append(dst, "c["...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ',')
	dst = AppendSockJSString(dst, []byte(reason))
	return append(dst, ']')
}

// AppendSockJSMessages appends the message frame a["m1","m2",...].
func AppendSockJSMessages(dst []byte, msgs [][]byte) []byte {
	dst = append(dst, "a["...)
	for i, m := range msgs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendSockJSString(dst, m)
	}
	return append(dst, ']')
}

// AppendSockJSEventSource wraps a frame as one EventSource event.
func AppendSockJSEventSource(dst, frame []byte) []byte {
	dst = append(dst, "data: "...)
	dst = append(dst, frame...)
	return append(dst, "\r\n\r\n"...)
}

// AppendSockJSHtmlfile wraps a frame as one htmlfile <script> chunk: the
// frame is a JSON string there, escaped so it cannot close the script.
func AppendSockJSHtmlfile(dst, frame []byte) []byte {
	dst = append(dst, "<script>\np("...)
	dst = AppendSockJSString(dst, frame)
	return append(dst, ");\n</script>\r\n"...)
}

// AppendSockJSJSONP wraps a frame as a JSONP answer; callback must have
// passed ValidSockJSCallback. The /**/ prefix keeps a callback name from
// being read as the start of a file type (Flash's content sniffing).
func AppendSockJSJSONP(dst []byte, callback string, frame []byte) []byte {
	dst = append(dst, "/**/"...)
	dst = append(dst, callback...)
	dst = append(dst, '(')
	dst = AppendSockJSString(dst, frame)
	return append(dst, ");\r\n"...)
}

// ValidSockJSCallback reports whether a c= callback name is allowed: one
// or more of [a-zA-Z0-9_.-], at most 64 characters.
func ValidSockJSCallback(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// SockJSHtmlfileHead is the start of an htmlfile response for callback
// (valid), padded past 1 KiB so that browsers start rendering at once.
func SockJSHtmlfileHead(callback string) []byte {
	b := []byte(`<!doctype html>
<html><head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
</head><body><h2>Don't panic!</h2>
  <script>
    document.domain = document.domain;
    var c = parent.` + callback + `;
    c.start();
    function p(d) {c.message(d);};
    window.onload = function() {c.stop();};
  </script>`)
	for len(b) < 1025 {
		b = append(b, ' ')
	}
	return append(b, "\r\n\r\n"...)
}

// SockJSIframe is the iframe page that loads sockjs-client from clientURL
// (checked by config: nothing in it can leave the attribute).
func SockJSIframe(clientURL string) []byte {
	return []byte(`<!DOCTYPE html>
<html>
<head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
  <script src="` + clientURL + `"></script>
  <script>
    document.domain = document.domain;
    SockJS.bootstrap_iframe();
  </script>
</head>
<body>
  <h2>Don't panic!</h2>
  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>
</body>
</html>`)
}

// ParseSockJSMessages reads what a SockJS client sends: a JSON array of
// strings, or (WebSocket) one JSON string. Anything else is an error.
func ParseSockJSMessages(b []byte) ([]string, error) {
	var msgs []string
	if err := json.Unmarshal(b, &msgs); err == nil {
		return msgs, nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err != nil {
		return nil, err
	}
	return []string{one}, nil
}
