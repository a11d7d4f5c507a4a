package forwarded

import (
	"net/http"
	"strings"
)

// element is one hop of a Forwarded header (RFC 7239): its for, proto and
// host parameters, unquoted.
type element struct {
	forAddr, proto, host string
}

// parseForwarded reads every Forwarded header line, oldest hop first.
func parseForwarded(h http.Header) []element {
	var out []element
	for _, line := range h.Values("Forwarded") {
		for _, part := range splitQuoted(line, ',') {
			var e element
			for _, pair := range splitQuoted(part, ';') {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok {
					continue
				}
				v = unquote(strings.TrimSpace(v))
				switch strings.ToLower(strings.TrimSpace(k)) {
				case "for":
					e.forAddr = v
				case "proto":
					e.proto = v
				case "host":
					e.host = v
				}
			}
			out = append(out, e)
		}
	}
	return out
}

// splitQuoted splits s at sep outside double quotes.
func splitQuoted(s string, sep byte) []string {
	var parts []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && quoted:
			i++
		case s[i] == '"':
			quoted = !quoted
		case s[i] == sep && !quoted:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
		return strings.ReplaceAll(v, "\\", "")
	}
	return v
}
