package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/bridge/client"
	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/internal/revproxytest"
	"github.com/bridgeway/bridgeway/proxy"
)

// TestLibraryBehindNginx: the page and the library come from one site
// served by nginx, with the configuration of docs/operations.md (Host left
// at nginx's default, the gateway's own address), in front of the
// assembled gateway that lists nginx in trusted_proxies. Every transport
// opens, receives and sends in order: the same-origin rule judges the
// page by X-Forwarded-Host/-Proto, so no request is refused 403 (before
// trusted_proxies, every one was).
func TestLibraryBehindNginx(t *testing.T) {
	app := newAppServer(t)
	cfg, err := config.Parse("e2e.yaml", []byte("listen: 127.0.0.1:0\nadmin: {listen: \"\"}\nlog: {access: false}\n"+
		"trusted_proxies: [127.0.0.3]\nroutes:\n  - path: /chat\n    upstream: {url: \""+app.URL()+"/chat\"}\n"))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	reg := prometheus.NewRegistry()
	b := bridge.New(bridge.Deps{Logger: zap.NewNop(), Registry: reg, Limits: cfg.Limits})
	factory := func(route config.Route) (proxy.RouteHandler, error) {
		h, err := b.NewRoute(route)
		if err != nil {
			return nil, err
		}
		return h, nil
	}
	srv, err := proxy.New(cfg, proxy.Deps{Registry: reg, Bridge: factory, ClientJS: client.Handler()})
	if err != nil {
		t.Fatalf("proxy.New: %v", err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	site := revproxytest.Nginx(t, revproxytest.Options{ListenIP: "127.0.0.2", Gateway: srv.Addr(), BindFrom: "127.0.0.3",
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
