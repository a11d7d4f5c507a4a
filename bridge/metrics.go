package bridge

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bridgeway/bridgeway/config"
)

// metrics are the bridge's collectors, labelled by route (and transport).
type metrics struct {
	sessionsOpen  *prometheus.GaugeVec
	sessionsTotal *prometheus.CounterVec
	topicsOpen    *prometheus.GaugeVec
	topicsRefused *prometheus.CounterVec
	clients       *prometheus.GaugeVec
	messagesOut   *prometheus.CounterVec
	bytesOut      *prometheus.CounterVec
	messagesIn    *prometheus.CounterVec
	bytesIn       *prometheus.CounterVec
	gaps          *prometheus.CounterVec
	drops         *prometheus.CounterVec
	slowClients   *prometheus.CounterVec
	dialFailures  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	rt := []string{"route"}
	rtt := []string{"route", "transport"}
	return &metrics{
		sessionsOpen:  register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("sessions_open", "Bridge sessions currently open.")), rt)),
		sessionsTotal: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts(opts("sessions_total", "Bridge sessions opened.")), rt)),
		topicsOpen:    register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("topics_open", "Broadcast topics currently open.")), rt)),
		topicsRefused: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts(opts("topics_refused_total", "New broadcast topics refused by limits.max_topics (reason max_topics) or max_topics_per_ip.")), []string{"route", "reason"})),
		clients:       register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("clients_connected", "Client connections and held requests.")), rtt)),
		messagesOut:   register(reg, prometheus.NewCounterVec(prometheus.CounterOpts(opts("messages_out_total", "Messages delivered to clients.")), rtt)),
		bytesOut:      register(reg, prometheus.NewCounterVec(prometheus.CounterOpts(opts("bytes_out_total", "Message payload bytes delivered to clients.")), rtt)),
		messagesIn:    register(reg, prometheus.NewCounterVec(prometheus.CounterOpts(opts("messages_in_total", "Messages received from clients.")), rtt)),
		bytesIn:       register(reg, prometheus.NewCounterVec(prometheus.CounterOpts(opts("bytes_in_total", "Message payload bytes received from clients.")), rtt)),
		gaps:          register(reg, prometheus.NewCounterVec(prometheus.CounterOpts(opts("gaps_total", "Gaps reported to clients.")), rtt)),
		drops:         register(reg, prometheus.NewCounterVec(prometheus.CounterOpts(opts("drops_total", "Messages evicted from a full session/topic buffer.")), rt)),
		slowClients:   register(reg, prometheus.NewCounterVec(prometheus.CounterOpts(opts("slow_client_disconnects_total", "Clients disconnected for falling behind (slow_client: disconnect).")), rtt)),
		dialFailures:  register(reg, prometheus.NewCounterVec(prometheus.CounterOpts(opts("upstream_dial_failures_total", "Upstream dials that failed when opening a session or topic.")), rt)),
	}
}

func opts(name, help string) prometheus.Opts {
	return prometheus.Opts{Namespace: "bridgeway", Subsystem: "bridge", Name: name, Help: help}
}

// register adds c to reg, reusing an identical collector that is already
// registered (several Bridges on one registry share their series).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err) // a clash with another collector type is a programming error
	}
	return c
}

// transportMetrics are one route+transport's children, resolved once so
// the hot path does no label lookups.
type transportMetrics struct {
	clients     prometheus.Gauge
	messagesOut prometheus.Counter
	bytesOut    prometheus.Counter
	messagesIn  prometheus.Counter
	bytesIn     prometheus.Counter
	gaps        prometheus.Counter
	slowClients prometheus.Counter
}

// routeMetrics are one route's children.
type routeMetrics struct {
	sessionsOpen  prometheus.Gauge
	sessionsTotal prometheus.Counter
	topicsOpen    prometheus.Gauge
	// topicsRefused counts refused new topics by the cap that refused them.
	topicsRefused map[*apiError]prometheus.Counter
	drops         prometheus.Counter
	dialFailures  prometheus.Counter
	transports    map[string]*transportMetrics
}

// sendLabel is the transport label of POST …/send, beside config's
// transports.
const sendLabel = "send"

// Series are made only for label values that can move: sendLabel only
// receives, and only WebSocket clients also send messages in.
var sendingTransports = []string{config.TransportWebSocket, sendLabel}

func (m *metrics) forRoute(route string) *routeMetrics {
	rm := &routeMetrics{
		sessionsOpen:  m.sessionsOpen.WithLabelValues(route),
		sessionsTotal: m.sessionsTotal.WithLabelValues(route),
		topicsOpen:    m.topicsOpen.WithLabelValues(route),
		topicsRefused: map[*apiError]prometheus.Counter{
			errTooManyTopics: m.topicsRefused.WithLabelValues(route, "max_topics"),
			errTopicsPerIP:   m.topicsRefused.WithLabelValues(route, "max_topics_per_ip"),
		},
		drops:        m.drops.WithLabelValues(route),
		dialFailures: m.dialFailures.WithLabelValues(route),
		transports:   make(map[string]*transportMetrics, len(config.AllTransports)+1),
	}
	for _, t := range config.AllTransports {
		rm.transports[t] = &transportMetrics{
			clients:     m.clients.WithLabelValues(route, t),
			messagesOut: m.messagesOut.WithLabelValues(route, t),
			bytesOut:    m.bytesOut.WithLabelValues(route, t),
			gaps:        m.gaps.WithLabelValues(route, t),
			slowClients: m.slowClients.WithLabelValues(route, t),
		}
	}
	rm.transports[sendLabel] = &transportMetrics{}
	for _, t := range sendingTransports {
		rm.transports[t].messagesIn = m.messagesIn.WithLabelValues(route, t)
		rm.transports[t].bytesIn = m.bytesIn.WithLabelValues(route, t)
	}
	return rm
}
