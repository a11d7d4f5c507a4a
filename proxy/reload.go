package proxy

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"go.uber.org/zap"

	"github.com/bridgeway/bridgeway/config"
)

// Reload swaps in the routes of cfg for new requests. Handlers of routes
// whose config is unchanged are kept, so their open tunnels and sessions go
// on; handlers of removed or changed routes are closed in the background
// within shutdown_timeout (open tunnels of a changed pass-through route get
// WebSocket close 1001, bridged sessions of a changed route end).
//
// Also applied: log.access, limits.max_connections(_per_ip),
// shutdown_timeout. Listener addresses, TLS, admin, read_header_timeout and
// max_header_bytes need a restart; a change to them is logged and ignored.
// On error nothing changes and the old config keeps serving.
func (s *Server) Reload(cfg *config.Config) error {
	if cfg == nil {
		return errors.New("proxy: reload: nil config")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("proxy: reload: server is shut down")
	}
	old := s.routes.Load()
	set, retired, err := s.buildRoutes(context.Background(), cfg.Routes, old)
	if err != nil {
		s.metrics.reloads.WithLabelValues("error").Inc()
		return fmt.Errorf("proxy: reload: %w", err)
	}
	s.routes.Store(set)
	s.warnRestartOnly(cfg)
	s.accessLog.Store(config.Bool(cfg.Log.Access, true))
	s.limiter.setLimits(cfg.Limits.MaxConnections, cfg.Limits.MaxConnectionsPerIP)
	s.cfg = s.mergeRestartOnly(cfg)
	s.metrics.reloads.WithLabelValues("ok").Inc()
	s.log.Info("config reloaded", zap.Int("routes", len(set.entries)), zap.Int("retired", len(retired)))

	if len(retired) > 0 {
		timeout := cfg.ShutdownTimeout.D()
		s.retiring.Add(1)
		go func() {
			defer s.retiring.Done()
			ctx, cancel := context.WithTimeout(s.lifeCtx, timeout)
			defer cancel()
			closeEntries(ctx, retired, s.log)
		}()
	}
	return nil
}

// mergeRestartOnly keeps the running values of settings that a reload
// cannot change, so s.cfg always describes what is actually running.
func (s *Server) mergeRestartOnly(next *config.Config) *config.Config {
	merged := *next
	cur := s.cfg
	merged.Listen = cur.Listen
	merged.TLS = cur.TLS
	merged.Admin = cur.Admin
	merged.Limits.ReadHeaderTimeout = cur.Limits.ReadHeaderTimeout
	merged.Limits.MaxHeaderBytes = cur.Limits.MaxHeaderBytes
	merged.Limits.MaxSessionsPerIP = cur.Limits.MaxSessionsPerIP // the bridge counts with the value it started with
	merged.Limits.BodyTimeout = cur.Limits.BodyTimeout           // pass-through handlers keep theirs
	merged.Limits.SendTimeout = cur.Limits.SendTimeout           // pass-through handlers keep theirs
	return &merged
}

func (s *Server) warnRestartOnly(next *config.Config) {
	cur := s.cfg
	changed := func(name string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			s.log.Warn("setting changed on reload needs a restart; keeping the running value", zap.String("setting", name))
		}
	}
	changed("listen", cur.Listen, next.Listen)
	changed("tls", cur.TLS, next.TLS)
	changed("admin.listen", cur.AdminListen(), next.AdminListen())
	changed("admin.pprof", cur.Admin.Pprof, next.Admin.Pprof)
	changed("limits.read_header_timeout", cur.Limits.ReadHeaderTimeout, next.Limits.ReadHeaderTimeout)
	changed("limits.max_header_bytes", cur.Limits.MaxHeaderBytes, next.Limits.MaxHeaderBytes)
	changed("limits.max_sessions_per_ip", cur.Limits.MaxSessionsPerIP, next.Limits.MaxSessionsPerIP)
	changed("limits.body_timeout", cur.Limits.BodyTimeout, next.Limits.BodyTimeout)
	changed("limits.send_timeout", cur.Limits.SendTimeout, next.Limits.SendTimeout)
	changed("log", cur.Log.Level+cur.Log.Format, next.Log.Level+next.Log.Format)
	changed("cluster", cur.Cluster, next.Cluster)
}
