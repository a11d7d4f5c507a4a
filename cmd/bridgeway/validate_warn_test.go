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

// TestValidateWarnsPprofOffLoopback: the profiler on an admin listener that
// other hosts can reach is valid but risky: validate says ok (exit 0) and
// prints a FILE:LINE:COL warning at admin.pprof (the value). On loopback it is quiet.
func TestValidateWarnsPprofOffLoopback(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		admin string
		warn  bool
	}{
		{"0.0.0.0:9090", true},
		{":9090", true},
		{"10.1.2.3:9090", true},
		{"[::]:9090", true},
		{"127.0.0.1:9090", false},
		{"[::1]:9090", false},
		{"localhost:9090", false},
	} {
		file := writeFile(t, dir, "pprof.yaml", "admin:\n  listen: \""+tc.admin+"\"\n  pprof: true\nroutes:\n  - path: /app\n    upstream: {url: \"http://127.0.0.1:9001\"}\n")
		var out, errOut bytes.Buffer
		if code := run([]string{"validate", "-c", file}, &out, &errOut); code != 0 || out.String() != "ok\n" {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", tc.admin, code, out.String(), errOut.String())
		}
		got := errOut.String()
		if tc.warn && !strings.HasPrefix(got, file+":3:10: warning: admin.pprof: ") {
			t.Errorf("%s: stderr %q, want a warning at 3:10", tc.admin, got)
		}
		if !tc.warn && got != "" {
			t.Errorf("%s: stderr %q, want nothing", tc.admin, got)
		}
	}
}

// TestValidateWarnsZeroTimersOnPolledRoutes: session_ttl 0s on a session
// route, or idle_close 0s on a broadcast route, that serves polling
// transports loads but is named (each poll's client leaves before its next
// request); the same values on WebSocket and SSE only are quiet.
func TestValidateWarnsZeroTimersOnPolledRoutes(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "gw.yaml", "routes:\n"+
		"  - path: /chat\n    upstream: {url: \"ws://127.0.0.1:9001/chat\"}\n    session_ttl: 0s\n"+
		"  - path: /feed\n    mode: broadcast\n    upstream: {url: \"ws://127.0.0.1:9001/feed\"}\n    idle_close: 0s\n"+
		"  - path: /quiet\n    upstream: {url: \"ws://127.0.0.1:9001/q\"}\n    transports: [websocket, sse]\n    session_ttl: 0s\n"+
		"  - path: /quiet2\n    mode: broadcast\n    upstream: {url: \"ws://127.0.0.1:9001/q2\"}\n    transports: [sse]\n    idle_close: 0s\n")
	var out, errOut bytes.Buffer
	if code := run([]string{"validate", "-c", file}, &out, &errOut); code != 0 || out.String() != "ok\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
	lines := strings.Split(strings.TrimSuffix(errOut.String(), "\n"), "\n")
	want := []string{
		file + ":4:18: warning: routes[0].session_ttl: 0s ends a session as soon as its last client leaves, and a longpoll client",
		file + ":8:17: warning: routes[1].idle_close: 0s closes the upstream as soon as the last subscriber leaves, and a longpoll client",
	}
	if len(lines) != len(want) {
		t.Fatalf("stderr %q, want %d warnings", errOut.String(), len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("warning %d: %q, want it to start %q", i, lines[i], w)
		}
	}
}
