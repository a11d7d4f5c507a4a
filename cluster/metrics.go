package cluster

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// metrics count Redis round trips (a pipeline is one), errors and latency.
// A blocking XREAD waits by design and is left out of the histogram.
type metrics struct {
	roundTrips prometheus.Counter
	errors     prometheus.Counter
	latency    prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		roundTrips: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bridgeway_redis_round_trips_total",
			Help: "Redis round trips (a pipeline counts once).",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bridgeway_redis_errors_total",
			Help: "Redis round trips that failed (network, timeout, server error).",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "bridgeway_redis_round_trip_seconds",
			Help:    "Latency of Redis round trips, blocking reads excluded.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
	}
	if reg != nil {
		reg.MustRegister(m.roundTrips, m.errors, m.latency)
	}
	return m
}

func (m *metrics) hook() redis.Hook { return metricsHook{m} }

type metricsHook struct{ m *metrics }

func (h metricsHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return next(ctx, network, addr)
	}
}

func (h metricsHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		h.observe(start, err, cmd.Name() != "xread")
		return err
	}
}

func (h metricsHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		h.observe(start, err, true)
		return err
	}
}

func (h metricsHook) observe(start time.Time, err error, timed bool) {
	h.m.roundTrips.Inc()
	if err != nil && !errors.Is(err, redis.Nil) && !isScriptAnswer(err) {
		h.m.errors.Inc()
	}
	if timed {
		h.m.latency.Observe(time.Since(start).Seconds())
	}
}
