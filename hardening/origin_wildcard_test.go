package hardening

import (
	"net/http"
	"testing"

	"github.com/gorilla/websocket"
)

// TestWildcardOriginIsAnonymous: origins ["*"] lets any site in, but
// without credentials: Access-Control-Allow-Origin: * and no
// Access-Control-Allow-Credentials, and the Cookie and Authorization a
// browser attaches to a cross-site request (WebSocket handshakes, <script>
// loads) never reach the upstream, so no site can open or read a visitor's
// cookie-bound session. A listed origin keeps credentialed CORS. Origin
// null is refused unless listed literally. A preflight allows only the
// request headers the route uses.
func TestWildcardOriginIsAnonymous(t *testing.T) {
	app := newWSApp(t)
	g := startGateway(t, "routes:\n"+
		"  - path: /any\n    upstream: {url: \""+app.wsURL("/echo")+"\", forward_headers: [Cookie, Authorization, X-Client]}\n"+
		"    origins: [\"*\", \"https://good.example\"]\n"+
		"  - path: /nullok\n    upstream: {url: \""+app.wsURL("/echo")+"\"}\n    origins: [\"null\"]\n")
	evil := http.Header{"Origin": {"https://evil.example"}, "Cookie": {"sid=victim"}, "Authorization": {"Bearer victim"}}
	// upstreamHeader checks the handshake of the nth upstream connection.
	upstreamHeader := func(what string, n int, wantCookie, wantAuth string) {
		t.Helper()
		eventually(t, what+": its upstream connection", func() bool { return app.accepted.Load() >= int64(n) })
		h := app.headers()[n-1]
		if h.Get("Cookie") != wantCookie || h.Get("Authorization") != wantAuth {
			t.Errorf("%s: upstream got Cookie %q Authorization %q, want %q %q", what, h.Get("Cookie"), h.Get("Authorization"), wantCookie, wantAuth)
		}
	}

	a := get(t, g.URL+"/any/poll?wait=0", evil)
	if a.status != 200 || a.header.Get("Access-Control-Allow-Origin") != "*" || a.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("foreign origin poll: %d ACAO %q ACAC %q, want 200 * and none", a.status,
			a.header.Get("Access-Control-Allow-Origin"), a.header.Get("Access-Control-Allow-Credentials"))
	}
	upstreamHeader("foreign origin poll", 1, "", "")

	ws, res, err := websocket.DefaultDialer.Dial("ws://"+g.addr+"/any/ws", evil)
	if err != nil {
		t.Fatalf("foreign origin websocket: %v %v", res, err)
	}
	ws.Close()
	upstreamHeader("foreign origin websocket", 2, "", "")

	// A <script> (JSONP) from a foreign page: no Origin, a foreign Referer.
	jsonp := http.Header{"Referer": {"https://evil.example/page"}, "Sec-Fetch-Site": {"cross-site"}, "Cookie": {"sid=victim"}}
	if a := get(t, g.URL+"/any/poll?wait=0&callback=cb", jsonp); a.status != 200 {
		t.Errorf("foreign jsonp: %d %s", a.status, a.body)
	}
	upstreamHeader("foreign jsonp", 3, "", "")

	good := http.Header{"Origin": {"https://good.example"}, "Cookie": {"sid=user"}, "Authorization": {"Bearer user"}}
	a = get(t, g.URL+"/any/poll?wait=0", good)
	if a.status != 200 || a.header.Get("Access-Control-Allow-Origin") != "https://good.example" || a.header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("listed origin poll: %d %v", a.status, a.header)
	}
	upstreamHeader("listed origin poll", 4, "sid=user", "Bearer user")

	expectError(t, "null origin under *", get(t, g.URL+"/any/poll?wait=0", http.Header{"Origin": {"null"}}), 403, "origin_not_allowed")
	a = get(t, g.URL+"/nullok/poll?wait=0", http.Header{"Origin": {"null"}})
	if a.status != 200 || a.header.Get("Access-Control-Allow-Origin") != "null" {
		t.Errorf("null listed: %d %v", a.status, a.header)
	}

	asked := "Content-Type, X-Client, X-Evil, Authorization, Cookie"
	for _, c := range []struct{ origin, want, creds string }{
		{"https://evil.example", "content-type, x-client", ""},
		{"https://good.example", "content-type, x-client, authorization, cookie", "true"},
	} {
		pf := do(t, "OPTIONS", g.URL+"/any/send", http.Header{"Origin": {c.origin},
			"Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {asked}}, "")
		if pf.status != 204 || pf.header.Get("Access-Control-Allow-Headers") != c.want ||
			pf.header.Get("Access-Control-Allow-Credentials") != c.creds {
			t.Errorf("preflight from %s: %d Allow-Headers %q ACAC %q, want 204 %q %q", c.origin, pf.status,
				pf.header.Get("Access-Control-Allow-Headers"), pf.header.Get("Access-Control-Allow-Credentials"), c.want, c.creds)
		}
	}
}
