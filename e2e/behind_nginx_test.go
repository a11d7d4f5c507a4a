package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/bridgeway/bridgeway/internal/revproxytest"
)

// TestLibraryBehindNginx: the page and the library come from one site
// served by nginx, with the configuration of docs/operations.md (Host left
// at nginx's default, the gateway's own address), in front of the
// assembled gateway that lists nginx in trusted_proxies. Every transport
// opens, receives and sends in order: the same-origin rule judges the
// page by X-Forwarded-Host/-Proto, so no request is refused 403 (before
// trusted_proxies, every one was).
func TestLibraryBehindNginx(t *testing.T) {
	gw, _ := startAssembledGateway(t, "trusted_proxies: [127.0.0.3]\nroutes:\n  - path: /chat\n    upstream: {url: \"APP/chat\"}\n")
	site := revproxytest.Nginx(t, revproxytest.Options{ListenIP: "127.0.0.2", Gateway: gw, BindFrom: "127.0.0.3",
		Pages: map[string]string{"/test.html": strings.Replace(testPage, "BARE", "", 1)}})

	for _, transport := range []string{"websocket", "sse", "longpoll", "poll", "stream", "jsonp"} {
		t.Run(transport, func(t *testing.T) {
			tab := newTab(t)
			run(t, tab, chromedp.Navigate("http://"+site+"/test.html"))
			eval[bool](t, tab, fmt.Sprintf(`bwOpen("/chat", {transports: [%q], timeout: 20000, interval: 50})`, transport))
			waitFor(t, tab, `S.opens.length === 1`, `summary()`)
			if got := eval[string](t, tab, `S.opens[0].transport`); got != transport {
				t.Fatalf("opened on %q, want %q", got, transport)
			}
			exchange(t, tab, 100, 20)
			assertClean(t, tab)
		})
	}
}
