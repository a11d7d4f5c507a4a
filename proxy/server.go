// Package proxy is the gateway's HTTP front: listeners (plain, TLS, admin),
// connection limits, routing to pass-through and bridged route handlers,
// metrics, access logs, drain and reload.
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/config"
	"github.com/bridgeway/bridgeway/internal/forwarded"
	"github.com/bridgeway/bridgeway/proxy/certs"
)

// Deps are what the server needs from its surroundings.
type Deps struct {
	// Logger receives everything (nil: no logs); the server names its
	// own children ("proxy", "access", "proxy.certs", ...).
	Logger *zap.Logger
	// Registry receives the proxy's metrics and is served on /metrics.
	// nil: a fresh registry.
	Registry *prometheus.Registry
	// Bridge builds handlers of bridged routes (any kind but http).
	Bridge BridgeFactory
	// ClientJS serves GET /_bridgeway/client.js; nil answers 404.
	ClientJS http.Handler
	// ReadyCheck, when set, must return nil for /readyz to be 200
	// (e.g. a Redis ping when clustering).
	ReadyCheck func(ctx context.Context) error
}

// Server is the running gateway. Build it with New, then Start, then
// Shutdown; Reload swaps its routes while it runs.
type Server struct {
	deps         Deps
	log          *zap.Logger
	accessLogger *zap.Logger
	metrics      *metrics
	registry     *prometheus.Registry
	limiter      *connLimiter
	rejects      *rejecter

	routes atomic.Pointer[routeSet]
	// edge resolves each request's client address, scheme and host
	// (trusted_proxies, hosts); edge.go.
	edge atomic.Pointer[forwarded.Policy]
	// routeSeries caches metric children by route label (gateway.go).
	routeSeries sync.Map
	accessLog   atomic.Bool
	draining    atomic.Bool
	listening   atomic.Bool

	mu      sync.Mutex // guards cfg, lifecycle and reloads
	cfg     *config.Config
	started bool
	stopped bool

	certs                   *certs.Manager
	plainSrv, tlsSrv        *http.Server
	adminSrv                *http.Server
	plainLn, tlsLn, adminLn net.Listener
	serving                 sync.WaitGroup // Serve goroutines
	retiring                sync.WaitGroup // closes of routes removed by reloads
	// lifeCtx lives from New to the forced end of Shutdown: background
	// work (ACME and renewals, closes of routes retired by reloads) runs
	// under it.
	lifeCtx    context.Context
	cancelLife context.CancelFunc
	// plainBack takes back plain connections hijacked by parked long-polls
	// (reenter.go); served by plainSrv.
	plainBack *reenterListener
	// hsts is the Strict-Transport-Security value of TLS answers ("": off).
	hsts string
}

// New builds the server and the handlers of every route; it binds nothing.
func New(cfg *config.Config, deps Deps) (*Server, error) {
	if cfg == nil {
		return nil, errors.New("proxy: nil config")
	}
	if deps.Logger == nil {
		deps.Logger = zap.NewNop()
	}
	reg := deps.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	s := &Server{
		deps:         deps,
		log:          deps.Logger.Named("proxy"),
		accessLogger: deps.Logger.Named("access"),
		metrics:      m,
		registry:     reg,
		cfg:          cfg,
		rejects:      newRejecter(),
	}
	if cfg.TLS != nil {
		s.hsts = hstsValue(cfg.TLS.HSTS)
	}
	s.lifeCtx, s.cancelLife = context.WithCancel(context.Background())
	s.limiter = newConnLimiter(m, cfg.Limits.MaxConnections, cfg.Limits.MaxConnectionsPerIP)
	s.setEdge(s.edgePolicy(cfg))
	s.accessLog.Store(config.Bool(cfg.Log.Access, true))
	set, _, _, err := s.buildRoutes(context.Background(), cfg.Routes, nil)
	if err != nil {
		s.cancelLife()
		return nil, fmt.Errorf("proxy: %w", err)
	}
	s.routes.Store(set)
	return s, nil
}

// Start binds every listener (plain, TLS when configured, admin unless
// turned off) and serves them in the background. It returns once all are
// listening; ":0" ports are fine (see Addr, TLSAddr, AdminAddr). ctx bounds
// the start-up only; ACME work continues in the background until Shutdown.
func (s *Server) Start(ctx context.Context) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("proxy: already started")
	}
	s.started = true
	defer func() {
		if err != nil {
			s.closeListeners()
		}
	}()
	cfg := s.cfg
	// Bind first: the certificate manager needs the plain port (ACME
	// HTTP-01 answers are served there, so certmagic must not bind it).
	var plainRaw, tlsRaw net.Listener
	if cfg.Listen != "" {
		if plainRaw, err = net.Listen("tcp", cfg.Listen); err != nil {
			return fmt.Errorf("proxy: listener: %w", &config.KeyError{Key: "listen", Err: err})
		}
		s.plainLn = &limitListener{Listener: plainRaw, limiter: s.limiter, rejects: s.rejects, guardWire: true}
	}
	if cfg.TLS != nil {
		if tlsRaw, err = net.Listen("tcp", cfg.TLS.Listen); err != nil {
			return fmt.Errorf("proxy: tls listener: %w", &config.KeyError{Key: "tls.listen", Err: err})
		}
		s.tlsLn = tlsRaw // replaced by the TLS listener below; kept for cleanup
	}
	if addr := cfg.AdminListen(); addr != "" {
		if s.adminLn, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("proxy: admin listener: %w", &config.KeyError{Key: "admin.listen", Err: err})
		}
		s.adminSrv = s.newAdminServer()
	}

	plainHandler := http.Handler(http.HandlerFunc(s.serveGateway))
	if cfg.TLS != nil {
		var opts []certs.Option
		if plainRaw != nil {
			opts = append(opts, certs.WithHTTPChallengePort(plainRaw.Addr().(*net.TCPAddr).Port))
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("proxy: start: %w", err)
		}
		if s.certs, err = certs.New(s.lifeCtx, cfg.TLS, s.log, opts...); err != nil {
			return fmt.Errorf("proxy: %w", err)
		}
		s.setEdge(s.edgePolicy(cfg)) // the certificate's names, unless hosts is set
		tlsConfig := s.certs.TLSConfig()
		// Refused connections get their answer over HTTP/1.1 only: a
		// raw response cannot be written on an HTTP/2 connection.
		refuseConfig := tlsConfig.Clone()
		refuseConfig.NextProtos = []string{"http/1.1"}
		limited := &limitListener{Listener: tlsRaw, limiter: s.limiter, rejects: s.rejects, rejectTLS: refuseConfig}
		s.tlsLn = newTLSListener(limited, tlsConfig, cfg.Limits.ReadHeaderTimeout.D(), s.log)
		s.tlsSrv = s.newGatewayServer(http.HandlerFunc(s.serveGateway), tlsConfig)
		if err := s.serveHTTP2(s.tlsSrv); err != nil {
			return fmt.Errorf("proxy: http2: %w", err)
		}
		if config.Bool(cfg.TLS.RedirectHTTP, true) {
			plainHandler = http.HandlerFunc(s.redirectToHTTPS)
		}
		plainHandler = s.certs.HTTPHandler(plainHandler)
	}
	if s.plainLn != nil {
		s.plainSrv = s.newGatewayServer(plainHandler, nil)
		s.plainBack = newReenterListener(s.plainLn.Addr(), s.again())
		s.plainSrv.ConnContext = s.plainBack.withConn
	}
	s.serve(s.plainSrv, s.plainLn)
	if s.plainBack != nil {
		s.serve(s.plainSrv, s.plainBack)
	}
	s.serve(s.tlsSrv, s.tlsLn)
	s.serve(s.adminSrv, s.adminLn)
	s.listening.Store(true)
	s.log.Info("listening",
		zap.String("http", addrOf(s.plainLn)),
		zap.String("https", addrOf(s.tlsLn)),
		zap.String("admin", addrOf(s.adminLn)),
		zap.Int("routes", len(s.routes.Load().entries)))
	return nil
}

// newGatewayServer has no WriteTimeout and no ReadTimeout on purpose:
// streams and tunnels are long-lived. Header reading is bounded.
func (s *Server) newGatewayServer(h http.Handler, tlsConfig *tls.Config) *http.Server {
	limits := s.cfg.Limits
	return &http.Server{
		Handler:           h,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: limits.ReadHeaderTimeout.D(),
		MaxHeaderBytes:    int(limits.MaxHeaderBytes),
		ErrorLog:          zap.NewStdLog(s.log.Named("http").WithOptions(zap.IncreaseLevel(zap.WarnLevel))),
		ConnContext:       withConn,
	}
}

// withConn gives handlers their connection (the limiter's wrapper).
func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

func (s *Server) serve(srv *http.Server, ln net.Listener) {
	if srv == nil || ln == nil {
		return
	}
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve", zap.String("addr", ln.Addr().String()), zap.Error(err))
		}
	}()
}

func (s *Server) closeListeners() {
	if s.plainBack != nil {
		_ = s.plainBack.Close()
	}
	for _, ln := range []net.Listener{s.plainLn, s.tlsLn, s.adminLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	if tl, ok := s.tlsLn.(*tlsListener); ok {
		tl.wait()
	}
	if s.certs != nil {
		s.certs.Close()
	}
}

func addrOf(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return ln.Addr().String()
}

// Addr is the plain listener's address ("" when off or not started).
func (s *Server) Addr() string { s.mu.Lock(); defer s.mu.Unlock(); return addrOf(s.plainLn) }

// TLSAddr is the HTTPS listener's address ("" without TLS).
func (s *Server) TLSAddr() string { s.mu.Lock(); defer s.mu.Unlock(); return addrOf(s.tlsLn) }

// AdminAddr is the admin listener's address ("" when off).
func (s *Server) AdminAddr() string { s.mu.Lock(); defer s.mu.Unlock(); return addrOf(s.adminLn) }

// tlsPort is used by the HTTPS redirect; read without the lock because
// tlsLn is set before serving starts and never changes.
func (s *Server) tlsPort() string {
	if s.tlsLn == nil {
		return ""
	}
	_, port, _ := net.SplitHostPort(s.tlsLn.Addr().String())
	return port
}
