package hardening

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// dotPaths are "." and ".." in the shapes servers behind the gateway read
// as dot segments: plain, escaped, with a ";" path parameter (Tomcat,
// Jetty) and with a backslash, raw or escaped (IIS).
var dotPaths = []string{"..", "%2E%2E", "%2e%2e", ".", "%2E", "..;", "%2e%2e;", "..;x=1", ".;", "..%5C", "%2E%2E%5C", `..\`}

// expectBadPath sends a raw GET for path and wants 400 bad_path as JSON.
// Only an error answer's body is read: a stream that was wrongly opened
// fails the check at its head.
func expectBadPath(t *testing.T, g *gateway, path string) {
	t.Helper()
	c := g.rawConn(t)
	defer c.Close()
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Errorf("%s: no answer: %v", path, err)
		return
	}
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("%s: status %d, want 400 bad_path", path, res.StatusCode)
		return
	}
	var e struct{ Error string }
	if err := json.NewDecoder(res.Body).Decode(&e); err != nil || e.Error != "bad_path" {
		t.Errorf("%s: error %q (%v), want bad_path", path, e.Error, err)
	}
}

// TestDotSegmentPlaceholderRefused: a placeholder value that decodes to
// "." or ".." on a bridged route (/tenant/{t} → /tenants/{t}/feed) would
// make the upstream see /tenants/../feed, another tenant's data. It is
// refused with 400 bad_path before any upstream request, on every
// transport path.
func TestDotSegmentPlaceholderRefused(t *testing.T) {
	app := newHTTPApp(t)
	g := startGateway(t, "routes:\n  - path: /tenant/{t}\n    upstream: {url: \""+app.srv.URL+"/tenants/{t}/feed\", kind: poll, interval: 1s}\n"+
		"  - path: /room/{r}\n    mode: broadcast\n    upstream: {url: \""+app.srv.URL+"/rooms/{r}\", kind: poll, interval: 1s}\n")
	for _, v := range dotPaths {
		for _, p := range []string{"/tenant/" + v + "/poll", "/tenant/" + v + "/sse", "/room/" + v + "/poll?wait=0", "/room/" + v + "/stream"} {
			expectBadPath(t, g, p)
		}
	}
	for _, r := range app.seen() {
		t.Errorf("upstream received %s %s", r.method, r.uri)
	}
	// A normal value still reaches its tenant's path.
	if a := get(t, g.URL+"/room/r1/poll?wait=0", nil); a.status != 200 {
		t.Errorf("normal poll: %d %s", a.status, a.body)
	}
	eventually(t, "the normal topic's upstream request", func() bool {
		for _, r := range app.seen() {
			if r.uri == "/rooms/r1" {
				return true
			}
		}
		return false
	})
}

// TestPassthroughDotSegmentBypassRefused: the pass-through guard also
// knows "..;" (Tomcat and Jetty read it as "..") and backslashes (IIS reads
// them as "/"), raw or escaped: /pt/..;/admin, /pt/%2e%2e;/admin,
// /pt/..%5Cadmin and /a/..;/..;/admin get 400 bad_path and the upstream
// sees nothing.
func TestPassthroughDotSegmentBypassRefused(t *testing.T) {
	app := newHTTPApp(t)
	g := startGateway(t, "routes:\n"+
		"  - path: /pt\n    upstream: {url: \""+app.srv.URL+"\", kind: http}\n"+
		"  - path: /a\n    upstream: {url: \""+app.srv.URL+"/base/\", kind: http}\n")
	for _, p := range []string{"/pt/..;/admin", "/pt/%2e%2e;/admin", "/pt/..%5Cadmin", "/pt/..%5cadmin", `/pt/..\admin`,
		"/pt/.;/x", "/pt/%2E;jsessionid=1/x", "/a/..;/..;/admin", "/a/x/..;x=y/..;/admin", "/a/%2e%2e%5c..%5cadmin"} {
		expectBadPath(t, g, p)
	}
	for _, r := range app.seen() {
		t.Errorf("upstream received %s %s", r.method, r.uri)
	}
	// Names that only look alike are forwarded.
	for _, p := range []string{"/pt/..x/y", "/pt/a..;/b", "/pt/.well-known/z"} {
		if a := get(t, g.URL+p, nil); a.status != 200 {
			t.Errorf("%s: %d %s", p, a.status, a.body)
		}
	}
}
