package upstream

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bridgeway/bridgeway/config"
)

// Metrics count upstream activity by route and kind. A nil *Metrics is valid
// and counts nothing.
type Metrics struct {
	connects   *prometheus.CounterVec
	failures   *prometheus.CounterVec
	reconnects *prometheus.CounterVec
	messages   *prometheus.CounterVec
	// invalidText counts upstream text messages that were not valid UTF-8.
	invalidText *prometheus.CounterVec
	// requests counts poll and longpoll requests by result.
	requests *prometheus.CounterVec
}

// NewMetrics registers the upstream counters on reg (nil: not registered,
// still usable). Registering twice on one registry reuses the first set.
//
//   - bridgeway_upstream_connects_total: WebSocket handshakes and SSE streams
//     opened (kinds websocket and sse only).
//   - bridgeway_upstream_requests_total{result}: poll and longpoll requests:
//     "changed" (a new body was delivered), "unchanged" (304, 204, an empty
//     or repeated body), "error" (failed, refused or unreadable answer).
//   - bridgeway_upstream_failures_total: failed dials and requests, abnormal
//     drops, bad answers (status, content type, invalid JSON, too large).
//   - bridgeway_upstream_reconnects_total: connections made again after one
//     was lost; for poll/longpoll, the first success after failures.
//   - bridgeway_upstream_messages_total: messages appended to the log.
//   - bridgeway_upstream_invalid_text_total: text messages (WebSocket text
//     frames, SSE events) that were not valid UTF-8; their invalid bytes
//     were replaced with U+FFFD.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	vec := func(name, help string, extra ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "bridgeway", Subsystem: "upstream", Name: name, Help: help,
		}, append([]string{"route", "kind"}, extra...))
		if reg == nil {
			return c
		}
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
					return existing
				}
			}
			panic(err) // a name clash with another collector type is a programming error
		}
		return c
	}
	return &Metrics{
		connects:   vec("connects_total", "Upstream connections opened (websocket, sse)."),
		failures:   vec("failures_total", "Failed upstream dials, requests and abnormal drops."),
		reconnects: vec("reconnects_total", "Upstream connections re-established after a loss or failures."),
		messages:   vec("messages_total", "Messages read from upstreams."),
		invalidText: vec("invalid_text_total",
			"Upstream text messages that were not valid UTF-8 (invalid bytes replaced with U+FFFD)."),
		requests: vec("requests_total", "Poll and longpoll upstream requests by result (changed, unchanged, error).", "result"),
	}
}

// counters are one route+kind's counters, resolved once per Conn so the hot
// path does no label lookups.
type counters struct {
	connects, failures, reconnects, messages, invalidText prometheus.Counter
	// Poll and longpoll request results; nil for the other kinds, whose
	// series would never move.
	changed, unchanged, failed prometheus.Counter
}

func (m *Metrics) forRoute(route, kind string) counters {
	if m == nil {
		return counters{}
	}
	c := counters{
		failures:    m.failures.WithLabelValues(route, kind),
		reconnects:  m.reconnects.WithLabelValues(route, kind),
		messages:    m.messages.WithLabelValues(route, kind),
		invalidText: m.invalidText.WithLabelValues(route, kind),
	}
	if kind == config.KindPoll || kind == config.KindLongPoll {
		c.changed = m.requests.WithLabelValues(route, kind, "changed")
		c.unchanged = m.requests.WithLabelValues(route, kind, "unchanged")
		c.failed = m.requests.WithLabelValues(route, kind, "error")
	} else {
		c.connects = m.connects.WithLabelValues(route, kind)
	}
	return c
}

func inc(c prometheus.Counter) {
	if c != nil {
		c.Inc()
	}
}
