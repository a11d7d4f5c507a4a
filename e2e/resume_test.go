package e2e

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestResumeAfterCuts streams 1,000 paced messages through a proxy that
// cuts every browser connection four times mid-stream. On each transport the
// library must reconnect from its cursor and deliver every message exactly
// once, in order. Sends made right after each cut (POST with seq on the
// HTTP transports, acknowledged frames on WebSocket) must reach the app
// exactly once, in order.
func TestResumeAfterCuts(t *testing.T) {
	gw := newGateway(t)
	const total = 1000
	for _, transport := range []string{"websocket", "sse", "longpoll", "stream", "jsonp"} {
		t.Run(transport, func(t *testing.T) {
			proxy := newTestProxy(t, gw.URL, false)
			tab := newTab(t)
			run(t, tab, chromedp.Navigate(proxy.URL+"/test.html"))
			eval[bool](t, tab, fmt.Sprintf(`bwOpen("/chat", {transports: [%q], timeout: 20000})`, transport))
			waitFor(t, tab, `S.opens.length === 1`, `summary()`)
			eval[bool](t, tab, fmt.Sprintf(`S.c.send("pace:%d")`, total))
			sent := 0
			for i, at := range []int{150, 350, 550, 750} {
				waitFor(t, tab, fmt.Sprintf(`datas("n:").length >= %d`, at), `summary()`)
				proxy.cut()
				// A send right after the cut: the POST may be cut too and is
				// retried with its seq; the WebSocket frame may be written into
				// the dying socket and is sent again until acknowledged.
				for j := 0; j < 10; j++ {
					sent++
					eval[bool](t, tab, fmt.Sprintf(`S.c.send("e%d")`, sent))
				}
				t.Logf("cut %d at %d messages", i+1, at)
			}
			waitFor(t, tab, fmt.Sprintf(`datas("n:").length >= %d`, total), `summary()`)
			assertSequence(t, eval[[]string](t, tab, `datas("n:")`), "n:", total)
			if sent > 0 {
				waitFor(t, tab, fmt.Sprintf(`datas("echo:e").length >= %d`, sent), `summary()`)
				assertSequence(t, eval[[]string](t, tab, `datas("echo:e")`), "echo:e", sent)
			}
			// A cut held poll may be retried by the browser itself (a reset
			// reused connection), so only streaming transports must reopen.
			if n := eval[int](t, tab, `S.opens.length`); n < 2 && transport != "longpoll" && transport != "jsonp" {
				t.Errorf("opened %d times; the cuts did not force a reconnect", n)
			}
			if bad := eval[int](t, tab, `S.opens.filter(function (o, i) { return o.resumed !== (i > 0); }).length`); bad != 0 {
				t.Errorf("resumed flags wrong: %s", eval[string](t, tab, `JSON.stringify(S.opens)`))
			}
			assertClean(t, tab)
		})
	}
}
