package e2e

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestThrowingHandler: an application handler that throws on every message
// must not stall the connection (the library rethrows asynchronously and
// goes on), on a push transport and on a poll transport.
func TestThrowingHandler(t *testing.T) {
	gw := newGateway(t)
	for _, transport := range []string{"sse", "longpoll"} {
		t.Run(transport, func(t *testing.T) {
			tab := newTab(t)
			run(t, tab, chromedp.Navigate(gw.URL+"/test.html"))
			eval[bool](t, tab, fmt.Sprintf(`bwOpen("/chat", {transports: [%q], timeout: 20000})`, transport))
			eval[bool](t, tab, `(function () {
			  var push = S.c.onmessage;
			  S.c.onmessage = function (m) { push(m); throw new Error("app bug"); };
			  return true;
			})()`)
			waitFor(t, tab, `S.opens.length === 1`, `summary()`)
			exchange(t, tab, 100, 10)
		})
	}
}

// TestJSONPCleansUp: JSONP polls leave no global callbacks behind.
func TestJSONPCleansUp(t *testing.T) {
	gw := newGateway(t)
	tab := newTab(t)
	run(t, tab, chromedp.Navigate(gw.URL+"/test.html"))
	eval[bool](t, tab, `bwOpen("/chat", {transports: ["jsonp"], timeout: 20000})`)
	waitFor(t, tab, `S.opens.length === 1`, `summary()`)
	// Many small answers: one poll each.
	for i := 0; i < 20; i++ {
		eval[bool](t, tab, fmt.Sprintf(`S.c.send("x%d")`, i))
		waitFor(t, tab, fmt.Sprintf(`datas("echo:x%d").length === 1`, i), `summary()`)
	}
	if n := eval[int](t, tab, `Object.keys(window).filter(function (k) { return k.indexOf("__bw") === 0; }).length`); n > 1 {
		t.Errorf("%d JSONP callbacks left on window after 20 polls, want at most the one in flight", n)
	}
	if n := eval[int](t, tab, `document.querySelectorAll("script[src*='callback=']").length`); n > 1 {
		t.Errorf("%d JSONP script tags left in the page", n)
	}
}
