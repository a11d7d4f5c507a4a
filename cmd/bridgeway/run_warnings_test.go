package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunLogsConfigWarnings: the warnings validate prints (here origins "*"
// on a session-mode route) are logged by run at start and again after a
// reload that still has them, with the file position.
func TestRunLogsConfigWarnings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.yaml")
	content := "listen: \"127.0.0.1:0\"\nadmin:\n  listen: \"127.0.0.1:0\"\nroutes:\n" +
		"  - path: /chat\n    upstream: {url: \"ws://127.0.0.1:9/chat\"}\n    origins: [\"*\"]\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, path)
	want := `"msg":"config warning","warning":"` + path + `:7:15: warning: routes[0].origins[0]`
	if n := strings.Count(g.logs.String(), want); n != 1 {
		t.Fatalf("%d start-up warning lines like %q in:\n%s", n, want, g.logs.String())
	}
	g.reload(t, content)
	if n := strings.Count(g.logs.String(), want); n != 2 {
		t.Fatalf("%d warning lines after the reload, want 2:\n%s", n, g.logs.String())
	}
}
