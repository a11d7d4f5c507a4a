package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSendsExactlyOnceThroughReloadingNginx: the library sends over
// WebSocket through Debian's nginx, reloaded every second, whose old
// workers close their connections a second after each reload. Sends go on,
// 20 every few ms, until the reloads cut the connection four times; the
// app receives every send exactly once, in order, and the page every echo.
func TestSendsExactlyOnceThroughReloadingNginx(t *testing.T) {
	gw := newGateway(t)
	ng := startReloadingNginx(t, gw.URL)
	tab := pageAt(t, ng.URL+"/test.html")
	eval[bool](t, tab, `bwOpen("/chat", {transports: ["websocket", "longpoll"], timeout: 20000})`)
	waitFor(t, tab, `S.opens.length === 1`, `summary()`)
	stop := ng.reloadEvery(t, time.Second)
	// The page sends 20 messages every few ms (setInterval's floor), so
	// some are always on the wire, until the reloads have cut the
	// connection four times. A send refused by a full queue is tried again.
	eval[bool](t, tab, `S.n = 0, S.pump = setInterval(function () {
		for (var i = 0; i < 20 && S.c.send("w" + (S.n + 1)); i++) S.n++;
	}, 1), true`)
	waitFor(t, tab, `S.opens.length >= 5 || S.n >= 30000`, `summary()`)
	sent := eval[int](t, tab, `clearInterval(S.pump), S.n`)
	stop()
	// nginx's own account: reloads, and old workers that closed and left.
	log := ng.errorLog()
	opens := eval[int](t, tab, `S.opens.length`)
	t.Logf("%d sends, %d opens; nginx log: %d reloads, %d old workers exited", sent, opens,
		strings.Count(log, "(SIGHUP) received"), strings.Count(log, ": exiting"))
	if opens < 5 {
		t.Errorf("the reloads cut the connection %d times, want 4", opens-1)
	}
	defer func() {
		if t.Failed() {
			got := gw.app.Received("/chat", "w")
			t.Logf("the app received %d messages for %d sends; first missing or out of place: %s", len(got), sent, firstMisplaced(got, "w"))
		}
	}()
	waitFor(t, tab, fmt.Sprintf(`datas("echo:w").length >= %d`, sent), `summary()`)
	assertSequence(t, gw.app.Received("/chat", "w"), "w", sent)
	assertSequence(t, eval[[]string](t, tab, `datas("echo:w")`), "echo:w", sent)
	assertClean(t, tab)
}
