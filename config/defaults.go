package config

import (
	"fmt"
	"time"
)

// Default values, as documented in docs/configuration.md.
const (
	DefaultListen            = ":8080"
	DefaultAdminListen       = "127.0.0.1:9090"
	DefaultTLSListen         = ":8443"
	DefaultACMECA            = "https://acme-v02.api.letsencrypt.org/directory"
	DefaultACMEStorage       = "./data/certs"
	DefaultLogLevel          = "info"
	DefaultLogFormat         = "json"
	DefaultMaxConnections    = 20000 // or half the fd limit when lower: see Limits.MaxConnections
	DefaultMaxConnsPerIP     = 256   // see Limits.MaxConnectionsPerIP for the reasoning
	DefaultMaxSessionsPerIP  = 128   // see Limits.MaxSessionsPerIP
	DefaultMaxTopics         = 1000  // see Limits.MaxTopics for the reasoning
	DefaultMaxTopicsPerIP    = 100
	DefaultMaxBatchMessages  = 100 // the browser library's largest batch
	DefaultReadHeaderTimeout = Duration(10 * time.Second)
	DefaultBodyTimeout       = Duration(60 * time.Second) // nginx's client_body_timeout
	DefaultSendTimeout       = Duration(60 * time.Second) // nginx's send_timeout
	DefaultMaxHeaderBytes    = Size(64 << 10)
	DefaultMaxMessageBytes   = Size(1 << 20)
	DefaultMaxBodyBytes      = Size(1 << 20)
	DefaultHTTP2MaxResets    = 200
	DefaultHSTSMaxAge        = Duration(365 * 24 * time.Hour)
	DefaultShutdownTimeout   = Duration(15 * time.Second)
	DefaultBuffer            = 1024
	DefaultSessionTTL        = Duration(30 * time.Second)
	DefaultHeartbeat         = Duration(15 * time.Second)
	DefaultPollTimeout       = Duration(25 * time.Second)
	// DefaultPollMaxBytes keeps a poll answer within what proxies pass
	// whole and in memory (docs/configuration.md, poll_max_bytes).
	DefaultPollMaxBytes = Size(64 << 10)
	// MaxPollBytes is the most a poll answer carries, whatever a poll asks.
	MaxPollBytes        = Size(1 << 20)
	DefaultIdleClose    = Duration(30 * time.Second)
	DefaultInterval     = Duration(2 * time.Second)
	DefaultTimeout      = Duration(30 * time.Second)
	DefaultReconnectMin = Duration(500 * time.Millisecond)
	DefaultReconnectMax = Duration(30 * time.Second)
)

// AllTransports is the default transport list, in the order clients try them.
var AllTransports = []string{
	TransportWebSocket, TransportSSE, TransportLongPoll,
	TransportPoll, TransportStream, TransportJSONP,
}

// applyDefaults fills every key the file did not give. set reports whether
// a key path was written in the file, so an explicit 0 or "" is kept (and
// judged by validation) instead of silently replaced.
func applyDefaults(c *Config, set func(path string) bool) {
	if !set("listen") {
		c.Listen = DefaultListen
	}
	if c.Admin.Listen == nil {
		c.Admin.Listen = ptr(DefaultAdminListen)
	}
	if !set("log.level") {
		c.Log.Level = DefaultLogLevel
	}
	if !set("log.format") {
		c.Log.Format = DefaultLogFormat
	}
	if c.Log.Access == nil {
		c.Log.Access = ptr(true)
	}
	l := &c.Limits
	if !set("limits.max_connections") {
		l.MaxConnections = defaultMaxConnections(fdLimit())
	}
	if !set("limits.max_connections_per_ip") {
		l.MaxConnectionsPerIP = DefaultMaxConnsPerIP
	}
	if !set("limits.max_sessions_per_ip") {
		l.MaxSessionsPerIP = DefaultMaxSessionsPerIP
	}
	if !set("limits.max_topics") {
		l.MaxTopics = DefaultMaxTopics
	}
	if !set("limits.max_topics_per_ip") {
		l.MaxTopicsPerIP = DefaultMaxTopicsPerIP
	}
	if !set("limits.max_batch_messages") {
		l.MaxBatchMessages = DefaultMaxBatchMessages
	}
	if !set("limits.read_header_timeout") {
		l.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if !set("limits.body_timeout") {
		l.BodyTimeout = DefaultBodyTimeout
	}
	if !set("limits.send_timeout") {
		l.SendTimeout = DefaultSendTimeout
	}
	if !set("limits.max_header_bytes") {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if !set("limits.max_message_bytes") {
		l.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if !set("limits.max_body_bytes") {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if !set("limits.http2_max_resets") {
		l.HTTP2MaxResets = DefaultHTTP2MaxResets
	}
	if !set("shutdown_timeout") {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.TLS != nil {
		applyTLSDefaults(c.TLS, set)
	}
	for i := range c.Routes {
		applyRouteDefaults(&c.Routes[i], fmt.Sprintf("routes[%d].", i), set)
	}
}

func applyTLSDefaults(t *TLS, set func(string) bool) {
	if !set("tls.listen") {
		t.Listen = DefaultTLSListen
	}
	if t.RedirectHTTP == nil {
		t.RedirectHTTP = ptr(true)
	}
	if t.HSTS != nil && !set("tls.hsts.max_age") {
		t.HSTS.MaxAge = DefaultHSTSMaxAge
	}
	if t.ACME != nil {
		if !set("tls.acme.ca") {
			t.ACME.CA = DefaultACMECA
		}
		if !set("tls.acme.storage") {
			t.ACME.Storage = DefaultACMEStorage
		}
	}
}

func applyRouteDefaults(r *Route, prefix string, set func(string) bool) {
	u := &r.Upstream
	if !set(prefix + "upstream.kind") {
		u.Kind = kindFromURL(u.URL)
	}
	// Interval only means something to a poller; other kinds keep 0.
	if !set(prefix+"upstream.interval") && u.Kind == KindPoll {
		u.Interval = DefaultInterval
	}
	if !set(prefix + "upstream.timeout") {
		u.Timeout = DefaultTimeout
	}
	if !set(prefix + "upstream.reconnect.min") {
		u.Reconnect.Min = DefaultReconnectMin
	}
	if !set(prefix + "upstream.reconnect.max") {
		u.Reconnect.Max = DefaultReconnectMax
	}
	if !set(prefix + "upstream.split") {
		u.Split = SplitNone
	}
	if !set(prefix + "mode") {
		r.Mode = ModeSession
	}
	// A pass-through route (kind http) serves no bridged transports.
	if !set(prefix+"transports") && u.Kind != KindHTTP {
		r.Transports = append([]string(nil), AllTransports...)
	}
	if !set(prefix + "buffer") {
		r.Buffer = DefaultBuffer
	}
	if r.SessionTTL == nil { // absent or null; an explicit 0s is kept
		r.SessionTTL = ptr(DefaultSessionTTL)
	}
	if !set(prefix + "heartbeat") {
		r.Heartbeat = DefaultHeartbeat
	}
	if !set(prefix + "poll_timeout") {
		r.PollTimeout = DefaultPollTimeout
	}
	if !set(prefix + "poll_max_bytes") {
		r.PollMaxBytes = DefaultPollMaxBytes
	}
	if r.IdleClose == nil {
		r.IdleClose = ptr(DefaultIdleClose)
	}
	if r.Snapshot == nil {
		r.Snapshot = ptr(true)
	}
	if !set(prefix + "slow_client") {
		r.SlowClient = SlowDropOldest
	}
	if r.SockJS != nil {
		applySockJSDefaults(r.SockJS, prefix+"sockjs.", set)
	}
}

// fdLimit is the process's open-file limit (0: unknown); a variable so
// tests can pretend another one.
var fdLimit = readFDLimit

// defaultMaxConnections is DefaultMaxConnections, or half the process's
// open-file limit when that is lower: every client connection is a
// descriptor, and the other half stays for the upstream sockets those
// clients cause (sessions, topics, pass-through requests), the listeners
// and files. Without it, clients alone could fill the limit and the
// gateway could neither dial an upstream nor accept a connection.
func defaultMaxConnections(fds uint64) int {
	if fds == 0 || fds/2 >= DefaultMaxConnections {
		return DefaultMaxConnections
	}
	return max(1, int(fds/2))
}

func ptr[T any](v T) *T { return &v }
