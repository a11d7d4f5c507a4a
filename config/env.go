package config

import (
	"fmt"
	"strings"
)

// expandEnv replaces ${NAME} and ${NAME:-default} in one scalar value with
// environment values; "$$" is a literal "$". It works on parsed scalar
// values rather than on the raw file, so a value holding '#', ':' or quotes
// can neither change the YAML structure nor be cut short as a comment, and
// positions in error messages stay exact. It returns every problem found.
func expandEnv(s string, lookup func(string) (string, bool)) (string, []string) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	var problems []string
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				problems = append(problems, "unterminated ${ (want ${NAME} or ${NAME:-default}; write $$ for a literal $)")
				b.WriteString(s[i:])
				return b.String(), problems
			}
			inner := s[i+2 : i+2+end]
			i += 2 + end
			name, def, hasDef := strings.Cut(inner, ":-")
			if !validEnvName(name) {
				problems = append(problems, fmt.Sprintf("bad variable name in ${%s} (want letters, digits and _, not starting with a digit)", clip(inner)))
				continue
			}
			val, set := lookup(name)
			switch {
			case set && val != "":
				b.WriteString(val)
			case hasDef:
				b.WriteString(def)
			case set:
				// Set but empty, no default: empty, like the shell.
			default:
				problems = append(problems, fmt.Sprintf("environment variable %s is not set (use ${%s:-default} to give a default)", clip(name), clip(name)))
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), problems
}

func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i, c := range name {
		ok := c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9'
		if !ok {
			return false
		}
	}
	return true
}
