package proxy

import (
	"context"
	"net/http"

	"github.com/bridgeway/bridgeway/config"
)

// RouteHandler serves every request under one bridged route (any upstream
// kind but http). It is built by a BridgeFactory, so proxy never imports
// bridge. Close ends its sessions and topics: called on shutdown, and on
// reload for a route that was removed or changed.
type RouteHandler interface {
	http.Handler
	Close(ctx context.Context) error
}

// RouteUpdater is a route handler that a reload can give new settings in
// place, keeping its live sessions and topics, when CanUpdate accepts the
// new route (the bridge: same path, mode and upstream).
type RouteUpdater interface {
	CanUpdate(route config.Route) bool
	Update(route config.Route)
}

// RouteRetirer is a route handler that ends differently when a reload
// removes its route or changes its upstream than on shutdown (the bridge
// tells its clients "route reconfigured", close 4012).
type RouteRetirer interface {
	Retire(ctx context.Context) error
}

// BridgeFactory builds the handler of a bridged route. cmd/bridgeway passes
// bridge's constructor here.
type BridgeFactory func(route config.Route) (RouteHandler, error)
