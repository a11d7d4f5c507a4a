// Package config turns a bridgeway YAML file into a typed, validated Config.
// It knows nothing of net/http: proxy and bridge read the structs below.
package config

import "time"

// Config is the whole file. Every field has a default (see Defaults), so the
// smallest useful file is a single route.
type Config struct {
	// Listen is the plain HTTP listener address. Default ":8080".
	Listen string `yaml:"listen"`
	// TLS is absent (nil) when the gateway serves plain HTTP only.
	TLS *TLS `yaml:"tls"`
	// Admin serves /metrics, /healthz and /readyz.
	Admin Admin `yaml:"admin"`
	Log   Log   `yaml:"log"`
	// Limits protect the process from too many or too large requests.
	Limits Limits `yaml:"limits"`
	// ShutdownTimeout bounds a drain on SIGTERM. Default 15s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// Cluster is absent (nil) for a single in-memory instance.
	Cluster *Cluster `yaml:"cluster"`
	Routes  []Route  `yaml:"routes"`

	// Path is the file this config was read from ("" when built in code).
	Path string `yaml:"-"`
}

// TLS configures the HTTPS listener; exactly one certificate source is set.
type TLS struct {
	// Listen is the HTTPS address. Default ":8443".
	Listen string `yaml:"listen"`
	// ACME obtains certificates through certmagic.
	ACME *ACME `yaml:"acme"`
	// CertFile and KeyFile are a static certificate pair (PEM).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// RedirectHTTP makes the plain listener redirect to HTTPS (ACME
	// challenges exempt). Default true.
	RedirectHTTP *bool `yaml:"redirect_http"`
}

// ACME settings for certmagic.
type ACME struct {
	Domains []string `yaml:"domains"`
	Email   string   `yaml:"email"`
	// CA is the ACME directory URL. Default Let's Encrypt production.
	CA string `yaml:"ca"`
	// CARoot is a PEM file trusted for the CA's own TLS (private CAs, Pebble).
	CARoot string `yaml:"ca_root"`
	// Storage is the certificate folder. Default "./data/certs".
	Storage string `yaml:"storage"`
}

// Admin listener. An empty Listen turns it off.
type Admin struct {
	// Listen defaults to "127.0.0.1:9090"; "" turns the admin listener off.
	Listen *string `yaml:"listen"`
	// Pprof serves Go's profiler under /debug/pprof/ on the admin listener.
	// Default false: profiles reveal internals, keep the listener private.
	Pprof bool `yaml:"pprof"`
}

// Log settings.
type Log struct {
	// Level: debug | info | warn | error. Default info.
	Level string `yaml:"level"`
	// Format: json | console. Default json.
	Format string `yaml:"format"`
	// Access logs one line per request / finished session. Default true.
	Access *bool `yaml:"access"`
}

// Limits for the whole process.
type Limits struct {
	MaxConnections      int      `yaml:"max_connections"`        // default 20000
	MaxConnectionsPerIP int      `yaml:"max_connections_per_ip"` // default 0 = no cap
	MaxSessionsPerIP    int      `yaml:"max_sessions_per_ip"`    // default 0 = no cap (bridged sessions open at once)
	ReadHeaderTimeout   Duration `yaml:"read_header_timeout"`    // default 10s
	BodyTimeout         Duration `yaml:"body_timeout"`           // default 60s: longest silence inside a pass-through request body
	SendTimeout         Duration `yaml:"send_timeout"`           // default 60s: longest a pass-through client (or tunnel peer) may take no bytes
	MaxHeaderBytes      Size     `yaml:"max_header_bytes"`       // default 64KiB
	MaxMessageBytes     Size     `yaml:"max_message_bytes"`      // default 1MiB
	MaxBodyBytes        Size     `yaml:"max_body_bytes"`         // default 1MiB
}

// Cluster settings.
type Cluster struct {
	// Redis is a redis:// URL.
	Redis string `yaml:"redis"`
}

// Upstream kinds.
const (
	KindWebSocket = "websocket"
	KindSSE       = "sse"
	KindLongPoll  = "longpoll"
	KindPoll      = "poll"
	KindHTTP      = "http"
)

// Modes.
const (
	ModeSession   = "session"
	ModeBroadcast = "broadcast"
)

// Client transports.
const (
	TransportWebSocket = "websocket"
	TransportSSE       = "sse"
	TransportLongPoll  = "longpoll"
	TransportPoll      = "poll"
	TransportStream    = "stream"
	TransportJSONP     = "jsonp"
)

// Slow-client policies.
const (
	SlowDropOldest = "drop_oldest"
	SlowDisconnect = "disconnect"
)

// Split modes for longpoll/poll bodies.
const (
	SplitNone      = "none"
	SplitJSONArray = "json_array"
)

// Route is one entry of routes:.
type Route struct {
	// Path is the prefix clients use; may hold {placeholders}.
	Path     string   `yaml:"path"`
	Upstream Upstream `yaml:"upstream"`
	// Mode: session | broadcast. Default session.
	Mode string `yaml:"mode"`
	// Transports served to clients. Default all six (AllTransports); empty
	// for kind http, which serves no bridged transports.
	Transports []string `yaml:"transports"`
	// Buffer is the number of messages kept per session/topic. Default 1024.
	Buffer int `yaml:"buffer"`
	// SessionTTL keeps a session after its last client left. Default 30s.
	SessionTTL Duration `yaml:"session_ttl"`
	// Heartbeat: SSE comment / WS ping / stream newline interval. Default 15s.
	Heartbeat Duration `yaml:"heartbeat"`
	// PollTimeout is how long a long-poll is held. Default 25s.
	PollTimeout Duration `yaml:"poll_timeout"`
	// IdleClose closes a broadcast upstream after its last subscriber left. Default 30s.
	IdleClose Duration `yaml:"idle_close"`
	// Snapshot gives a new broadcast subscriber the latest message. Default true.
	Snapshot *bool `yaml:"snapshot"`
	// ClientSend forwards client messages to a shared upstream. Default false.
	ClientSend bool `yaml:"client_send"`
	// Origins allowed; empty = same origin only; ["*"] = any.
	Origins []string `yaml:"origins"`
	// SlowClient: drop_oldest | disconnect. Default drop_oldest.
	SlowClient string `yaml:"slow_client"`
	// SSEPadding bytes of comment padding sent first. Default 0.
	SSEPadding Size `yaml:"sse_padding"`
}

// Upstream of a route.
type Upstream struct {
	// URL of the upstream; may hold {placeholders} from the route path.
	URL string `yaml:"url"`
	// Kind: websocket | sse | longpoll | poll | http. Default from the scheme
	// (ws/wss → websocket, http/https → http).
	Kind string `yaml:"kind"`
	// Interval between requests (poll only). Default 2s for kind poll; 0
	// for every other kind.
	Interval Duration `yaml:"interval"`
	// Timeout per upstream request / handshake. Default 30s.
	Timeout Duration `yaml:"timeout"`
	// Headers added to every upstream request.
	Headers map[string]string `yaml:"headers"`
	// ForwardHeaders copied from the client's request (session mode).
	ForwardHeaders []string `yaml:"forward_headers"`
	// Reconnect backoff with jitter. Default min 500ms, max 30s.
	Reconnect Reconnect `yaml:"reconnect"`
	// Split: none | json_array (longpoll/poll). Default none.
	Split string `yaml:"split"`
}

// Reconnect backoff bounds.
type Reconnect struct {
	Min Duration `yaml:"min"`
	Max Duration `yaml:"max"`
}

// Duration is a time.Duration written as a Go duration string ("250ms").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Size is a byte count written as a number or with a unit ("64KiB", "1MiB").
type Size int64

// Bool reads an optional boolean with its default.
func Bool(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}
