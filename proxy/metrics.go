package proxy

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Connection kinds used as the kind label of active connections.
const (
	kindHTTP      = "http"
	kindWebSocket = "websocket"
	kindBridged   = "bridged"
)

// routeNone labels requests that matched no route.
const routeNone = "none"

// metrics are the proxy's Prometheus series, registered once per Server on
// the registry passed in (never the global one).
type metrics struct {
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	active         *prometheus.GaugeVec
	upstreamErrors *prometheus.CounterVec
	openConns      prometheus.Gauge
	rejected       *prometheus.CounterVec
	reloads        *prometheus.CounterVec
}

// durationBuckets reach far because tunnels and streams live for minutes.
var durationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridgeway_proxy_requests_total",
			Help: "HTTP requests served by the gateway, by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bridgeway_proxy_request_duration_seconds",
			Help:    "Time from request headers to the end of the response (or of the tunnel/stream), by route.",
			Buckets: durationBuckets,
		}, []string{"route"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bridgeway_proxy_active_connections",
			Help: "Requests in progress by route and kind (http, websocket tunnel, bridged).",
		}, []string{"route", "kind"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridgeway_proxy_upstream_errors_total",
			Help: "Failed upstream requests of pass-through routes, by route and kind of failure.",
		}, []string{"route", "kind"}),
		openConns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bridgeway_proxy_open_connections",
			Help: "Client TCP connections open on the plain and TLS listeners (counted against max_connections).",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridgeway_proxy_rejected_connections_total",
			Help: "Connections refused by a limit (max_connections, max_connections_per_ip) or closed by http2_max_resets.",
		}, []string{"reason"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridgeway_proxy_config_reloads_total",
			Help: "Config reloads by result (ok, error).",
		}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.active, m.upstreamErrors, m.openConns, m.rejected, m.reloads} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	// Go and process collectors may already be registered by another
	// component sharing the registry; that is fine.
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				return nil, fmt.Errorf("metrics: %w", err)
			}
		}
	}
	return m, nil
}
