package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// The library's resume at the edges of its transport list, in Chromium
// through a proxy that can refuse some paths (each failed on the library
// before its fix).

// pageBehindProxy opens the test page through a plain proxy in front of a
// fresh gateway.
func pageBehindProxy(t *testing.T) (*gateway, *testProxy, context.Context) {
	t.Helper()
	gw := newGateway(t)
	proxy := newTestProxy(t, gw.URL, false)
	return gw, proxy, pageAt(t, proxy.URL+"/test.html")
}

// TestWebSocketAfterAnotherTransportKeepsTheSession: a session opened by
// SSE that moves to WebSocket (SSE refused by a proxy) resumes the same
// session there. The library's WebSocket bootstrap opened a second session
// and then sent the first one's cursor with it: refused (400 bad_cursor)
// for ever, and the app saw two connections.
func TestWebSocketAfterAnotherTransportKeepsTheSession(t *testing.T) {
	gw, proxy, tab := pageBehindProxy(t)
	eval[bool](t, tab, `bwOpen("/chat", {transports: ["sse", "websocket"], timeout: 3000})`)
	waitFor(t, tab, `S.opens.length === 1 && S.opens[0].transport === "sse" && datas("hi:").length === 1`, `summary()`)
	proxy.refusePath("/sse")
	proxy.cut()
	waitFor(t, tab, `S.opens.length === 2`, `summary()`)
	if got := eval[string](t, tab, `S.opens[1].transport + " " + (S.opens[1].session === S.opens[0].session) + " " + S.opens[1].resumed`); got != "websocket true true" {
		t.Fatalf("second open: %s, want websocket on the same session, resumed", got)
	}
	eval[bool](t, tab, `S.c.send("after the move")`)
	waitFor(t, tab, `datas("echo:after the move").length === 1`, `summary()`)
	if n := gw.app.Accepted("/chat"); n != 1 {
		t.Fatalf("the app saw %d connections, want the one session's", n)
	}
}

// TestWebSocketBootstrapRetriedAfterAFailure: when the WebSocket's
// bootstrap poll fails (a proxy answers 503), the attempt fails and is
// retried; the WebSocket then runs on a session it can resume after a cut.
// The library went on without a session instead, for good: its WebSocket
// owned a session that ended with it, so the first cut lost it.
func TestWebSocketBootstrapRetriedAfterAFailure(t *testing.T) {
	_, proxy, tab := pageBehindProxy(t)
	proxy.refusePath("/poll")
	eval[bool](t, tab, `bwOpen("/chat", {transports: ["websocket"], timeout: 3000})`)
	waitFor(t, tab, `S.errors.length >= 1`, `summary()`)
	if n := eval[int](t, tab, `S.opens.length`); n != 0 {
		t.Fatalf("%d opens while the bootstrap poll was refused", n)
	}
	proxy.refusePath("")
	waitFor(t, tab, `S.opens.length === 1 && datas("hi:").length === 1`, `summary()`)
	proxy.cut()
	waitFor(t, tab, `S.opens.length === 2 || S.closes.length > 0`, `summary()`)
	if got := eval[string](t, tab, `S.closes.length + " " + (S.opens[1] && S.opens[1].session === S.opens[0].session)`); got != "0 true" {
		t.Fatalf("after a cut: %s closes, same session %s", got[:1], got[2:])
	}
}

// TestLastTransportBannedStillBacksOff: with SSE left after two stalls
// (a buffering proxy) and WebSocket refused by the same proxy, each round
// of the one transport left ends with onerror and a backoff. A banned last
// transport hid the end of the round: WebSocket was retried at once, for
// ever, with no onerror.
func TestLastTransportBannedStillBacksOff(t *testing.T) {
	gw := newGateway(t)
	proxy := newTestProxy(t, gw.URL, true)
	tab := pageAt(t, proxy.URL+"/test.html")
	eval[bool](t, tab, `bwOpen("/chat", {transports: ["websocket", "sse"], timeout: 3000, stall: 1000})`)
	// WebSocket is refused every time; SSE's body is held, so it stalls,
	// twice, and is left. Until then each round ends on SSE ("sse: ...");
	// after it, a round is WebSocket alone and must still end in onerror.
	waitFor(t, tab, `S.errors.filter(function (e) { return e.indexOf("websocket") === 0; }).length >= 2`, `summary()`)
	if n := eval[int](t, tab, `S.errors.filter(function (e) { return e.indexOf("sse") === 0; }).length`); n < 2 {
		t.Fatalf("%d SSE rounds before WebSocket was left alone, want the two stalls", n)
	}
}

// TestBroadcastLongPollResumesOnAQuietTopic: a broadcast long-poll that
// drops (its polls refused by a proxy for a moment) resumes on a topic with
// nothing new: the first poll of the resume asks wait=0 and comes up at
// once. It was a held poll, abandoned at the attempt's timeout, again and
// again, until a message came.
func TestBroadcastLongPollResumesOnAQuietTopic(t *testing.T) {
	_, proxy, tab := pageBehindProxy(t)
	eval[bool](t, tab, `bwOpen("/quiet", {transports: ["longpoll"], timeout: 3000})`)
	waitFor(t, tab, `S.opens.length === 1 && datas("hi:").length === 1`, `summary()`)
	proxy.refusePath("/poll")
	proxy.cut() // the held poll, which the browser sends again: refused
	waitFor(t, tab, `S.errors.length >= 1`, `summary()`)
	proxy.refusePath("")
	waitFor(t, tab, `S.opens.length === 2`, `summary()`)
	if got := eval[string](t, tab, `S.opens[1].transport + " " + S.opens[1].resumed + " " + S.msgs.length`); got != "longpoll true 1" {
		t.Fatalf("the resume: %s, want longpoll, resumed, the greeting once", got)
	}
}

// TestJSONPFailuresLeaveNoGlobals: each JSONP poll names a global callback;
// one whose script failed to load (a proxy's 503) will never be called, so
// it goes with it. Each failed poll used to leave one behind.
func TestJSONPFailuresLeaveNoGlobals(t *testing.T) {
	_, proxy, tab := pageBehindProxy(t)
	proxy.refusePath("/poll")
	eval[bool](t, tab, `bwOpen("/chat", {transports: ["jsonp"], timeout: 3000})`)
	waitFor(t, tab, `S.errors.length >= 3`, `summary()`)
	if n := eval[int](t, tab, `Object.keys(window).filter(function (k) { return k.indexOf("__bw") === 0; }).length`); n > 1 {
		t.Fatalf("%d JSONP callbacks left on window after %d failed polls", n, eval[int](t, tab, `S.errors.length`))
	}
}

// TestBroadcastResumeBeforeFirstMessage: a subscriber of a broadcast topic
// (snapshot off, so nothing on arrival) that is cut before its first
// message resumes from where it first connected: the message published
// while it was away arrives. It had no cursor to resume with, so it came
// back as a new subscriber at the topic's end and lost that message
// without a gap.
func TestBroadcastResumeBeforeFirstMessage(t *testing.T) {
	for transport, suffix := range map[string]string{"sse": "/sse", "stream": "/stream", "websocket": "/ws"} {
		t.Run(transport, func(t *testing.T) {
			gw, proxy, tab := pageBehindProxy(t)
			// A subscriber of the test's own keeps the topic open and shows
			// what is in it: the app's greeting first.
			topic := readSSE(t, gw.URL+"/silent/sse")
			waitUntil(t, func() bool { return topic.saw("hi:1") }, "the topic's first message")
			eval[bool](t, tab, `bwOpen("/silent", {transports: ["`+transport+`"], timeout: 3000})`)
			waitFor(t, tab, `S.opens.length === 1`, `summary()`)
			proxy.refusePath(suffix)
			proxy.cut()
			waitFor(t, tab, `S.errors.length >= 1`, `summary()`) // away
			publish(t, gw.URL+"/silent/send", "missed")
			waitUntil(t, func() bool { return topic.saw("echo:missed") }, "the message published while the page was away")
			proxy.refusePath("")
			waitFor(t, tab, `S.opens.length === 2`, `summary()`)
			publish(t, gw.URL+"/silent/send", "after")
			waitFor(t, tab, `datas("echo:after").length === 1`, `summary()`)
			if got := eval[string](t, tab, `JSON.stringify([datas(""), S.gaps])`); got != `[["echo:missed","echo:after"],[]]` {
				t.Fatalf("messages, gaps: %s; want the one published while away, then the next", got)
			}
		})
	}
}

// publish sends text to a broadcast route's shared upstream (client_send).
func publish(t *testing.T, url, text string) {
	t.Helper()
	resp, err := http.Post(url, "text/plain", strings.NewReader(text))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
}
