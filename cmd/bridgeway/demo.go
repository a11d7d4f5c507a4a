package main

import (
	"context"
	_ "embed" // demo.yaml
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/demo"
	"github.com/bridgeway/bridgeway/demo/web"
	"github.com/bridgeway/bridgeway/proxy"
)

//go:embed demo.yaml
var demoConfigTemplate string

// demoRoutes is what the demo page shows; it matches demo.yaml.
var demoRoutes = []web.Route{
	{Path: "/chat", Title: "Chat: a WebSocket app (one upstream per session), with a ticker", Mode: "session", Send: true},
	{Path: "/echo", Title: "Echo: a WebSocket echo (one upstream per session)", Mode: "session", Send: true},
	{Path: "/room", Title: "Room: one shared WebSocket, fanned out", Mode: "broadcast", Send: true},
	{Path: "/feed", Title: "Feed: an SSE upstream", Mode: "broadcast"},
	{Path: "/clock", Title: "Clock: a JSON endpoint polled once a second for everyone", Mode: "broadcast"},
	{Path: "/clock-wait", Title: "Clock: the same JSON through a long-polling upstream", Mode: "broadcast"},
	{Path: "/sockjs/feed", Title: "Feed for sockjs-client: the SSE upstream over the SockJS protocol", Mode: "broadcast", SockJS: true},
}

func init() { extraCommands["demo"] = demoCommand }

// demoCommand starts the demo upstreams, a page server, and the gateway in
// front of them from the embedded config.
func demoCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address of the gateway")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(signals)
	return runDemo(*listen, stdout, stderr, signals, nil)
}

// runDemo is demoCommand without the process-wide parts, for tests.
func runDemo(listen string, stdout, logOut io.Writer, signals <-chan os.Signal, started func(*proxy.Server)) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ups, err := demo.Start(ctx, zap.NewNop())
	if err != nil {
		fmt.Fprintf(logOut, "bridgeway demo: %v\n", err)
		return 1
	}
	defer func() { _ = ups.Close() }()

	page, err := startPageServer()
	if err != nil {
		fmt.Fprintf(logOut, "bridgeway demo: %v\n", err)
		return 1
	}
	defer func() { _ = page.Close() }()

	dir, err := os.MkdirTemp("", "bridgeway-demo-")
	if err != nil {
		fmt.Fprintf(logOut, "bridgeway demo: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "demo.yaml")
	if err := os.WriteFile(path, []byte(demoConfig(listen, ups.BaseURL(), "http://"+page.Addr)), 0o600); err != nil {
		fmt.Fprintf(logOut, "bridgeway demo: %v\n", err)
		return 1
	}
	return runGatewayFlags(path, logOut, signals, func(srv *proxy.Server) {
		fmt.Fprintf(stdout, "bridgeway demo: open http://%s/ (metrics on http://%s/metrics); Ctrl-C stops\n",
			srv.Addr(), srv.AdminAddr())
		if started != nil {
			started(srv)
		}
	}, keyFlags{"listen": "-listen"})
}

// demoConfig fills the embedded template.
func demoConfig(listen, upstream, page string) string {
	return strings.NewReplacer(
		"{{LISTEN}}", listen,
		"{{UPSTREAM_WS}}", "ws"+strings.TrimPrefix(upstream, "http"),
		"{{UPSTREAM}}", upstream,
		"{{PAGE}}", page,
	).Replace(demoConfigTemplate)
}

// startPageServer serves the demo page and its route list on a loopback
// port; the gateway's "/" route proxies to it.
func startPageServer() (*http.Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo page: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+web.RoutesPath, web.RoutesHandler(demoRoutes))
	mux.Handle("GET /{$}", web.Handler())
	srv := &http.Server{Addr: ln.Addr().String(), Handler: mux, ReadHeaderTimeout: startTimeout}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "bridgeway demo: page server: %v\n", err)
		}
	}()
	return srv, nil
}
