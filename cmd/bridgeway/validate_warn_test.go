package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestValidateWarnsWildcardSessionOrigins: origins ["*"] on a session-mode
// route loads (exit 0, ok) but validate names the line; a broadcast route
// with "*" is quiet.
func TestValidateWarnsWildcardSessionOrigins(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "gw.yaml", "routes:\n"+
		"  - path: /chat\n    upstream: {url: \"ws://127.0.0.1:9001/chat\"}\n    origins: [\"https://app.example\", \"*\"]\n"+
		"  - path: /feed\n    mode: broadcast\n    upstream: {url: \"ws://127.0.0.1:9001/feed\"}\n    origins: [\"*\"]\n")
	var out, errOut bytes.Buffer
	if code := run([]string{"validate", "-c", file}, &out, &errOut); code != 0 || out.String() != "ok\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
	want := file + ":4:38: warning: routes[0].origins[1]: \"*\" lets any site open sessions"
	if !strings.HasPrefix(errOut.String(), want) || strings.Count(errOut.String(), "\n") != 1 {
		t.Fatalf("stderr %q, want one line starting %q", errOut.String(), want)
	}
}

// TestValidateWarnsTrustingEveryAddress: trusted_proxies 0.0.0.0/0 loads
// but validate says that any client could then choose its address.
func TestValidateWarnsTrustingEveryAddress(t *testing.T) {
	file := writeFile(t, t.TempDir(), "gw.yaml", "trusted_proxies: [10.0.0.0/8, 0.0.0.0/0]\nroutes:\n"+
		"  - path: /chat\n    upstream: {url: \"ws://127.0.0.1:9001/chat\"}\n")
	var out, errOut bytes.Buffer
	if code := run([]string{"validate", "-c", file}, &out, &errOut); code != 0 || out.String() != "ok\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
	want := file + ":1:31: warning: trusted_proxies[1]: \"0.0.0.0/0\" trusts every address"
	if !strings.HasPrefix(errOut.String(), want) {
		t.Fatalf("stderr %q, want it to start %q", errOut.String(), want)
	}
}
