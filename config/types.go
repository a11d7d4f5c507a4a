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
	// Hosts are the names the gateway answers to, for the same-origin rule
	// and the HTTPS redirect. Default none: any name, or with TLS the
	// certificate's names (ACME domains, static certificate's SANs).
	Hosts []string `yaml:"hosts"`
	// TrustedProxies are the peers (CIDR or single address) whose
	// X-Forwarded-For/-Host/-Proto or Forwarded headers say who the client
	// is and how it addressed the gateway. Default none: every peer is the
	// client itself.
	TrustedProxies []string `yaml:"trusted_proxies"`
	Routes         []Route  `yaml:"routes"`

	// Path is the file this config was read from ("" when built in code).
	Path string `yaml:"-"`
	// Warnings are problems that do not stop the file from loading
	// (`validate` prints them), in file order.
	Warnings ErrorList `yaml:"-"`
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
	// HSTS adds Strict-Transport-Security to every answer of the HTTPS
	// listener. Absent (the default): no header.
	HSTS *HSTS `yaml:"hsts"`
}

// HSTS is the Strict-Transport-Security header's content.
type HSTS struct {
	// MaxAge is how long browsers remember to use HTTPS only. Default
	// 8760h (one year); whole seconds.
	MaxAge Duration `yaml:"max_age"`
	// IncludeSubdomains applies it to every subdomain too. Default false.
	IncludeSubdomains bool `yaml:"include_subdomains"`
	// Preload asks to be put in browsers' built-in lists; needs
	// include_subdomains and a max_age of at least a year. Default false.
	Preload bool `yaml:"preload"`
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
	// MaxConnections caps the open client connections of the process. It
	// is also each session-mode route's session cap. Default 20000, or
	// half the process's open-file limit (RLIMIT_NOFILE as Go raised it
	// at start) when that is lower: the other half stays for the upstream
	// sockets the clients cause, so a full house can still dial and the
	// listeners can still accept. At least 1.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerIP caps the open connections of one peer address
	// (peers in trusted_proxies are exempt). Default 256: a browser keeps
	// at most 6 connections to one host and a page with a live feed 1-2,
	// so an office behind one NAT address with a hundred people on the
	// page fits; a load test from one machine must raise it. 256 is half
	// the connections a 1024-descriptor process allows (512), so one
	// address cannot take a small install's whole budget. 0 = no cap.
	MaxConnectionsPerIP int `yaml:"max_connections_per_ip"`
	// MaxSessionsPerIP caps the bridged sessions one client address holds
	// open at once, across routes. Each session is an upstream socket and a
	// log, and a keep-alive connection can open sessions one request after
	// the other (1,500 in 0.5 s without a cap). Default 128: a page opens
	// one session per bridged route and a reload leaves the old one for
	// session_ttl, so dozens of people behind one NAT fit; a test from one
	// machine must raise it. 0 = no cap.
	MaxSessionsPerIP  int      `yaml:"max_sessions_per_ip"`
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"` // default 10s
	BodyTimeout       Duration `yaml:"body_timeout"`        // default 60s: longest silence inside a pass-through request body
	MaxHeaderBytes    Size     `yaml:"max_header_bytes"`    // default 64KiB
	MaxMessageBytes   Size     `yaml:"max_message_bytes"`   // default 1MiB
	MaxBodyBytes      Size     `yaml:"max_body_bytes"`      // default 1MiB

	// MaxTopics caps the broadcast topics open at once, all routes
	// together. Each holds an upstream socket (a file descriptor) and a
	// log until idle_close after its last subscriber, and every new
	// placeholder value opens one: without a cap one client opened 1,200
	// in 1.4 s. Default 1000: a topic is shared by all its subscribers, so
	// a deployment needs one per distinct feed in use, not per client; and
	// 1000 sockets is 5% of a 20,000-fd budget, whose rest stays for
	// max_connections' clients. Raise it with the fd limit. At least 1.
	MaxTopics int `yaml:"max_topics"`
	// MaxTopicsPerIP caps the open topics one client address caused to be
	// opened (joining an open topic costs nothing). Default 100: a page
	// follows a handful of feeds, and one address must not take the whole
	// max_topics budget from everyone else. 0 = no per-IP cap (behind a
	// load balancer that hides client addresses).
	MaxTopicsPerIP int `yaml:"max_topics_per_ip"`
	// MaxBatchMessages caps the messages of one JSON POST /send batch; each
	// is an upstream frame, and without a cap a 1 MiB body of empty strings
	// became 350,000 frames. Default 100, the largest batch the browser
	// library sends. At least 1.
	MaxBatchMessages int `yaml:"max_batch_messages"`
	// SendTimeout is the longest a client may take nothing of a
	// pass-through response (between two successful writes, like nginx's
	// send_timeout), or a WebSocket tunnel's peer no bytes; then the client
	// is cut and the upstream side closed. Default 60s.
	SendTimeout Duration `yaml:"send_timeout"`
	// HTTP2MaxResets is how many RST_STREAM frames one HTTP/2 client
	// connection may send in any 10 s (rapid reset); one more gets a
	// GOAWAY (ENHANCE_YOUR_CALM) and the connection is closed. Default 200.
	HTTP2MaxResets int `yaml:"http2_max_resets"`
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
	// SessionTTL keeps a session after its last client left. Default 30s;
	// an explicit 0s ends it as soon as its last client leaves.
	SessionTTL *Duration `yaml:"session_ttl"`
	// Heartbeat: SSE comment / WS ping / stream newline interval. Default 15s.
	Heartbeat Duration `yaml:"heartbeat"`
	// PollTimeout is how long a long-poll is held. Default 25s.
	PollTimeout Duration `yaml:"poll_timeout"`
	// IdleClose closes a broadcast upstream after its last subscriber left.
	// Default 30s; an explicit 0s closes it at once.
	IdleClose *Duration `yaml:"idle_close"`
	// Snapshot gives a new broadcast subscriber the latest message. Default true.
	Snapshot *bool `yaml:"snapshot"`
	// ClientSend forwards client messages to a shared upstream. Default false.
	ClientSend bool `yaml:"client_send"`
	// Origins allowed; empty = same origin only; "*" = any origin without
	// credentials (no cookies or Authorization reach the route from it).
	Origins []string `yaml:"origins"`
	// SlowClient: drop_oldest | disconnect. Default drop_oldest.
	SlowClient string `yaml:"slow_client"`
	// SSEPadding bytes of comment padding sent first. Default 0.
	SSEPadding Size `yaml:"sse_padding"`
	// PollMaxBytes bounds the messages of one poll answer (long-poll,
	// poll, JSONP) when the poll does not ask with ?max_bytes=: small
	// enough for proxies that cap or hold response bodies. Default 64KiB,
	// at most MaxPollBytes.
	PollMaxBytes Size `yaml:"poll_max_bytes"`
	// SockJS, when present, serves the SockJS protocol under the route's
	// path instead of bridgeway's endpoints (docs/sockjs.md). Absent (the
	// default): bridgeway's own protocol.
	SockJS *SockJS `yaml:"sockjs"`
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
	// Subprotocols offered on the WebSocket handshake with the upstream
	// (kind websocket only), in order of preference; RFC 6455 tokens such
	// as v12.stomp or mqtt. Default none: a session then offers what its
	// WebSocket client offered, and a broadcast topic offers nothing.
	Subprotocols []string `yaml:"subprotocols"`
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

// DurationOr reads an optional duration with its default: nil is the
// default, an explicit 0 stays 0 (Duration.Or reads 0 as unset).
func DurationOr(d *Duration, def Duration) time.Duration {
	if d == nil {
		return def.D()
	}
	return d.D()
}

// Bool reads an optional boolean with its default.
func Bool(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}
