package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/bridge/client"
	"github.com/bridgeway/bridgeway/cluster"
	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/proxy"
)

// gateway is the real bridge, its routes mounted as cmd/bridgeway mounts
// them, plus the client library and the test page, all on one origin.
type gateway struct {
	URL string
	app *appServer
}

// testRoutes are the routes every e2e test can use; APP is the app's ws://
// base URL.
const testRoutes = `
routes:
  - path: /chat
    upstream: {url: "APP/chat"}
  - path: /nows
    upstream: {url: "APP/chat"}
    transports: [sse, longpoll]
  - path: /onlypoll
    upstream: {url: "APP/chat"}
    transports: [longpoll]
  - path: /ticker
    upstream: {url: "APP/ticker"}
    mode: broadcast
  - path: /open
    upstream: {url: "APP/chat"}
    origins: ["*"]
  - path: /shortlived
    upstream: {url: "APP/chat"}
    session_ttl: 1s
  - path: /busy
    upstream: {url: "APP/busy"}
    heartbeat: 1s
  - path: /bulk
    upstream: {url: "APP/bulk"}
  - path: /quiet
    upstream: {url: "APP/chat"}
    mode: broadcast
  - path: /smallticker
    upstream: {url: "APP/ticker"}
    mode: broadcast
    buffer: 5
  - path: /beat
    upstream: {url: "APP/chat"}
    heartbeat: 1s
    poll_timeout: 1s
  - path: /silent
    upstream: {url: "APP/chat"}
    mode: broadcast
    snapshot: false
    client_send: true
    heartbeat: 1s
`

func newGateway(t *testing.T) *gateway { return startGateway(t, false) }

// newTLSGateway serves over HTTPS with HTTP/2, as a production gateway would.
func newTLSGateway(t *testing.T) *gateway { return startGateway(t, true) }

func startGateway(t *testing.T, tls bool) *gateway {
	t.Helper()
	app := newAppServer(t)
	cfg, err := config.Parse("e2e.yaml", []byte(strings.ReplaceAll(testRoutes, "APP", app.URL())))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	logger := zap.NewNop()
	if os.Getenv("BRIDGEWAY_E2E_LOG") == "1" {
		logger, _ = zap.NewDevelopment()
	}
	b := bridge.New(bridge.Deps{Logger: logger, Registry: prometheus.NewRegistry(), Limits: cfg.Limits})
	mux := http.NewServeMux()
	mux.Handle(client.Path, client.Handler())
	mux.HandleFunc("/test.html", servePage)
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	var handlers []*bridge.RouteHandler
	for _, route := range cfg.Routes {
		h, err := b.NewRoute(route)
		if err != nil {
			t.Fatalf("route %s: %v", route.Path, err)
		}
		handlers = append(handlers, h)
		mux.Handle(route.Path, h)
		mux.Handle(route.Path+"/", h)
	}
	srv := httptest.NewUnstartedServer(mux)
	if tls {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, h := range handlers {
			if err := h.Close(ctx); err != nil {
				t.Errorf("close route: %v", err)
			}
		}
		srv.CloseClientConnections()
		srv.Close()
	})
	return &gateway{URL: srv.URL, app: app}
}

// startAssembledGateway runs the gateway as cmd/bridgeway assembles it
// (proxy in front of the bridge, the library at /_bridgeway/client.js),
// with yaml as its configuration after "listen" and "admin"; APP in yaml
// is the app's ws:// base URL. It returns the gateway's address and the
// app; both stop when the test ends.
func startAssembledGateway(t *testing.T, yaml string) (addr string, app *appServer) {
	t.Helper()
	app = newAppServer(t)
	return assembleGateway(t, strings.ReplaceAll(yaml, "APP", app.URL()), t.Name()), app
}

// assembleGateway starts one gateway instance from yaml (after "listen" and
// "admin"), with its cluster client when the config has cluster.redis
// (instance names the instance there), as cmd/bridgeway wires them; it
// stops when the test ends and returns its address.
func assembleGateway(t *testing.T, yaml, instance string) string {
	t.Helper()
	cfg, err := config.Parse("e2e.yaml", []byte("listen: 127.0.0.1:0\nadmin: {listen: \"\"}\nlog: {access: false}\n"+yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	reg := prometheus.NewRegistry()
	var cl *cluster.Client
	if cfg.Cluster != nil {
		cl, err = cluster.New(cluster.Options{URL: cfg.Cluster.Redis, InstanceID: instance, Logger: zap.NewNop(), Registry: reg})
		if err != nil {
			t.Fatalf("cluster: %v", err)
		}
		t.Cleanup(func() { _ = cl.Close() }) // after the gateway's shutdown below
	}
	b := bridge.New(bridge.Deps{Logger: zap.NewNop(), Registry: reg, Limits: cfg.Limits, Cluster: cl})
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
	return srv.Addr()
}
