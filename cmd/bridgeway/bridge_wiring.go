package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge"
	"github.com/bridgeway/bridgeway/bridge/client"
	"github.com/bridgeway/bridgeway/cluster"
	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/proxy"
)

// bridgeWiring connects the bridge package to the proxy: the factory of
// bridged route handlers and the client.js handler. proxy never imports
// bridge; this is the one place that knows both.
// cl is the cluster client (nil without cluster.redis).
func bridgeWiring(logger *zap.Logger, reg *prometheus.Registry, cfg *config.Config, cl *cluster.Client) (proxy.BridgeFactory, http.Handler) {
	b := bridge.New(bridge.Deps{Logger: logger, Registry: reg, Limits: cfg.Limits, Cluster: cl})
	factory := func(route config.Route) (proxy.RouteHandler, error) {
		h, err := b.NewRoute(route)
		if err != nil {
			return nil, err // never a typed nil inside the interface
		}
		return h, nil
	}
	return factory, client.Handler()
}
