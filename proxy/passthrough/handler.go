package passthrough

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/internal/forwarded"
	"github.com/bridgeway/bridgeway/internal/jsonerr"
	"github.com/bridgeway/bridgeway/routing"
)

const (
	maxIdleConnsPerHost = 256
	maxIdleConns        = 1024
	idleConnTimeout     = 90 * time.Second
	maxResponseHeader   = 1 << 20
	dialKeepAlive       = 30 * time.Second
)

// Options configure one pass-through route.
type Options struct {
	// Route gives Path (prefix, may hold {placeholders}), Upstream.URL,
	// Upstream.Timeout (dial, TLS, response headers, WebSocket handshake;
	// default 30s) and Upstream.Headers (set on every upstream request).
	Route config.Route
	// Logger is required; the handler names its own child logger.
	Logger *zap.Logger
	// OnUpstreamError is called once per failed upstream attempt with one of
	// the Kind* constants. May be nil.
	OnUpstreamError func(kind string)
	// MaxMessageBytes is not used: the tunnel copies frames without holding
	// them, so it needs no message limit.
	MaxMessageBytes int64
	// BodyTimeout cuts a request body that sends nothing for this long
	// (between two reads; 0: never). The gateway passes
	// limits.body_timeout.
	BodyTimeout time.Duration
	// SendTimeout cuts a client that takes nothing of a response for this
	// long (between two writes), and a tunnel whose peer takes no bytes for
	// this long (0: never). The gateway passes limits.send_timeout.
	SendTimeout time.Duration
}

// Handler proxies one route. It is safe for concurrent use.
type Handler struct {
	route           config.Route
	pattern         routing.Pattern
	upstream        upstreamTemplate
	headers         [][2]string // route headers (canonical name, value), minus Host
	hostOverride    string      // route header "Host", if any
	timeout         time.Duration
	bodyTimeout     time.Duration
	sendTimeout     time.Duration
	log             *zap.Logger
	onUpstreamError func(kind string)

	tlsConfig *tls.Config // for https/wss upstreams (nil: system roots)
	dialer    *net.Dialer
	transport *http.Transport
	proxy     *httputil.ReverseProxy

	mu      sync.Mutex  // guards tunnels and the closing transition
	closing atomic.Bool // set once by Shutdown; read lock-free per request
	tunnels map[*tunnel]struct{}
}

// targetKey carries the computed target from ServeHTTP to Rewrite.
type targetKey struct{}

// New builds the handler of one pass-through route.
func New(opts Options) (*Handler, error) {
	return newHandler(opts, nil)
}

// newHandler lets tests trust their own TLS upstreams.
func newHandler(opts Options, tlsConfig *tls.Config) (*Handler, error) {
	if opts.Logger == nil {
		return nil, errors.New("passthrough: logger is required")
	}
	pattern, err := routing.Compile(opts.Route.Path)
	if err != nil {
		return nil, fmt.Errorf("passthrough: route path %q: %w", opts.Route.Path, err)
	}
	upstream, err := parseUpstream(opts.Route.Upstream.URL, pattern)
	if err != nil {
		return nil, fmt.Errorf("passthrough: %w", err)
	}
	timeout := opts.Route.Upstream.Timeout.D()
	if timeout <= 0 {
		timeout = config.DefaultTimeout.D()
	}
	h := &Handler{
		route:           opts.Route,
		pattern:         pattern,
		upstream:        upstream,
		timeout:         timeout,
		bodyTimeout:     opts.BodyTimeout,
		sendTimeout:     opts.SendTimeout,
		log:             opts.Logger.Named("passthrough").With(zap.String("route", opts.Route.Path)),
		onUpstreamError: opts.OnUpstreamError,
		tlsConfig:       tlsConfig,
		tunnels:         make(map[*tunnel]struct{}),
	}
	for k, v := range opts.Route.Upstream.Headers {
		if strings.EqualFold(k, "Host") {
			h.hostOverride = v
			continue
		}
		h.headers = append(h.headers, [2]string{http.CanonicalHeaderKey(k), v})
	}
	h.dialer = &net.Dialer{Timeout: timeout, KeepAlive: dialKeepAlive}
	h.transport = &http.Transport{
		Proxy:                  nil, // upstreams come from the config only, never from the environment
		DialContext:            h.dialer.DialContext,
		TLSClientConfig:        tlsConfig,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout, // not a client timeout: long-lived bodies are never cut
		ExpectContinueTimeout:  time.Second,
		MaxIdleConns:           maxIdleConns,
		MaxIdleConnsPerHost:    maxIdleConnsPerHost,
		IdleConnTimeout:        idleConnTimeout,
		MaxResponseHeaderBytes: maxResponseHeader,
		DisableCompression:     true, // pass Accept-Encoding and bodies through untouched
		ForceAttemptHTTP2:      true,
	}
	h.proxy = &httputil.ReverseProxy{
		Rewrite:      h.rewrite,
		Transport:    h.transport,
		ErrorHandler: h.proxyError,
		ErrorLog:     zap.NewStdLog(h.log),
		// FlushInterval 0: ReverseProxy already flushes at once for
		// text/event-stream and for bodies of unknown length.
	}
	return h, nil
}

// ServeHTTP proxies r; r.URL.Path is the full client path.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if routing.HasDotSegment(r.URL.Path) {
		jsonerr.Write(w, http.StatusBadRequest, "bad_path", "the path must not contain . or .. segments")
		return
	}
	t, err := h.upstream.resolve(h.pattern, r.URL.EscapedPath(), r.URL.Path)
	if errors.Is(err, errNoRoute) {
		jsonerr.Write(w, http.StatusNotFound, "route_not_found", "no route matches this path")
		return
	}
	if err != nil {
		jsonerr.Write(w, http.StatusBadRequest, "bad_request", "the request path cannot be mapped to the upstream")
		return
	}
	if headerHasToken(r.Header, "Upgrade", "websocket") {
		h.serveWebSocket(w, r, t)
		return
	}
	ctx := context.WithValue(r.Context(), targetKey{}, t)
	if b := guardBody(w, r, h.bodyTimeout); b != nil {
		ctx = context.WithValue(ctx, bodyKey{}, b) // ReverseProxy hides r.Body from its error handler
	}
	h.proxy.ServeHTTP(guardSend(w, h.sendTimeout), r.WithContext(ctx))
	if h.closing.Load() {
		// A request that was in flight during Shutdown put its upstream
		// connection back in the idle pool: close it, nobody will reuse it.
		h.transport.CloseIdleConnections()
	}
}

// rewrite is the ReverseProxy hook, also used to build WebSocket handshakes.
// ReverseProxy has already removed hop-by-hop headers (including those named
// in Connection) and the client's Forwarded / X-Forwarded-* headers.
func (h *Handler) rewrite(pr *httputil.ProxyRequest) {
	t := pr.In.Context().Value(targetKey{}).(target)
	pr.SetURL(t.base)
	pr.Out.URL.Path, pr.Out.URL.RawPath = t.path, t.rawPath
	// Any upgrade other than WebSocket (h2c in particular) is never
	// forwarded: ReverseProxy re-adds Upgrade/Connection after stripping.
	pr.Out.Header.Del("Upgrade")
	pr.Out.Header.Del("Connection")
	pr.Out.Header.Del("Http2-Settings")
	for _, name := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		pr.Out.Header.Del(name)
	}
	forwarded.Of(pr.In).SetHeaders(pr.Out.Header)
	for _, kv := range h.headers {
		pr.Out.Header.Set(kv[0], kv[1])
	}
	if h.hostOverride != "" {
		pr.Out.Host = h.hostOverride
	}
}

// proxyError is ReverseProxy's ErrorHandler: it runs only before the
// response headers went out (after that ReverseProxy aborts the handler
// with http.ErrAbortHandler).
func (h *Handler) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	h.upstreamFailed(w, r, err)
}

// Tunnels is the number of open WebSocket tunnels.
func (h *Handler) Tunnels() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.tunnels)
}

// Shutdown refuses new WebSocket upgrades, sends close 1001 to both ends of
// every open tunnel at a frame boundary and waits for the tunnels to finish
// their closing handshakes. When ctx ends first, the remaining tunnels are
// cut and ctx's error is returned. Idle upstream connections are closed.
// In-flight plain HTTP requests are the server's to drain.
func (h *Handler) Shutdown(ctx context.Context) error {
	return h.closeTunnels(ctx, closeGoingAway, reasonShutdown)
}

// Close code and reason of the tunnels of a route that a reload removed or
// changed: 1012 (service restart) tells a client to reconnect, and it then
// lands on the new route.
const (
	closeServiceRestart = 1012
	reasonReconfigured  = "route reconfigured"
)

// Retire is Shutdown for a route that a reload removed or changed: both
// ends of every tunnel get close 1012 "route reconfigured".
func (h *Handler) Retire(ctx context.Context) error {
	return h.closeTunnels(ctx, closeServiceRestart, reasonReconfigured)
}

// closeTunnels is Shutdown with the close frames' code and reason.
func (h *Handler) closeTunnels(ctx context.Context, code uint16, reason string) error {
	h.mu.Lock()
	h.closing.Store(true)
	open := make([]*tunnel, 0, len(h.tunnels))
	for t := range h.tunnels {
		open = append(open, t)
	}
	h.mu.Unlock()
	defer h.transport.CloseIdleConnections()

	// The close frames go out while this waits: a sender may wait for a
	// pump stuck mid-frame until the cut below frees it.
	var senders sync.WaitGroup
	defer senders.Wait()
	for _, t := range open {
		senders.Go(func() { t.goAway(ctx, code, reason) })
	}

	var err error
	for _, t := range open {
		select {
		case <-t.done:
		case <-ctx.Done():
			err = fmt.Errorf("passthrough: shutdown: %w", ctx.Err())
		}
		if err != nil {
			break
		}
	}
	if err != nil {
		for _, t := range open {
			t.cut()
		}
		for _, t := range open {
			<-t.done // cutting both connections ends the pumps promptly
		}
	}
	return err
}

// register adds a tunnel unless the handler is shutting down.
func (h *Handler) register(t *tunnel) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing.Load() {
		return false
	}
	h.tunnels[t] = struct{}{}
	return true
}

func (h *Handler) unregister(t *tunnel) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.tunnels, t)
}

func (h *Handler) isClosing() bool { return h.closing.Load() }
