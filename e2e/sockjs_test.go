package e2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// sockjsTransports are every transport sockjs-client 1.6 has in a browser
// without XDomainRequest, by the names its transports option takes.
var sockjsTransports = []string{
	"websocket", "xhr-streaming", "xhr-polling", "eventsource",
	"iframe-eventsource", "iframe-htmlfile", "iframe-xhr-polling", "jsonp-polling",
}

// sockjsRoutes: /sjs serves every transport, /sjs-nows refuses WebSocket
// (and says so in /info), /sjs-any lets in any origin. APP is the app's ws:// base, PAGE the page's
// origin (the iframe page loads sockjs-client from there).
const sockjsRoutes = `
routes:
  - path: /sjs
    upstream: {url: "APP/sj"}
    origins: ["PAGE"]
    sockjs: {client_url: "PAGE/sockjs.min.js"}
  - path: /sjs-nows
    upstream: {url: "APP/sjnows"}
    origins: ["PAGE"]
    sockjs: {client_url: "PAGE/sockjs.min.js", websocket: false}
  - path: /sjs-any
    upstream: {url: "APP/sj"}
    origins: ["*"]
    sockjs: {client_url: "PAGE/sockjs.min.js"}
`

// startSockJSGateway starts the page server and, on another port, the
// assembled gateway with sockjsRoutes. It returns the gateway's base URL.
func startSockJSGateway(t *testing.T) (gw string, page *httptest.Server, app *appServer) {
	t.Helper()
	page = newSockJSPageServer(t)
	addr, app := startAssembledGateway(t, strings.ReplaceAll(sockjsRoutes, "PAGE", page.URL))
	return "http://" + addr, page, app
}

// TestSockJSClientEachTransport pins sockjs-client to one transport at a
// time, from a page on another origin: the app's greeting, then 1,000
// messages from the app and 200 sends echoed by it arrive once and in
// order, and the 200 reach the app in order.
func TestSockJSClientEachTransport(t *testing.T) {
	gw, page, app := startSockJSGateway(t)
	for _, transport := range sockjsTransports {
		t.Run(transport, func(t *testing.T) {
			before := len(app.Received("/sj", "e"))
			tab := openPinned(t, page, gw+"/sjs", transport)
			sockjsExchange(t, tab, 1000, 200)
			if got := app.Received("/sj", "e")[before:]; len(got) != 200 || firstMisplaced(got, "e") != "none" {
				t.Errorf("the app received %d sends, first misplaced: %s", len(got), firstMisplaced(got, "e"))
			}
		})
	}
}

// TestSockJSClientXHRUnderAnyOrigin: sockjs-client sends its cross-origin
// XHRs with credentials, which a browser shows only to a credentialed CORS
// answer naming the page; under origins ["*"] its XHR transports work too.
func TestSockJSClientXHRUnderAnyOrigin(t *testing.T) {
	gw, page, _ := startSockJSGateway(t)
	for _, transport := range []string{"xhr-streaming", "xhr-polling"} {
		t.Run(transport, func(t *testing.T) {
			sockjsExchange(t, openPinned(t, page, gw+"/sjs-any", transport), 100, 20)
		})
	}
}

// openPinned opens the page in a new tab and sockjs-client at base on one
// transport only, and waits for the app's greeting.
func openPinned(t *testing.T, page *httptest.Server, base, transport string) context.Context {
	t.Helper()
	tab, got := openSockJS(t, page, base, fmt.Sprintf(`, {transports: [%q]}`, transport))
	if got != transport {
		t.Fatalf("opened on %q, want %q", got, transport)
	}
	return tab
}

// openSockJS opens the page in a new tab and sockjs-client at base (options:
// sjOpen's further arguments, with their leading comma), waits for the app's
// greeting, and returns the tab and the transport it opened on.
func openSockJS(t *testing.T, page *httptest.Server, base, options string) (context.Context, string) {
	t.Helper()
	tab := newTab(t)
	run(t, tab, chromedp.Navigate(page.URL+"/"))
	eval[bool](t, tab, fmt.Sprintf(`sjOpen(%q%s)`, base, options))
	waitOpened(t, tab)
	return tab, eval[string](t, tab, `S.transport`)
}

// waitOpened waits for the page's SockJS to open and deliver the app's
// greeting, and fails at once if it closed instead.
func waitOpened(t *testing.T, tab context.Context) {
	t.Helper()
	waitFor(t, tab, `(S.opens === 1 && S.msgs.length >= 1) || S.closes.length > 0`, `sjSummary()`)
	if closes := eval[string](t, tab, `JSON.stringify(S.closes)`); closes != "[]" {
		t.Fatalf("closed before it opened: %s; %s", closes, eval[string](t, tab, `JSON.stringify(sjSummary())`))
	}
}

// sockjsExchange asks the app for n messages, sends echoes sends, and checks
// the page got the greeting, then exactly n:1…n:N, then echo:e1…echo:eN,
// with no close.
func sockjsExchange(t *testing.T, tab context.Context, n, echoes int) {
	t.Helper()
	eval[bool](t, tab, fmt.Sprintf(`sock.send("burst:%d"), true`, n))
	waitFor(t, tab, fmt.Sprintf(`sjWith("n:").length >= %d`, n), `sjSummary()`)
	eval[bool](t, tab, fmt.Sprintf(`sjSendMany("e", %d)`, echoes))
	waitFor(t, tab, fmt.Sprintf(`sjWith("echo:e").length >= %d`, echoes), `sjSummary()`)
	assertSequence(t, eval[[]string](t, tab, `sjWith("n:")`), "n:", n)
	assertSequence(t, eval[[]string](t, tab, `sjWith("echo:e")`), "echo:e", echoes)
	if got := eval[string](t, tab, `JSON.stringify([S.opens, S.msgs[0], S.msgs.length, S.closes])`); got != fmt.Sprintf(`[1,"hi:1",%d,[]]`, 1+n+echoes) {
		t.Errorf("opens, first message, count, closes: %s", got)
	}
}

// TestSockJSClientFallsBackWithoutWebSocket: with no transports option,
// sockjs-client finds its own way when WebSocket is refused, by the route
// (/info says websocket: false) or by a proxy on the way that refuses the
// upgrade while /info says yes.
func TestSockJSClientFallsBackWithoutWebSocket(t *testing.T) {
	gw, page, _ := startSockJSGateway(t)
	t.Run("route", func(t *testing.T) {
		tab, got := openSockJS(t, page, gw+"/sjs-nows", "")
		if got == "websocket" {
			t.Fatalf("opened on websocket on a route without it")
		}
		t.Logf("fell back to %s", got)
		sockjsExchange(t, tab, 100, 20)
	})
	t.Run("proxy", func(t *testing.T) {
		p := newTestProxy(t, gw, false)
		p.mu.Lock()
		p.refuseWS = true
		p.mu.Unlock()
		tab, got := openSockJS(t, page, p.URL+"/sjs", "")
		if got == "websocket" {
			t.Fatalf("opened on websocket through a proxy that refuses it")
		}
		t.Logf("fell back to %s after %s", got, "a refused upgrade")
		refused, _ := p.counts()
		if refused == 0 {
			t.Fatalf("the client never tried WebSocket: the fallback was not exercised")
		}
		sockjsExchange(t, tab, 100, 20)
	})
}
