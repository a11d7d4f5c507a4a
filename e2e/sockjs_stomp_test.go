//go:build unix

// The STOMP tests need the RabbitMQ helper, which runs the broker as a Unix
// process group: they build where it does.

package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/bridgeway/bridgeway/internal/rabbitmqtest"
)

// TestSockJSStompToRabbitMQ: @stomp/stompjs over sockjs-client in Chromium,
// through a SockJS route, to RabbitMQ's Web-STOMP (plain WebSocket only,
// offered v12.stomp by upstream.subprotocols): it connects, subscribes, and
// receives what it sent, in order, on WebSocket and on a polling transport.
func TestSockJSStompToRabbitMQ(t *testing.T) {
	broker := rabbitmqtest.Start(t)
	page := newSockJSPageServer(t)
	addr, _ := startAssembledGateway(t, strings.NewReplacer("BROKER", broker.WebStompURL(), "PAGE", page.URL).Replace(`
routes:
  - path: /stomp
    upstream: {url: "BROKER", subprotocols: [v12.stomp]}
    origins: ["PAGE"]
    sockjs: {client_url: "PAGE/sockjs.min.js"}
`))
	const n = 200
	for _, transport := range []string{"websocket", "xhr-streaming", "xhr-polling"} {
		t.Run(transport, func(t *testing.T) {
			dest := "/queue/bw-" + transport
			tab := newTab(t)
			run(t, tab, chromedp.Navigate(page.URL+"/"))
			eval[bool](t, tab, fmt.Sprintf(`stompOpen(%q, %q, %q)`, "http://"+addr+"/stomp", transport, dest))
			waitFor(t, tab, `T.connected || T.closes.length > 0 || T.errors.length > 0`, `T`)
			if got := eval[string](t, tab, `JSON.stringify([T.connected, T.version, T.errors, T.closes])`); got != `[true,"1.2",[],[]]` {
				t.Fatalf("connected, version, errors, closes: %s", got)
			}
			eval[bool](t, tab, fmt.Sprintf(`stompSendMany(%q, "s", %d)`, dest, n))
			waitFor(t, tab, fmt.Sprintf(`T.got.length >= %d || T.closes.length > 0`, n), `T`)
			assertSequence(t, eval[[]string](t, tab, `T.got`), "s", n)
			if got := eval[string](t, tab, `JSON.stringify([T.errors, T.closes])`); got != `[[],[]]` {
				t.Errorf("errors, closes: %s", got)
			}
		})
	}
}
