package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// exchange checks a connected library: a burst of n arrives in order and m
// sends come back echoed in order, with no error, gap or close.
func exchange(t *testing.T, tab context.Context, n, m int) {
	t.Helper()
	eval[bool](t, tab, fmt.Sprintf(`S.c.send("burst:%d")`, n))
	waitFor(t, tab, fmt.Sprintf(`datas("n:").length >= %d`, n), `summary()`)
	eval[bool](t, tab, fmt.Sprintf(`(function () { for (var i = 1; i <= %d; i++) S.c.send("e" + i); return true; })()`, m))
	waitFor(t, tab, fmt.Sprintf(`datas("echo:e").length >= %d`, m), `summary()`)
	assertSequence(t, eval[[]string](t, tab, `datas("n:")`), "n:", n)
	assertSequence(t, eval[[]string](t, tab, `datas("echo:e")`), "echo:e", m)
}

// TestFallbackWhenRefused: with the default order (websocket, sse,
// longpoll), a route that does not serve WebSocket lands on SSE, and one
// that serves neither lands on long-poll. The fallback timeout is set far
// beyond the test's deadline, so landing proves that a refused transport
// falls through at once rather than by timing out.
func TestFallbackWhenRefused(t *testing.T) {
	gw := newGateway(t)
	for _, tc := range []struct{ route, want string }{
		{"/nows", "sse"},
		{"/onlypoll", "longpoll"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			tab := newTab(t)
			run(t, tab, chromedp.Navigate(gw.URL+"/test.html"))
			eval[bool](t, tab, fmt.Sprintf(`bwOpen(%q, {timeout: 600000})`, tc.route))
			waitFor(t, tab, `S.opens.length === 1`, `summary()`)
			if got := eval[string](t, tab, `S.c.transport`); got != tc.want {
				t.Fatalf("landed on %q, want %q", got, tc.want)
			}
			exchange(t, tab, 200, 20)
			assertClean(t, tab)
		})
	}
}

// TestFallbackWhenHandshakeRefused: a proxy that refuses the WebSocket
// handshake (403) on a route that does serve WebSocket: the library lands on
// SSE at once (the timeout is far beyond the test's deadline).
func TestFallbackWhenHandshakeRefused(t *testing.T) {
	gw := newGateway(t)
	proxy := newTestProxy(t, gw.URL, false)
	proxy.refuseWebSocket()
	tab := newTab(t)
	run(t, tab, chromedp.Navigate(proxy.URL+"/test.html"))
	eval[bool](t, tab, `bwOpen("/chat", {timeout: 600000})`)
	waitFor(t, tab, `S.opens.length === 1`, `summary()`)
	if got := eval[string](t, tab, `S.c.transport`); got != "sse" {
		t.Fatalf("landed on %q, want sse", got)
	}
	if refused, _ := proxy.counts(); refused == 0 {
		t.Fatal("the library never tried the WebSocket")
	}
	exchange(t, tab, 200, 20)
	assertClean(t, tab)
}

// TestNoWebSocketNoEventSource loads the library in a page where
// window.WebSocket and window.EventSource were deleted first, like a browser
// that has neither: the default order ends on long-poll, and it works.
func TestNoWebSocketNoEventSource(t *testing.T) {
	gw := newGateway(t)
	tab := newTab(t)
	run(t, tab, chromedp.Navigate(gw.URL+"/test.html?bare=1"))
	if got := eval[string](t, tab, `typeof WebSocket + " " + typeof EventSource`); got != "undefined undefined" {
		t.Fatalf("page still has %s", got)
	}
	eval[bool](t, tab, `bwOpen("/chat", {timeout: 600000})`)
	waitFor(t, tab, `S.opens.length === 1`, `summary()`)
	if got := eval[string](t, tab, `S.c.transport`); got != "longpoll" {
		t.Fatalf("landed on %q, want longpoll", got)
	}
	exchange(t, tab, 300, 30)
	assertClean(t, tab)
}

// TestBufferingProxy puts a proxy that refuses WebSocket and holds SSE and
// NDJSON bodies between the page and the gateway. The library must give up
// on each after its timeout, land on long-poll, and still deliver
// everything: the app's greeting (sent while the held transports were
// being tried), a burst and the echoes of its sends.
func TestBufferingProxy(t *testing.T) {
	gw := newGateway(t)
	proxy := newTestProxy(t, gw.URL, true)
	tab := newTab(t)
	run(t, tab, chromedp.Navigate(proxy.URL+"/test.html"))
	eval[bool](t, tab, `bwOpen("/chat", {transports: ["websocket", "sse", "stream", "longpoll"], timeout: 3000})`)
	// Sent before any transport works: queued, then delivered in order.
	eval[bool](t, tab, `S.c.send("before-open")`)
	waitFor(t, tab, `S.opens.length === 1`, `summary()`)
	if got := eval[string](t, tab, `S.c.transport`); got != "longpoll" {
		t.Fatalf("landed on %q, want longpoll", got)
	}
	refused, held := proxy.counts()
	if refused == 0 || held["/sse"] == 0 || held["/stream"] == 0 {
		t.Fatalf("the proxy refused %d upgrades and held %v: the library did not try every transport", refused, held)
	}
	waitFor(t, tab, `datas("echo:before-open").length === 1`, `summary()`)
	exchange(t, tab, 300, 30)
	assertClean(t, tab)
}

// TestStreamNotUpOnPadding: a buffering proxy that passes the padding a
// stream starts with (?padding=, sent first so that such proxies flush)
// and holds the rest. The stream has shown no line of the protocol, so it
// is not up: the library gives up on it after its timeout and lands on
// long-poll, as with a proxy that passes nothing. It counted any byte, so
// the stream came up on the padding alone.
func TestStreamNotUpOnPadding(t *testing.T) {
	gw := newGateway(t)
	proxy := newTestProxy(t, gw.URL, true)
	proxy.passPadding(2049) // ?padding=2048: that many spaces and a newline
	tab := pageAt(t, proxy.URL+"/test.html")
	eval[bool](t, tab, `bwOpen("/chat", {transports: ["stream", "longpoll"], padding: 2048, timeout: 3000})`)
	waitFor(t, tab, `S.opens.length >= 1`, `summary()`)
	if got := eval[string](t, tab, `S.opens[0].transport`); got != "longpoll" {
		t.Fatalf("first open on %q, want longpoll: the stream counted as up on its padding", got)
	}
	if _, held := proxy.counts(); held["/stream"] == 0 {
		t.Fatal("the library never tried the stream")
	}
	waitFor(t, tab, `datas("hi:").length === 1`, `summary()`)
}
