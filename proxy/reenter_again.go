package proxy

import (
	"net/http"
	"time"

	"github.com/bridgeway/bridgeway/internal/reenter"
)

// again is what the plain server offers handlers that serve the next
// request of a hijacked connection themselves (internal/reenter.Again):
// the same header timeout, and the same request metrics and access-log
// line as serveGateway gives a request of that route.
func (s *Server) again() *reenter.Again {
	return &reenter.Again{
		HeaderTimeout: s.cfg.Limits.ReadHeaderTimeout.D(),
		Open:          func() bool { return !s.draining.Load() },
		Route:         s.routeHandler,
		Resolve:       s.resolve,
		Served:        s.servedAgain,
		Logging:       s.accessLog.Load,
		Counted:       s.countedAgain,
	}
}

// routeHandler is the handler serveGateway gives a request for path to.
func (s *Server) routeHandler(path string) http.Handler {
	if path == clientJSPath {
		return nil
	}
	if m, ok := s.routes.Load().table.Lookup(path); ok {
		return m.Value.handler
	}
	return nil
}

// servedAgain records r (as Resolve returned it) as serveGateway records
// a request its route's handler answered (or hijacked) with status and
// bytes.
func (s *Server) servedAgain(r *http.Request, status int, bytes int64, start time.Time) {
	route, kind := routeNone, kindHTTP
	if m, ok := s.routes.Load().table.Lookup(r.URL.Path); ok {
		route, kind = m.Value.cfg.Path, m.Value.kind
	}
	s.finish(r, &recorder{status: status, bytes: bytes}, route, kind, start)
}

// countedAgain records a request for path in the request metrics as
// servedAgain does, for a server whose access log is off (no request is
// built for it).
func (s *Server) countedAgain(path string, status int, start time.Time) {
	route := routeNone
	if m, ok := s.routes.Load().table.Lookup(path); ok {
		route = m.Value.cfg.Path
	}
	// Not finishLine: the access log may have been switched on by a
	// reload since Logging said off, and this request has no line.
	rs := s.series(route)
	rs.requestsCounter(status).Inc()
	rs.duration.Observe(time.Since(start).Seconds())
}
