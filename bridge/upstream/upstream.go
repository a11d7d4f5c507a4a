// Package upstream connects the gateway to its upstreams: a WebSocket client,
// an EventSource (SSE) client, a long-poll loop and an interval poller. Each
// adapter only appends what it reads to a msg.Sink; the log behind the sink
// owns cursors, buffering and fan-out.
//
// Reconnect policy (Options.Reconnect):
//
//   - true (broadcast mode): the adapter never gives up. Lost connections and
//     failed requests are retried with exponential backoff and jitter between
//     reconnect.min and reconnect.max; Run returns only when ctx is done or
//     Close is called (or an SSE upstream answers 204, the EventSource way of
//     saying "stop reconnecting"). A WebSocket reconnect, or an SSE reconnect
//     that cannot resume (no event id was ever seen), reports sink.Gap.
//   - false (session mode): a connection-oriented upstream (websocket, sse)
//     ends Run when its connection ends: the upstream's close code for a
//     WebSocket close, 1006 for an abnormal end, 1000 for an SSE stream that
//     ends. Request-oriented upstreams (poll, longpoll) have no connection to
//     lose, so transient failures (network errors, timeouts, 5xx, 408, 429)
//     are still retried with backoff; a permanent answer (any other 4xx) ends
//     Run with 1014 (bad gateway).
//
// Whatever the mode, ctx cancellation ends Run with 1001 and Close ends it
// with 1000.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/bridge/msg"
	"github.com/bridgeway/bridgeway/config"
)

// Options configure one upstream connection (one session or one topic).
type Options struct {
	// Route is the whole route (Upstream.* settings: Kind, Interval, Timeout,
	// Headers, Reconnect, Split; Heartbeat paces WebSocket pings).
	Route config.Route
	// URL is the upstream URL with placeholders filled.
	URL string
	// Header holds extra request headers (route headers + forwarded client
	// headers + X-Forwarded-*), already merged by the caller.
	Header http.Header
	// Subprotocols are the WebSocket subprotocols the client offered.
	Subprotocols []string
	// Reconnect: broadcast mode reconnects with backoff and reports gaps;
	// session mode (false) ends Run when the upstream ends (see package doc).
	Reconnect bool
	// MaxMessageBytes bounds one message (WebSocket frame, SSE event, HTTP
	// body). 0 means config.DefaultMaxMessageBytes.
	MaxMessageBytes int64
	// Logger may be nil (no logging).
	Logger *zap.Logger
	// Metrics may be nil.
	Metrics *Metrics
}

// Conn is one live upstream of a session or topic.
type Conn interface {
	// Subprotocol is the negotiated WebSocket subprotocol, else "".
	Subprotocol() string
	// Run reads and appends to sink until the upstream ends for good, ctx is
	// done or Close is called. Call it once.
	Run(ctx context.Context, sink msg.Sink) msg.CloseInfo
	// Send forwards a client message to the upstream (websocket only);
	// ErrSendUnsupported otherwise. Safe for concurrent callers.
	Send(ctx context.Context, m msg.Message) error
	// Close is idempotent and makes Run return.
	Close() error
}

// CloserWith is a Conn that can tell the upstream why it is closed: the
// WebSocket adapter sends info as its close frame instead of 1000. A session
// passes on the close code of the client that owned it this way.
type CloserWith interface {
	CloseWith(info msg.CloseInfo) error
}

var _ CloserWith = (*wsConn)(nil)

// Errors callers may test for.
var (
	// ErrSendUnsupported is returned by Send for upstreams that only push.
	ErrSendUnsupported = errors.New("upstream: send not supported by this upstream kind")
	// ErrNotConnected is returned by Send while a reconnecting upstream is down.
	ErrNotConnected = errors.New("upstream: not connected")
	// ErrClosed is returned by Send after Close or after Run returned.
	ErrClosed = errors.New("upstream: closed")
	// ErrMessageTooLarge is returned by Send for a message above MaxMessageBytes.
	ErrMessageTooLarge = errors.New("upstream: message too large")
)

// Close codes reported in msg.CloseInfo.
const (
	CloseNormal     = 1000 // Close called, or an SSE stream ended
	CloseGoingAway  = 1001 // ctx cancelled
	CloseAbnormal   = 1006 // connection lost without a close frame
	CloseBadGateway = 1014 // the upstream answered with a permanent error
)

// Dial makes the first connection. With Reconnect=false a failure is
// returned (the gateway answers 502 to the client opening the session); with
// Reconnect=true Dial does not fail on network errors (Run keeps retrying
// with backoff); config errors still fail.
//
// websocket and sse dial (handshake / response headers) in Dial; poll makes
// its first request in Dial only with Reconnect=false (to answer 502 early);
// longpoll makes no request in Dial because a long-poll upstream may hold its
// answer for a long time.
func Dial(ctx context.Context, opts Options) (Conn, error) {
	s, err := newSettings(opts)
	if err != nil {
		return nil, err
	}
	switch s.kind {
	case config.KindWebSocket:
		return dialWebSocket(ctx, s)
	case config.KindSSE:
		return dialSSE(ctx, s)
	case config.KindLongPoll:
		return dialLongPoll(ctx, s)
	case config.KindPoll:
		return dialPoll(ctx, s)
	default:
		return nil, fmt.Errorf("upstream: kind %q cannot be bridged", s.kind)
	}
}

// settings are Options with defaults applied and the URL checked. Only
// what the adapters use is kept (not the whole route): session mode holds
// one per client session.
type settings struct {
	kind         string
	url          *url.URL
	header       http.Header
	subprotocols []string
	reconnect    bool
	routePath    string
	split        string
	metrics      *Metrics
	timeout      time.Duration
	interval     time.Duration
	heartbeat    time.Duration
	minDelay     time.Duration
	maxDelay     time.Duration
	maxBytes     int64

	// The named logger is built on first use: zap's With encodes its
	// fields into a buffer per logger, and most connections never log.
	logOnce sync.Once
	baseLog *zap.Logger
	named   *zap.Logger
}

// log is the adapter's logger ("upstream.<kind>", with the route).
func (s *settings) log() *zap.Logger {
	s.logOnce.Do(func() {
		s.named = s.baseLog.Named("upstream." + s.kind).With(zap.String("route", s.routePath))
	})
	return s.named
}

func newSettings(opts Options) (*settings, error) {
	u, err := url.Parse(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("upstream: bad url: %w", err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("upstream: url %q has no host", opts.URL)
	}
	up := &opts.Route.Upstream
	s := &settings{
		kind:         up.Kind,
		url:          u,
		header:       opts.Header,
		subprotocols: opts.Subprotocols,
		reconnect:    opts.Reconnect,
		routePath:    opts.Route.Path,
		split:        up.Split,
		metrics:      opts.Metrics,
		timeout:      up.Timeout.Or(config.DefaultTimeout),
		interval:     up.Interval.Or(config.DefaultInterval),
		heartbeat:    opts.Route.Heartbeat.Or(config.DefaultHeartbeat),
		minDelay:     up.Reconnect.Min.Or(config.DefaultReconnectMin),
		maxDelay:     up.Reconnect.Max.Or(config.DefaultReconnectMax),
		maxBytes:     opts.MaxMessageBytes,
		baseLog:      opts.Logger,
	}
	if s.maxBytes <= 0 {
		s.maxBytes = int64(config.DefaultMaxMessageBytes)
	}
	if s.maxDelay < s.minDelay {
		s.maxDelay = s.minDelay
	}
	if s.baseLog == nil {
		s.baseLog = zap.NewNop()
	}
	scheme := strings.ToLower(u.Scheme)
	if s.kind == "" {
		switch scheme {
		case "ws", "wss":
			s.kind = config.KindWebSocket
		default:
			s.kind = config.KindHTTP
		}
	}
	switch s.kind {
	case config.KindWebSocket:
		if scheme != "ws" && scheme != "wss" && scheme != "http" && scheme != "https" {
			return nil, fmt.Errorf("upstream: websocket url needs ws:// or wss://, got %q", u.Scheme)
		}
	case config.KindSSE, config.KindLongPoll, config.KindPoll:
		if scheme != "http" && scheme != "https" {
			return nil, fmt.Errorf("upstream: %s url needs http:// or https://, got %q", s.kind, u.Scheme)
		}
	}
	switch up.Split {
	case "", config.SplitNone, config.SplitJSONArray:
	default:
		return nil, fmt.Errorf("upstream: unknown split %q", up.Split)
	}
	return s, nil
}

// runContext derives Run's context: it ends when ctx is done or when closed
// (Close was called). The returned function reports why Run must stop.
func runContext(ctx context.Context, closed context.Context) (context.Context, context.CancelFunc) {
	if ctx.Done() == nil {
		// Never cancelled (session mode runs on Background): closed alone
		// ends Run, and no context is derived per connection.
		return closed, func() {}
	}
	runCtx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(closed, cancel)
	return runCtx, func() { stop(); cancel() }
}

// endInfo is the CloseInfo for a Run stopped by ctx or Close.
func endInfo(closed context.Context) msg.CloseInfo {
	if closed.Err() != nil {
		return msg.CloseInfo{Code: CloseNormal, Reason: "upstream closed by gateway"}
	}
	return msg.CloseInfo{Code: CloseGoingAway, Reason: "gateway going away"}
}

// sleep waits d or until ctx is done; false means ctx is done.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
