package e2e

import (
	"fmt"
	"testing"
)

// TestSendsExactlyOnceAcrossCuts: the library sends over WebSocket while a
// proxy cuts every connection again and again, with sends right before
// each cut and right after it (written into a socket the browser has not
// yet seen die). The gateway acknowledges WebSocket sends and the library
// resends what a cut left unacknowledged; in the last round the proxy also
// refuses WebSocket, so the rest goes by POST from SSE, with the same seqs.
// The app receives every send exactly once, in order, and the page every
// echo.
func TestSendsExactlyOnceAcrossCuts(t *testing.T) {
	gw, proxy, tab := pageBehindProxy(t)
	eval[bool](t, tab, `bwOpen("/chat", {transports: ["websocket", "sse"], timeout: 20000})`)
	waitFor(t, tab, `S.opens.length === 1`, `summary()`)
	const rounds, per = 8, 40
	sent := 0
	sendSome := func() {
		eval[bool](t, tab, fmt.Sprintf(`(function () { for (var i = %d; i <= %d; i++) S.c.send("w" + i); return true; })()`, sent+1, sent+per))
		sent += per
	}
	for r := range rounds {
		sendSome()
		if r == rounds-1 {
			proxy.refuseWebSocket()
		}
		proxy.cut()
		sendSome()
		waitFor(t, tab, fmt.Sprintf(`S.opens.length >= %d`, r+2), `summary()`)
	}
	sendSome()
	waitFor(t, tab, fmt.Sprintf(`datas("echo:w").length >= %d`, sent), `summary()`)
	assertSequence(t, gw.app.Received("/chat", "w"), "w", sent)
	assertSequence(t, eval[[]string](t, tab, `datas("echo:w")`), "echo:w", sent)
	if got := eval[string](t, tab, `S.opens.map(function (o) { return o.transport; }).join()`); got != "websocket,websocket,websocket,websocket,websocket,websocket,websocket,websocket,sse" {
		t.Errorf("transports opened: %s", got)
	}
	assertClean(t, tab)
}
