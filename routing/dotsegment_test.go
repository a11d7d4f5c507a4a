package routing

import "testing"

func TestHasDotSegment(t *testing.T) {
	for path, want := range map[string]bool{
		"/app/x":            false,
		"/app/.well-known":  false,
		"/app/a..b":         false,
		"/app/...":          false,
		"/app/file.txt;v=1": false,
		"/app/a\\b":         false,
		"/app/..":           true,
		"/app/.":            true,
		"/app/../admin":     true,
		"/app/./x":          true,
		"/app/..;/admin":    true,
		"/app/..;x=1/admin": true,
		"/app/.;/x":         true,
		"/app/..\\admin":    true,
		"/app\\..\\admin":   true,
		"..":                true,
		"..;":               true,
	} {
		if got := HasDotSegment(path); got != want {
			t.Errorf("HasDotSegment(%q) = %v, want %v", path, got, want)
		}
	}
}
