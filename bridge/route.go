package bridge

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/routing"
)

// RouteHandler serves every request under one bridged route. It satisfies
// proxy.RouteHandler.
type RouteHandler struct {
	bridge *Bridge
	// route is the config the handler was built with; a reload may change
	// its settings (live) but never its path, mode or upstream.
	route   config.Route
	pattern routing.Pattern
	live    atomic.Pointer[settings]
	log     *zap.Logger
	metrics *routeMetrics

	mu       sync.Mutex
	sessions map[string]*session
	opening  int // sessions being dialled: their places under maxSessions are reserved
	topics   map[string]*topic
	closing  bool
	ending   atomic.Bool   // closing, readable without mu (parked polls' answers)
	active   int           // requests being served
	idle     chan struct{} // closed when closing and active reaches 0
	shutdown chan struct{} // closed by Close: every client loop ends
	runs     sync.WaitGroup
	// nextPolls wait for the next poll on answered polls' connections
	// (poll_next.go).
	nextPolls pollWaiters

	watchOnce sync.Once // the session pumps' shutdown watcher (deliver_kick.go)

	sockjs sockjsSessions // routes[].sockjs (sockjs_session.go)
}

// ServeHTTP dispatches to the endpoints of docs/protocol.md section 1.
func (h *RouteHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	params, rest, ok := h.pattern.Match(r.URL.Path)
	if !ok {
		writeError(w, errNotFound)
		return
	}
	if !h.enter() {
		writeError(w, errShuttingDown)
		return
	}
	defer h.exit()
	prefix := strings.TrimSuffix(r.URL.Path, rest)
	req := &request{h: h, w: w, r: r, params: params, prefix: prefix}
	if h.route.SockJS != nil {
		h.serveSockJS(req, rest) // sockjs.go
		return
	}
	switch rest {
	case "":
		switch {
		case isWebSocketUpgrade(r):
			h.serveTransport(req, config.TransportWebSocket, h.serveWebSocket)
		case acceptsEventStream(r):
			h.serveTransport(req, config.TransportSSE, h.serveSSE)
		default:
			writeError(w, errNotFound)
		}
	case "/ws":
		h.serveTransport(req, config.TransportWebSocket, h.serveWebSocket)
	case "/sse":
		h.serveTransport(req, config.TransportSSE, h.serveSSE)
	case "/poll":
		h.servePollEndpoint(req)
	case "/stream":
		h.serveTransport(req, config.TransportStream, h.serveStream)
	case "/send":
		h.serveSend(req)
	default:
		writeError(w, errNotFound)
	}
}

// request carries one client request through the handlers.
type request struct {
	h      *RouteHandler
	w      http.ResponseWriter
	r      *http.Request
	params map[string]string
	prefix string    // the route path as the client wrote it (placeholders filled)
	poll   pollQuery // /poll only: its query, read once
}

func (h *RouteHandler) serveTransport(req *request, transport string, serve func(*request, string)) {
	if !h.set().transports[transport] {
		writeError(req.w, errTransportOff)
		return
	}
	if !h.checkOrigin(req) {
		return
	}
	serve(req, transport)
}

// checkOrigin refuses a disallowed Origin (403) and readies an allowed
// cross-origin request (origin.go).
func (h *RouteHandler) checkOrigin(req *request) bool {
	return h.set().origins.admit(req.w, req.r)
}

func isWebSocketUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func acceptsEventStream(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		if strings.Contains(strings.ToLower(v), "text/event-stream") {
			return true
		}
	}
	return false
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// enter counts a request in; false once Close has begun.
func (h *RouteHandler) enter() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.active++
	return true
}

func (h *RouteHandler) exit() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.active--
	if h.closing && h.active == 0 {
		close(h.idle)
	}
}

// Close ends the route: WebSocket clients get 1001, SSE streams get
// "retry:" and EOF, held polls are answered, streams end; then sessions and
// topics close their upstreams. It returns when all of that is done or ctx
// ends.
func (h *RouteHandler) Close(ctx context.Context) error { return h.closeWith(ctx, false) }

// closeWith is Close; with farewell (Retire) every session and topic first
// ends with 4012 "route reconfigured", which each attached client receives
// on its own transport, and only what is still open once they left (or ctx
// ended) gets the shutdown treatment.
func (h *RouteHandler) closeWith(ctx context.Context, farewell bool) error {
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		return nil
	}
	h.closing = true
	h.ending.Store(true)
	h.nextPolls.stop()
	h.idle = make(chan struct{})
	if h.active == 0 {
		close(h.idle)
	}
	if !farewell {
		close(h.shutdown)
	}
	h.mu.Unlock()

	if farewell {
		h.endAll(closeReconfigured, reasonReconfigured)
		select {
		case <-h.idle:
		case <-ctx.Done():
		}
		close(h.shutdown)
	}
	select {
	case <-h.idle:
	case <-ctx.Done():
	}
	h.endAll(closeShutdown, "shutdown")
	// Idle SockJS sessions too: a disconnect timer must not outlive the
	// route (backend_sockjs.go).
	h.bridge.logs.sockjs().closeAll(h)
	done := make(chan struct{})
	go func() { h.runs.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// endAll ends every session and topic still open with code and reason.
func (h *RouteHandler) endAll(code int, reason string) {
	sessions, topics := h.openNow()
	for _, s := range sessions {
		s.end(code, reason)
	}
	for _, t := range topics {
		t.end(reason)
	}
}

// openNow is the sessions and topics open now: what is done with them
// happens after h.mu is released.
func (h *RouteHandler) openNow() ([]*session, []*topic) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sessions := make([]*session, 0, len(h.sessions))
	for _, s := range h.sessions {
		sessions = append(sessions, s)
	}
	topics := make([]*topic, 0, len(h.topics))
	for _, t := range h.topics {
		topics = append(topics, t)
	}
	return sessions, topics
}

// shuttingDown is closed when Close begins.
func (h *RouteHandler) shuttingDown() <-chan struct{} { return h.shutdown }
