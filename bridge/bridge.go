// Package bridge serves bridged routes: it keeps one ordered, bounded log
// per session (mode session) or topic (mode broadcast), fed by an upstream
// adapter (bridge/upstream), and serves it to clients over WebSocket, SSE,
// long-poll, polling, JSONP and NDJSON streaming, with cursors for resume.
//
// The log (bridge/msglog) and the byte formats (bridge/wire) know nothing of
// HTTP; the transports live in this package (one file each) because they
// share the session's state: held polls, credentials, idempotent sends.
package bridge

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge/upstream"
	"github.com/bridgeway/bridgeway/cluster"
	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/routing"
)

// Deps are what the bridge needs from its host.
type Deps struct {
	Logger   *zap.Logger
	Registry prometheus.Registerer
	Limits   config.Limits
	// Cluster, when set (config cluster.redis), keeps topics' logs in Redis
	// and holds each topic's upstream on one instance of the cluster.
	Cluster *cluster.Client
}

// Bridge builds route handlers that share metrics and limits.
type Bridge struct {
	log      *zap.Logger
	limits   config.Limits
	metrics  *metrics
	upstream *upstream.Metrics
	logs     logBackend     // where logs live: here, or Redis (cluster)
	perIP    *sessionsPerIP // limits.max_sessions_per_ip
	topics   *topicBudget   // limits.max_topics, max_topics_per_ip
}

// New makes a Bridge. A nil Logger logs nothing; a nil Registry registers
// nothing.
func New(deps Deps) *Bridge {
	lg := deps.Logger
	if lg == nil {
		lg = zap.NewNop()
	}
	return &Bridge{
		log:      lg.Named("bridge"),
		limits:   deps.Limits,
		metrics:  newMetrics(deps.Registry),
		upstream: upstream.NewMetrics(deps.Registry),
		logs:     backendFor(deps.Cluster),
		perIP:    newSessionsPerIP(deps.Limits.MaxSessionsPerIP),
		topics:   newTopicBudget(orInt(deps.Limits.MaxTopics, config.DefaultMaxTopics), deps.Limits.MaxTopicsPerIP),
	}
}

// minLogBytes is the smallest byte bound of one log; the bound is
// max(minLogBytes, 4*max_message_bytes) so a full buffer of large messages
// cannot take unbounded memory. (Not a config key: defaults of keys live in
// package config alone.)
const minLogBytes = 16 << 20

// NewRoute builds the handler of one bridged route. It satisfies
// proxy.RouteHandler (http.Handler + Close).
func (b *Bridge) NewRoute(route config.Route) (*RouteHandler, error) {
	pattern, err := routing.Compile(route.Path)
	if err != nil {
		return nil, fmt.Errorf("bridge: route %q: %w", route.Path, err)
	}
	if route.Upstream.Kind == config.KindHTTP {
		return nil, fmt.Errorf("bridge: route %q: kind http is a pass-through, not a bridge", route.Path)
	}
	switch route.Mode {
	case "", config.ModeSession, config.ModeBroadcast:
	default:
		return nil, fmt.Errorf("bridge: route %q: unknown mode %q", route.Path, route.Mode)
	}
	s := newSettings(route, b.limits)
	h := &RouteHandler{
		bridge:   b,
		route:    route,
		pattern:  pattern,
		log:      b.log.With(zap.String("route", route.Path)),
		metrics:  b.metrics.forRoute(route.Path),
		sessions: map[string]*session{},
		topics:   map[string]*topic{},
		shutdown: make(chan struct{}),
	}
	h.live.Store(&s)
	return h, nil
}

// settings are a route's values with defaults applied. A reload that
// keeps the route's upstream swaps in new ones (route_update.go).
type settings struct {
	// route is the config they come from (its upstream part never
	// changes for one handler).
	route           config.Route
	origins         originPolicy
	broadcast       bool
	transports      map[string]bool
	buffer          int
	logBytes        int64
	sessionTTL      time.Duration
	heartbeat       time.Duration
	pollTimeout     time.Duration
	idleClose       time.Duration
	snapshot        bool
	clientSend      bool
	slowDisconnect  bool
	ssePadding      int
	pollMaxBytes    int
	maxMessageBytes int64
	maxBodyBytes    int64
	maxSessions     int // limits.max_connections: a session holds at least one client
	maxBatch        int // limits.max_batch_messages
	// sendBodyTimeout bounds the whole read of a /send body (slow-POST
	// defence): limits.read_header_timeout, the same budget as the head
	// (not limits.body_timeout, the silence allowed inside a pass-through
	// body).
	sendBodyTimeout time.Duration
}

// newSettings applies config's defaults to keys left at zero: config fills
// them when it loads a file, but tests and embedders build routes by hand.
func newSettings(r config.Route, lim config.Limits) settings {
	s := settings{
		route:           r,
		origins:         newOriginPolicy(r.Origins, r.Upstream.ForwardHeaders),
		broadcast:       r.Mode == config.ModeBroadcast,
		transports:      map[string]bool{},
		buffer:          orInt(r.Buffer, config.DefaultBuffer),
		sessionTTL:      config.DurationOr(r.SessionTTL, config.DefaultSessionTTL),
		heartbeat:       r.Heartbeat.Or(config.DefaultHeartbeat),
		pollTimeout:     r.PollTimeout.Or(config.DefaultPollTimeout),
		idleClose:       config.DurationOr(r.IdleClose, config.DefaultIdleClose),
		snapshot:        config.Bool(r.Snapshot, true),
		clientSend:      r.ClientSend,
		slowDisconnect:  r.SlowClient == config.SlowDisconnect,
		ssePadding:      int(min(r.SSEPadding, config.MaxSSEPadding)),
		pollMaxBytes:    int(min(orSize(r.PollMaxBytes, config.DefaultPollMaxBytes), int64(config.MaxPollBytes))),
		maxMessageBytes: orSize(lim.MaxMessageBytes, config.DefaultMaxMessageBytes),
		maxBodyBytes:    orSize(lim.MaxBodyBytes, config.DefaultMaxBodyBytes),
		maxSessions:     orInt(lim.MaxConnections, config.DefaultMaxConnections),
		maxBatch:        orInt(lim.MaxBatchMessages, config.DefaultMaxBatchMessages),
		sendBodyTimeout: lim.ReadHeaderTimeout.Or(config.DefaultReadHeaderTimeout),
	}
	s.logBytes = max(minLogBytes, 4*s.maxMessageBytes)
	ts := r.Transports
	if len(ts) == 0 {
		ts = config.AllTransports
	}
	for _, t := range ts {
		s.transports[t] = true
	}
	return s
}

func orInt(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func orSize(v, def config.Size) int64 {
	if v <= 0 {
		return int64(def)
	}
	return int64(v)
}
