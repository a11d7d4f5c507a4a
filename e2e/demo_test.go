package e2e

import (
	"bytes"
	"context"
	"flag"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/bridge/client"
	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/demo"
	"github.com/bridgeway/bridgeway/demo/web"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the demo page screenshot to docs/demo.png")

// demoRoutes put the gateway in front of the built-in demo upstreams the way
// `bridgeway demo` does.
const demoRoutes = `
routes:
  - path: /chat
    upstream: {url: "CHAT"}
    mode: session
  - path: /feed
    upstream: {url: "SSE", kind: sse}
    mode: broadcast
  - path: /clock
    upstream: {url: "JSON", kind: poll, interval: 1s}
    mode: broadcast
`

// TestDemoPage serves the demo page with the real demo upstreams behind the
// real bridge and checks that every box (each feed over each transport)
// connects on its transport and receives messages, and that a chat message
// sent over long-poll shows up in the WebSocket box. It saves a screenshot
// (docs/demo.png with -update-screenshot).
func TestDemoPage(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ups, err := demo.Start(ctx, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ups.Close() })
	yaml := strings.NewReplacer("CHAT", ups.ChatURL(), "SSE", ups.SSEURL(), "JSON", ups.JSONURL()).Replace(demoRoutes)
	cfg, err := config.Parse("demo.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	b := bridge.New(bridge.Deps{Logger: zap.NewNop(), Registry: prometheus.NewRegistry(), Limits: cfg.Limits})
	mux := http.NewServeMux()
	mux.Handle(client.Path, client.Handler())
	mux.Handle("GET /{$}", web.Handler())
	mux.Handle(web.RoutesPath, web.RoutesHandler([]web.Route{
		{Path: "/chat", Title: "WebSocket chat with a ticker", Mode: "session", Send: true},
		{Path: "/feed", Title: "SSE feed", Mode: "broadcast"},
		{Path: "/clock", Title: "JSON endpoint polled every second", Mode: "broadcast"},
	}))
	var handlers []*bridge.RouteHandler
	for _, route := range cfg.Routes {
		h, err := b.NewRoute(route)
		if err != nil {
			t.Fatal(err)
		}
		handlers = append(handlers, h)
		mux.Handle(route.Path, h)
		mux.Handle(route.Path+"/", h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		for _, h := range handlers {
			_ = h.Close(cctx)
		}
		srv.CloseClientConnections()
		srv.Close()
	})

	tab := newTab(t)
	run(t, tab, chromedp.EmulateViewport(1280, 400), chromedp.Navigate(srv.URL+"/"))
	const boxes = `document.querySelectorAll(".cell")`
	// Each feed in turn over the six transports (the chat feed last, for the
	// screenshot): every box connects on the transport it is pinned to and
	// counts messages.
	for _, feed := range []string{"/feed", "/clock", "/chat"} {
		run(t, tab, chromedp.SetValue(chromedp.CSS(`#feed`), feed))
		eval[bool](t, tab, `document.getElementById("feed").onchange(), true`)
		waitFor(t, tab, boxes+`.length === 6 && `+boxes+`[0].getAttribute("data-route") === `+mustJSON(t, feed), boxes+`.length`)
		waitFor(t, tab, `Array.prototype.every.call(`+boxes+`, function (b) {
		  return b.querySelector(".state").textContent === b.getAttribute("data-transport") &&
		    +b.querySelector(".count").textContent >= 2;
		})`, `Array.prototype.map.call(`+boxes+`, function (b) {
		  return [b.getAttribute("data-route"), b.getAttribute("data-transport"), b.querySelector(".state").textContent, b.querySelector(".count").textContent];
		})`)
	}

	// A chat line sent via long-poll reaches the WebSocket box (the chat app
	// broadcasts to every member of the room).
	run(t, tab,
		chromedp.SetValue(chromedp.CSS(`form.send input`), "hello from long-poll"),
		chromedp.SetValue(chromedp.CSS(`form.send select`), "longpoll"),
		chromedp.Click(chromedp.CSS(`form.send button`)))
	waitFor(t, tab, `document.querySelector('.cell[data-route="/chat"][data-transport="websocket"] ol').textContent.indexOf("hello from long-poll") >= 0`,
		`document.querySelector('.cell[data-route="/chat"][data-transport="websocket"]').textContent`)
	// A fuller picture for the screenshot: a few more ticks in every box.
	waitFor(t, tab, `Array.prototype.every.call(`+boxes+`, function (b) { return +b.querySelector(".count").textContent >= 6; })`, `""`)

	img := capture(t, tab)
	if _, err := png.Decode(bytes.NewReader(img)); err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	out := filepath.Join(t.TempDir(), "demo.png")
	if *updateScreenshot {
		out = filepath.Join("..", "docs", "demo.png")
	}
	if err := os.WriteFile(out, img, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", out, len(img))
}

func capture(t *testing.T, tab context.Context) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, deadline)
	defer cancel()
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return img
}
