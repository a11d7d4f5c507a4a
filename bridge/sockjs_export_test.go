package bridge

import "context"

// SockJSSessions is how many SockJS sessions the route holds (tests wait
// for their disconnect timers before the leak check).
func SockJSSessions(h *RouteHandler) int {
	h.sockjs.mu.Lock()
	defer h.sockjs.mu.Unlock()
	return len(h.sockjs.byID)
}

// SockJSReceiving reports whether session sid has a receiving request
// (tests wait for a held poll before sending a second one).
func SockJSReceiving(h *RouteHandler, sid string) bool {
	h.sockjs.mu.Lock()
	sj := h.sockjs.byID[sid]
	h.sockjs.mu.Unlock()
	if sj == nil {
		return false
	}
	sj.mu.Lock()
	defer sj.mu.Unlock()
	return sj.receiving
}

// SockJSReceivingShared is SockJSReceiving in cluster mode (the receiver
// lock in Redis).
func SockJSReceivingShared(h *RouteHandler, sid string) bool {
	ok, _ := h.bridge.logs.(redisBackend).c.SockJSReceiving(context.Background(), h.route.Path, sid)
	return ok
}

// SockJSTimerArmed returns a report of whether the disconnect timer of
// session sid, as this route holds it now, is armed: asked after Close,
// an armed one would run after its route.
func SockJSTimerArmed(h *RouteHandler, sid string) func() bool {
	h.sockjs.mu.Lock()
	sj := h.sockjs.byID[sid]
	h.sockjs.mu.Unlock()
	return func() bool {
		if sj == nil {
			return false
		}
		sj.mu.Lock()
		defer sj.mu.Unlock()
		return sj.timer != nil
	}
}
