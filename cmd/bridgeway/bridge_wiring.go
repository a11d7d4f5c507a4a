package main

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/proxy"
)

// bridgeWiring connects the bridge package to the proxy: the factory of
// bridged route handlers and the client.js handler. The lead replaces this
// file with bridge.New(bridge.Deps{...}).NewRoute once bridge lands; until
// then bridged routes answer 501.
func bridgeWiring(logger *zap.Logger, reg *prometheus.Registry, cfg *config.Config) (proxy.BridgeFactory, http.Handler) {
	_ = logger
	_ = reg
	_ = cfg
	factory := func(route config.Route) (proxy.RouteHandler, error) {
		return notImplementedRoute{}, nil
	}
	return factory, nil
}

type notImplementedRoute struct{}

func (notImplementedRoute) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	proxy.WriteJSONError(w, http.StatusNotImplemented, "not_implemented",
		"bridged routes are not available in this build")
}

func (notImplementedRoute) Close(context.Context) error { return nil }
