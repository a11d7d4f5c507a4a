// Package routing matches request paths against route prefixes. It is pure
// string work, shared by proxy (which route?) and bridge (which topic, which
// sub-endpoint?), so neither has to import the other.
package routing

import (
	"fmt"
	"strings"
)

// Pattern is a compiled route path such as "/prices/{symbol}".
type Pattern struct {
	raw      string
	segments []segment
}

type segment struct {
	literal string
	param   string // non-empty for a {placeholder}
}

// Compile parses a route path. It must start with "/"; placeholders are whole
// segments named with letters, digits and underscores.
func Compile(path string) (Pattern, error) {
	if !strings.HasPrefix(path, "/") {
		return Pattern{}, fmt.Errorf("path must start with /")
	}
	p := Pattern{raw: path}
	trimmed := strings.Trim(path, "/")
	if trimmed == "" {
		return p, nil
	}
	seen := map[string]bool{}
	for _, s := range strings.Split(trimmed, "/") {
		if s == "" {
			return Pattern{}, fmt.Errorf("path has an empty segment")
		}
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			name := s[1 : len(s)-1]
			if !validParamName(name) {
				return Pattern{}, fmt.Errorf("bad placeholder %q", s)
			}
			if seen[name] {
				return Pattern{}, fmt.Errorf("placeholder {%s} used twice", name)
			}
			seen[name] = true
			p.segments = append(p.segments, segment{param: name})
			continue
		}
		if strings.ContainsAny(s, "{}") {
			return Pattern{}, fmt.Errorf("placeholder must be a whole segment: %q", s)
		}
		p.segments = append(p.segments, segment{literal: s})
	}
	return p, nil
}

func validParamName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// String returns the path as written in the config.
func (p Pattern) String() string { return p.raw }

// Params lists the placeholder names in order.
func (p Pattern) Params() []string {
	var names []string
	for _, s := range p.segments {
		if s.param != "" {
			names = append(names, s.param)
		}
	}
	return names
}

// Len is the number of segments; longer patterns win.
func (p Pattern) Len() int { return len(p.segments) }

// Match reports whether urlPath lies under the pattern on whole segments
// ("/app" matches "/app" and "/app/x", not "/apple"). It returns the
// placeholder values and the rest of the path after the prefix ("" or
// starting with "/").
func (p Pattern) Match(urlPath string) (params map[string]string, rest string, ok bool) {
	if !strings.HasPrefix(urlPath, "/") {
		return nil, "", false
	}
	remaining := urlPath
	for _, s := range p.segments {
		if remaining == "" {
			return nil, "", false
		}
		// remaining starts with "/".
		next := strings.IndexByte(remaining[1:], '/')
		var seg string
		if next < 0 {
			seg, remaining = remaining[1:], ""
		} else {
			seg, remaining = remaining[1:next+1], remaining[next+1:]
		}
		if s.param != "" {
			if seg == "" {
				return nil, "", false
			}
			if params == nil {
				params = make(map[string]string, 2)
			}
			params[s.param] = seg
			continue
		}
		if seg != s.literal {
			return nil, "", false
		}
	}
	if remaining == "/" && len(p.segments) > 0 {
		remaining = ""
	}
	return params, remaining, true
}

// Fill replaces {name} in s with the values in params. Values are inserted as
// given; callers escape them for the target (URL path or query).
func Fill(s string, params map[string]string) string {
	for name, v := range params {
		s = strings.ReplaceAll(s, "{"+name+"}", v)
	}
	return s
}
