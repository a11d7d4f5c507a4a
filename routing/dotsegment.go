package routing

import "strings"

// HasDotSegment reports whether a decoded path holds a segment that some
// server reads as "." or "..". Routes match the path as sent, so such a
// segment would lead the upstream outside the route (or, in a placeholder
// value, into another tenant's path). Besides plain "." and "..", it counts
// a segment whose part before ";" is one (Tomcat and Jetty drop path
// parameters: "..;x" is ".."), and it reads "\" as "/" (IIS does), so
// "..\admin" holds "..".
func HasDotSegment(decoded string) bool {
	if !strings.Contains(decoded, ".") {
		return false
	}
	for seg := range strings.FieldsFuncSeq(decoded, isPathSeparator) {
		seg, _, _ = strings.Cut(seg, ";")
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

func isPathSeparator(r rune) bool { return r == '/' || r == '\\' }
