package bridge_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/proxy"
)

// parkGateway is the whole gateway (proxy + bridge, as cmd/bridgeway
// wires them) with one broadcast route /chat in front of up: parked polls
// need the proxy's way back for hijacked connections.
type parkGateway struct {
	rh   *bridge.RouteHandler // the last route built
	srv  *proxy.Server
	reg  *prometheus.Registry
	addr string
}

// startWholeGateway starts proxy + bridge with routesYAML (a "routes:" block)
// on a loopback port.
func startWholeGateway(t testing.TB, routesYAML string) *parkGateway {
	t.Helper()
	return startLoggedGateway(t, "log: {access: false}\n"+routesYAML, zap.NewNop())
}

// startLoggedGateway is startWholeGateway with the proxy's logger and the
// config's log block (in configYAML) chosen by the caller.
func startLoggedGateway(t testing.TB, configYAML string, logger *zap.Logger) *parkGateway {
	t.Helper()
	text := "listen: 127.0.0.1:0\nadmin: {listen: \"\"}\nshutdown_timeout: 20s\n" + configYAML
	cfg, err := config.Parse("gateway.yaml", []byte(text))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	reg := prometheus.NewRegistry()
	b := bridge.New(bridge.Deps{Logger: zap.NewNop(), Registry: reg, Limits: cfg.Limits})
	g := &parkGateway{reg: reg}
	factory := func(route config.Route) (proxy.RouteHandler, error) {
		rh, err := b.NewRoute(route)
		g.rh = rh
		return rh, err
	}
	srv, err := proxy.New(cfg, proxy.Deps{Logger: logger, Registry: reg, Bridge: factory})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.srv, g.addr = srv, srv.Addr()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return g
}
