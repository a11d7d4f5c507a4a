package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestGapSurfaced: a long-poll subscriber of a broadcast topic that keeps
// only 5 messages is kept away (the proxy answers 503) while the ticker
// moves on. When it comes back the library reports the loss through ongap,
// never silently, and goes on in order from there.
func TestGapSurfaced(t *testing.T) {
	gw := newGateway(t)
	proxy := newTestProxy(t, gw.URL, false)
	tab := newTab(t)
	run(t, tab, chromedp.Navigate(proxy.URL+"/test.html"))
	eval[bool](t, tab, `bwOpen("/smallticker", {transports: ["longpoll"], timeout: 20000})`)
	waitFor(t, tab, `S.msgs.length >= 5`, `summary()`)
	proxy.block(true)
	proxy.cut()
	waitFor(t, tab, `S.errors.length >= 1`, `summary()`) // a round of failures
	before := eval[int](t, tab, `S.msgs.length`)
	proxy.block(false)
	waitFor(t, tab, `S.gaps.length >= 1 && S.msgs.length >= `+strconv.Itoa(before+5), `summary()`)

	// Ticks go up one by one, except across a reported gap: one jump per
	// gap (a heavily loaded machine may fall behind again: that is a second
	// gap, reported like the first).
	eval[bool](t, tab, `S.c.close(), true`) // freeze what was received
	ticks := eval[[]string](t, tab, `S.msgs.map(function (m) { return m.data; })`)
	gaps := eval[int](t, tab, `S.gaps.length`)
	jumps := 0
	for i := 1; i < len(ticks); i++ {
		prev, _ := strconv.Atoi(strings.TrimPrefix(ticks[i-1], "tick:"))
		n, err := strconv.Atoi(strings.TrimPrefix(ticks[i], "tick:"))
		if err != nil || n <= prev {
			t.Fatalf("tick %d is %q after %q: duplicate or out of order", i, ticks[i], ticks[i-1])
		}
		if n != prev+1 {
			jumps++
		}
	}
	if jumps != gaps {
		t.Errorf("%d jumps in the ticks but %d gaps reported: a loss went unreported", jumps, gaps)
	}
	gap := eval[string](t, tab, `JSON.stringify(S.gaps[0])`)
	if !strings.Contains(gap, `"from":"`) || !strings.Contains(gap, `"to":"`) {
		t.Errorf("gap %s lacks from/to cursors", gap)
	}
	if got := eval[string](t, tab, `JSON.stringify(S.closes)`); got != `[{"code":1000,"reason":"client"}]` {
		t.Errorf("closes %s, want only our own close", got)
	}
	t.Logf("gap %s after %d ticks; %d failure rounds reported", gap, before, eval[int](t, tab, `S.errors.length`))
}

// TestAppCloseReachesClient: when the app closes the session's upstream
// connection with a code, the library reports that code through onclose on
// every transport and does not reconnect. 1011 is also a code a WebSocket
// closes with when the library should resume: the gateway's {"closed":...}
// object before the close frame tells the library it is the end (it
// resumed into the same end, again and again, and never called onclose).
func TestAppCloseReachesClient(t *testing.T) {
	gw := newGateway(t)
	for _, code := range []int{4321, 1011} {
		for _, transport := range []string{"websocket", "sse", "longpoll", "poll", "stream", "jsonp"} {
			t.Run(fmt.Sprintf("%d/%s", code, transport), func(t *testing.T) {
				tab := newTab(t)
				run(t, tab, chromedp.Navigate(gw.URL+"/test.html"))
				eval[bool](t, tab, fmt.Sprintf(`bwOpen("/chat", {transports: [%q], timeout: 20000, interval: 50})`, transport))
				waitFor(t, tab, `S.opens.length === 1 && datas("hi:").length === 1`, `summary()`)
				eval[bool](t, tab, fmt.Sprintf(`S.c.send("burst:5"), S.c.send("close:%d")`, code))
				waitFor(t, tab, `S.closes.length === 1`, `summary()`)
				assertSequence(t, eval[[]string](t, tab, `datas("n:")`), "n:", 5)
				if got, want := eval[string](t, tab, `JSON.stringify(S.closes[0])`), fmt.Sprintf(`{"code":%d,"reason":"bye"}`, code); got != want {
					t.Errorf("onclose %s, want the app's %s", got, want)
				}
				if opens := eval[int](t, tab, `S.opens.length`); opens != 1 {
					t.Errorf("%d opens: the library resumed after the end", opens)
				}
				if got := eval[string](t, tab, `String(S.c.transport) + " " + S.c.send("late")`); got != "null false" {
					t.Errorf("after close: transport and send() = %s, want null false", got)
				}
			})
		}
	}
}

// TestSessionExpiredCloses: a client kept away longer than the route's
// session_ttl finds its session gone when it comes back; on every transport
// the library says so through onclose (4404 session_not_found) instead of
// retrying for ever or silently starting a new session, which would lose
// the app's state. Each transport reads the loss in its own form: JSONP a
// callback with "closed", SSE an event: close in a 200 stream, NDJSON a
// closed line, WebSocket a 4404 close, long-poll and polling a 404.
func TestSessionExpiredCloses(t *testing.T) {
	for _, transport := range []string{"websocket", "sse", "longpoll", "poll", "stream", "jsonp"} {
		t.Run(transport, func(t *testing.T) {
			gw, proxy, tab := pageBehindProxy(t)
			eval[bool](t, tab, fmt.Sprintf(`bwOpen("/shortlived", {transports: [%q], timeout: 20000, interval: 50})`, transport))
			waitFor(t, tab, `S.opens.length === 1 && datas("hi:").length === 1`, `summary()`)
			proxy.block(true)
			proxy.cut()
			// The gateway ends the session (and its upstream connection) 1s
			// after its client left.
			waitUntil(t, func() bool { return gw.app.Ended("/chat") == 1 }, "the session's upstream to end")
			proxy.block(false)
			waitFor(t, tab, `S.closes.length === 1`, `summary()`)
			if got := eval[string](t, tab, `JSON.stringify(S.closes[0])`); got != `{"code":4404,"reason":"session_not_found"}` {
				t.Errorf("onclose %s, want 4404 session_not_found", got)
			}
			if got := eval[string](t, tab, `String(S.c.transport) + " " + S.c.send("late")`); got != "null false" {
				t.Errorf("after the close: transport and send() = %s, want null false", got)
			}
			if n := gw.app.Accepted("/chat"); n != 1 {
				t.Errorf("the app saw %d sessions, want 1: the library must not open a new one by itself", n)
			}
		})
	}
}
