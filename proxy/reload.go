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
// on; so are bridged handlers whose upstream is unchanged (RouteUpdater),
// which take the new settings in place. Handlers of removed or otherwise
// changed routes are retired in the background within shutdown_timeout
// (open tunnels of a pass-through route get WebSocket close 1012, sessions
// and topics of a bridged route end with 4012; both say "route
// reconfigured").
//
// Also applied: log.access, limits.max_connections(_per_ip),
// shutdown_timeout, hosts, trusted_proxies. The settings mergeRestartOnly
// keeps (listeners, TLS, admin, log, cluster and the limits listed there)
// need a restart; a change to them is logged (warnRestartOnly) and ignored.
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
	set, retired, updates, err := s.buildRoutes(context.Background(), cfg.Routes, old)
	if err != nil {
		s.metrics.reloads.WithLabelValues("error").Inc()
		return fmt.Errorf("proxy: reload: %w", err)
	}
	for _, update := range updates {
		update()
	}
	s.routes.Store(set)
	s.warnRestartOnly(cfg)
	s.accessLog.Store(config.Bool(cfg.Log.Access, true))
	s.limiter.setLimits(cfg.Limits.MaxConnections, cfg.Limits.MaxConnectionsPerIP)
	s.setEdge(s.edgePolicy(cfg))
	s.cfg = s.mergeRestartOnly(cfg)
	s.metrics.reloads.WithLabelValues("ok").Inc()
	s.log.Info("config reloaded", zap.Int("routes", len(set.entries)), zap.Int("updated", len(updates)),
		zap.Int("retired", len(retired)))

	if len(retired) > 0 {
		timeout := cfg.ShutdownTimeout.D()
		s.retiring.Add(1)
		go func() {
			defer s.retiring.Done()
			ctx, cancel := context.WithTimeout(s.lifeCtx, timeout)
			defer cancel()
			closeEntries(ctx, retired, s.log, true)
		}()
	}
	return nil
}

// ReloadRejected counts a reload whose file could not be loaded (invalid
// YAML or values): the caller logs why, the running config keeps serving.
func (s *Server) ReloadRejected() {
	s.metrics.reloads.WithLabelValues("error").Inc()
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
	// The bridge counts topics and sizes batches with the values it started with.
	merged.Limits.MaxTopics = cur.Limits.MaxTopics
	merged.Limits.MaxTopicsPerIP = cur.Limits.MaxTopicsPerIP
	merged.Limits.MaxBatchMessages = cur.Limits.MaxBatchMessages
	// Every bridged route, new ones too, is built with the bridge's start
	// values (bridge.Deps.Limits): a reload cannot change them.
	merged.Limits.MaxMessageBytes = cur.Limits.MaxMessageBytes
	merged.Limits.MaxBodyBytes = cur.Limits.MaxBodyBytes
	merged.Limits.SendTimeout = cur.Limits.SendTimeout
	merged.Limits.HTTP2MaxResets = cur.Limits.HTTP2MaxResets // TLS connections keep theirs
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
	changed("limits.max_topics", cur.Limits.MaxTopics, next.Limits.MaxTopics)
	changed("limits.max_topics_per_ip", cur.Limits.MaxTopicsPerIP, next.Limits.MaxTopicsPerIP)
	changed("limits.max_batch_messages", cur.Limits.MaxBatchMessages, next.Limits.MaxBatchMessages)
	changed("limits.max_message_bytes", cur.Limits.MaxMessageBytes, next.Limits.MaxMessageBytes)
	changed("limits.max_body_bytes", cur.Limits.MaxBodyBytes, next.Limits.MaxBodyBytes)
	changed("limits.send_timeout", cur.Limits.SendTimeout, next.Limits.SendTimeout)
	changed("limits.http2_max_resets", cur.Limits.HTTP2MaxResets, next.Limits.HTTP2MaxResets)
	changed("log", cur.Log.Level+cur.Log.Format, next.Log.Level+next.Log.Format)
	changed("cluster", cur.Cluster, next.Cluster)
}
