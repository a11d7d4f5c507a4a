package bridge

import (
	"context"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/config"
)

// reasonReconfigured is the close reason of sessions and topics ended
// because a reload removed their route or changed its upstream.
const reasonReconfigured = "route reconfigured"

// set is the route's current settings: what it was built with, or what
// the last in-place reload (Update) gave it.
func (h *RouteHandler) set() *settings { return h.live.Load() }

// CanUpdate reports whether route can take over this handler in place on
// a reload: same path, mode and upstream (config.Route.SameUpstream), so
// the live sessions and topics, their message logs and upstream
// connections can stay.
func (h *RouteHandler) CanUpdate(route config.Route) bool {
	return h.route.SameUpstream(route)
}

// Update applies route's settings (call only when CanUpdate): requests,
// sessions and topics use them from now on. What already runs keeps what
// it was built with: a log's buffer, an open stream's heartbeat ticker, a
// running idle or session timer, the pings of an open upstream WebSocket.
func (h *RouteHandler) Update(route config.Route) {
	s := newSettings(route, h.bridge.limits)
	if old := h.live.Swap(&s); old.heartbeat != s.heartbeat {
		h.wakeFanouts() // their heartbeat tickers follow
	}
	h.log.Info("route updated in place: sessions and topics kept")
}

// wakeFanouts kicks every topic's running fan-out.
func (h *RouteHandler) wakeFanouts() {
	_, topics := h.openNow()
	for _, t := range topics {
		t.mu.Lock()
		f := t.fan
		t.mu.Unlock()
		if f != nil {
			f.wake()
		}
	}
}

// Retire ends the route after a reload removed it or changed its
// upstream: every session and topic ends with close 4012 "route
// reconfigured" (a WebSocket close frame, an SSE close event, a poll
// answer with "closed", an NDJSON close line), then the route closes as
// Close does, within ctx.
func (h *RouteHandler) Retire(ctx context.Context) error {
	h.log.Info("route retired by a reload", zap.Int("code", closeReconfigured))
	return h.closeWith(ctx, true)
}
