package proxy

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bridgeway/bridgeway/internal/forwarded"
	"github.com/bridgeway/bridgeway/internal/jsonerr"
	"github.com/bridgeway/bridgeway/proxy/passthrough"
	"github.com/bridgeway/bridgeway/routing"
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
	r = s.resolve(r)
	rec := &recorder{ResponseWriter: w}
	if r.TLS != nil {
		rec.hsts = s.hsts
	}
	route, kind := routeNone, kindHTTP
	var gauge prometheus.Gauge
	defer func() {
		// Runs for panics too (http.ErrAbortHandler from a reverse proxy
		// whose client went away), which net/http then handles.
		if rec.outlive == nil {
			s.finish(r, rec, route, kind, start)
			if gauge != nil {
				gauge.Dec()
			}
			return
		}
		// The connection is served on: count and log it when it ends,
		// keeping only what that needs (outlive.go).
		rec.deferEnd(s.detachedEnd(lineOf(r, rec), route, kind, start, gauge))
	}()

	if r.URL.Path == clientJSPath {
		route = routeClientJS
		if s.deps.ClientJS == nil {
			jsonerr.Write(rec, http.StatusNotFound, "not_found", "the client library is not built into this gateway")
			return
		}
		s.deps.ClientJS.ServeHTTP(rec, r)
		return
	}

	m, ok := s.routes.Load().table.Lookup(r.URL.Path)
	if !ok {
		jsonerr.Write(rec, http.StatusNotFound, "route_not_found", "no route matches "+r.URL.Path)
		return
	}
	entry := m.Value
	route, kind = entry.cfg.Path, entry.kind
	upgrade := isWebSocketUpgrade(r)
	if kind == kindHTTP && upgrade {
		kind = kindWebSocket
	}
	if routing.HasDotSegment(r.URL.Path) {
		// Every route, bridged ones included: a placeholder value ".."
		// would otherwise climb out of the upstream path it fills.
		jsonerr.Write(rec, http.StatusBadRequest, "bad_path", "the path must not contain . or .. segments")
		return
	}

	if upgrade && (r.ContentLength != 0 || len(r.TransferEncoding) > 0) {
		// The bytes after a handshake are frames: a body here could be
		// read as frames by one side and as a body by the other.
		rec.Header().Set("Connection", "close")
		jsonerr.Write(rec, http.StatusBadRequest, "bad_request", "a WebSocket upgrade request must not carry a body")
		return
	}
	guard := s.wireGuardOf(r)
	if guard.ambiguousLength(r) {
		rec.Header().Set("Connection", "close")
		jsonerr.Write(rec, http.StatusBadRequest, "ambiguous_length",
			"request framing is ambiguous: Content-Length with Transfer-Encoding, or Transfer-Encoding in HTTP/1.0")
		return
	}
	rec.guard = guard

	if r.Context().Err() != nil {
		// The client gave up before its route started (an HTTP/2 stream
		// reset at once, a closed connection): no upstream work for it.
		rec.WriteHeader(passthrough.StatusClientClosed)
		return
	}
	gauge = s.series(route).activeGauge(kind)
	gauge.Inc()
	entry.handler.ServeHTTP(rec, r)
}

func (s *Server) finish(r *http.Request, rec *recorder, route, kind string, start time.Time) {
	// Metrics need only the status: the line's other fields (the client
	// address resolves forwarding headers) are taken when it is written.
	l := accessLine{status: rec.statusCode()}
	if s.accessLog.Load() {
		l = lineOf(r, rec)
	}
	s.finishLine(&l, route, kind, start)
}

// finishLine counts and logs a request from its access line.
func (s *Server) finishLine(l *accessLine, route, kind string, start time.Time) {
	elapsed := time.Since(start)
	rs := s.series(route)
	rs.requestsCounter(l.status).Inc()
	rs.duration.Observe(elapsed.Seconds())
	s.logAccess(l, route, kind, elapsed)
}

// wireGuardOf is the guard of r's connection: plain listener connections
// and HTTP/1.1 ones over TLS have one (nil on HTTP/2).
func (s *Server) wireGuardOf(r *http.Request) *wireGuard {
	switch c := r.Context().Value(connKey{}).(type) {
	case *limitedConn:
		return c.wire
	case *tlsHTTP1Conn:
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
// The Location's host is the one the client asked for when it is one of the
// gateway's names (hosts, or the certificate's); any other Host gets the
// first name, so a forged Host never picks where clients are sent.
func (s *Server) redirectToHTTPS(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	r = s.resolve(r)
	rec := &recorder{ResponseWriter: w}
	defer s.finish(r, rec, routeRedirect, kindHTTP, start)

	info := forwarded.Of(r)
	host := info.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else {
		host = strings.Trim(host, "[]")
	}
	if len(info.Hosts) > 0 && !info.Hosts.Match(host) {
		if host = info.Hosts.First(); host == "" {
			jsonerr.Write(rec, http.StatusMisdirectedRequest, "unknown_host",
				"this gateway does not serve that host name")
			return
		}
	}
	if host == "" {
		jsonerr.Write(rec, http.StatusBadRequest, "bad_request", "missing Host header")
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

// routeSeries are one route label's metric children, resolved once: every
// request touches three series, and WithLabelValues validates, hashes and
// looks up its labels under a lock on each call. Children are made lazily,
// on first use, so /metrics shows the same series as before.
type routeSeries struct {
	vecs     *metrics
	route    string
	duration prometheus.Observer
	active   sync.Map // kind → prometheus.Gauge
	requests sync.Map // status code → prometheus.Counter
}

// series returns the children of route. Route labels are config paths and
// a few fixed names, so the cache is bounded by the configs ever loaded.
func (s *Server) series(route string) *routeSeries {
	if rs, ok := s.routeSeries.Load(route); ok {
		return rs.(*routeSeries)
	}
	rs := &routeSeries{vecs: s.metrics, route: route, duration: s.metrics.duration.WithLabelValues(route)}
	actual, _ := s.routeSeries.LoadOrStore(route, rs)
	return actual.(*routeSeries)
}

func (rs *routeSeries) activeGauge(kind string) prometheus.Gauge {
	if g, ok := rs.active.Load(kind); ok {
		return g.(prometheus.Gauge)
	}
	g, _ := rs.active.LoadOrStore(kind, rs.vecs.active.WithLabelValues(rs.route, kind))
	return g.(prometheus.Gauge)
}

func (rs *routeSeries) requestsCounter(code int) prometheus.Counter {
	if c, ok := rs.requests.Load(code); ok {
		return c.(prometheus.Counter)
	}
	c, _ := rs.requests.LoadOrStore(code, rs.vecs.requests.WithLabelValues(rs.route, strconv.Itoa(code)))
	return c.(prometheus.Counter)
}
