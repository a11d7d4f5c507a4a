package hardening

import (
	"sort"
	"strings"
	"testing"
)

// TestRewrittenHostBehindTrustedProxy: a reverse proxy that rewrites Host
// to the gateway's address (nginx's default `proxy_set_header Host
// $proxy_host`) no longer gets every library request refused 403. From a
// peer in trusted_proxies, X-Forwarded-Host and X-Forwarded-Proto (or
// Forwarded host=/proto=) say how the page reached the gateway; with only
// X-Forwarded-Proto, a configured hosts name is enough. From any other peer
// those headers count for nothing, and the upstream gets the gateway's own
// view.
func TestRewrittenHostBehindTrustedProxy(t *testing.T) {
	app := newWSApp(t)
	route := "routes:\n  - path: /chat\n    upstream: {url: \"" + app.wsURL("/echo") + "\"}\n"
	g := startGateway(t, "trusted_proxies: [127.0.0.2]\n"+route)
	h := startGateway(t, "trusted_proxies: [127.0.0.2]\nhosts: [app.example]\n"+route)
	poll := "/chat/poll?wait=0"
	type tc struct {
		name, from string
		gw         *gateway
		headers    []string
		want       int
	}
	for _, c := range []tc{
		{"X-Forwarded-Host and -Proto from the proxy", "127.0.0.2", g,
			[]string{"Origin: https://app.example", "X-Forwarded-Host: app.example", "X-Forwarded-Proto: https"}, 200},
		{"Forwarded host and proto from the proxy", "127.0.0.2", g,
			[]string{"Origin: https://app.example:8443", `Forwarded: for=192.0.2.1;host="app.example:8443";proto=https`}, 200},
		{"only X-Forwarded-Proto, a hosts name", "127.0.0.2", h,
			[]string{"Origin: https://app.example", "X-Forwarded-Proto: https"}, 200},
		{"rewritten Host, nothing forwarded", "127.0.0.2", g, []string{"Origin: https://app.example"}, 403},
		{"forwarded scheme differs from the page's", "127.0.0.2", g,
			[]string{"Origin: http://app.example", "X-Forwarded-Host: app.example", "X-Forwarded-Proto: https"}, 403},
		{"same headers from an untrusted peer", "127.0.0.3", g,
			[]string{"Origin: https://app.example", "X-Forwarded-Host: app.example", "X-Forwarded-Proto: https"}, 403},
		{"hosts name from an untrusted peer", "127.0.0.3", h,
			[]string{"Origin: https://app.example", "X-Forwarded-Proto: https"}, 403},
	} {
		a := dialFrom(t, c.gw, c.from).send(t, poll, c.gw.addr, c.headers...)
		if c.want == 200 {
			expectSameOrigin(t, c.name, a)
		} else {
			expectError(t, c.name, a, 403, "origin_not_allowed")
		}
	}
	eventually(t, "three upstream sessions", func() bool { return app.accepted.Load() >= 3 })
	var got []string // upstream handshakes may finish in any order
	for _, hd := range app.headers() {
		got = append(got, hd.Get("X-Forwarded-Proto")+"://"+hd.Get("X-Forwarded-Host"))
	}
	sort.Strings(got)
	_, port, _ := strings.Cut(h.addr, ":")
	want := "https://127.0.0.1:" + port + " https://app.example https://app.example:8443"
	if strings.Join(got, " ") != want {
		t.Errorf("upstream X-Forwarded-Proto://Host %q, want %q", strings.Join(got, " "), want)
	}
}
