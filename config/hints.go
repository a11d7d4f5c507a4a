package config

import (
	"bytes"
	"strings"
)

// yamlHint rewrites the YAML parser's message for the usual hand-editing
// mistakes, which it reports in its own terms: a tab in the indentation,
// and a line indented so it belongs to no mapping. Others pass unchanged.
func yamlHint(data []byte, p pos, msg string) (pos, string) {
	lines := bytes.Split(data, []byte("\n"))
	for i := 0; i < len(lines) && i < p.line; i++ {
		indent := len(lines[i]) - len(bytes.TrimLeft(lines[i], " \t"))
		if tab := bytes.IndexByte(lines[i][:indent], '\t'); tab >= 0 {
			return pos{i + 1, tab + 1}, "tabs are not allowed for indentation; indent with spaces"
		}
	}
	if !strings.Contains(msg, "value is not allowed in this context") || p.line > len(lines) {
		return p, msg
	}
	// The parser says this both for a mis-indented line and for a plain
	// value holding ": " (`path: /a: b`); the rest of the line tells which.
	line := string(lines[p.line-1])
	indent := len(line) - len(strings.TrimLeft(line, " -"))
	if p.col > indent+1 && p.col <= len(line) && strings.Contains(line[p.col-1:], ": ") {
		return p, `a value containing ": " must be quoted (` + msg + ")"
	}
	return p, "bad indentation: this line does not line up with the keys above it (" + msg + ")"
}

// misplacedUpstreamKeys are keys of a route's upstream block that people
// write directly under the route.
var misplacedUpstreamKeys = map[string]bool{
	"url": true, "kind": true, "interval": true, "timeout": true, "headers": true,
	"forward_headers": true, "reconnect": true, "split": true, "subprotocols": true,
}

// misplacedUpstreamKey reports whether key, unknown in a mapping with the
// known keys, is an upstream key written directly under a route.
func misplacedUpstreamKey(key string, known map[string]int) bool {
	_, isRoute := known["upstream"]
	return isRoute && misplacedUpstreamKeys[key]
}

// unknownKeyHint is the " (did you mean ...?)" part of an unknown key's
// message: upstream.KEY for an upstream key written under a route, else a
// known key a small typo away.
func unknownKeyHint(key string, known map[string]int) string {
	if misplacedUpstreamKey(key, known) {
		return ` (did you mean upstream.` + key + `?)`
	}
	return suggest(key, known)
}
