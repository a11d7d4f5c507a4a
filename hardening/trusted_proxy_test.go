package hardening

import (
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// send writes one keep-alive request with extra header lines and reads the
// answer.
func (k *keptConn) send(t *testing.T, path, host string, extra ...string) answer {
	t.Helper()
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n"
	for _, h := range extra {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(k.c, req+"\r\n"); err != nil {
		t.Fatalf("write: %v", err)
	}
	res, err := http.ReadResponse(k.br, nil)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return answer{status: res.StatusCode, header: res.Header, body: string(b)}
}

// startLoggedGateway starts yamlText with access logs on, recorded.
func startLoggedGateway(t *testing.T, yamlText string) (*gateway, *observer.ObservedLogs) {
	t.Helper()
	cfg := parseConfig(t, yamlText)
	on := true
	cfg.Log.Access = &on
	core, logs := observer.New(zap.InfoLevel)
	return startGatewayLogged(t, cfg, zap.New(core)), logs
}

// accessRemotes are the "remote" fields of the access lines for path.
func accessRemotes(logs *observer.ObservedLogs, path string) []string {
	var out []string
	for _, e := range logs.FilterMessage("request").All() {
		if e.ContextMap()["path"] == path {
			out = append(out, e.ContextMap()["remote"].(string))
		}
	}
	return out
}

func proxyYAML(app *wsApp, web *httpApp, trusted string) string {
	return "trusted_proxies: " + trusted + "\nlimits: {max_sessions_per_ip: 1, max_connections_per_ip: 2}\nroutes:\n" +
		"  - path: /s\n    session_ttl: 3s\n    upstream: {url: \"" + app.wsURL("/echo") + "\"}\n" +
		"  - path: /app\n    upstream: {url: \"" + web.srv.URL + "\", kind: http, timeout: 5s}\n"
}

// TestTrustedProxyGivesClientAddress: from a peer in trusted_proxies, the
// client address is the right-most untrusted hop of X-Forwarded-For (or of
// Forwarded's for= when there is no X-Forwarded-For), and it is what the
// per-IP session limit counts, what the access log shows and what the
// upstream gets as X-Forwarded-For (bridged and pass-through). A trusted
// proxy's connections are not held to max_connections_per_ip (it carries
// many clients); another peer's still are.
func TestTrustedProxyGivesClientAddress(t *testing.T) {
	app, web := newWSApp(t), newHTTPApp(t)
	g, logs := startLoggedGateway(t, proxyYAML(app, web, "[127.0.0.2/32, 10.0.0.0/8]"))
	lb := dialFrom(t, g, "127.0.0.2")
	session := func(what string, want int, hdr ...string) {
		t.Helper()
		a := lb.send(t, "/s/poll?wait=0", "gw.test", hdr...)
		if a.status != want {
			t.Errorf("%s: %d %s, want %d", what, a.status, a.body, want)
		}
	}
	session("client A", 200, "X-Forwarded-For: 203.0.113.7")
	session("client B", 200, "X-Forwarded-For: 203.0.113.8")
	session("client A again", 429, "X-Forwarded-For: 203.0.113.7")
	// The client wrote a hop itself; the proxy appended the real address.
	session("client C behind a spoofed hop", 200, "X-Forwarded-For: 203.0.113.7, 203.0.113.9")
	session("client C through two trusted proxies", 429, "X-Forwarded-For: 203.0.113.9, 10.1.2.3")
	session("client D by Forwarded", 200, `Forwarded: for="[2001:db8::1]:4711";proto=http, for=10.1.2.3`)
	session("client D again", 429, "Forwarded: for=\"[2001:db8::1]\"")
	// Upstream handshakes may finish in any order: compare sorted.
	eventually(t, "4 upstream sessions", func() bool { return app.accepted.Load() >= 4 })
	var fwd []string
	for _, h := range app.headers() {
		fwd = append(fwd, h.Get("X-Forwarded-For"))
	}
	sort.Strings(fwd)
	if got, want := strings.Join(fwd, " "), "2001:db8::1 203.0.113.7 203.0.113.8 203.0.113.9"; got != want {
		t.Errorf("upstream X-Forwarded-For of the sessions %q, want %q", got, want)
	}
	if a := lb.send(t, "/app/x", "gw.test", "X-Forwarded-For: 198.51.100.4"); a.status != 200 {
		t.Fatalf("pass-through: %d %s", a.status, a.body)
	}
	if seen := web.seen(); len(seen) != 1 || seen[0].header.Get("X-Forwarded-For") != "198.51.100.4" {
		t.Errorf("pass-through upstream saw %v", seen)
	}
	eventually(t, "access lines", func() bool { return len(accessRemotes(logs, "/app/x")) == 1 })
	if got := strings.Join(accessRemotes(logs, "/s/poll"), " "); got != "203.0.113.7 203.0.113.8 203.0.113.7 203.0.113.9 203.0.113.9 2001:db8::1 2001:db8::1" {
		t.Errorf("access log remotes %q", got)
	}
	if got := accessRemotes(logs, "/app/x"); got[0] != "198.51.100.4" {
		t.Errorf("pass-through access log remote %q", got[0])
	}
	// Two more connections from the proxy: beyond max_connections_per_ip
	// (2), still admitted. A third from another peer is refused.
	for range 2 {
		if a := dialFrom(t, g, "127.0.0.2").send(t, "/app/y", "gw.test"); a.status != 200 {
			t.Errorf("extra proxy connection: %d %s", a.status, a.body)
		}
	}
	dialFrom(t, g, "127.0.0.3")
	dialFrom(t, g, "127.0.0.3")
	expectError(t, "third connection of an untrusted peer", dialFrom(t, g, "127.0.0.3").get(t, "/app/z"), 429, "too_many_connections_per_ip")
}

// TestSpoofedForwardedForIgnored: a peer that is not a trusted proxy is the
// client, whatever X-Forwarded-For or Forwarded it sends: the per-IP limit
// counts the peer, the log and the upstream see the peer. A reload that
// lists the peer in trusted_proxies takes effect at once.
func TestSpoofedForwardedForIgnored(t *testing.T) {
	app, web := newWSApp(t), newHTTPApp(t)
	g, logs := startLoggedGateway(t, proxyYAML(app, web, "[10.0.0.0/8]"))
	k := dialFrom(t, g, "127.0.0.4")
	if a := k.send(t, "/s/poll?wait=0", "gw.test", "X-Forwarded-For: 203.0.113.7"); a.status != 200 {
		t.Fatalf("first session: %d %s", a.status, a.body)
	}
	expectError(t, "second session with another spoofed XFF",
		k.send(t, "/s/poll?wait=0", "gw.test", "X-Forwarded-For: 203.0.113.8"), 429, "too_many_sessions_per_ip")
	expectError(t, "second session with a spoofed Forwarded",
		k.send(t, "/s/poll?wait=0", "gw.test", "Forwarded: for=203.0.113.9"), 429, "too_many_sessions_per_ip")
	eventually(t, "the upstream session", func() bool { return app.accepted.Load() >= 1 })
	if hs := app.headers(); len(hs) != 1 || hs[0].Get("X-Forwarded-For") != "127.0.0.4" {
		t.Errorf("upstream headers %v", hs)
	}
	if a := k.send(t, "/app/x", "gw.test", "X-Forwarded-For: 203.0.113.7"); a.status != 200 {
		t.Fatalf("pass-through: %d", a.status)
	}
	if seen := web.seen(); len(seen) != 1 || seen[0].header.Get("X-Forwarded-For") != "127.0.0.4" {
		t.Errorf("pass-through upstream saw %v", seen)
	}
	eventually(t, "access line", func() bool { return len(accessRemotes(logs, "/app/x")) == 1 })
	for _, r := range append(accessRemotes(logs, "/s/poll"), accessRemotes(logs, "/app/x")...) {
		if r != "127.0.0.4" {
			t.Errorf("access log remote %q, want the peer", r)
		}
	}
	// trusted_proxies is applied on reload: the same peer is now a proxy.
	if err := g.srv.Reload(parseConfig(t, proxyYAML(app, web, "[127.0.0.4]"))); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if a := k.send(t, "/app/x", "gw.test", "X-Forwarded-For: 203.0.113.7"); a.status != 200 {
		t.Fatalf("pass-through after reload: %d", a.status)
	}
	if seen := web.seen(); len(seen) != 2 || seen[1].header.Get("X-Forwarded-For") != "203.0.113.7" {
		t.Errorf("after reload, pass-through upstream saw %v", seen)
	}
}
