package proxy

import (
	"net"
	"net/http"
	"strings"
	"time"
)

// clientJSPath serves the browser client library on every listener.
const clientJSPath = "/_bridgeway/client.js"

// Route labels for requests that are not served by a configured route.
const (
	routeClientJS = "client.js"
	routeRedirect = "redirect"
)

type connKey struct{}

// serveGateway is the handler of the plain and TLS listeners: it picks the
// route by longest prefix and hands the request to its handler, measuring
// and logging it on the way out (for tunnels and streams, when they end).
func (s *Server) serveGateway(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	route, kind := routeNone, kindHTTP
	defer func() {
		// Runs for panics too (http.ErrAbortHandler from a reverse proxy
		// whose client went away), which net/http then handles.
		s.finish(r, rec, route, kind, start)
	}()

	if r.URL.Path == clientJSPath {
		route = routeClientJS
		if s.deps.ClientJS == nil {
			WriteJSONError(rec, http.StatusNotFound, "not_found", "the client library is not built into this gateway")
			return
		}
		s.deps.ClientJS.ServeHTTP(rec, r)
		return
	}

	m, ok := s.routes.Load().table.Lookup(r.URL.Path)
	if !ok {
		WriteJSONError(rec, http.StatusNotFound, "route_not_found", "no route matches "+r.URL.Path)
		return
	}
	entry := m.Value
	route, kind = entry.cfg.Path, entry.kind
	if kind == kindHTTP && isWebSocketUpgrade(r) {
		kind = kindWebSocket
	}

	guard := s.wireGuardOf(r)
	if guard.ambiguousLength(r) {
		rec.Header().Set("Connection", "close")
		WriteJSONError(rec, http.StatusBadRequest, "ambiguous_length",
			"request framing is ambiguous: Content-Length with Transfer-Encoding, or Transfer-Encoding in HTTP/1.0")
		return
	}
	if guard != nil {
		rec.onHijack = func() { guard.off.Store(true) }
	}

	gauge := s.metrics.active.WithLabelValues(route, kind)
	gauge.Inc()
	defer gauge.Dec()
	entry.handler.ServeHTTP(rec, r)
}

func (s *Server) finish(r *http.Request, rec *recorder, route, kind string, start time.Time) {
	elapsed := time.Since(start)
	s.metrics.requests.WithLabelValues(route, itoa(rec.statusCode())).Inc()
	s.metrics.duration.WithLabelValues(route).Observe(elapsed.Seconds())
	s.logAccess(r, rec, route, kind, elapsed)
}

func (s *Server) wireGuardOf(r *http.Request) *wireGuard {
	if c, ok := r.Context().Value(connKey{}).(*limitedConn); ok {
		return c.wire
	}
	return nil
}

func isWebSocketUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "websocket") {
				return true
			}
		}
	}
	return false
}

// redirectToHTTPS is the plain listener's handler when tls.redirect_http is
// on (ACME HTTP-01 challenges are answered before it). 308 keeps the method.
func (s *Server) redirectToHTTPS(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	defer s.finish(r, rec, routeRedirect, kindHTTP, start)

	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else {
		host = strings.Trim(host, "[]")
	}
	if host == "" {
		WriteJSONError(rec, http.StatusBadRequest, "bad_request", "missing Host header")
		return
	}
	if strings.Contains(host, ":") { // IPv6 literal
		host = "[" + host + "]"
	}
	if port := s.tlsPort(); port != "" && port != "443" {
		host += ":" + port
	}
	http.Redirect(rec, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
}
