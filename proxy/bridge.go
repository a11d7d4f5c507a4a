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

// BridgeFactory builds the handler of a bridged route. cmd/bridgeway passes
// bridge's constructor here.
type BridgeFactory func(route config.Route) (RouteHandler, error)
