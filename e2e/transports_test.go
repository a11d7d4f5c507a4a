package e2e

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestEachTransportForced pins the library to one transport at a time: 500
// messages from the app arrive once and in order, and 100 sends reach the
// app and come back in order.
func TestEachTransportForced(t *testing.T) {
	gw := newGateway(t)
	for _, transport := range []string{"websocket", "sse", "longpoll", "poll", "stream", "jsonp"} {
		t.Run(transport, func(t *testing.T) {
			tab := newTab(t)
			run(t, tab, chromedp.Navigate(gw.URL+"/test.html"))
			// A query string on the URL is kept on every request.
			eval[bool](t, tab, fmt.Sprintf(`bwOpen("/chat?via=e2e", {transports: [%q], timeout: 20000, interval: 50})`, transport))
			waitFor(t, tab, `S.opens.length === 1`, `summary()`)
			if got := eval[string](t, tab, `S.opens[0].transport`); got != transport {
				t.Fatalf("opened on %q, want %q", got, transport)
			}
			eval[bool](t, tab, `S.c.send("burst:500")`)
			waitFor(t, tab, `datas("n:").length >= 500`, `summary()`)
			eval[bool](t, tab, `(function () { for (var i = 1; i <= 100; i++) S.c.send("e" + i); return true; })()`)
			waitFor(t, tab, `datas("echo:").length >= 100`, `summary()`)

			// Binary both ways: an ArrayBuffer, a typed array viewing part of
			// a buffer and a Blob go up (base64 in a WebSocket send frame, or
			// an octet-stream POST), the app echoes each frame, and they come
			// back in order as base64 with binary set (SSE: event "binary").
			eval[bool](t, tab, `S.c.send(new Uint8Array([0, 1, 2, 255]).buffer) && S.c.send(new Uint8Array([9, 9, 1, 2, 3]).subarray(2)) && S.c.send(new Blob([new Uint8Array([7, 8])]))`)
			waitFor(t, tab, `S.msgs.filter(function (m) { return m.binary; }).length >= 3`, `summary()`)
			const binaries = `[["AAEC/w==","message"],["AQID","message"],["Bwg=","message"]]`
			if got := eval[string](t, tab, `JSON.stringify(S.msgs.filter(function (m) { return m.binary; }).map(function (m) { return [m.data, m.event]; }))`); got != binaries {
				t.Errorf("binary echoes %s, want %s", got, binaries)
			}

			assertSequence(t, eval[[]string](t, tab, `datas("n:")`), "n:", 500)
			assertSequence(t, eval[[]string](t, tab, `datas("echo:")`), "echo:e", 100)
			assertClean(t, tab)
			// Every message carries a cursor of its own (WebSocket too: the
			// library asks for ?format=json).
			assertDistinctIDs(t, tab, 604)
		})
	}
}

// assertSequence checks got is exactly prefix1 … prefixN.
func assertSequence(t *testing.T, got []string, prefix string, n int) {
	t.Helper()
	if len(got) != n {
		t.Errorf("got %d messages with prefix %q, want %d", len(got), prefix, n)
	}
	for i, m := range got {
		if want := fmt.Sprintf("%s%d", prefix, i+1); m != want {
			t.Fatalf("message %d is %q, want %q (duplicate or out of order)", i, m, want)
		}
	}
}

// assertClean checks the app's greeting arrived once and the connection
// reported no error, gap or close.
func assertClean(t *testing.T, tab context.Context) {
	t.Helper()
	if got := eval[[]string](t, tab, `datas("hi:")`); len(got) != 1 {
		t.Errorf("the app's greeting arrived %d times, want once", len(got))
	}
	if s := eval[string](t, tab, `JSON.stringify([S.errors, S.gaps, S.closes])`); s != `[[],[],[]]` {
		t.Errorf("errors, gaps, closes: %s", s)
	}
}

// assertDistinctIDs checks the page's n messages carry n distinct ids
// (cursors).
func assertDistinctIDs(t *testing.T, tab context.Context, n int) {
	t.Helper()
	if got := eval[int](t, tab, `new Set(S.msgs.map(function (m) { return m.id; })).size`); got != n {
		t.Errorf("%d distinct ids for %d messages", got, n)
	}
}

// assertNoGapsOrCloses checks the connection reported no gap and no close
// (errors on the way, which it recovered from, are allowed).
func assertNoGapsOrCloses(t *testing.T, tab context.Context) {
	t.Helper()
	if s := eval[string](t, tab, `JSON.stringify([S.gaps, S.closes])`); s != `[[],[]]` {
		t.Errorf("gaps and closes %s, want none", s)
	}
}

// firstMisplaced names the first position where got is not prefix1, prefix2, ...
func firstMisplaced(got []string, prefix string) string {
	for i, m := range got {
		if want := prefix + strconv.Itoa(i+1); m != want {
			return fmt.Sprintf("#%d is %q, want %q", i+1, m, want)
		}
	}
	return "none"
}
