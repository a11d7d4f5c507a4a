package e2e

import (
	"testing"
)

// TestNoCallbackAfterClose: once onclose has run, no handler of that
// connection runs again, whatever was still under way.
func TestNoCallbackAfterClose(t *testing.T) {
	// A send whose POST was still on its way when the page closed the
	// connection, answered after it (404: the session expired meanwhile).
	// Its answer called onerror after onclose.
	t.Run("send answered after close", func(t *testing.T) {
		gw, proxy, tab := pageBehindProxy(t)
		eval[bool](t, tab, `bwOpen("/shortlived", {transports: ["sse"]})`)
		waitFor(t, tab, `S.opens.length === 1 && datas("hi:").length === 1`, `summary()`)
		// loadend comes after the library's readystatechange handler: a
		// finished request was handled.
		eval[bool](t, tab, `window.ended = 0; (function (send) {
			XMLHttpRequest.prototype.send = function (b) { this.addEventListener("loadend", function () { ended++; }); return send.call(this, b); };
		})(XMLHttpRequest.prototype.send), true`)
		proxy.holdRequests("/send")
		eval[bool](t, tab, `S.c.send("late")`)
		waitUntil(t, func() bool { return proxy.holdingNow() == 1 }, "the send to wait in the proxy")
		eval[bool](t, tab, `S.c.close(), true`)
		// session_ttl is 1s: the gateway ends the session and the app's connection.
		waitUntil(t, func() bool { return gw.app.Ended("/chat") == 1 }, "the session to expire")
		proxy.releaseHeld()
		waitFor(t, tab, `ended === 1`, `summary()`)
		if got := eval[string](t, tab, `JSON.stringify([S.errors, S.closes])`); got != `[[],[{"code":1000,"reason":"client"}]]` {
			t.Fatalf("errors, closes: %s; want only the close: a handler ran after onclose", got)
		}
	})
	// An app that gives up in onerror (calls close() there): the failed
	// round's retry was scheduled after onerror returned, so the
	// connection went on after its onclose, with more onerror calls (and
	// onopen once the path worked).
	t.Run("close in onerror", func(t *testing.T) {
		_, proxy, tab := pageBehindProxy(t)
		proxy.refusePath("/sse")
		eval[bool](t, tab, `bwOpen("/chat", {transports: ["sse"]}) && (S.c.onerror = function (e) { S.errors.push(e.message); S.c.close(); }, true)`)
		waitFor(t, tab, `S.closes.length === 1`, `summary()`)
		proxy.refusePath("")
		// A request of the page through the proxy after onclose: a retry
		// (scheduled at once after a first failed round) went out before it.
		eval[bool](t, tab, `window.fetched = false; fetch("/favicon.ico").then(function () { fetched = true; }), true`)
		waitFor(t, tab, `fetched`, `summary()`)
		n := proxy.requestsTo("/chat/sse")
		if got := eval[string](t, tab, `JSON.stringify([S.errors.length, S.opens.length, S.closes.length])`); got != "[1,0,1]" || n != 1 {
			t.Fatalf("errors, opens, closes %s and %d SSE requests; want one failed round, its close and nothing after", got, n)
		}
	})
}
